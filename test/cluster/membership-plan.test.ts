// Proves the membership planner's decisions on small placements: a new node
// gets an even share of replicas, a removed node's replicas go to the least
// loaded nodes, and a change that would leave a group without a reachable
// majority is refused with a message naming the group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPlacement } from '../../src/cluster/placement.js';
import { planAddNode, planMoveReplica, planRemoveNode } from '../../src/cluster/membership-plan.js';

const member = (nodeId: number) => ({ nodeId, host: '127.0.0.1', port: 7000 + nodeId, peerPort: 17000 + nodeId });
const three = () => initialPlacement([1, 2, 3].map(member), 6, 3).snapshot();
const all = () => true;

test('adding a fourth node moves it an even share of replicas and a seat in group 0', () => {
  const r = planAddNode(three(), member(4));
  assert.ok(r.ok);
  const counts = new Map<number, number>();
  for (const g of r.state.groups.filter((x) => x.groupId !== 0)) for (const n of g.replicas) counts.set(n, (counts.get(n) ?? 0) + 1);
  assert.ok(counts.get(4)! >= 4, `node 4 holds ${counts.get(4)} of 18 replicas`);
  assert.ok(Math.max(...counts.values()) - Math.min(...counts.values()) <= 1);
  assert.deepEqual(r.state.groups[0].replicas, [1, 2, 3, 4]);
  assert.equal(r.state.version, 1);
  for (const g of r.state.groups) assert.equal(g.replicas.length, g.groupId === 0 ? 4 : 3);
  assert.equal(planAddNode(r.state, member(4)).ok, false);
});

test('removing a node hands each of its replicas to a node without one', () => {
  const four = planAddNode(three(), member(4));
  assert.ok(four.ok);
  const r = planRemoveNode(four.state, 2, all);
  assert.ok(r.ok);
  assert.deepEqual(r.state.leaving, [2]);
  for (const g of r.state.groups) {
    assert.ok(!g.replicas.includes(2));
    assert.equal(g.replicas.length, 3);
  }
});

test('a change that would lose a quorum is refused', () => {
  const p = three();
  // Nodes 2 and 3 are down: group 1 (on 1, 2, 3) has no reachable majority to commit the change.
  const r = planRemoveNode(p, 1, (n) => n === 1);
  assert.equal(r.ok, false);
  assert.equal((r as { error: string }).error, 'cannot remove node 1: group 0 would lose its quorum (1 of 3 replicas reachable now)');
  const m = planMoveReplica(p, 1, 2, 1, all);
  assert.equal(m.ok, false);
  assert.equal((m as { error: string }).error, 'node 1 already has a replica of group 1');
  const single = initialPlacement([member(1)], 2, 3).snapshot();
  const last = planRemoveNode(single, 1, all);
  assert.equal(last.ok, false);
  assert.equal((last as { error: string }).error, 'cannot remove the last node');
});
