// Proves follower read leases (docs/raft-core.md): caught-up voters get a lease
// under the leader's, serve lease reads with no round trip, and lose the lease
// on time; nothing commits before every holder has it; a leadership transfer
// revokes every lease before the target may campaign.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, propose, text } from './network.js';
import { MessageType } from '../../src/raft/types.js';

const ET = 10;
const DRIFT = 2;

/** Three voters, node 1 leading, one entry committed, and a few heartbeat rounds so leases are granted. */
function leased(): Network {
  const net = new Network([1, 2, 3], { electionTicks: ET, leaseDriftTicks: DRIFT, followerLeases: true });
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  net.tickAll(3);
  return net;
}

test('a caught-up follower gets a lease and serves a lease read with no round trip', () => {
  const net = leased();
  const f = net.node(2);
  assert.equal(f.followerReadIndex(), f.status().lastIndex);
  net.clearSent();
  assert.deepEqual(f.readIndex(bytes('r'), 'lease'), { kind: 'ok' });
  const rd = net.handleReady(2)!;
  assert.deepEqual(rd.readStates.map((r) => [r.index, text(r.context)]), [[f.status().lastIndex, 'r']]);
  assert.equal(rd.messages.length, 0, 'no ReadIndex to the leader');
  // ReadIndex mode still asks the leader.
  f.readIndex(bytes('ri'), 'readIndex');
  assert.ok(net.handleReady(2)!.messages.some((m) => m.type === MessageType.ReadIndex));
});

test('without follower leases a follower lease read goes to the leader', () => {
  const net = new Network([1, 2, 3], { electionTicks: ET, leaseDriftTicks: DRIFT });
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  net.tickAll(3);
  assert.equal(net.node(2).followerReadIndex(), -1);
  net.node(2).readIndex(bytes('r'), 'lease');
  assert.ok(net.handleReady(2)!.messages.some((m) => m.type === MessageType.ReadIndex));
});

test('a cut-off follower loses its lease within electionTicks - drift of its last ack', () => {
  const net = leased();
  net.isolate(2);
  const f = net.node(2);
  let ticks = 0;
  while (f.followerReadIndex() >= 0) {
    f.tick();
    ticks++;
    assert.ok(ticks <= ET - DRIFT, `lease still held after ${ticks} ticks`);
  }
  assert.ok(ticks >= 1);
  f.readIndex(bytes('r'), 'lease');
  assert.equal(net.handleReady(2)?.readStates.length ?? 0, 0, 'no local read without the lease');
});

test('nothing commits before every lease holder has it; an expired holder stops holding commits back', () => {
  const net = leased();
  const before = net.node(1).status().commit;
  // Follower 3 holds a lease but receives nothing more; follower 2 and the leader form a quorum.
  net.isolate(3);
  const index = propose(net, 1, 'b');
  net.stabilize();
  assert.ok(net.node(2).status().lastIndex >= index, 'a quorum has the entry');
  assert.equal(net.node(1).status().commit, before, 'not committed while node 3 may serve reads without it');
  // Follower 3 still believes its lease holds for a while, and it cannot see 'b': that is why.
  assert.ok(net.node(3).followerReadIndex() >= 0);
  assert.ok(net.node(3).status().lastIndex < index);
  // Leader ticks only (node 3 is cut off and its ticks do not matter to the leader's bound).
  let ticks = 0;
  while (net.node(1).status().commit < index) {
    net.node(1).tick();
    net.node(2).tick();
    net.stabilize();
    ticks++;
    assert.ok(ticks <= ET + 2, 'the holder bound ran out');
  }
  assert.ok(ticks >= ET - DRIFT, `commit waited ${ticks} ticks: at least as long as the holder's own lease`);
});

test('a follower that falls behind gets no new grant', () => {
  const net = leased();
  // Appends to node 3 are lost; heartbeats still reach it.
  net.drop = (m) => m.to === 3 && m.type === MessageType.App;
  propose(net, 1, 'b');
  net.stabilize();
  for (let i = 0; i < ET + 2; i++) net.tickAll(1);
  assert.equal(net.node(3).followerReadIndex(), -1, 'its lease ran out and was not renewed');
  assert.ok(net.node(1).status().commit >= net.node(2).status().lastIndex, 'commits go on without it');
});

test('a leadership transfer revokes follower leases before TimeoutNow', () => {
  const net = leased();
  assert.ok(net.node(3).followerReadIndex() >= 0);
  net.clearSent();
  net.node(1).transferLeader(2);
  // Step by step: the revoke heartbeat reaches node 3 before any TimeoutNow leaves.
  let revokedAt = -1;
  let timeoutNowAt = -1;
  for (let i = 0; i < 50 && timeoutNowAt < 0; i++) {
    net.readyAll();
    net.deliverOnce();
    if (revokedAt < 0 && net.node(3).followerReadIndex() < 0) revokedAt = i;
    if (net.sent.some((m) => m.type === MessageType.TimeoutNow)) timeoutNowAt = i;
  }
  assert.ok(revokedAt >= 0 && timeoutNowAt >= 0, `revoked at ${revokedAt}, TimeoutNow at ${timeoutNowAt}`);
  assert.ok(revokedAt <= timeoutNowAt);
  net.stabilize();
  assert.deepEqual(net.leaders(), [2]);
});

test('a transfer waits for an unreachable holder\'s lease to run out', () => {
  const net = leased();
  net.isolate(3);
  net.clearSent();
  net.node(1).transferLeader(2);
  net.stabilize();
  assert.ok(!net.sent.some((m) => m.type === MessageType.TimeoutNow), 'node 3 may still serve reads');
  for (let i = 0; i < ET + 2 && !net.sent.some((m) => m.type === MessageType.TimeoutNow); i++) {
    net.node(1).tick();
    net.node(2).tick();
    net.stabilize();
  }
  assert.ok(net.sent.some((m) => m.type === MessageType.TimeoutNow), 'sent once the holder bound ran out');
  assert.deepEqual(net.leaders(), [2]);
});

test('a new term ends a follower lease', () => {
  const net = leased();
  assert.ok(net.node(3).followerReadIndex() >= 0);
  net.isolate(1);
  // Node 2 campaigns (forced past stickiness for the test by ticking it out of its lease).
  for (let i = 0; i < 3 * ET && net.leaders().indexOf(2) < 0 && net.leaders().indexOf(3) < 0; i++) net.tickAll(1);
  const newLeader = net.leaders().find((id) => id !== 1);
  assert.ok(newLeader !== undefined, 'a new leader was elected');
  const other = newLeader === 2 ? 3 : 2;
  assert.equal(net.node(other).status().term, net.node(newLeader).status().term);
  // Its lease from node 1 is gone; a new one comes only from the new leader's grants.
  assert.ok(net.node(other).followerReadIndex() === -1 || net.node(other).status().leader === newLeader);
});

test('learners get no follower lease', () => {
  const net = new Network([1, 2, 3], { electionTicks: ET, leaseDriftTicks: DRIFT, followerLeases: true, learnerIds: [4] });
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  net.tickAll(3);
  assert.ok(net.node(2).followerReadIndex() >= 0);
  assert.equal(net.node(4).followerReadIndex(), -1);
});
