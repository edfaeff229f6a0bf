import {
  array, bulk, integer, map, ok, verbatim, type Reply,
} from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errGeneric, errNotInteger, errSyntax, errUnknownSubcommand } from '../resp/replies.js';
import type { ServerCommand } from '../commands/server.js';
import { lower, parseInt64 } from '../commands/spec.js';
import type { Host } from '../host/host.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { StateMachineStore } from '../storage/types.js';
import { nodeHexId, shardHexId } from './ids.js';
import { META_GROUP, type Placement } from './placement.js';
import { keySlot, SLOT_COUNT } from './slot.js';
import type { GroupView, Topology } from './topology.js';
import type { LeaderBalancer } from './balancer.js';
import { placementReply, type MembershipAdmin } from './membership-admin.js';

/** What the CLUSTER, READONLY/READWRITE/ASKING and RAFTIS commands work with. */
export interface ClusterDeps {
  clusterId: string;
  nodeId: NodeId;
  host: Host;
  placement: Placement;
  topology: Topology;
  balancer: LeaderBalancer;
  admin: MembershipAdmin;
  store: StateMachineStore;
  nowMs(): number;
}

/** `a-b` or `a` as CLUSTER NODES writes a slot range. */
function rangeText(start: number, end: number): string {
  return start === end ? String(start) : `${start}-${end}`;
}

/** Merges adjacent or overlapping inclusive ranges. */
function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * The Redis Cluster topology commands over raftis's groups (docs/cluster.md):
 * each data group is a shard, its current leader the master of its slot
 * range and its other members the replicas.
 */
export class ClusterCommands {
  constructor(private readonly d: ClusterDeps) {}

  /** The group a node calls its own shard: the lowest-numbered data group it hosts. */
  shardOf(nodeId: NodeId): GroupId {
    const g = this.d.placement.dataGroups().filter((p) => p.replicas.includes(nodeId)).map((p) => p.groupId);
    return g.length > 0 ? Math.min(...g) : META_GROUP;
  }

  private hexId(nodeId: NodeId): string {
    return nodeHexId(this.d.clusterId, nodeId);
  }

  private nodeEntry(nodeId: NodeId): Reply | null {
    const a = this.d.placement.address(nodeId);
    if (!a) return null;
    return array([bulk(a.host), integer(a.port), bulk(this.hexId(nodeId)), map([])]);
  }

  /** CLUSTER SLOTS: [start, end, leader, replicas...] per group; failed replicas left out. */
  slots(): Reply {
    const out: Reply[] = [];
    for (const v of this.d.topology.dataGroupViews().sort((a, b) => a.slotStart - b.slotStart)) {
      if (v.slotEnd < v.slotStart) continue;
      // Without a reachable leader the last-known members are still listed, so
      // clients keep the slot and retry on -CLUSTERDOWN instead of "slot not covered".
      const members = v.leader !== 0 ? v.members.filter((m) => m.role === 'leader' || m.health !== 'failed') : v.members;
      const nodes = members.map((m) => this.nodeEntry(m.nodeId)).filter((n): n is Reply => n !== null);
      out.push(array([integer(v.slotStart), integer(v.slotEnd), ...nodes]));
    }
    return array(out);
  }

  /** CLUSTER SHARDS: one shard per data group. */
  shards(): Reply {
    const out: Reply[] = [];
    for (const v of this.d.topology.dataGroupViews()) {
      const nodes: Reply[] = [];
      for (const m of v.members) {
        const a = this.d.placement.address(m.nodeId);
        if (!a) continue;
        nodes.push(map([
          [bulk('id'), bulk(this.hexId(m.nodeId))],
          [bulk('port'), integer(a.port)],
          [bulk('ip'), bulk(a.host)],
          [bulk('endpoint'), bulk(a.host)],
          [bulk('role'), bulk(m.role === 'leader' ? 'master' : 'replica')],
          [bulk('replication-offset'), integer(Math.max(0, m.applied))],
          [bulk('health'), bulk(m.health)],
        ]));
      }
      out.push(map([
        [bulk('slots'), array(v.slotEnd >= v.slotStart ? [integer(v.slotStart), integer(v.slotEnd)] : [])],
        [bulk('nodes'), array(nodes)],
      ]));
    }
    return array(out);
  }

