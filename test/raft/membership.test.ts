// Proves single-server membership changes (thesis §4.1) applied when applied:
// learners, promotion, removal, self-removal of the leader, one change at a
// time, and membership rebuilt on restart, over the in-memory network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, propose } from './network.js';
import { ConfChangeType, type ConfChange, MessageType, Role } from '../../src/raft/types.js';

const cc = (type: ConfChange['type'], nodeId: number): ConfChange => ({ type, nodeId, context: bytes(`addr-${nodeId}`) });

function changeAndSettle(net: Network, leader: number, change: ConfChange): number {
  const res = net.node(leader).proposeConfChange(change);
  assert.equal(res.kind, 'ok', JSON.stringify(res));
  net.stabilize();
  return (res as { index: number }).index;
}

test('a learner receives the log but neither votes nor counts for commit', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  net.addMember(4, []);
  changeAndSettle(net, 1, cc(ConfChangeType.AddLearner, 4));
  net.tickAll(2);
  assert.deepEqual(net.node(1).status().confState, { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(net.node(4).status().confState, { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(net.get(4).sm, ['a']);
  assert.deepEqual(net.get(1).confState, { voters: [1, 2, 3], learners: [4] }, 'Ready carried the new confState');
  // With 2 and 3 cut off, the learner's ack does not make a quorum.
  net.isolate(2);
  net.isolate(3);
  const idx = propose(net, 1, 'b');
  net.stabilize();
  assert.ok(net.node(1).status().commit < idx);
  assert.equal(net.node(1).status().progress!.get(4)!.match, idx);
});

test('AddVoter promotes a learner, which then counts for quorum', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.addMember(4, []);
  changeAndSettle(net, 1, cc(ConfChangeType.AddLearner, 4));
  changeAndSettle(net, 1, cc(ConfChangeType.AddVoter, 4));
  assert.deepEqual(net.node(1).status().confState, { voters: [1, 2, 3, 4], learners: [] });
  net.isolate(2);
  const idx = propose(net, 1, 'b');
  net.stabilize();
  assert.equal(net.node(1).status().commit, idx, '1, 3 and 4 are a quorum of 4');
  net.isolate(3);
  const idx2 = propose(net, 1, 'c');
  net.stabilize();
  assert.ok(net.node(1).status().commit < idx2, '1 and 4 are not');
});

test('removing a voter shrinks the quorum', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  changeAndSettle(net, 1, cc(ConfChangeType.RemoveNode, 3));
  assert.deepEqual(net.node(1).status().confState, { voters: [1, 2], learners: [] });
  assert.equal(net.node(1).status().progress!.has(3), false);
  net.isolate(3);
  const idx = propose(net, 1, 'x');
  net.stabilize();
  assert.equal(net.node(1).status().commit, idx);
});

test('a leader that removes itself steps down once the change is applied', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const res = net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 1));
  assert.equal(res.kind, 'ok');
  assert.equal(net.node(1).status().role, Role.Leader, 'still leader until applied');
  net.stabilize();
  assert.equal(net.node(1).status().role, Role.Follower);
  assert.deepEqual(net.node(2).status().confState, { voters: [2, 3], learners: [] });
  for (let i = 0; i < 40 && net.leaders().length === 0; i++) net.tickAll();
  assert.deepEqual(net.leaders().length, 1);
  assert.notEqual(net.leaders()[0], 1);
  // The removed node never campaigns again.
  net.clearSent();
  for (let i = 0; i < 40; i++) net.tickAll();
  assert.ok(!net.sent.some((m) => m.from === 1 && (m.type === MessageType.Vote || m.type === MessageType.PreVote)));
});

test('a second conf change is refused while the first is pending (thesis §4.1)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.addMember(4, []);
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.AddLearner, 4)).kind, 'ok');
  const second = net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 3));
  assert.equal(second.kind, 'dropped');
  net.stabilize();
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 3)).kind, 'ok');
});

test('a new leader accepts no conf change before its own-term entry is applied (raft-dev 2015 fix)', () => {
  const net = new Network([1, 2, 3]);
  net.node(1).campaign();
  // Win the election but do not let the no-op commit yet.
  net.drop = (m) => { if (m.type === MessageType.App) m.entries = []; return false; };
  net.stabilize();
  assert.equal(net.node(1).status().role, Role.Leader);
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 3)).kind, 'dropped');
  net.heal();
  net.tickAll(2);
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 3)).kind, 'ok');
});

test('invalid conf changes are refused', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.AddVoter, 2)).kind, 'dropped');
  assert.equal(net.node(1).proposeConfChange(cc(ConfChangeType.RemoveNode, 9)).kind, 'dropped');
  assert.deepEqual(net.node(2).proposeConfChange(cc(ConfChangeType.AddVoter, 4)), { kind: 'notLeader', leaderHint: 1 });
});

test('restart rebuilds membership from persisted conf changes up to applied', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.addMember(4, []);
  changeAndSettle(net, 1, cc(ConfChangeType.AddLearner, 4));
  changeAndSettle(net, 1, cc(ConfChangeType.RemoveNode, 3));
  propose(net, 1, 'after');
  net.stabilize();
  const before = net.node(2).status();
  const node = net.restart(2);
  const st = node.status();
  assert.deepEqual(st.confState, { voters: [1, 2], learners: [4] });
  assert.equal(st.applied, before.applied);
  assert.equal(st.commit, before.commit);
  assert.equal(st.term, before.term);
  assert.equal(st.lastIndex, before.lastIndex);
  // Restarted with an older applied index: the conf change after it is not yet in force,
  // and the committed entries after `applied` are handed out again.
  const m = net.get(2);
  const removeIdx = m.entries.filter((e) => e.type === 1).at(-1)!.index;
  m.applied = removeIdx - 1;
  m.sm = [];
  const node2 = net.restart(2);
  assert.deepEqual(node2.status().confState, { voters: [1, 2, 3], learners: [4] });
  const rd = node2.ready();
  assert.equal(rd.committedEntries[0].index, removeIdx);
  node2.advance(rd.number);
  assert.deepEqual(node2.status().confState, { voters: [1, 2], learners: [4] });
});
