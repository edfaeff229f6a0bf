// Proves linearizable reads (thesis §6.4): ReadIndex batching on one heartbeat
// round, follower reads, and lease reads, by counting the messages a read costs
// on the in-memory network and checking the ReadStates each node emits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, propose, text } from './network.js';
import { MessageType } from '../../src/raft/types.js';

const heartbeats = (net: Network) => net.sent.filter((m) => m.type === MessageType.Heartbeat);

test('many ReadIndex requests share one heartbeat round (thesis §6.4)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  const commit = net.node(1).status().commit;
  net.clearSent();
  for (let i = 0; i < 10; i++) assert.deepEqual(net.node(1).readIndex(bytes(`r${i}`), 'readIndex'), { kind: 'ok' });
  net.stabilize();
  assert.equal(heartbeats(net).length, 2, 'one heartbeat per follower');
  const rs = net.get(1).readStates;
  assert.deepEqual(rs.map((r) => text(r.context)), Array.from({ length: 10 }, (_, i) => `r${i}`));
  assert.ok(rs.every((r) => r.index === commit));
});

test('a read registered after a round was sent waits for a later round', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.node(1).readIndex(bytes('early'), 'readIndex');
  net.handleReady(1); // the round's heartbeats leave
  net.node(1).readIndex(bytes('late'), 'readIndex');
  net.stabilize();
  assert.equal(heartbeats(net).filter((m) => m.to === 2).length, 2);
  assert.deepEqual(net.get(1).readStates.map((r) => text(r.context)), ['early', 'late']);
});

test('ReadIndex is not confirmed without a quorum of acks', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  net.node(1).readIndex(bytes('r'), 'readIndex');
  net.stabilize();
  assert.equal(net.get(1).readStates.length, 0);
});

test('reads wait until the leader has committed an entry of its term (thesis §6.4)', () => {
  const net = new Network([1, 2, 3]);
  net.drop = (m) => { if (m.type === MessageType.App) m.entries = []; return false; };
  net.elect(1);
  assert.equal(net.node(1).status().commit, 0);
  net.clearSent();
  net.node(1).readIndex(bytes('r'), 'readIndex');
  net.stabilize();
  assert.equal(heartbeats(net).length, 0);
  assert.equal(net.get(1).readStates.length, 0);
  net.heal();
  net.tickAll(2);
  assert.equal(net.get(1).readStates.length, 1);
  assert.equal(net.get(1).readStates[0].index, 1);
});

test('a follower read is forwarded to the leader and answered with its read index', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  assert.deepEqual(net.node(2).readIndex(bytes('f'), 'readIndex'), { kind: 'ok' });
  net.stabilize();
  assert.ok(net.sent.some((m) => m.type === MessageType.ReadIndex && m.from === 2 && m.to === 1));
  assert.deepEqual(net.get(2).readStates.map((r) => [r.index, text(r.context)]), [[2, 'f']]);
});

test('a follower without a leader refuses reads', () => {
  const net = new Network([1, 2, 3]);
  assert.deepEqual(net.node(2).readIndex(bytes('f'), 'readIndex'), { kind: 'notLeader', leaderHint: 0 });
});

test('a single-voter group answers reads at once', () => {
  const net = new Network([1]);
  net.elect(1);
  net.node(1).readIndex(bytes('r'), 'readIndex');
  const rd = net.handleReady(1)!;
  assert.deepEqual(rd.readStates.map((r) => text(r.context)), ['r']);
});

test('a lease read needs no round trip once the lease holds, and only while it holds (thesis §6.4.1)', () => {
  const net = new Network([1, 2, 3], { electionTicks: 10, leaseDriftTicks: 2 });
  net.elect(1);
  // No quorum-acked heartbeat round yet: the lease read falls back to ReadIndex.
  assert.equal(net.node(1).status().leaseValid, false);
  net.clearSent();
  net.node(1).readIndex(bytes('r0'), 'lease');
  net.stabilize();
  assert.equal(heartbeats(net).length, 2);
  assert.equal(net.node(1).status().leaseValid, true);
  assert.equal(net.node(1).leaseReadIndex(), net.node(1).status().commit, 'the lease read index is the commit index');
  assert.equal(net.node(2).leaseReadIndex(), -1, 'a follower holds no lease');
  net.clearSent();
  net.node(1).readIndex(bytes('r1'), 'lease');
  const rd = net.handleReady(1)!;
  assert.deepEqual(rd.readStates.map((r) => text(r.context)), ['r1']);
  assert.equal(rd.messages.length, 0, 'no round trip');
  // Cut off, the lease lasts electionTicks - drift from the last acked round's send tick.
  net.isolate(1);
  for (let i = 0; i < 7; i++) net.node(1).tick();
  assert.equal(net.node(1).status().leaseValid, true);
  net.node(1).tick();
  assert.equal(net.node(1).status().leaseValid, false);
  assert.equal(net.node(1).leaseReadIndex(), -1, 'no lease read index once the lease expired');
  net.clearSent();
  net.node(1).readIndex(bytes('r2'), 'lease');
  net.stabilize();
  assert.ok(heartbeats(net).length > 0, 'expired lease falls back to a heartbeat round');
  assert.ok(!net.get(1).readStates.some((r) => text(r.context) === 'r2'));
});

test('no lease before the leader commits an entry of its term', () => {
  const net = new Network([1, 2, 3]);
  net.drop = (m) => { if (m.type === MessageType.App) m.entries = []; return false; };
  net.elect(1);
  net.tickAll(2); // heartbeat rounds are acked by a quorum
  assert.equal(net.node(1).status().commit, 0);
  assert.equal(net.node(1).status().leaseValid, false);
  net.node(1).readIndex(bytes('r'), 'lease');
  net.stabilize();
  assert.equal(net.get(1).readStates.length, 0);
});

test('no lease without CheckQuorum', () => {
  const net = new Network([1, 2, 3], { checkQuorum: false });
  net.elect(1);
  net.tickAll(2);
  assert.equal(net.node(1).status().leaseValid, false);
});
