import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import type { NodeId } from '../raft/types.js';
import type { Topology } from './topology.js';

export interface BalancerOptions {
  nodeId: NodeId;
  /** Time between two rounds; 0 turns automatic balancing off (RAFTIS BALANCE still runs one round). */
  intervalMs: number;
  /** False for a node that the placement is moving out of the group (it would only hand leadership back). */
  staysIn?: (groupId: number, nodeId: NodeId) => boolean;
}

/**
 * Automatic leader balancing. Each node looks only at the groups it leads:
 * when it leads at least two more data groups than one of that group's
 * caught-up followers, it hands leadership of one group to the follower that
 * leads the fewest (Raft leadership transfer). One transfer per node per
 * round, and only across a gap of two, so transfers never undo each other and
 * the counts converge to within one of each other wherever placement allows.
 */
export class LeaderBalancer {
  private timer: TimerHandle | null = null;
  private readonly log: EnvLogger;
  /** When this node was first seen leading each group (by the rounds). */
  private readonly ledSinceMs = new Map<number, number>();

  constructor(
    private readonly env: Env,
    private readonly opts: BalancerOptions,
    private readonly host: Host,
    private readonly topology: Topology,
  ) {
    this.log = env.logger.child({ node: opts.nodeId, part: 'balancer' });
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

  /** Runs one round; returns the number of transfers started (0 or 1). */
  round(): number {
    const views = this.topology.dataGroupViews();
    const counts = this.topology.leaderCounts(views);
    const mine = counts.get(this.opts.nodeId) ?? 0;
    const now = this.env.clock.monotonicMs();
    for (const g of [...this.ledSinceMs.keys()]) if (!this.host.isLeader(g)) this.ledSinceMs.delete(g);
    for (const v of views) if (this.host.isLeader(v.groupId) && !this.ledSinceMs.has(v.groupId)) this.ledSinceMs.set(v.groupId, now);
    // A group led for less than two rounds stays put: a manual CLUSTER FAILOVER or transfer is
    // not undone at once, and leadership that just moved is not moved again.
    const settleMs = 2 * Math.max(this.opts.intervalMs, 500);
    let best: { groupId: number; to: NodeId; count: number } | null = null;
    for (const v of views) {
      if (v.leader !== this.opts.nodeId || !this.host.isLeader(v.groupId)) continue;
      if (now - this.ledSinceMs.get(v.groupId)! < settleMs) continue;
      const raft = this.host.raft(v.groupId)!;
      const st = raft.status();
      if (st.leadTransferee !== 0) return 0; // a transfer is already under way
      for (const m of v.members) {
        if (m.role !== 'follower' || m.health !== 'online' || !this.topology.alive(m.nodeId)) continue;
        if (this.opts.staysIn && !this.opts.staysIn(v.groupId, m.nodeId)) continue;
        const pr = st.progress?.get(m.nodeId);
        if (!pr || pr.match < st.commit) continue; // hand over only to a caught-up follower
        const c = counts.get(m.nodeId) ?? 0;
        if (c + 2 > mine) continue;
        if (!best || c < best.count) best = { groupId: v.groupId, to: m.nodeId, count: c };
      }
    }
    if (!best) return 0;
    this.log.info({ group: best.groupId, to: best.to, led: mine, theirs: best.count }, 'balancing: transferring leadership');
    this.host.raft(best.groupId)!.transferLeader(best.to);
    this.host.kick();
    return 1;
  }
}
