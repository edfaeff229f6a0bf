// Proves leader election rules (Raft §5.2, thesis §9.6 PreVote, §6.2 CheckQuorum)
// by running RawNodes over an in-memory network and inspecting roles and terms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './network.js';
import { EntryType, MessageType, Role } from '../../src/raft/types.js';

test('ticking elects exactly one leader (§5.2)', () => {
  const net = new Network([1, 2, 3]);
  for (let i = 0; i < 40 && net.leaders().length === 0; i++) net.tickAll();
  assert.equal(net.leaders().length, 1);
  const leader = net.leaders()[0];
  for (const m of net.members.values()) {
    assert.equal(m.node.status().leader, leader, `node ${m.nodeId} knows the leader`);
    assert.equal(m.node.status().term, net.node(leader).status().term);
  }
});

test('a new leader appends and commits an empty entry of its term (§8)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const st = net.node(1).status();
  assert.equal(st.lastIndex, 1);
  assert.equal(st.commit, 1);
  const noop = net.get(2).entries[0];
  assert.deepEqual({ term: noop.term, type: noop.type, len: noop.data.byteLength }, { term: st.term, type: EntryType.Normal, len: 0 });
});

test('a candidate counts its own vote only after persisting it', () => {
  const net = new Network([1]);
  net.node(1).campaign();
  // Pre-vote is won alone; the real vote is in the hard state of the first Ready.
  assert.equal(net.node(1).status().role, Role.Candidate);
  const rd = net.handleReady(1)!;
  assert.equal(rd.hardState?.vote, 1);
  assert.equal(net.node(1).status().role, Role.Leader);
});

test('votes are granted at most once per term and only to up-to-date logs (§5.2, §5.4.1)', () => {
  const net = new Network([1, 2, 3], { preVote: false });
  net.elect(1);
  net.node(1).propose(new Uint8Array([1]));
  net.stabilize();
  // 3 misses an entry; its campaign must fail since 1 and 2 have longer logs.
  net.isolate(3);
  net.node(1).propose(new Uint8Array([2]));
  net.stabilize();
  net.heal();
  net.isolate(1);
  for (let i = 0; i < 25; i++) net.node(2).tick(); // let 2 forget its leader's lease
  net.node(3).campaign();
  net.stabilize();
  assert.notEqual(net.node(3).status().role, Role.Leader);
  const grants = net.sent.filter((m) => m.type === MessageType.VoteResp && m.to === 3 && !m.reject);
  assert.equal(grants.length, 0);
});

test('PreVote keeps a rejoining partitioned node from disrupting the term (thesis §9.6)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  const term = net.node(1).status().term;
  net.isolate(3);
  for (let i = 0; i < 60; i++) net.tickAll();
  // Without PreVote, 3 would have raised its term many times.
  assert.equal(net.node(3).status().term, term);
  assert.equal(net.node(3).status().role, Role.PreCandidate);
  net.heal();
  net.tickAll(3);
  assert.equal(net.node(1).status().role, Role.Leader);
  assert.equal(net.node(1).status().term, term);
  assert.equal(net.node(3).status().leader, 1);
});

test('without PreVote a rejoining node does disrupt the term (control for the PreVote test)', () => {
  const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
  net.elect(1);
  const term = net.node(1).status().term;
  net.isolate(3);
  for (let i = 0; i < 60; i++) net.tickAll();
  assert.ok(net.node(3).status().term > term);
  net.heal();
  net.tickAll(25);
  assert.ok(net.node(1).status().term > term);
});

test('CheckQuorum steps down a leader that hears from no quorum (thesis §6.2)', () => {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(1);
  // Marks from before the partition carry it through the first check, not the second.
  for (let i = 0; i < 10; i++) net.node(1).tick();
  assert.equal(net.node(1).status().role, Role.Leader);
  for (let i = 0; i < 10; i++) net.node(1).tick();
  assert.equal(net.node(1).status().role, Role.Follower);
  assert.ok(net.logLines.some((l) => l.msg.includes('stepping down')));
});

test('followers that recently heard from the leader ignore vote requests (leader lease, thesis §4.2.3)', () => {
  const net = new Network([1, 2, 3], { preVote: false });
  net.elect(1);
  const term = net.node(1).status().term;
  net.node(3).campaign();
  net.stabilize();
  // 3's vote requests were ignored by 2 (in lease) and rejected-by-ignore by 1.
  assert.equal(net.node(1).status().term, term);
  assert.equal(net.node(2).status().term, term);
  assert.equal(net.node(2).status().vote, 1);
});

test('a learner never campaigns', () => {
  const net = new Network([1, 2], { learnerIds: [3] });
  net.elect(1);
  net.isolate(1);
  for (let i = 0; i < 40; i++) { net.node(3).tick(); net.stabilize(); }
  assert.equal(net.sent.filter((m) => m.from === 3 && (m.type === MessageType.PreVote || m.type === MessageType.Vote)).length, 0);
});

test('a restarted node refuses votes for one election timeout, as if within a lease', () => {
  const net = new Network([1, 2, 3], { preVote: false });
  net.elect(1);
  net.restart(2);
  net.isolate(1);
  for (let i = 0; i < 15; i++) net.node(3).tick(); // 3 forgets its leader
  net.stabilize();
  net.node(3).campaign();
  net.stabilize();
  assert.notEqual(net.node(3).status().role, Role.Leader, '2 may have acked 1 just before crashing');
  for (let i = 0; i < 10; i++) net.node(2).tick();
  net.node(3).campaign();
  net.stabilize();
  assert.equal(net.node(3).status().role, Role.Leader);
});