  /**
   * CLUSTER NODES: a node that leads at least one data group is a master
   * serving those groups' slots (config epoch = the highest term among them);
   * a node that leads none is a replica of the leader of its shard.
   */
  nodes(): string {
    const views = this.d.topology.dataGroupViews();
    const lines: string[] = [];
    const now = this.d.nowMs();
    for (const m of this.d.placement.members) {
      const led = views.filter((v) => v.leader === m.nodeId);
      const alive = this.d.topology.alive(m.nodeId);
      const flags: string[] = [];
      if (m.nodeId === this.d.nodeId) flags.push('myself');
      let master = '-';
      let epoch = 0;
      if (led.length > 0) {
        flags.push('master');
        epoch = Math.max(...led.map((v) => v.term));
      } else {
        flags.push('slave');
        const shard = views.find((v) => v.groupId === this.shardOf(m.nodeId));
        if (shard && shard.leader !== 0) master = this.hexId(shard.leader);
        epoch = shard?.term ?? 0;
      }
      if (!alive) flags.push('fail');
      const slots = mergeRanges(led.filter((v) => v.slotEnd >= v.slotStart).map((v) => [v.slotStart, v.slotEnd]))
        .map(([a, b]) => rangeText(a, b));
      lines.push([
        this.hexId(m.nodeId), `${m.host}:${m.port}@${m.peerPort}`, flags.join(','), master,
        '0', alive ? String(now) : '0', String(epoch), alive ? 'connected' : 'disconnected', ...slots,
      ].join(' '));
    }
    return lines.join('\n') + '\n';
  }

  /** CLUSTER INFO: `fail` while some slot has no reachable leader. */
  info(): string {
    const views = this.d.topology.dataGroupViews();
    let slotsOk = 0;
    let slotsFail = 0;
    let currentEpoch = 0;
    let myEpoch = 0;
    const masters = new Set<NodeId>();
    for (const v of views) {
      const n = Math.max(0, v.slotEnd - v.slotStart + 1);
      if (v.leader !== 0) {
        slotsOk += n;
        masters.add(v.leader);
      } else slotsFail += n;
      currentEpoch = Math.max(currentEpoch, v.term);
      if (v.leader === this.d.nodeId) myEpoch = Math.max(myEpoch, v.term);
    }
    const assigned = slotsOk + slotsFail;
    const lines: Array<[string, string | number]> = [
      ['cluster_enabled', 1],
      ['cluster_state', slotsFail === 0 && assigned === SLOT_COUNT ? 'ok' : 'fail'],
      ['cluster_slots_assigned', assigned],
      ['cluster_slots_ok', slotsOk],
      ['cluster_slots_pfail', 0],
      ['cluster_slots_fail', slotsFail],
      ['cluster_known_nodes', this.d.placement.members.length],
      ['cluster_size', masters.size],
      ['cluster_current_epoch', currentEpoch],
      ['cluster_my_epoch', myEpoch],
      ['cluster_stats_messages_sent', 0],
      ['cluster_stats_messages_received', 0],
      ['total_cluster_links_buffer_limit_exceeded', 0],
    ];
    return lines.map(([k, v]) => `${k}:${v}\r\n`).join('');
  }

  private async keysInSlot(slot: number, limit: number): Promise<{ count: number; keys: Buffer[] }> {
    const groupId = this.d.placement.groupOfSlot(slot);
    const keys: Buffer[] = [];
    let count = 0;
    if (!this.d.host.raft(groupId)) return { count, keys };
    for await (const [key] of this.d.store.scan(groupId)) {
      const k = Buffer.from(key);
      if (keySlot(k) !== slot) continue;
      count++;
      if (keys.length < limit) keys.push(k);
    }
    return { count, keys };
  }

  private failover(args: Buffer[]): Reply {
    if (args.length > 3) return errSyntax();
    if (args.length === 3 && !['force', 'takeover'].includes(lower(args[2]))) return errSyntax();
    const groupId = this.shardOf(this.d.nodeId);
    const raft = this.d.host.raft(groupId);
    if (!raft) return errGeneric('You should send CLUSTER FAILOVER to a replica');
    if (this.d.host.isLeader(groupId)) return errGeneric('You should send CLUSTER FAILOVER to a replica');
    if (this.d.host.leaderOf(groupId) === 0) return errGeneric('The master of this replica is not known; try again');
    // Leadership transfer (Raft thesis §3.10): the leader brings this node up
    // to date and tells it to campaign at once. Like Redis, reply before it completes.
    raft.transferLeader(this.d.nodeId);
    this.d.host.kick();
    return ok();
  }

