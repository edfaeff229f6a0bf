// Proves the RawNode contract: one Ready outstanding at a time, advance must
// match it, input between ready() and advance() lands in the next Ready, and
// random garbage or stale messages never make step() throw; checked by
// driving nodes directly and with a seeded message fuzzer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/env/random.js';
import { Network, bytes, ent, text } from './network.js';
import { type Message, MessageType, Role } from '../../src/raft/types.js';

test('exactly one Ready is outstanding; advance must name it', () => {
  const net = new Network([1]);
  const node = net.node(1);
  node.campaign();
  assert.equal(node.hasReady(), true);
  const rd = node.ready();
  assert.equal(node.hasReady(), false);
  assert.throws(() => node.ready(), /outstanding/);
  assert.throws(() => node.advance(rd.number + 1), /does not match/);
  node.advance(rd.number);
  assert.throws(() => node.advance(rd.number), /does not match/);
});

test('input between ready() and advance() goes to the next Ready', () => {
  const net = new Network([1]);
  net.elect(1);
  net.stabilize();
  const node = net.node(1);
  node.propose(bytes('a'));
  const rd1 = node.ready();
  const res = node.propose(bytes('b'));
  assert.equal(res.kind, 'ok');
  assert.deepEqual(rd1.entries.map((e) => e.index), [2]);
  node.advance(rd1.number);
  const rd2 = node.ready();
  assert.deepEqual(rd2.entries.map((e) => e.index), [3]);
  assert.deepEqual(rd2.committedEntries.map((e) => e.index), [2]);
  node.advance(rd2.number);
  assert.deepEqual(node.ready().committedEntries.map((e) => e.index), [3]);
});

test('softState, hardState and confState appear only when they change', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.tickAll(3);
  const idle = net.get(2).readies.at(-1)!;
  assert.equal(idle.softState, null);
  assert.equal(idle.hardState, null);
  assert.equal(idle.confState, null);
  const first = net.get(2).readies.find((rd) => rd.softState !== null)!;
  assert.deepEqual(first.softState, { leader: 1, role: Role.Follower });
});

test('propose on a follower returns notLeader with the leader as hint', () => {
  const net = new Network([1, 2, 3]);
  assert.deepEqual(net.node(2).propose(bytes('x')), { kind: 'notLeader', leaderHint: 0 });
  net.elect(1);
  assert.deepEqual(net.node(2).propose(bytes('x')), { kind: 'notLeader', leaderHint: 1 });
});

test('garbage and stale messages never make step() throw', () => {
  const rnd = new SeededRandom(99);
  const types = Object.values(MessageType);
  for (let round = 0; round < 20; round++) {
    const net = new Network([1, 2, 3], { seed: round });
    net.elect(1);
    for (let i = 0; i < 5; i++) net.node(1).propose(bytes(`v${i}`));
    net.stabilize();
    for (let i = 0; i < 300; i++) {
      const to = rnd.int(1, 3);
      const index = rnd.int(0, 12);
      const m: Message = {
        type: rnd.pick(types), groupId: rnd.chance(0.95) ? 7 : 8, from: rnd.int(0, 5), to: rnd.chance(0.95) ? to : 9,
        term: rnd.int(0, 4), logTerm: rnd.int(0, 4), index, commit: rnd.int(0, 15), reject: rnd.chance(0.3),
        rejectHint: rnd.int(0, 12), context: rnd.chance(0.5) ? new Uint8Array(rnd.int(0, 9)) : new Uint8Array(0),
        entries: rnd.chance(0.5) ? [ent(index + 1, rnd.int(1, 4)), ent(index + 2, rnd.int(1, 4))].sort((a, b) => a.term - b.term) : [],
        snapshot: rnd.chance(0.2) ? { meta: { index: rnd.int(0, 15), term: rnd.int(0, 4), confState: { voters: [1, 2, 3], learners: [] } }, data: bytes('[]') } : null,
      };
      net.node(to).step(m);
      if (rnd.chance(0.3)) net.node(to).tick();
      if (rnd.chance(0.2)) net.stabilize();
    }
  }
});

