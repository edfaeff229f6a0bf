import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import { ConfChangeType, type GroupId, type NodeId } from '../raft/types.js';
import { META_GROUP, type Placement, type PlacementState } from './placement.js';
import type { Topology } from './topology.js';

export interface ReconcilerOptions {
  nodeId: NodeId;
  intervalMs: number;
  /** A learner is promoted once it is at most this many entries behind the leader's last index. */
  promoteLagMax: number;
}

export interface ReconcilerHooks {
  /** Starts hosting a group (a brand-new member joins with no voters and waits for the leader's snapshot). */
  openGroup(groupId: GroupId): void;
  /** Stops hosting a group this node was removed from. */
  closeGroup(groupId: GroupId): void;
  /** The placement committed in group 0, when this node hosts group 0. */
  readCommitted(): PlacementState | undefined;
  /** Called after a newer placement was adopted (peer addresses may have changed). */
  adopted(prev: PlacementState, next: PlacementState): void;
  /** Proposes the next placement to group 0 (on its leader); resolves when committed or refused. */
  propose(next: PlacementState): Promise<void>;
}

/**
 * Carries out the placement committed in group 0 on this node, every
 * `intervalMs`: adopt a newer placement (from group 0 or gossip); host the
 * groups assigned here; on each group this node leads, move the Raft
 * membership one conf change at a time toward the placement's replicas —
 * add the missing node as a learner, promote it once caught up, then remove
 * the node that is leaving (handing leadership away first if that is this
 * node); stop hosting groups this node was removed from. A leader acts only
 * while its placement is as new as group 0's leader's, so a node that
 * restarts with an old placement never undoes a change.
 */
export class Reconciler {
  private timer: TimerHandle | null = null;
  private readonly log: EnvLogger;
  private forgetting = false;

  constructor(
    private readonly env: Env,
    private readonly opts: ReconcilerOptions,
    private readonly host: Host,
    private readonly placement: Placement,
    private readonly topology: Topology,
    private readonly hooks: ReconcilerHooks,
  ) {
    this.log = env.logger.child({ node: opts.nodeId, part: 'reconciler' });
    topology.onPlacement = (state) => this.adopt(state);
  }

  start(): void {
    this.timer = this.env.timers.every(this.opts.intervalMs, () => this.round());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Adopts `next` if newer than the placement in force. */
  adopt(next: PlacementState): void {
    const prev = this.placement.snapshot();
    if (!this.placement.update(next)) return;
    this.log.info({ version: next.version, members: next.members.map((m) => m.nodeId), leaving: next.leaving }, 'adopted placement');
    this.hooks.adopted(prev, next);
  }

  /** True when this node's placement is the newest group 0 has committed, as far as it can tell. */
  fresh(): boolean {
    const leader = this.topology.leaderOf(META_GROUP);
    if (leader === 0) return false;
    if (leader === this.opts.nodeId) {
      const st = this.host.raft(META_GROUP)?.status();
      return st !== undefined && this.host.isLeader(META_GROUP) && st.applied >= st.commit;
    }
    // Group 0's leader must itself have applied everything committed, or its version may be behind.
    const meta = this.topology.groupView(META_GROUP);
    if (meta.applied < meta.commit) return false;
    const v = this.topology.placementVersionOf(leader);
    return v !== undefined && v <= this.placement.version;
  }

  round(): void {
    const committed = this.hooks.readCommitted();
    if (committed) this.adopt(committed);
    const me = this.opts.nodeId;
    for (const g of this.placement.groupsOn(me)) {
      if (!this.host.raft(g.groupId)) {
        this.log.info({ group: g.groupId }, 'joining group');
        this.hooks.openGroup(g.groupId);
      }
    }
    if (!this.fresh()) return;
    for (const groupId of this.host.groupIds()) {
      const target = this.placement.group(groupId)?.replicas;
      if (!target) continue;
      if (this.host.isLeader(groupId)) this.driveMembership(groupId, target);
      else if (!target.includes(me)) this.maybeLeave(groupId);
    }
    this.maybeForget();
  }

  /** One step of a group's membership toward `target`, on its leader. */
  private driveMembership(groupId: GroupId, target: NodeId[]): void {
    const raft = this.host.raft(groupId)!;
    const st = raft.status();
    if (st.leadTransferee !== 0) return;
    const { voters, learners } = st.confState;
    const propose = (type: ConfChangeType, nodeId: NodeId, what: string) => {
      const r = raft.proposeConfChange({ type, nodeId, context: new Uint8Array(0) });
      if (r.kind === 'ok') {
        this.log.info({ group: groupId, changed: nodeId, index: r.index }, what);
        this.host.kick();
      }
    };
    const missing = target.find((n) => !voters.includes(n) && !learners.includes(n));
    if (missing !== undefined) return propose(ConfChangeType.AddLearner, missing, 'adding learner');
    for (const l of learners) {
      if (!target.includes(l)) return propose(ConfChangeType.RemoveNode, l, 'removing learner');
      const pr = st.progress?.get(l);
      if (pr && pr.state === 'replicate' && st.lastIndex - pr.match <= this.opts.promoteLagMax) {
        return propose(ConfChangeType.AddVoter, l, 'promoting caught-up learner');
      }
    }
    if (learners.length > 0) return; // wait for the learners before shrinking
    const extra = voters.find((n) => !target.includes(n) && n !== this.opts.nodeId);
    if (extra !== undefined) return propose(ConfChangeType.RemoveNode, extra, 'removing voter');
    if (!target.includes(this.opts.nodeId)) {
      // This leader is the one leaving: hand leadership to a caught-up member that stays.
      const to = target
        .filter((n) => voters.includes(n))
        .sort((a, b) => (st.progress?.get(b)?.match ?? 0) - (st.progress?.get(a)?.match ?? 0))[0];
      if (to !== undefined) {
        this.log.info({ group: groupId, to }, 'leaving group: transferring leadership');
        raft.transferLeader(to);
        this.host.kick();
      }
    }
  }

  /** Stops hosting a group once its leader (or this node's own log) no longer lists this node. */
  private maybeLeave(groupId: GroupId): void {
    const me = this.opts.nodeId;
    const st = this.host.raft(groupId)!.status();
    const removedHere = !st.confState.voters.includes(me) && !st.confState.learners.includes(me) && st.applied > 0;
    const view = this.topology.groupView(groupId);
    const removedThere = view.leader !== 0 && view.leader !== me && !view.members.some((m) => m.nodeId === me);
    if (removedHere || removedThere) {
      this.log.info({ group: groupId }, 'removed from group: no longer hosting it');
      this.hooks.closeGroup(groupId);
    }
  }

  /** On group 0's leader: forget leaving members once no group has them. */
  private maybeForget(): void {
    if (this.forgetting || this.placement.leaving.length === 0 || !this.host.isLeader(META_GROUP)) return;
    const views = this.topology.allGroupViews();
    const held = (n: NodeId) => views.some((v) => v.members.some((m) => m.nodeId === n));
    const cur = this.placement.snapshot();
    const gone = cur.leaving.filter((n) => !cur.groups.some((g) => g.replicas.includes(n)) && !held(n));
    if (gone.length === 0) return;
    const next: PlacementState = {
      ...cur,
      version: cur.version + 1,
      members: cur.members.filter((m) => !gone.includes(m.nodeId)),
      leaving: cur.leaving.filter((n) => !gone.includes(n)),
    };
    this.forgetting = true;
    this.hooks.propose(next)
      .then(() => this.log.info({ forgotten: gone }, 'forgot removed nodes'))
      .catch(() => {})
      .finally(() => (this.forgetting = false));
  }
}
