// Proves leadership transfer (thesis §3.10): the target is caught up, told to
// time out, wins despite followers' leases, and a stuck transfer is abandoned
// after an election timeout; checked through roles, terms and propose results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, propose } from './network.js';
import { MessageType, Role } from '../../src/raft/types.js';

test('transfer to an up-to-date follower makes it leader at once (thesis §3.10)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const term = net.node(1).status().term;
  net.node(1).transferLeader(2);
  assert.equal(net.node(1).status().leadTransferee, 2);
  assert.deepEqual(net.node(1).propose(bytes('x')), { kind: 'transferring', leaderHint: 2 });
  net.stabilize();
  assert.equal(net.node(2).status().role, Role.Leader);
  assert.equal(net.node(2).status().term, term + 1);
  assert.equal(net.node(1).status().leader, 2);
  // Followers were within their lease of node 1, yet granted: the vote carried the transfer context.
  assert.ok(net.sent.some((m) => m.type === MessageType.Vote && m.context.byteLength > 0));
  assert.ok(net.sent.every((m) => m.type !== MessageType.PreVote || m.from !== 2), 'no pre-vote for a transfer');
});

test('transfer to a lagging follower first brings it up to date', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 5; i++) propose(net, 1, `v${i}`);
  net.stabilize();
  net.heal();
  net.clearSent();
  net.node(1).transferLeader(3);
  net.stabilize();
  const timeoutNow = net.sent.findIndex((m) => m.type === MessageType.TimeoutNow);
  const lastApp = net.sent.findLastIndex((m) => m.type === MessageType.App && m.to === 3 && m.from === 1);
  assert.ok(timeoutNow > lastApp, 'TimeoutNow only after the catch-up appends');
  assert.equal(net.node(3).status().role, Role.Leader);
  assert.equal(net.get(3).sm.length, 5);
});

test('a transfer to an unreachable node is abandoned after an election timeout', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  propose(net, 1, 'a');
  net.stabilize();
  net.node(1).transferLeader(3);
  net.stabilize();
  for (let i = 0; i < 9; i++) net.node(1).tick();
  assert.equal(net.node(1).propose(bytes('b')).kind, 'transferring');
  net.node(1).tick();
  assert.equal(net.node(1).status().leadTransferee, 0);
  assert.equal(net.node(1).propose(bytes('b')).kind, 'ok');
  assert.equal(net.node(1).status().role, Role.Leader);
});

test('a follower forwards a transfer request to the leader', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.node(3).transferLeader(3);
  net.stabilize();
  assert.equal(net.node(3).status().role, Role.Leader);
});

test('no lease is valid once a TimeoutNow was sent', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.tickAll(1);
  assert.equal(net.node(1).status().leaseValid, true);
  net.isolate(2);
  net.node(1).transferLeader(2);
  net.stabilize();
  assert.ok(net.sent.some((m) => m.type === MessageType.TimeoutNow));
  for (let i = 0; i < 10; i++) net.node(1).tick();
  net.tickAll(1);
  assert.equal(net.node(1).status().leadTransferee, 0);
  assert.equal(net.node(1).status().leaseValid, false);
});