test('append messages may leave ahead of the Ready; heartbeats and their read rounds wait for ready()', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.stabilize();
  const node = net.node(1);
  node.propose(bytes('a'));
  const rd1 = node.ready();
  // While rd1 is outstanding: a proposal and a ReadIndex request.
  node.propose(bytes('b'));
  node.readIndex(bytes('r'), 'readIndex');
  const early = node.takeAppendMessages();
  assert.ok(early.length > 0 && early.every((m) => m.type === MessageType.App), 'only appends are taken');
  assert.ok(early.some((m) => m.entries.some((e) => e.index === rd1.entries[0].index + 1)), 'the new entry is in them');
  assert.deepEqual(node.takeAppendMessages(), [], 'taken once');
  node.advance(rd1.number);
  const rd2 = node.ready();
  assert.ok(rd2.messages.every((m) => m.type !== MessageType.App || !m.entries.some((e) => e.index === rd1.entries[0].index + 1)),
    'the early appends are not sent twice by the Ready');
  assert.ok(rd2.messages.some((m) => m.type === MessageType.Heartbeat), 'the read round goes out with the Ready');
  assert.deepEqual(rd2.entries.map((e) => e.index), [rd1.entries[0].index + 1], 'the leader still persists the entry itself');
  node.advance(rd2.number);
});

test('committed entries durable here may be taken while a Ready is outstanding; never undurable ones, never twice', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.stabilize();
  const node = net.node(1);
  // 'a' is durable on all three; the followers' acks are on their way.
  const a = node.propose(bytes('a'));
  assert.equal(a.kind, 'ok');
  net.handleReady(1);
  net.deliverOnce();
  net.handleReady(2);
  net.handleReady(3);
  // 'b' reaches the followers ahead of the leader's own write (takeAppendMessages), and they ack it too.
  node.propose(bytes('b'));
  for (const m of node.takeAppendMessages()) net.node(m.to).step(m);
  net.handleReady(2);
  net.handleReady(3);
  assert.ok(net.beginReady(1), 'the leader writes b');
  net.deliverOnce();
  assert.equal(node.status().commit, (a as { index: number }).index + 1, 'a and b are committed by the followers');
  const taken = node.takeCommittedEntries();
  assert.deepEqual(taken.map((e) => text(e.data)), ['a'], 'b is not durable on the leader yet');
  assert.deepEqual(node.takeCommittedEntries(), [], 'taken once');
  assert.equal(node.hasReady(), false, 'still one Ready outstanding');
  // The host applies 'a' now.
  const m = net.get(1);
  m.sm.push('a');
  m.applied = taken[0].index;
  node.advanceApplied(taken[0].index);
  assert.equal(node.status().applied, taken[0].index);
  assert.throws(() => node.advanceApplied(taken[0].index + 1), /beyond what was handed out/);
  net.finishReady(1);
  const rd = net.handleReady(1);
  assert.deepEqual(rd?.committedEntries.map((e) => text(e.data)), ['b'], 'the next Ready applies only b');
  net.stabilize();
  assert.deepEqual(net.get(1).sm, net.get(2).sm, 'same state machine on leader and follower');
});

test('nothing is taken past a conf change: it goes through a Ready', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.stabilize();
  const node = net.node(1);
  node.proposeConfChange({ type: 2, nodeId: 4, context: new Uint8Array(0) });
  node.propose(bytes('x'));
  net.handleReady(1);
  net.deliverOnce();
  net.handleReady(2);
  net.handleReady(3);
  net.deliverOnce();
  assert.ok(node.status().commit > node.status().applied);
  assert.deepEqual(node.takeCommittedEntries(), [], 'the conf change comes first: it goes through a Ready');
  const rd = net.handleReady(1);
  assert.equal(rd?.committedEntries.length, 2, 'the Ready applies the conf change and x');
  assert.equal(node.hasSnapshotToSend(), false);
});
