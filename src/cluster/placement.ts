import type { GroupId, NodeId } from '../raft/types.js';
import type { PeerAddress } from '../config.js';

export const SLOT_COUNT = 16384;
/** The metadata group: nodes, placement and slot ranges (DESIGN.md). */
export const META_GROUP: GroupId = 0;

export interface GroupPlacement {
  groupId: GroupId;
  /** Inclusive slot range owned by the group (empty for the metadata group). */
  slotStart: number;
  slotEnd: number;
  replicas: NodeId[];
}

/**
 * The serializable placement that group 0 replicates (docs/cluster.md):
 * `version` 0 is the bootstrap placement every node computes from its config;
 * each committed change to group 0 bumps it. `leaving` lists members being
 * removed: they keep their address until no group has them any more.
 */
export interface PlacementState {
  version: number;
  members: PeerAddress[];
  groups: GroupPlacement[];
  leaving: NodeId[];
}

/**
 * Where every group lives and which slots it owns. Mutable: it follows the
 * placement committed in group 0 (`update`); slot ranges never change.
 */
export class Placement {
  private readonly slotToGroup = new Uint16Array(SLOT_COUNT);
  private readonly byGroup = new Map<GroupId, GroupPlacement>();
  private readonly byNode = new Map<NodeId, PeerAddress>();
  private state: PlacementState;

  constructor(members: PeerAddress[], groups: GroupPlacement[], version = 0, leaving: NodeId[] = []) {
    this.state = { version, members, groups, leaving };
    this.index();
  }

  private index(): void {
    this.byNode.clear();
    this.byGroup.clear();
    for (const m of this.state.members) this.byNode.set(m.nodeId, m);
    for (const g of this.state.groups) {
      this.byGroup.set(g.groupId, g);
      if (g.groupId === META_GROUP) continue;
      for (let s = g.slotStart; s <= g.slotEnd; s++) this.slotToGroup[s] = g.groupId;
    }
  }

  get version(): number {
    return this.state.version;
  }

  get members(): PeerAddress[] {
    return this.state.members;
  }

  get groups(): GroupPlacement[] {
    return this.state.groups;
  }

  get leaving(): NodeId[] {
    return this.state.leaving;
  }

  /** A deep copy of the state, to plan a change on. */
  snapshot(): PlacementState {
    return JSON.parse(JSON.stringify(this.state)) as PlacementState;
  }

  /** Adopts a newer placement; returns false (and changes nothing) for an older or equal version. */
  update(next: PlacementState): boolean {
    if (next.version <= this.state.version) return false;
    this.state = JSON.parse(JSON.stringify(next)) as PlacementState;
    this.index();
    return true;
  }

  groupOfSlot(slot: number): GroupId {
    return this.slotToGroup[slot];
  }

  group(groupId: GroupId): GroupPlacement | undefined {
    return this.byGroup.get(groupId);
  }

  address(nodeId: NodeId): PeerAddress | undefined {
    return this.byNode.get(nodeId);
  }

  /** Data groups (not the metadata group), by id. */
  dataGroups(): GroupPlacement[] {
    return this.state.groups.filter((g) => g.groupId !== META_GROUP);
  }

  /** Groups with a replica on `nodeId`, the metadata group included. */
  groupsOn(nodeId: NodeId): GroupPlacement[] {
    return this.state.groups.filter((g) => g.replicas.includes(nodeId));
  }
}

/**
 * The placement a new cluster starts with: G data groups owning even,
 * contiguous slot ranges, each on `replicas` nodes chosen round-robin, and the
 * metadata group on up to five nodes. Every node computes the same result from
 * the same member list, so bootstrap needs no coordination.
 */
export function initialPlacement(members: PeerAddress[], groupCount: number, replicas: number): Placement {
  const nodes = [...members].sort((a, b) => a.nodeId - b.nodeId).map((m) => m.nodeId);
  const r = Math.min(replicas, nodes.length);
  const groups: GroupPlacement[] = [
    { groupId: META_GROUP, slotStart: 0, slotEnd: -1, replicas: nodes.slice(0, Math.min(5, nodes.length)) },
  ];
  for (let i = 0; i < groupCount; i++) {
    const slotStart = Math.floor((i * SLOT_COUNT) / groupCount);
    const slotEnd = Math.floor(((i + 1) * SLOT_COUNT) / groupCount) - 1;
    const reps: NodeId[] = [];
    for (let k = 0; k < r; k++) reps.push(nodes[(i + k) % nodes.length]);
    groups.push({ groupId: i + 1, slotStart, slotEnd, replicas: reps.sort((a, b) => a - b) });
  }
  return new Placement(members, groups);
}
