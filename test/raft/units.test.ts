// Proves the small building blocks behave as the paper and etcd-raft specify:
// quorum arithmetic, inflight windows, progress backtracking and the in-memory
// log's conflict search, by calling them directly with hand-picked values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasQuorum, majorityIndex, voteResult } from '../../src/raft/quorum.js';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { RaftLog } from '../../src/raft/log.js';
import { ReadOnly, decodeRoundId, encodeRoundId } from '../../src/raft/read-only.js';
import { ent } from './network.js';

test('majorityIndex is the highest index a majority has matched (§5.3)', () => {
  const match = new Map([[1, 5], [2, 3], [3, 9]]);
  assert.equal(majorityIndex([1, 2, 3], (id) => match.get(id)!), 5);
  assert.equal(majorityIndex([1, 2, 3, 4], (id) => match.get(id) ?? 0), 3);
  assert.equal(majorityIndex([1], () => 7), 7);
});

test('voteResult wins on a majority and loses once a majority is impossible', () => {
  assert.equal(voteResult([1, 2, 3], new Map([[1, true], [2, true]])), 'won');
  assert.equal(voteResult([1, 2, 3], new Map([[1, true], [2, false]])), 'pending');
  assert.equal(voteResult([1, 2, 3], new Map([[2, false], [3, false]])), 'lost');
  assert.equal(voteResult([1, 2, 3, 4], new Map([[1, true], [2, true]])), 'pending');
  // Votes from non-voters (learners) do not count.
  assert.equal(voteResult([1, 2, 3], new Map([[1, true], [9, true]])), 'pending');
  assert.equal(hasQuorum([1, 2, 3, 4, 5], (id) => id <= 3), true);
  assert.equal(hasQuorum([1, 2, 3, 4, 5], (id) => id <= 2), false);
});

test('inflights fill by count or bytes and free up to an index', () => {
  const f = new Inflights(3, 0);
  f.add(1, 10); f.add(2, 10); f.add(5, 10);
  assert.equal(f.full(), true);
  f.freeLE(2);
  assert.equal(f.count, 1);
  assert.equal(f.full(), false);
  const b = new Inflights(100, 25);
  b.add(1, 10); b.add(2, 10);
  assert.equal(b.full(), false);
  b.add(3, 10);
  assert.equal(b.full(), true);
  b.freeFirstOne();
  assert.equal(b.bytes, 20);
  assert.throws(() => { const c = new Inflights(1, 0); c.add(1, 1); c.add(2, 1); }, /invariant/);
});

test('progress ignores stale rejections and backs off to the hint', () => {
  const pr = new Progress(11, false, 10, 0);
  assert.equal(pr.maybeDecrTo(5, 3), false, 'stale: not the index we probed');
  assert.equal(pr.maybeDecrTo(10, 3), true);
  assert.equal(pr.next, 4);
  pr.maybeUpdate(6);
  pr.becomeReplicate();
  assert.equal(pr.next, 7);
  assert.equal(pr.maybeDecrTo(5, 0), false, 'stale in replicate: below match');
  assert.equal(pr.maybeDecrTo(8, 0), true);
  assert.equal(pr.next, 7);
});

test('findConflictByTerm skips back to the last entry of a term <= the given one', () => {
  const log = new RaftLog(0, 0, [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 4)], 0, 0);
  assert.deepEqual(log.findConflictByTerm(5, 3), { index: 4, term: 2 });
  assert.deepEqual(log.findConflictByTerm(5, 1), { index: 2, term: 1 });
  assert.deepEqual(log.findConflictByTerm(9, 4), { index: 5, term: 4 });
  assert.deepEqual(log.findConflictByTerm(5, 0), { index: 0, term: 0 });
});

test('log tracks unstable and stable entries across a truncation', () => {
  const log = new RaftLog(0, 0, [ent(1, 1), ent(2, 1)], 1, 1);
  assert.equal(log.stableIndex, 2);
  log.append([ent(3, 2), ent(4, 2)]);
  assert.deepEqual(log.unstableEntries().map((e) => e.index), [3, 4]);
  log.unstableFrom = 5; // handed to the host
  log.append([ent(2, 3)]); // a new leader overwrites from index 2
  assert.equal(log.stableIndex, 1);
  assert.deepEqual(log.unstableEntries().map((e) => `${e.index}/${e.term}`), ['2/3']);
  log.stableTo(4, 2); // the earlier write finished, but index 4 is gone
  assert.equal(log.stableIndex, 1);
  log.stableTo(2, 3);
  assert.equal(log.stableIndex, 2);
  assert.throws(() => log.append([ent(1, 5)]), /committed/);
});

test('read-only rounds confirm all earlier rounds and only unsealed rounds take reads', () => {
  const ro = new ReadOnly();
  const a = ro.openRound(1, 1);
  ro.addRead(a, { index: 3, context: new Uint8Array([1]), from: 1 });
  ro.sealAll();
  assert.equal(ro.openRoundId(), null);
  const b = ro.openRound(2, 1);
  assert.equal(ro.openRoundId(), b);
  ro.addRead(b, { index: 4, context: new Uint8Array([2]), from: 1 });
  const quorum = (acks: Set<number>) => acks.size >= 2;
  const done = ro.ack(b, 2, quorum)!;
  assert.deepEqual(done.reads.map((r) => r.index), [3, 4]);
  assert.equal(done.sentTick, 2);
  assert.equal(ro.ack(a, 2, quorum), null, 'already confirmed');
  assert.equal(decodeRoundId(encodeRoundId(2 ** 40 + 5)), 2 ** 40 + 5);
  assert.equal(decodeRoundId(new Uint8Array(3)), null);
});
