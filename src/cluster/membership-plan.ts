import type { PeerAddress } from '../config.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { META_GROUP, type GroupPlacement, type PlacementState } from './placement.js';

/**
 * Pure planning of membership changes: each takes the current placement and
 * returns the next one (version + 1) or a reason to refuse. The group-0
 * leader plans, proposes the result to group 0, and every node then carries
 * it out (src/cluster/reconciler.ts). Planning is deterministic so a retry
 * after a concurrent change gives the same answer for the same input.
 */
export type PlanResult = { ok: true; state: PlacementState; moves: Array<{ groupId: GroupId; from: NodeId | 0; to: NodeId | 0 }> } | { ok: false; error: string };

/** The most replicas of the metadata group. */
const META_REPLICAS_MAX = 5;

function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

function dataReplicaCounts(state: PlacementState): Map<NodeId, number> {
  const counts = new Map<NodeId, number>();
  for (const m of state.members) if (!state.leaving.includes(m.nodeId)) counts.set(m.nodeId, 0);
  for (const g of state.groups) {
    if (g.groupId === META_GROUP) continue;
    for (const r of g.replicas) if (counts.has(r)) counts.set(r, counts.get(r)! + 1);
  }
  return counts;
}

/**
 * Refuses a change of `g`'s replicas from `before` to `after` when it would
 * leave the group without a reachable majority: the conf changes must commit
 * in the old configuration and the group must work in the new one.
 */
function quorumError(g: GroupPlacement, before: NodeId[], after: NodeId[], alive: (n: NodeId) => boolean): string | null {
  if (after.length === 0) return `group ${g.groupId} would have no replica left`;
  const aliveBefore = before.filter(alive).length;
  const aliveAfter = after.filter(alive).length;
  if (aliveBefore < majority(before.length)) {
    return `group ${g.groupId} would lose its quorum (${aliveBefore} of ${before.length} replicas reachable now)`;
  }
  if (aliveAfter < majority(after.length)) {
    return `group ${g.groupId} would lose its quorum (${aliveAfter} of ${after.length} replicas reachable afterwards)`;
  }
  return null;
}

/** Adds a node and moves replicas to it until every node holds about as many as the others. */
export function planAddNode(cur: PlacementState, node: PeerAddress): PlanResult {
  if (cur.members.some((m) => m.nodeId === node.nodeId)) return { ok: false, error: `node ${node.nodeId} is already a member` };
  if (cur.members.some((m) => m.host === node.host && (m.port === node.port || m.peerPort === node.peerPort))) {
    return { ok: false, error: `address ${node.host}:${node.port} is already used by a member` };
  }
  const state: PlacementState = JSON.parse(JSON.stringify(cur)) as PlacementState;
  state.version = cur.version + 1;
  state.members.push(node);
  const moves: Array<{ groupId: GroupId; from: NodeId | 0; to: NodeId | 0 }> = [];
  const meta = state.groups.find((g) => g.groupId === META_GROUP);
  if (meta && meta.replicas.length < META_REPLICAS_MAX) {
    meta.replicas = [...meta.replicas, node.nodeId].sort((a, b) => a - b);
    moves.push({ groupId: META_GROUP, from: 0, to: node.nodeId });
  }
  const counts = dataReplicaCounts(state);
  for (;;) {
    const mine = counts.get(node.nodeId)!;
    // The most loaded node (lowest id on ties) gives one of its groups that the new node lacks.
    let donor: NodeId = 0;
    for (const [n, c] of counts) if (n !== node.nodeId && (donor === 0 || c > counts.get(donor)!)) donor = n;
    if (donor === 0 || counts.get(donor)! - mine <= 1) break;
    const g = state.groups.find((x) => x.groupId !== META_GROUP && x.replicas.includes(donor) && !x.replicas.includes(node.nodeId));
    if (!g) break;
    g.replicas = g.replicas.map((r) => (r === donor ? node.nodeId : r)).sort((a, b) => a - b);
    counts.set(donor, counts.get(donor)! - 1);
    counts.set(node.nodeId, mine + 1);
    moves.push({ groupId: g.groupId, from: donor, to: node.nodeId });
  }
  return { ok: true, state, moves };
}

/**
 * Removes a node: each of its replicas moves first to the least loaded node
 * without one (or the group shrinks when every node already has one). The
 * node stays in `leaving` until no group holds it; refused when a group
 * would lose its quorum.
 */
export function planRemoveNode(cur: PlacementState, nodeId: NodeId, alive: (n: NodeId) => boolean): PlanResult {
  if (!cur.members.some((m) => m.nodeId === nodeId)) return { ok: false, error: `node ${nodeId} is not a member` };
  if (cur.leaving.includes(nodeId)) return { ok: false, error: `node ${nodeId} is already being removed` };
  const state: PlacementState = JSON.parse(JSON.stringify(cur)) as PlacementState;
  state.version = cur.version + 1;
  state.leaving.push(nodeId);
  if (state.members.filter((m) => !state.leaving.includes(m.nodeId)).length === 0) {
    return { ok: false, error: 'cannot remove the last node' };
  }
  const counts = dataReplicaCounts(state);
  const moves: Array<{ groupId: GroupId; from: NodeId | 0; to: NodeId | 0 }> = [];
  for (const g of state.groups) {
    if (!g.replicas.includes(nodeId)) continue;
    const before = g.replicas;
    const candidates = [...counts.keys()]
      .filter((n) => !g.replicas.includes(n) && alive(n))
      .sort((a, b) => counts.get(a)! - counts.get(b)! || a - b);
    const to = candidates[0] ?? 0;
    const after = g.replicas.filter((r) => r !== nodeId);
    if (to !== 0) after.push(to);
    const err = quorumError(g, before, after, alive);
    if (err) return { ok: false, error: `cannot remove node ${nodeId}: ${err}` };
    g.replicas = after.sort((a, b) => a - b);
    if (to !== 0 && g.groupId !== META_GROUP) counts.set(to, counts.get(to)! + 1);
    moves.push({ groupId: g.groupId, from: nodeId, to });
  }
  return { ok: true, state, moves };
}

/** Moves one replica of a group from one node to another. */
export function planMoveReplica(cur: PlacementState, groupId: GroupId, from: NodeId, to: NodeId, alive: (n: NodeId) => boolean): PlanResult {
  const state: PlacementState = JSON.parse(JSON.stringify(cur)) as PlacementState;
  state.version = cur.version + 1;
  const g = state.groups.find((x) => x.groupId === groupId);
  if (!g) return { ok: false, error: `no group ${groupId}` };
  if (!g.replicas.includes(from)) return { ok: false, error: `node ${from} has no replica of group ${groupId}` };
  if (g.replicas.includes(to)) return { ok: false, error: `node ${to} already has a replica of group ${groupId}` };
  if (!state.members.some((m) => m.nodeId === to) || state.leaving.includes(to)) return { ok: false, error: `node ${to} is not a member` };
  const after = g.replicas.map((r) => (r === from ? to : r));
  const err = quorumError(g, g.replicas, after, alive);
  if (err) return { ok: false, error: `cannot move the replica: ${err}` };
  g.replicas = after.sort((a, b) => a - b);
  return { ok: true, state, moves: [{ groupId, from, to }] };
}
