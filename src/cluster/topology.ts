import type { Env, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import { Role, type GroupId, type NodeId } from '../raft/types.js';
import type { Placement, PlacementState } from './placement.js';
import { META_GROUP } from './placement.js';

/** One node's view of one group it hosts, as gossiped to the others. */
export interface GroupReport {
  groupId: GroupId;
  role: Role;
  leader: NodeId;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: NodeId[];
  learners: NodeId[];
  /** On leaders: [nodeId, match, progress state] per member. */
  progress?: Array<[NodeId, number, string]>;
}

export interface NodeReport {
  nodeId: NodeId;
  groups: GroupReport[];
  /** The version of the placement this node follows. */
  placementVersion: number;
  /** That placement, once it is no longer the bootstrap one. */
  placement?: PlacementState;
}

/** How a member of a group appears in CLUSTER SHARDS and RAFTIS GROUPS. */
export interface MemberView {
  nodeId: NodeId;
  role: 'leader' | 'follower' | 'learner';
  /** The member's applied index as last reported (-1 when unknown). */
  applied: number;
  /** The leader's match index for the member (-1 when unknown). */
  match: number;
  /** Entries the member is behind the leader's last index (-1 when unknown). */
  lag: number;
  health: 'online' | 'loading' | 'failed';
}

export interface GroupView {
  groupId: GroupId;
  slotStart: number;
  slotEnd: number;
  /** 0 when no reachable leader is known. */
  leader: NodeId;
  term: number;
  commit: number;
  applied: number;
  members: MemberView[];
}

export interface TopologyOptions {
  nodeId: NodeId;
  /** How often each node sends its report to every peer. */
  gossipMs: number;
  /** A node not heard from for this long is `failed`. */
  failAfterMs: number;
}

/** What topology needs of the peer transport. */
export interface GossipChannel {
  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

/** First byte of a gossip RPC on the peer link (1 is a forwarded command). */
export const GOSSIP_REQUEST = 2;

/**
 * The cluster as this node sees it: the leader, term and progress of every
 * group, hosted here or not. A node knows the groups it hosts from its own
 * Raft nodes; for the others it relies on the reports every node pushes to
 * every peer each `gossipMs` (request = my report, response = yours), which
 * also tell which nodes are reachable. Leadership is never decided here: a
 * stale view only costs a redirect or a forward that is retried.
 */
export class Topology {
  private readonly reports = new Map<NodeId, { report: NodeReport; atMs: number }>();
  private readonly inFlight = new Set<NodeId>();
  private timer: TimerHandle | null = null;
  /** Called with a newer placement learned from a peer (nodes outside group 0 learn it this way). */
  onPlacement: (state: PlacementState) => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly opts: TopologyOptions,
    private readonly host: Host,
    private readonly placement: Placement,
    private readonly channel: GossipChannel,
  ) {}

  start(): void {
    this.timer = this.env.timers.every(this.opts.gossipMs, () => this.gossipRound());
    this.gossipRound();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** This node's report: every group it hosts. */
  localReport(): NodeReport {
    const groups: GroupReport[] = [];
    for (const g of this.host.groupIds()) groups.push(this.localGroupReport(g)!);
    const report: NodeReport = { nodeId: this.opts.nodeId, groups, placementVersion: this.placement.version };
    if (this.placement.version > 0) report.placement = this.placement.snapshot();
    return report;
  }

  private localGroupReport(groupId: GroupId): GroupReport | undefined {
    const raft = this.host.raft(groupId);
    if (!raft) return undefined;
    const st = raft.status();
    const r: GroupReport = {
      groupId, role: st.role, leader: st.leader, term: st.term, commit: st.commit, applied: st.applied,
      lastIndex: st.lastIndex, voters: [...st.confState.voters], learners: [...st.confState.learners],
    };
    if (st.progress) r.progress = [...st.progress].map(([n, p]) => [n, p.match, p.state]);
    return r;
  }

  private gossipRound(): void {
    const payload = this.encode(this.localReport());
    for (const m of this.placement.members) {
      const to = m.nodeId;
      if (to === this.opts.nodeId || this.inFlight.has(to)) continue;
      this.inFlight.add(to);
      this.channel.request(to, payload, Math.max(this.opts.gossipMs * 2, 500))
        .then((res) => this.accept(res))
        .catch(() => {})
        .finally(() => this.inFlight.delete(to));
    }
  }

  /** Serves a peer's gossip request: records its report and answers with ours. */
  serve(payload: Uint8Array): Uint8Array {
    this.accept(payload);
    return this.encode(this.localReport());
  }

  private encode(report: NodeReport): Uint8Array {
    return Buffer.concat([Buffer.from([GOSSIP_REQUEST]), Buffer.from(JSON.stringify(report))]);
  }

  private accept(payload: Uint8Array): void {
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (buf.length < 2 || buf[0] !== GOSSIP_REQUEST) return;
    try {
      const report = JSON.parse(buf.subarray(1).toString('utf8')) as NodeReport;
      if (typeof report.nodeId !== 'number' || !Array.isArray(report.groups)) return;
      this.reports.set(report.nodeId, { report, atMs: this.env.clock.monotonicMs() });
      if (report.placement && report.placement.version > this.placement.version) this.onPlacement(report.placement);
    } catch {
      // A malformed report is ignored; the next round brings a fresh one.
    }
  }

  /** The placement version a reachable peer follows (undefined when not heard from). */
  placementVersionOf(nodeId: NodeId): number | undefined {
    if (nodeId === this.opts.nodeId) return this.placement.version;
    return this.alive(nodeId) ? this.reports.get(nodeId)?.report.placementVersion : undefined;
  }

  /** True for this node and for peers heard from within `failAfterMs`. */
  alive(nodeId: NodeId): boolean {
    if (nodeId === this.opts.nodeId) return true;
    const r = this.reports.get(nodeId);
    return r !== undefined && this.env.clock.monotonicMs() - r.atMs < this.opts.failAfterMs;
  }

  private reportOf(nodeId: NodeId, groupId: GroupId): GroupReport | undefined {
    if (nodeId === this.opts.nodeId) return this.localGroupReport(groupId);
    if (!this.alive(nodeId)) return undefined;
    return this.reports.get(nodeId)?.report.groups.find((g) => g.groupId === groupId);
  }

  /**
   * The node leading `groupId` as far as this node knows: its own Raft node
   * when it hosts the group, else the reachable node that reports leading it
   * with the highest term, else the freshest leader hint. 0 when unknown.
   */
  leaderOf(groupId: GroupId): NodeId {
    const local = this.host.leaderOf(groupId);
    if (local !== 0) return local;
    let best: NodeId = 0;
    let bestTerm = -1;
    let hint: NodeId = 0;
    let hintTerm = -1;
    for (const [nodeId, { report }] of this.reports) {
      if (!this.alive(nodeId)) continue;
      const g = report.groups.find((x) => x.groupId === groupId);
      if (!g) continue;
      if (g.role === Role.Leader && g.term > bestTerm) {
        best = nodeId;
        bestTerm = g.term;
      } else if (g.leader !== 0 && g.term > hintTerm) {
        hint = g.leader;
        hintTerm = g.term;
      }
    }
    return best !== 0 ? best : hint;
  }

  /** The leader's report of a group, or the best other report when it has no reachable leader. */
  private bestReport(groupId: GroupId, leader: NodeId): GroupReport | undefined {
    if (leader !== 0) {
      const r = this.reportOf(leader, groupId);
      if (r) return r;
    }
    const local = this.reportOf(this.opts.nodeId, groupId);
    if (local) return local;
    let best: GroupReport | undefined;
    for (const [nodeId, { report }] of this.reports) {
      if (!this.alive(nodeId)) continue;
      const g = report.groups.find((x) => x.groupId === groupId);
      if (g && (!best || g.term > best.term)) best = g;
    }
    return best;
  }

  /** Leader, term, indexes and members of one group, with each member's lag and health. */
  groupView(groupId: GroupId): GroupView {
    const p = this.placement.group(groupId);
    let leader = this.leaderOf(groupId);
    if (leader !== 0 && !this.alive(leader)) leader = 0;
    const rep = this.bestReport(groupId, leader);
    const voters = rep?.voters ?? p?.replicas ?? [];
    const learners = rep?.learners ?? [];
    const leaderRep = leader !== 0 ? this.reportOf(leader, groupId) : undefined;
    const progress = new Map((leaderRep?.progress ?? []).map(([n, match, state]) => [n, { match, state }]));
    const members: MemberView[] = [];
    for (const nodeId of [...voters, ...learners]) {
      const own = this.reportOf(nodeId, groupId);
      const pr = progress.get(nodeId);
      const match = nodeId === leader ? leaderRep?.lastIndex ?? -1 : pr?.match ?? -1;
      const lag = leaderRep && match >= 0 ? Math.max(0, leaderRep.lastIndex - match) : -1;
      const health: MemberView['health'] = !this.alive(nodeId) ? 'failed' : pr?.state === 'snapshot' ? 'loading' : 'online';
      members.push({
        nodeId,
        role: nodeId === leader ? 'leader' : learners.includes(nodeId) ? 'learner' : 'follower',
        applied: own?.applied ?? -1,
        match,
        lag,
        health,
      });
    }
    // Leader first, then the others by node id: the order CLUSTER SLOTS lists them in.
    members.sort((a, b) => (a.role === 'leader' ? -1 : b.role === 'leader' ? 1 : a.nodeId - b.nodeId));
    return {
      groupId,
      slotStart: p?.slotStart ?? 0,
      slotEnd: p?.slotEnd ?? -1,
      leader,
      term: rep?.term ?? 0,
      commit: leaderRep?.commit ?? rep?.commit ?? 0,
      applied: leaderRep?.applied ?? rep?.applied ?? 0,
      members,
    };
  }

  /** Views of every data group, by group id. */
  dataGroupViews(): GroupView[] {
    return this.placement.dataGroups().map((g) => this.groupView(g.groupId));
  }

  /** Views of every group, the metadata group first. */
  allGroupViews(): GroupView[] {
    return [this.groupView(META_GROUP), ...this.dataGroupViews()];
  }

  /** How many data groups each known node leads (reachable leaders only). */
  leaderCounts(views = this.dataGroupViews()): Map<NodeId, number> {
    const counts = new Map<NodeId, number>();
    for (const m of this.placement.members) counts.set(m.nodeId, 0);
    for (const v of views) if (v.leader !== 0) counts.set(v.leader, (counts.get(v.leader) ?? 0) + 1);
    return counts;
  }
}
