// Proves log replication rules (Raft §5.3, §5.4.2) and flow control by driving
// RawNodes with hand-built logs over the in-memory network and inspecting logs,
// commit indexes and the messages sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, ent, load, logOf, propose, text } from './network.js';
import { MessageType, Role } from '../../src/raft/types.js';

test('entries replicate to all followers and commit on a quorum (§5.3)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const i1 = propose(net, 1, 'a');
  const i2 = propose(net, 1, 'b');
  net.stabilize();
  for (const id of [1, 2, 3]) {
    assert.equal(net.node(id).status().commit, i2, `commit on ${id}`);
    assert.deepEqual(net.get(id).sm, ['a', 'b']);
  }
  assert.equal(i2, i1 + 1);
});

test('an entry replicated to a minority does not commit (§5.3)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(2);
  net.isolate(3);
  const idx = propose(net, 1, 'a');
  net.stabilize();
  assert.ok(net.node(1).status().commit < idx);
  net.heal();
  net.tickAll(2);
  assert.equal(net.node(1).status().commit, idx);
});

test('the leader counts itself only once its entries are persisted', () => {
  const net = new Network([1]);
  net.elect(1);
  const idx = propose(net, 1, 'a');
  assert.equal(net.node(1).status().commit, idx - 1);
  const rd = net.node(1).ready();
  assert.equal(rd.entries.length, 1);
  assert.equal(net.node(1).status().commit, idx - 1);
  net.node(1).advance(rd.number);
  assert.equal(net.node(1).status().commit, idx);
});

test('consistency check rejects a mismatch and fast backtracking skips whole terms (§5.3)', () => {
  const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
  const common = [1, 2, 3, 4, 5].map((i) => ent(i, 1));
  const leaderLog = [...common, ...range(6, 60).map((i) => ent(i, 3))];
  const staleLog = [...common, ...range(6, 100).map((i) => ent(i, 2))];
  load(net, 1, leaderLog, { term: 3, vote: 1, commit: 5 });
  load(net, 2, staleLog, { term: 3, vote: 1, commit: 5 });
  load(net, 3, leaderLog, { term: 3, vote: 1, commit: 5 });
  net.elect(1);
  const rejects = net.sent.filter((m) => m.type === MessageType.AppResp && m.from === 2 && m.reject);
  assert.ok(rejects.length >= 1, 'at least one consistency-check rejection');
  assert.ok(rejects.length <= 2, `fast backtracking: ${rejects.length} rejections for 95 divergent entries`);
  // Follower truncated its conflicting uncommitted tail (§5.3).
  assert.deepEqual(logOf(net, 2), logOf(net, 1));
  assert.equal(net.get(2).entries.length, 61);
});

test('follower truncates a conflicting uncommitted tail and keeps its committed prefix (§5.3)', () => {
  const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
  load(net, 1, [ent(1, 1), ent(2, 1), ent(3, 3)], { term: 3, vote: 1, commit: 2 });
  load(net, 2, [ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)], { term: 3, vote: 1, commit: 2 });
  load(net, 3, [ent(1, 1), ent(2, 1), ent(3, 3)], { term: 3, vote: 1, commit: 2 });
  net.elect(1);
  assert.deepEqual(logOf(net, 2), ['1/1', '2/1', '3/3', '4/4']);
  const truncating = net.get(2).readies.find((rd) => rd.entries.length > 0 && rd.entries[0].index === 3);
  assert.ok(truncating, 'node 2 was handed an overwrite from index 3');
});

test('leader never overwrites its own log (§5.3)', () => {
  const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
  load(net, 1, [ent(1, 1), ent(2, 1), ent(3, 1)], { term: 2, vote: 0, commit: 1 });
  load(net, 2, [ent(1, 1), ent(2, 2)], { term: 2, vote: 0, commit: 1 });
  load(net, 3, [ent(1, 1)], { term: 2, vote: 0, commit: 1 });
  net.elect(1);
  const before = logOf(net, 1);
  // A stale leader of term 2 tells node 1 to overwrite index 2.
  net.node(1).step({
    type: MessageType.App, groupId: 7, from: 2, to: 1, term: 2, logTerm: 1, index: 1, entries: [ent(2, 2)],
    commit: 1, reject: false, rejectHint: 0, context: new Uint8Array(0), snapshot: null,
  });
  propose(net, 1, 'x');
  net.stabilize();
  const after = logOf(net, 1);
  assert.deepEqual(after.slice(0, before.length), before);
  for (const rd of net.get(1).readies.slice(1)) {
    if (rd.entries.length > 0) assert.ok(rd.entries[0].index > 4 - 1, 'leader only appends');
  }
  assert.deepEqual(logOf(net, 2), after);
  assert.deepEqual(logOf(net, 3), after);
});

