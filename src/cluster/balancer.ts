import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import type { NodeId } from '../raft/types.js';
import type { Topology } from './topology.js';

/**
 * Requests that needed a group's leader, counted on the leader by the node
 * whose client sent them (itself, or the peer that forwarded them), since the
 * last take(). Reads served on followers under a lease are not counted: they
 * do not need the leader.
 */
export class LeaderLoad {
  private counts = new Map<number, Map<NodeId, number>>();

  record(groupId: number, origin: NodeId): void {
    let byNode = this.counts.get(groupId);
    if (byNode === undefined) this.counts.set(groupId, (byNode = new Map()));
    byNode.set(origin, (byNode.get(origin) ?? 0) + 1);
  }

  /** The counts since the last call, by group then origin node; starts a new window. */
  take(): Map<number, Map<NodeId, number>> {
    const c = this.counts;
    this.counts = new Map();
    return c;
  }
}

export interface BalancerOptions {
  nodeId: NodeId;
  /** Time between two rounds; 0 turns automatic balancing off (RAFTIS BALANCE still runs one round). */
  intervalMs: number;
  /** False for a node that the placement is moving out of the group (it would only hand leadership back). */
  staysIn?: (groupId: number, nodeId: NodeId) => boolean;
  /** Where each group's leader requests come from; without it leadership only follows counts. */
  load?: LeaderLoad;
}

/** A node must send at least this many leader requests per second of a round to draw leadership. */
const LOAD_MIN_PER_SECOND = 10;
/** How far behind the commit index a follower may be and still be handed a group for its load. */
const LOAD_LAG_MAX = 256;

/**
 * Automatic leader placement. Each node looks only at the groups it leads.
 *
 * 1. Leadership follows the load: when the clients of one caught-up follower
 *    dominate a group (it forwarded two thirds or more of the group's leader
 *    requests in the last round, and at least LOAD_MIN_PER_SECOND per second),
 *    the group is handed to it (Raft leadership transfer), so those clients
 *    stop paying the forwarding hop. Every group that qualifies moves in the
 *    same round. Load spread over several nodes draws leadership nowhere.
 * 2. Otherwise the counts are balanced: when this node leads at least two more
 *    data groups than one of a group's caught-up followers, it hands that group
 *    to the follower that leads the fewest, one transfer per round, across a
 *    gap of two, so count transfers never undo each other and the counts
 *    converge to within one wherever placement allows. A group this node's own
 *    clients dominate is not moved for the count: rule 1 would hand it straight
 *    back.
 */
export class LeaderBalancer {
  private timer: TimerHandle | null = null;
  private readonly log: EnvLogger;
  /** When this node was first seen leading each group (by the rounds). */
  private readonly ledSinceMs = new Map<number, number>();
  /** When the last round ran: the load counts cover the time since. */
  private lastRoundMs: number;

  constructor(
    private readonly env: Env,
    private readonly opts: BalancerOptions,
    private readonly host: Host,
    private readonly topology: Topology,
  ) {
    this.log = env.logger.child({ node: opts.nodeId, part: 'balancer' });
    this.lastRoundMs = env.clock.monotonicMs();
  }

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    // A little jitter so that the nodes' rounds do not line up.
    const every = this.opts.intervalMs + this.env.random.int(0, Math.floor(this.opts.intervalMs / 4));
    this.timer = this.env.timers.every(every, () => this.round());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Runs one round; returns the number of transfers started. */
  round(): number {
    const views = this.topology.dataGroupViews();
    const counts = this.topology.leaderCounts(views);
    const mine = counts.get(this.opts.nodeId) ?? 0;
    const now = this.env.clock.monotonicMs();
    const load = this.opts.load?.take() ?? new Map<number, Map<NodeId, number>>();
    const windowMs = now - this.lastRoundMs;
    this.lastRoundMs = now;
    for (const g of [...this.ledSinceMs.keys()]) if (!this.host.isLeader(g)) this.ledSinceMs.delete(g);
    for (const v of views) if (this.host.isLeader(v.groupId) && !this.ledSinceMs.has(v.groupId)) this.ledSinceMs.set(v.groupId, now);
    // A group led for less than two rounds stays put: a manual CLUSTER FAILOVER or transfer is
    // not undone at once, and leadership that just moved is not moved again.
    const settleMs = 2 * Math.max(this.opts.intervalMs, 500);
    const minLoad = Math.max(1, (LOAD_MIN_PER_SECOND * windowMs) / 1000);
    let moved = 0;
    let best: { groupId: number; to: NodeId; count: number } | null = null;
    let transferring = false;
    for (const v of views) {
      if (v.leader !== this.opts.nodeId || !this.host.isLeader(v.groupId)) continue;
      if (now - this.ledSinceMs.get(v.groupId)! < settleMs) continue;
      const raft = this.host.raft(v.groupId)!;
      const st = raft.status();
      if (st.leadTransferee !== 0) {
        transferring = true; // a transfer is already under way
        continue;
      }
      const byNode = load.get(v.groupId);
      let total = 0;
      if (byNode) for (const n of byNode.values()) total += n;
      // One node's clients dominate a group when they send two thirds of its leader requests.
      const dominates = (n: number) => n >= minLoad && n >= 2 * (total - n);
      const localDominates = dominates(byNode?.get(this.opts.nodeId) ?? 0);
      let drawn: { to: NodeId; n: number } | null = null;
      for (const m of v.members) {
        if (m.role !== 'follower' || m.health !== 'online' || !this.topology.alive(m.nodeId)) continue;
        if (this.opts.staysIn && !this.opts.staysIn(v.groupId, m.nodeId)) continue;
        const pr = st.progress?.get(m.nodeId);
        if (!pr) continue;
        const theirs = byNode?.get(m.nodeId) ?? 0;
        // Under load a follower is always a few appends behind; the transfer brings it up to date.
        if (pr.match + LOAD_LAG_MAX >= st.commit && dominates(theirs)) drawn = { to: m.nodeId, n: theirs };
        if (pr.match < st.commit) continue; // balance counts only onto a caught-up follower
        if (localDominates) continue; // the load rule would hand it straight back
        const c = counts.get(m.nodeId) ?? 0;
        if (c + 2 > mine) continue;
        if (!best || c < best.count) best = { groupId: v.groupId, to: m.nodeId, count: c };
      }
      if (drawn) {
        this.log.info({ group: v.groupId, to: drawn.to, theirs: drawn.n, total }, 'leadership follows the load: transferring');
        raft.transferLeader(drawn.to);
        moved++;
      }
    }
    if (moved > 0) {
      this.host.kick();
      return moved;
    }
    if (transferring) return 0;
    if (!best) return 0;
    this.log.info({ group: best.groupId, to: best.to, led: mine, theirs: best.count }, 'balancing: transferring leadership');
    this.host.raft(best.groupId)!.transferLeader(best.to);
    this.host.kick();
    return 1;
  }
}
