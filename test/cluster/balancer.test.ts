// The leader balancer's two rules on a hand-built cluster view: leadership follows the load (a
// follower that forwards most of a group's requests is handed the group), and count balancing
// spreads groups without undoing a move that followed the load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Env, EnvLogger } from '../../src/env/env.js';
import type { Host } from '../../src/host/host.js';
import type { NodeId } from '../../src/raft/types.js';
import type { GroupView, Topology } from '../../src/cluster/topology.js';
import { LeaderBalancer, LeaderLoad } from '../../src/cluster/balancer.js';

const ME = 1;
const ROUND_MS = 1000;

interface Group { leader: NodeId; match: Map<NodeId, number>; commit: number }

/** Node 1's view of a 3-node cluster whose groups it leads or not; transfers are recorded, not run. */
function cluster(groups: Group[]) {
  let now = 0;
  const transfers: Array<[number, NodeId]> = [];
  const logger: EnvLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
  const env = {
    clock: { nowMs: () => now, monotonicMs: () => now },
    timers: { after: () => ({ cancel() {} }), every: () => ({ cancel() {} }), soon: (fn: () => void) => fn() },
    random: { int: (lo: number) => lo, next: () => 0 },
    logger,
  } as unknown as Env;
  const id = (i: number) => i + 1;
  const views = (): GroupView[] => groups.map((g, i) => ({
    groupId: id(i), slotStart: 0, slotEnd: 0, leader: g.leader, term: 1, commit: g.commit, applied: g.commit,
    members: [1, 2, 3].map((n) => ({
      nodeId: n, role: n === g.leader ? 'leader' as const : 'follower' as const,
      applied: g.commit, match: g.match.get(n) ?? g.commit, lag: 0, health: 'online' as const,
    })),
  }));
  const topology = {
    dataGroupViews: views,
    leaderCounts: (vs: GroupView[]) => {
      const c = new Map<NodeId, number>([[1, 0], [2, 0], [3, 0]]);
      for (const v of vs) c.set(v.leader, c.get(v.leader)! + 1);
      return c;
    },
    alive: () => true,
  } as unknown as Topology;
  const host = {
    isLeader: (g: number) => groups[g - 1].leader === ME,
    raft: (g: number) => ({
      status: () => ({
        leadTransferee: 0,
        commit: groups[g - 1].commit,
        progress: new Map([1, 2, 3].map((n) => [n, { match: groups[g - 1].match.get(n) ?? groups[g - 1].commit }])),
      }),
      transferLeader: (to: NodeId) => transfers.push([g, to]),
    }),
    kick() {},
  } as unknown as Host;
  const load = new LeaderLoad();
  const balancer = new LeaderBalancer(env, { nodeId: ME, intervalMs: ROUND_MS, load }, host, topology);
  return {
    load, transfers,
    /** One round after `ms`, with `requests` (group → origin → count) recorded during it. */
    round(requests: Record<number, Record<number, number>> = {}, ms = ROUND_MS): number {
      now += ms;
      for (const [g, byNode] of Object.entries(requests)) {
        for (const [n, count] of Object.entries(byNode)) for (let i = 0; i < count; i++) load.record(Number(g), Number(n));
      }
      return balancer.round();
    },
  };
}

const led = (leader: NodeId, commit = 10): Group => ({ leader, commit, match: new Map() });

test('groups whose requests come mostly from one follower move to it, all in one round', () => {
  const c = cluster([led(1), led(1), led(1), led(1), led(2)]);
  c.round();
  c.round(); // led for two rounds: settled
  const n = c.round({ 1: { 2: 100 }, 2: { 3: 50, 1: 25 }, 3: { 2: 40, 1: 30 }, 4: { 2: 50, 3: 50 } });
  // Group 1: node 2 forwards everything. Group 2: node 3 sends two thirds. Group 3: node 2 sends
  // less than two thirds. Group 4: the load is split between two nodes, neither dominates.
  // Group 5 is led elsewhere.
  assert.equal(n, 2);
  assert.deepEqual(c.transfers, [[1, 2], [2, 3]]);
});

test('a trickle of forwarded requests does not move leadership', () => {
  const c = cluster([led(1)]);
  c.round();
  c.round();
  // 10 requests per second is the least that draws a group; 9 in a 1 s round is not enough.
  assert.equal(c.round({ 1: { 3: 9 } }), 0);
  assert.deepEqual(c.transfers, []);
  assert.equal(c.round({ 1: { 3: 10 } }), 1);
  assert.deepEqual(c.transfers, [[1, 3]]);
});

test('a follower far behind the commit index is not handed a group for its load', () => {
  const g = led(1, 1000);
  g.match.set(2, 1000 - 257);
  const c = cluster([g]);
  c.round();
  c.round();
  assert.equal(c.round({ 1: { 2: 500 } }), 0);
  g.match.set(2, 1000 - 256);
  assert.equal(c.round({ 1: { 2: 500 } }), 1);
  assert.deepEqual(c.transfers, [[1, 2]]);
});

test('count balancing spreads groups but leaves those this node\'s clients dominate', () => {
  const busy = cluster([led(1), led(1), led(1), led(1)]);
  busy.round();
  busy.round();
  // Node 1 leads all four groups, each busy with its own clients: no count transfer.
  assert.equal(busy.round({ 1: { 1: 50 }, 2: { 1: 50 }, 3: { 1: 50 }, 4: { 1: 50 } }), 0);
  assert.deepEqual(busy.transfers, []);

  const shared = cluster([led(1), led(1), led(1), led(1)]);
  shared.round();
  shared.round();
  // The same groups with the load split between node 1 and node 2 (or idle): one is handed over
  // for the count.
  assert.equal(shared.round({ 1: { 1: 50, 2: 50 }, 2: { 1: 50 }, 3: { 1: 50 } }), 1);
  assert.equal(shared.transfers.length, 1);
  assert.ok([1, 4].includes(shared.transfers[0][0]), `moved group ${shared.transfers[0][0]}`);
});

test('a group that just changed leader is not moved before it settles', () => {
  const c = cluster([led(1)]);
  c.round(); // first seen led now; settles two rounds later
  assert.equal(c.round({ 1: { 2: 100 } }), 0);
  assert.equal(c.round({ 1: { 2: 100 } }), 1);
});
