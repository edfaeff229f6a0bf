// Proves log compaction and snapshot catch-up: a leader that compacted its log
// sends a lagging follower a Snap cut at its applied index, the host fills in
// the image, and the follower restores it and catches up; checked on the
// in-memory network's toy state machines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes, propose } from './network.js';
import { ConfChangeType, MessageType } from '../../src/raft/types.js';

function lagAndCompact(net: Network): number {
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 10; i++) propose(net, 1, `v${i}`);
  net.stabilize();
  const applied = net.node(1).status().applied;
  net.compact(1, applied - 2);
  return applied;
}

test('compact discards entries up to the index and remembers its term', () => {
  const net = new Network([1, 2, 3]);
  const applied = lagAndCompact(net);
  const st = net.node(1).status();
  assert.equal(st.firstIndex, applied - 1);
  assert.equal(st.lastIndex, applied);
  assert.throws(() => net.node(1).compact(applied + 1), /compact beyond applied/);
  net.node(1).compact(3); // below the compaction point: nothing happens
  assert.equal(net.node(1).status().firstIndex, applied - 1);
});

test('a lagging follower gets a Snap at the leader\'s applied index, restores it and catches up', () => {
  const net = new Network([1, 2, 3]);
  lagAndCompact(net);
  propose(net, 1, 'after-compaction');
  net.stabilize();
  const leaderApplied = net.node(1).status().applied;
  net.heal();
  net.clearSent();
  net.tickAll(3);
  const snaps = net.sent.filter((m) => m.type === MessageType.Snap);
  assert.equal(snaps.length, 1);
  assert.equal(snaps[0].to, 3);
  assert.equal(snaps[0].snapshot!.meta.index, leaderApplied);
  assert.deepEqual(snaps[0].snapshot!.meta.confState, { voters: [1, 2, 3], learners: [] });
  const three = net.get(3);
  const restored = three.readies.find((rd) => rd.snapshot !== null)!;
  assert.equal(restored.snapshot!.meta.index, leaderApplied);
  assert.deepEqual(restored.confState, { voters: [1, 2, 3], learners: [] });
  assert.ok(restored.messagesAfterPersist.some((m) => m.type === MessageType.AppResp && m.index === leaderApplied));
  assert.deepEqual(three.sm, net.get(1).sm);
  assert.equal(net.node(1).status().progress!.get(3)!.state, 'replicate');
  // And replication continues normally.
  propose(net, 1, 'later');
  net.stabilize();
  assert.deepEqual(net.get(3).sm, net.get(1).sm);
  assert.equal(net.node(3).status().firstIndex, leaderApplied + 1);
});

test('a failed snapshot send goes back to probing and is retried', () => {
  const net = new Network([1, 2, 3]);
  lagAndCompact(net);
  net.heal();
  let dropSnaps = true;
  net.drop = (m) => dropSnaps && m.type === MessageType.Snap;
  net.tickAll(3);
  assert.notEqual(net.node(1).status().progress!.get(3)!.state, 'replicate');
  dropSnaps = false;
  net.tickAll(3);
  assert.equal(net.node(1).status().progress!.get(3)!.state, 'replicate');
  assert.deepEqual(net.get(3).sm, net.get(1).sm);
});

test('a snapshot at or below the follower\'s commit is not installed', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  const st = net.node(2).status();
  net.node(2).step({
    type: MessageType.Snap, groupId: 7, from: 1, to: 2, term: st.term, logTerm: 0, index: 0, entries: [], commit: 0,
    reject: false, rejectHint: 0, context: new Uint8Array(0),
    snapshot: { meta: { index: st.commit, term: st.term, confState: { voters: [9], learners: [] } }, data: new Uint8Array(0) },
  });
  const rd = net.node(2).ready();
  assert.equal(rd.snapshot, null);
  assert.equal(rd.confState, null);
  assert.deepEqual(net.node(2).status().confState.voters, [1, 2, 3]);
});

test('a node joining an existing group learns the membership from a snapshot', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  propose(net, 1, 'a');
  net.stabilize();
  net.addMember(4, []);
  net.node(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4, context: bytes('') });
  net.stabilize();
  net.tickAll(2);
  assert.deepEqual(net.node(4).status().confState, { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(net.get(4).sm, ['a']);
});

test('restart after installing a snapshot resumes from it', () => {
  const net = new Network([1, 2, 3]);
  lagAndCompact(net);
  net.heal();
  net.tickAll(3);
  const before = net.node(3).status();
  const node = net.restart(3);
  const st = node.status();
  assert.equal(st.firstIndex, before.firstIndex);
  assert.equal(st.commit, before.commit);
  assert.deepEqual(st.confState, before.confState);
  propose(net, 1, 'z');
  net.tickAll(2);
  assert.deepEqual(net.get(3).sm, net.get(1).sm);
});

test('a snapshot that is never reported is sent again after 10 election timeouts', () => {
  const net = new Network([1, 2, 3]);
  lagAndCompact(net);
  net.heal();
  net.reportSnapshots = false;
  let dropSnaps = true;
  net.drop = (m) => dropSnaps && m.type === MessageType.Snap;
  net.tickAll(5);
  assert.equal(net.node(1).status().progress!.get(3)!.state, 'snapshot');
  dropSnaps = false;
  net.tickAll(90);
  assert.equal(net.node(1).status().progress!.get(3)!.state, 'snapshot');
  net.tickAll(10);
  assert.equal(net.node(1).status().progress!.get(3)!.state, 'replicate');
  assert.deepEqual(net.get(3).sm, net.get(1).sm);
});