test('no commit of a prior-term entry by counting replicas (§5.4.2, Figure 8)', () => {
  // (a) S1 led term 2 and replicated index 2 only to S2; S5 led term 3 and wrote index 2 alone.
  const net = new Network([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
  load(net, 1, [ent(1, 1), ent(2, 2)], { term: 3, vote: 0, commit: 1 });
  load(net, 2, [ent(1, 1), ent(2, 2)], { term: 3, vote: 0, commit: 1 });
  load(net, 3, [ent(1, 1)], { term: 3, vote: 0, commit: 1 });
  load(net, 4, [ent(1, 1)], { term: 3, vote: 0, commit: 1 });
  load(net, 5, [ent(1, 1), ent(2, 3)], { term: 3, vote: 5, commit: 1 });
  // (c) S1 leads term 4 and copies index 2 to S3, but its own term-4 entry reaches no one.
  net.drop = (m) => {
    if (m.type === MessageType.App) m.entries = m.entries.filter((e) => e.term !== 4);
    return m.from === 5 || m.to === 5;
  };
  net.elect(1);
  assert.equal(net.node(1).status().term, 4);
  assert.deepEqual(logOf(net, 3), ['1/1', '2/2']);
  assert.equal(net.node(1).status().commit, 1, 'index 2 is on a majority but of an older term');
  // (d) Were it committed, S5 could still win term 5 and overwrite it.
  net.drop = (m) => m.from === 1 || m.to === 1;
  net.node(5).campaign(); // term 4 is taken: loses
  net.stabilize();
  net.node(5).campaign();
  net.stabilize();
  assert.equal(net.node(5).status().role, Role.Leader);
  assert.equal(net.node(5).status().term, 5);
  assert.deepEqual(logOf(net, 3).slice(0, 2), ['1/1', '2/3']);
});

test('once an own-term entry commits, earlier entries commit with it (§5.4.2)', () => {
  const net = new Network([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
  load(net, 1, [ent(1, 1), ent(2, 2)], { term: 3, vote: 0, commit: 1 });
  load(net, 2, [ent(1, 1), ent(2, 2)], { term: 3, vote: 0, commit: 1 });
  for (const id of [3, 4, 5]) load(net, id, [ent(1, 1)], { term: 3, vote: 0, commit: 1 });
  net.elect(1);
  assert.equal(net.node(1).status().commit, 3);
  assert.deepEqual(net.get(3).sm.map((s) => s.slice(0, 4)), ['e1t1', 'e2t2']);
});

test('inflight window bounds App messages to a silent follower (flow control)', () => {
  const net = new Network([1, 2, 3], { maxInflightMsgs: 2, maxSizePerMsg: 10 });
  net.elect(1);
  assert.equal(net.node(1).status().progress!.get(2)!.state, 'replicate');
  net.autoReady.set(2, false); // 2 never persists, so never acknowledges
  net.clearSent();
  for (let i = 0; i < 10; i++) propose(net, 1, `payload-${i}`.padEnd(10, '.'));
  net.stabilize();
  const toTwo = net.sent.filter((m) => m.type === MessageType.App && m.to === 2 && m.entries.length > 0);
  assert.equal(toTwo.length, 2);
  const toThree = net.sent.filter((m) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
  assert.equal(toThree.reduce((n, m) => n + m.entries.length, 0), 10);
  // Once 2 catches up, everything flows.
  net.autoReady.set(2, true);
  net.tickAll(3);
  assert.equal(net.get(2).sm.length, 10);
});

test('maxInflightBytes bounds the bytes in flight', () => {
  const net = new Network([1, 2, 3], { maxInflightBytes: 25, maxSizePerMsg: 10 });
  net.elect(1);
  net.autoReady.set(2, false);
  net.clearSent();
  for (let i = 0; i < 10; i++) propose(net, 1, 'x'.repeat(10));
  net.stabilize();
  const toTwo = net.sent.filter((m) => m.type === MessageType.App && m.to === 2 && m.entries.length > 0);
  assert.equal(toTwo.length, 3);
});

test('maxSizePerMsg bounds entry bytes per App, with at least one entry', () => {
  const net = new Network([1, 2], { maxSizePerMsg: 25 });
  net.elect(1);
  net.isolate(2);
  for (let i = 0; i < 6; i++) propose(net, 1, 'y'.repeat(10));
  propose(net, 1, 'z'.repeat(100));
  net.stabilize();
  net.heal();
  net.clearSent();
  net.tickAll(3);
  const apps = net.sent.filter((m) => m.type === MessageType.App && m.to === 2 && m.entries.length > 0);
  for (const m of apps) {
    const size = m.entries.reduce((n, e) => n + e.data.byteLength, 0);
    assert.ok(m.entries.length === 1 || size <= 25, `message of ${size} bytes`);
  }
  assert.ok(apps.some((m) => m.entries.length === 1 && m.entries[0].data.byteLength === 100));
  assert.equal(net.get(2).sm.length, 7);
  assert.equal(text(net.get(2).entries.at(-1)!.data), 'z'.repeat(100));
});

test('vote grants and append acks wait for persistence; pre-vote grants do not', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  const readies = [2, 3].flatMap((id) => net.get(id).readies);
  const early = readies.flatMap((rd) => rd.messages);
  const late = readies.flatMap((rd) => rd.messagesAfterPersist);
  assert.ok(late.some((m) => m.type === MessageType.VoteResp && !m.reject));
  assert.ok(late.some((m) => m.type === MessageType.AppResp));
  assert.ok(!early.some((m) => m.type === MessageType.VoteResp && !m.reject));
  assert.ok(!early.some((m) => m.type === MessageType.AppResp));
  assert.ok(early.some((m) => m.type === MessageType.PreVoteResp && !m.reject));
  for (const rd of readies) {
    const grants = rd.messagesAfterPersist.some((m) => m.type === MessageType.VoteResp && !m.reject);
    if (rd.entries.length > 0 || grants) assert.equal(rd.mustSync, true);
  }
});

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}
