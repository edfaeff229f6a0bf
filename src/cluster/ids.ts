import { createHash } from 'node:crypto';
import type { GroupId, NodeId } from '../raft/types.js';

/**
 * Redis Cluster names nodes and shards by 40 hex characters; raftis nodes and
 * groups are small integers. Both ids are SHA-1 digests of the cluster id and
 * the integer, so every node derives the same names with no coordination and
 * they stay stable across restarts (docs/cluster.md).
 */
export function nodeHexId(clusterId: string, nodeId: NodeId): string {
  return createHash('sha1').update(`raftis-node:${clusterId}:${nodeId}`).digest('hex');
}

/** The 40-hex shard id of a group (a shard is one Raft group). */
export function shardHexId(clusterId: string, groupId: GroupId): string {
  return createHash('sha1').update(`raftis-shard:${clusterId}:${groupId}`).digest('hex');
}