  /** The CLUSTER container command. */
  cluster: ServerCommand = async (_ctx: ClientContext, args: Buffer[]): Promise<Reply> => {
    const sub = lower(args[1]);
    switch (sub) {
      case 'slots': return this.slots();
      case 'shards': return this.shards();
      case 'nodes': return verbatim(this.nodes());
      case 'info': return verbatim(this.info());
      case 'myid': return bulk(this.hexId(this.d.nodeId));
      case 'myshardid': return bulk(shardHexId(this.d.clusterId, this.shardOf(this.d.nodeId)));
      case 'keyslot': return integer(keySlot(args[2]));
      case 'countkeysinslot': {
        const slot = parseInt64(args[2]);
        if (slot === undefined || slot < 0n || slot >= BigInt(SLOT_COUNT)) return errGeneric('Invalid slot');
        return integer((await this.keysInSlot(Number(slot), 0)).count);
      }
      case 'getkeysinslot': {
        const slot = parseInt64(args[2]);
        const count = parseInt64(args[3]);
        if (slot === undefined || count === undefined) return errNotInteger();
        if (count < 0n) return errGeneric('Invalid number of keys');
        if (slot < 0n || slot >= BigInt(SLOT_COUNT)) return errGeneric('Invalid slot');
        const { keys } = await this.keysInSlot(Number(slot), Number(count));
        return array(keys.map((k) => bulk(k)));
      }
      case 'failover': return this.failover(args);
      default: return errUnknownSubcommand('cluster', args[1]);
    }
  };

  /** RAFTIS GROUPS: every group's leader, term, indexes and members with their lag. */
  groupsReply(): Reply {
    return array(this.d.topology.allGroupViews().map((v) => this.groupReply(v)));
  }

  private groupReply(v: GroupView): Reply {
    const target = [...(this.d.placement.group(v.groupId)?.replicas ?? [])].sort((a, b) => a - b);
    const voters = v.members.filter((m) => m.role !== 'learner').map((m) => m.nodeId).sort((a, b) => a - b);
    const settled = v.leader !== 0 && voters.length === v.members.length && voters.join(',') === target.join(',');
    return map([
      [bulk('group'), integer(v.groupId)],
      [bulk('slots'), bulk(v.slotEnd >= v.slotStart ? rangeText(v.slotStart, v.slotEnd) : '')],
      [bulk('leader'), integer(v.leader)],
      [bulk('term'), integer(v.term)],
      [bulk('commit'), integer(v.commit)],
      [bulk('applied'), integer(v.applied)],
      [bulk('members'), array(v.members.map((m) => map([
        [bulk('node'), integer(m.nodeId)],
        [bulk('role'), bulk(m.role)],
        [bulk('applied'), integer(m.applied)],
        [bulk('match'), integer(m.match)],
        [bulk('lag'), integer(m.lag)],
        [bulk('health'), bulk(m.health)],
      ])))],
      [bulk('target'), array(target.map((n) => integer(n)))],
      [bulk('settled'), integer(settled ? 1 : 0)],
    ]);
  }

  /** The RAFTIS container: raftis's own administration (docs/cluster.md). */
  raftis: ServerCommand = (_ctx: ClientContext, args: Buffer[]): Reply | Promise<Reply> => {
    const sub = lower(args[1]);
    switch (sub) {
      case 'groups': return this.groupsReply();
      case 'placement': return placementReply(this.d.placement);
      case 'add-node':
      case 'remove-node':
      case 'move-replica':
        return this.d.admin.handle(args);
      case 'transfer-leader': {
        const groupId = parseInt64(args[2]);
        const to = parseInt64(args[3]);
        if (groupId === undefined || to === undefined) return errNotInteger();
        const raft = this.d.host.raft(Number(groupId));
        if (!raft) return errGeneric(`group ${groupId} has no replica on this node; send it to a member`);
        if (!raft.status().confState.voters.includes(Number(to))) return errGeneric(`node ${to} is not a voter of group ${groupId}`);
        raft.transferLeader(Number(to));
        this.d.host.kick();
        return ok();
      }
      case 'balance': return integer(this.d.balancer.round());
      default: return errUnknownSubcommand('raftis', args[1]);
    }
  };

  readonly: ServerCommand = (ctx: ClientContext): Reply => {
    ctx.flags.add('readonly');
    return ok();
  };

  readwrite: ServerCommand = (ctx: ClientContext): Reply => {
    ctx.flags.delete('readonly');
    return ok();
  };

  asking: ServerCommand = (ctx: ClientContext): Reply => {
    ctx.flags.add('asking');
    return ok();
  };

  /** The server commands this file adds, by name. */
  commands(): Map<string, ServerCommand> {
    return new Map<string, ServerCommand>([
      ['cluster', this.cluster],
      ['raftis', this.raftis],
      ['readonly', this.readonly],
      ['readwrite', this.readwrite],
      ['asking', this.asking],
    ]);
  }
}
