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

/** Where every group lives and which slots it owns. */
export class Placement {
  private readonly slotToGroup = new Uint16Array(SLOT_COUNT);
  private readonly byGroup = new Map<GroupId, GroupPlacement>();
  private readonly byNode = new Map<NodeId, PeerAddress>();

  constructor(readonly members: PeerAddress[], readonly groups: GroupPlacement[]) {
    for (const m of members) this.byNode.set(m.nodeId, m);
    for (const g of groups) {
      this.byGroup.set(g.groupId, g);
      if (g.groupId === META_GROUP) continue;
      for (let s = g.slotStart; s <= g.slotEnd; s++) this.slotToGroup[s] = g.groupId;
    }
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
    return this.groups.filter((g) => g.groupId !== META_GROUP);
  }

  /** Groups with a replica on `nodeId`, the metadata group included. */
  groupsOn(nodeId: NodeId): GroupPlacement[] {
    return this.groups.filter((g) => g.replicas.includes(nodeId));
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
