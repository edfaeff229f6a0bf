import { RawNode } from '../raft/raw-node.js';
import {
  EntryType, MessageType, Role,
  type ConfState, type Entry, type GroupId, type HardState, type Message, type NodeId,
  type RaftPersistedState, type Ready, type SnapshotMeta,
} from '../raft/types.js';
import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import { encodeEntryBatch } from './entry-batch.js';

/** One group's share of a durable log write (the shape of storage's LogUpdate). */
export interface HostLogUpdate {
  groupId: GroupId;
  hardState?: HardState;
  entries?: Entry[];
  snapshot?: SnapshotMeta;
  compactTo?: number;
}

export interface HostLogStore {
  write(updates: HostLogUpdate[], opts: { sync: boolean }): Promise<void>;
}

/** Committed entries of one group, to apply in one storage batch with the others. */
export interface ApplyWork {
  groupId: GroupId;
  entries: Entry[];
}

/**
 * The replicated state machine as the host sees it: it applies committed
 * entries (all groups of one cycle in one storage batch, with each group's
 * applied index), builds and installs snapshots. `results[i][j]` is the result
 * of op j of the batch in entries[i] (empty for no-ops and conf changes).
 */
export interface HostStateMachine {
  applied(groupId: GroupId): number;
  apply(work: ApplyWork[]): Promise<Map<GroupId, unknown[][]>>;
  /** A point-in-time image of the group, taken synchronously at call time. */
  snapshot(groupId: GroupId): Promise<Uint8Array>;
  installSnapshot(groupId: GroupId, meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  /** Makes everything applied so far durable (before the log is compacted past it). */
  sync(): Promise<void>;
}

export interface HostTransport {
  send(to: NodeId, messages: Message[]): void;
}

export interface GroupSpec {
  groupId: GroupId;
  voters: NodeId[];
  learners?: NodeId[];
  persisted?: RaftPersistedState;
}

export interface HostOptions {
  nodeId: NodeId;
  electionTicks: number;
  heartbeatTicks: number;
  leaseDriftTicks: number;
  tickMs: number;
  readMode: 'lease' | 'readIndex';
  /** Follower read leases (docs/raft-core.md): followers serve lease reads locally. Default false. */
  followerLeases?: boolean;
  /** Compact a group's log once this many applied entries sit before its first index. */
  compactEntries: number;
  /** Most ops packed into one entry. */
  batchOpsMax: number;
}

/** Typed outcomes of host requests: operating conditions, mapped to replies at the edge. */
export type HostError =
  | { kind: 'notLeader'; leaderHint: NodeId }
  | { kind: 'noGroup' }
  | { kind: 'dropped'; reason: string }
  | { kind: 'lost' }
  | { kind: 'stopped' };

export type Outcome<T> = { kind: 'ok'; value: T } | HostError;

interface OpWaiter {
  op: Uint8Array;
  resolve: (outcome: Outcome<unknown>) => void;
}

interface ReadWaiter {
  resolve: (outcome: Outcome<void>) => void;
  /** Set once the read index is known. */
  index: number;
}

/** One group hosted on this node: its Raft node and the requests waiting on it. */
class GroupRuntime {
  /** Ops proposed this turn, packed into one entry at the start of the next cycle. */
  queued: OpWaiter[] = [];
  /** index -> the term it was proposed in and the waiters of its ops, in order. */
  proposed = new Map<number, { term: number; waiters: OpWaiter[] }>();
  reads = new Map<number, ReadWaiter>();
  /** Reads whose index is known, waiting for applied to reach it. */
  readsWaitingApply: ReadWaiter[] = [];
  lastStampMs = 0;
  /** Applies of this group queued on the host's apply chain and not yet done. */
  appliesPending = 0;
  role: Role = Role.Follower;
  leader: NodeId = 0;
  confState: ConfState;

  constructor(readonly groupId: GroupId, readonly node: RawNode, confState: ConfState) {
    this.confState = confState;
  }
}

/** How early (ms) a tick may be delivered: timers and the monotonic clock disagree by a hair. */
const TICK_EARLY_MS = 1;

/**
 * The multi-raft host: every group of this node, one tick loop for all, and
 * one Ready cycle for all (persist with one write → send → apply with one
 * batch → reply → advance). While a cycle's write is in flight new work
 * queues, so batches grow with load (STYLE.md §4).
 */
export class Host {
  private readonly groups = new Map<GroupId, GroupRuntime>();
  private readonly log: EnvLogger;
  private ticker: TimerHandle | null = null;
  /** Monotonic time up to which ticks have been delivered (invariant: <= now + TICK_EARLY_MS). */
  private tickedAtMs = 0;
  private cycleRunning = false;
  private cycleWanted = false;
  private cycleScheduled = false;
  private stopped = false;
  private readSeq = 1;
  /**
   * Every apply runs through this chain, in index order: a Ready's committed
   * entries (before and after its write) and the entries handed out between
   * Readies (`takeCommittedEntries`). Each apply reads the state the previous
   * one wrote.
   */
  private applyChain: Promise<void> = Promise.resolve();
  private readonly idleWaiters: Array<() => void> = [];
  /** Called after each cycle with the groups whose role or leader changed. */
  onLeaderChange: (groupId: GroupId, leader: NodeId, role: Role) => void = () => {};
  onConfChange: (groupId: GroupId, conf: ConfState) => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly opts: HostOptions,
    private readonly logStore: HostLogStore,
    private readonly sm: HostStateMachine,
    private readonly transport: HostTransport,
  ) {
    this.log = env.logger;
  }

  addGroup(spec: GroupSpec): void {
    if (this.groups.has(spec.groupId)) return;
    // The state machine may be ahead of the durable log: a crash between installing a
    // snapshot and the log write recording it. Its state is committed state, so Raft resumes
    // from the log alone, and the entries the state machine already holds are skipped when
    // they come again (see `applyAndSettle`).
    const applied = Math.min(this.sm.applied(spec.groupId), persistedLastIndex(spec.persisted));
    const node = new RawNode({
      nodeId: this.opts.nodeId,
      groupId: spec.groupId,
      voters: spec.voters,
      learners: spec.learners ?? [],
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      leaseDriftTicks: this.opts.leaseDriftTicks,
      random: this.env.random.fork(`group-${spec.groupId}`),
      logger: this.log,
      persisted: spec.persisted,
      applied,
      preVote: true,
      checkQuorum: true,
      followerLeases: this.opts.followerLeases ?? false,
    });
    const rt = new GroupRuntime(spec.groupId, node, node.status().confState);
    this.groups.set(spec.groupId, rt);
    this.kick();
  }

  /**
   * Stops hosting a group (this node was removed from it): its waiting
   * requests fail with `noGroup`. Its stored log and state stay on disk.
   */
  removeGroup(groupId: GroupId): void {
    const rt = this.groups.get(groupId);
    if (!rt) return;
    this.groups.delete(groupId);
    this.failAll(rt, { kind: 'noGroup' });
  }

  /** How reads are confirmed unless a request asks otherwise. */
  get readMode(): 'lease' | 'readIndex' {
    return this.opts.readMode;
  }

  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  /** The Raft node of a group (for status, campaign and leadership transfer). */
  raft(groupId: GroupId): RawNode | undefined {
    return this.groups.get(groupId)?.node;
  }

  leaderOf(groupId: GroupId): NodeId {
    return this.groups.get(groupId)?.leader ?? 0;
  }

  isLeader(groupId: GroupId): boolean {
    return this.groups.get(groupId)?.role === Role.Leader;
  }

  start(): void {
    this.tickedAtMs = this.env.clock.monotonicMs();
    this.ticker = this.env.timers.every(this.opts.tickMs, () => this.tickAll());
  }

  /** Stops ticking and fails every waiting request; in-flight cycles and applies finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker?.cancel();
    await this.idle();
    await this.applyChain.catch(() => {});
    for (const rt of this.groups.values()) this.failAll(rt, { kind: 'stopped' });
  }

  /** Resolves when no cycle is running. */
  idle(): Promise<void> {
    if (!this.cycleRunning && !this.cycleScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  step(messages: Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      const rt = this.groups.get(m.groupId);
      if (rt) rt.node.step(m);
    }
    this.kick();
  }

  reportUnreachable(to: NodeId): void {
    for (const rt of this.groups.values()) if (rt.role === Role.Leader) rt.node.reportUnreachable(to);
  }

  /**
   * Proposes one operation to a group. It is packed with the other ops of this
   * turn into one entry stamped with the leader's time; the promise resolves
   * with the op's result once the entry is committed and applied here.
   */
  propose(groupId: GroupId, op: Uint8Array): Promise<Outcome<unknown>> {
    return new Promise((resolve) => this.proposeThen(groupId, op, resolve));
  }

  /**
   * propose() with a callback instead of a promise (the write fast path, Router.writeNow):
   * `done` is called exactly once, at once when the op cannot be proposed here, else from the
   * apply. It must not throw.
   */
  proposeThen(groupId: GroupId, op: Uint8Array, done: (outcome: Outcome<unknown>) => void): void {
    const rt = this.groups.get(groupId);
    if (!rt) return done({ kind: 'noGroup' });
    if (this.stopped) return done({ kind: 'stopped' });
    if (rt.role !== Role.Leader) return done({ kind: 'notLeader', leaderHint: rt.leader });
    rt.queued.push({ op, resolve: done });
    this.kick();
  }

  /**
   * Waits until a linearizable read of the group may be served from the local
   * state machine (lease or ReadIndex on the leader, ReadIndex through the
   * leader on a follower).
   */
  read(groupId: GroupId, mode: 'lease' | 'readIndex' = this.opts.readMode): Promise<Outcome<void>> {
    const rt = this.groups.get(groupId);
    if (!rt) return Promise.resolve({ kind: 'noGroup' });
    if (this.stopped) return Promise.resolve({ kind: 'stopped' });
    // A lease that holds with everything applied (canReadNow counts the owed ticks first).
    if (this.canReadNow(groupId, mode)) return Promise.resolve({ kind: 'ok', value: undefined });
    if (mode === 'lease' && rt.role !== Role.Leader) {
      // A follower read lease: served here once everything in our log at arrival is applied.
      const index = rt.node.followerReadIndex();
      if (index >= 0) {
        return new Promise((resolve) => {
          rt.readsWaitingApply.push({ resolve, index });
          this.kick();
        });
      }
    }
    const id = this.readSeq++;
    const ctx = Buffer.allocUnsafe(8);
    ctx.writeDoubleLE(id, 0);
    const r = rt.node.readIndex(ctx, mode);
    if (r.kind !== 'ok') return Promise.resolve(r.kind === 'notLeader' ? r : { kind: 'dropped', reason: r.reason });
    return new Promise((resolve) => {
      rt.reads.set(id, { resolve, index: -1 });
      this.kick();
    });
  }

  /**
   * True when this node follows the group and holds a follower read lease, so a
   * lease read may be served here (`read` may still wait for applies).
   */
  followerReadable(groupId: GroupId): boolean {
    const rt = this.groups.get(groupId);
    if (!rt || this.stopped || rt.role === Role.Leader) return false;
    this.catchUpTicks();
    return rt.node.followerReadIndex() >= 0;
  }

  /**
   * True when `read(groupId, mode)` would resolve `ok` at once (a lease read on the leader
   * with a valid lease and everything committed applied): the caller may then read the local
   * state machine synchronously, without a promise per request. False means: use read().
   */
  canReadNow(groupId: GroupId, mode: 'lease' | 'readIndex' = this.opts.readMode): boolean {
    if (mode !== 'lease' || this.stopped) return false;
    const rt = this.groups.get(groupId);
    if (rt === undefined) return false;
    // After a pause the I/O that woke the process runs before the late tick timer: count the
    // ticks owed first, or an expired lease would look valid (see tickAll).
    this.catchUpTicks();
    if (rt.role === Role.Leader) return this.leaseReadable(rt);
    // A follower read lease, with everything in our log applied.
    const index = rt.node.followerReadIndex();
    return index >= 0 && this.sm.applied(groupId) >= index;
  }

  /** True when a lease read may be served at once: valid lease and everything committed is applied. */
  private leaseReadable(rt: GroupRuntime): boolean {
    const index = rt.node.leaseReadIndex();
    return index >= 0 && this.sm.applied(rt.groupId) >= index;
  }

  private tickAll(): void {
    this.catchUpTicks();
  }

  /**
   * Delivers the ticks owed by the time elapsed since start. Leases are counted in ticks
   * (raft.ts), so ticks must keep up with real time: setInterval runs a late timer once, not
   * once per missed period, so a paused or starved process (SIGSTOP, a long GC, a blocked event
   * loop) used to lose those ticks, and a leader that resumed believed in a lease that had run
   * out while the others elected a new leader and took writes (a stale read; fault test seed in
   * test/fault/regressions.txt). Ticks must not run ahead of real time either: a voter that
   * ticked fast would grant votes before the old leader's lease ran out. So the callback counts
   * whole periods (a timer that fires a hair early delivers its tick at the next call).
   * Invariant (below the cap): elapsed - tickMs < ticks delivered * tickMs <= elapsed + TICK_EARLY_MS.
   */
  private catchUpTicks(): void {
    if (this.stopped || this.ticker === null) return;
    const now = this.env.clock.monotonicMs();
    const owed = Math.floor((now + TICK_EARLY_MS - this.tickedAtMs) / this.opts.tickMs);
    if (owed <= 0) return;
    this.tickedAtMs += owed * this.opts.tickMs;
    // After a long stall, enough ticks to expire any lease (electionTicks - leaseDriftTicks from
    // its heartbeat round) but no more, so that a node whose event loop was blocked does not
    // also count whole election timeouts at once before it reads the messages that waited.
    const deliver = Math.min(owed, Math.max(1, this.opts.electionTicks - this.opts.leaseDriftTicks));
    for (let i = 0; i < deliver; i++) for (const rt of this.groups.values()) rt.node.tick();
    this.kick();
  }

  /** Schedules a cycle; at most one runs at a time and one more is queued. */
  kick(): void {
    if (this.cycleRunning) {
      this.cycleWanted = true;
      this.scheduleEarlyAppends();
      return;
    }
    if (this.cycleScheduled) return;
    this.cycleScheduled = true;
    this.env.timers.soon(() => {
      this.cycleScheduled = false;
      void this.runCycles();
    });
  }

  private earlyScheduled = false;

  /**
   * While a cycle's write is in flight, at the end of this turn:
   * - ops proposed meanwhile are appended to their leader's log and their
   *   AppendEntries sent at once, so followers persist them in parallel with
   *   the leader's cycle; the leader persists them in its next cycle as usual;
   * - entries that became committed meanwhile (an append ack arrived) and are
   *   durable here are applied and their clients answered at once, instead of
   *   after the cycle's write, which is an unrelated fsync.
   */
  private scheduleEarlyAppends(): void {
    if (this.earlyScheduled) return;
    this.earlyScheduled = true;
    this.env.timers.soon(() => {
      this.earlyScheduled = false;
      if (this.stopped) return;
      const work: ApplyWork[] = [];
      for (const rt of this.groups.values()) {
        if (rt.queued.length > 0 && rt.role === Role.Leader) {
          this.flushProposals(rt);
          for (const m of rt.node.takeAppendMessages()) this.transport.send(m.to, [m]);
        }
        // Only a leader has clients waiting on its applies; followers keep applying per cycle,
        // in fewer and larger batches.
        if (rt.role !== Role.Leader) continue;
        const entries = rt.node.takeCommittedEntries();
        if (entries.length > 0) work.push({ groupId: rt.groupId, entries });
      }
      if (work.length === 0) return;
      const runtimes = work.map((w) => this.groups.get(w.groupId)!);
      this.enqueueApply(work, () => {
        work.forEach((w, i) => {
          const rt = runtimes[i];
          // A group removed meanwhile has no one left to tell.
          if (this.groups.get(w.groupId) !== rt) return;
          rt.node.advanceApplied(w.entries[w.entries.length - 1].index);
          this.serveReads(rt);
        });
      }).catch((err) => {
        // As in runCycles: a failed apply means this node can no longer keep its promises.
        this.log.error({ err: String((err as Error)?.stack ?? err) }, 'host apply failed; stopping node');
        this.stopped = true;
        throw err;
      });
    });
  }

  /** Applies `work` after every apply queued before it; `then` runs right after it, in the same turn. */
  private enqueueApply(work: ApplyWork[], then: () => void = () => {}): Promise<void> {
    const rts = work.map((w) => this.groups.get(w.groupId)).filter((rt) => rt !== undefined);
    for (const rt of rts) rt.appliesPending++;
    const run = this.applyChain.then(() => this.applyAndSettle(work)).then(then).finally(() => {
      for (const rt of rts) rt.appliesPending--;
    });
    this.applyChain = run.catch(() => {});
    return run;
  }

  private async runCycles(): Promise<void> {
    if (this.cycleRunning) return;
    this.cycleRunning = true;
    try {
      do {
        this.cycleWanted = false;
        await this.cycle();
      } while (this.cycleWanted || this.anyReady());
    } catch (err) {
      // A failed durable write or apply means this node can no longer keep its promises.
      this.log.error({ err: String((err as Error)?.stack ?? err) }, 'host cycle failed; stopping node');
      this.stopped = true;
      throw err;
    } finally {
      this.cycleRunning = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private anyReady(): boolean {
    if (this.stopped) return false;
    for (const rt of this.groups.values()) if (rt.queued.length > 0 || rt.node.hasReady()) return true;
    return false;
  }

  private flushProposals(rt: GroupRuntime): void {
    while (rt.queued.length > 0) {
      const waiters = rt.queued.splice(0, this.opts.batchOpsMax);
      if (rt.role !== Role.Leader) {
        for (const w of waiters) w.resolve({ kind: 'notLeader', leaderHint: rt.leader });
        continue;
      }
      // Timestamps are non-decreasing per group even if the wall clock steps back.
      rt.lastStampMs = Math.max(rt.lastStampMs, this.env.clock.nowMs());
      const data = encodeEntryBatch({ timeMs: rt.lastStampMs, ops: waiters.map((w) => w.op) });
      const r = rt.node.propose(data);
      if (r.kind === 'ok') rt.proposed.set(r.index, { term: r.term, waiters });
      else {
        const outcome: HostError = r.kind === 'dropped' ? r : { kind: 'notLeader', leaderHint: r.leaderHint };
        for (const w of waiters) w.resolve(outcome);
      }
    }
  }

  private async cycle(): Promise<void> {
    // A snapshot for a follower is cut at ready() from the applied index: let
    // the entries handed out between Readies finish applying first.
    // (No group with a snapshot to send takes new entries meanwhile, so this ends.)
    while ([...this.groups.values()].some((rt) => rt.appliesPending > 0 && rt.node.hasSnapshotToSend())) await this.applyChain;
    const readies: Array<[GroupRuntime, Ready]> = [];
    for (const rt of this.groups.values()) {
      this.flushProposals(rt);
      if (rt.node.hasReady()) readies.push([rt, rt.node.ready()]);
    }
    if (readies.length === 0) return;

    // 1. Messages that may go out at once (snapshots get the state-machine image first).
    for (const [rt, rd] of readies) {
      this.noteSoftState(rt, rd);
      this.sendAll(rt, rd.messages);
    }

    // 2. One durable write for every group.
    const updates: HostLogUpdate[] = [];
    let sync = false;
    for (const [rt, rd] of readies) {
      if (!rd.hardState && rd.entries.length === 0 && !rd.snapshot) continue;
      const u: HostLogUpdate = { groupId: rt.groupId };
      if (rd.hardState) u.hardState = rd.hardState;
      if (rd.entries.length > 0) u.entries = rd.entries;
      if (rd.snapshot) u.snapshot = rd.snapshot.meta;
      updates.push(u);
      sync ||= rd.mustSync;
    }
    // A snapshot's data must be installed before the log says we have it, and be durable:
    // this write drops the log entries it replaces, so a power loss that took the (unsynced)
    // image away would leave the state machine behind a log that can no longer catch it up.
    let installed = false;
    for (const [rt, rd] of readies) {
      if (!rd.snapshot) continue;
      // Nothing may still be applying into the state the snapshot replaces.
      while (rt.appliesPending > 0) await this.applyChain;
      await this.sm.installSnapshot(rt.groupId, rd.snapshot.meta, rd.snapshot.data);
      installed = true;
    }
    if (installed) await this.sm.sync();

    // Committed entries that were already durable here before this Ready (all of
    // them, unless this Ready also carries new entries or a snapshot) are applied
    // while the log write runs, and their clients answered as soon as that is done.
    const early: ApplyWork[] = [];
    const late: ApplyWork[] = [];
    for (const [rt, rd] of readies) {
      if (rd.committedEntries.length === 0) continue;
      const firstNew = rd.snapshot ? 0 : rd.entries.length > 0 ? rd.entries[0].index : Infinity;
      const cut = rd.committedEntries.findIndex((e) => e.index >= firstNew);
      const split = cut === -1 ? rd.committedEntries.length : cut;
      if (split > 0) early.push({ groupId: rt.groupId, entries: rd.committedEntries.slice(0, split) });
      if (split < rd.committedEntries.length) late.push({ groupId: rt.groupId, entries: rd.committedEntries.slice(split) });
    }
    const earlyApplied = early.length > 0 ? this.enqueueApply(early) : Promise.resolve();
    // Awaited below; this keeps a failure from being reported as unhandled meanwhile.
    earlyApplied.catch(() => {});
    if (updates.length > 0) await this.logStore.write(updates, { sync });

    // 3. Acks and vote grants, now that what they promise is durable.
    for (const [rt, rd] of readies) this.sendAll(rt, rd.messagesAfterPersist);

    // 4. Apply the rest (entries persisted by this very write), in order after the early ones.
    await earlyApplied;
    if (late.length > 0) await this.enqueueApply(late);
    for (const [rt, rd] of readies) {
      for (const rs of rd.readStates) {
        const id = Buffer.from(rs.context.buffer, rs.context.byteOffset, rs.context.byteLength).readDoubleLE(0);
        const w = rt.reads.get(id);
        if (!w) continue;
        rt.reads.delete(id);
        w.index = rs.index;
        rt.readsWaitingApply.push(w);
      }
    }

    // 5. Advance, then serve reads whose index is now applied.
    for (const [rt, rd] of readies) {
      rt.node.advance(rd.number);
      if (rd.confState) {
        rt.confState = rd.confState;
        this.onConfChange(rt.groupId, rd.confState);
      }
      this.serveReads(rt);
    }
    await this.maybeCompact();
  }

  /**
   * Applies committed entries of several groups in one batch and answers their proposers.
   * Entries at or below a group's applied index are already in the state machine (addGroup).
   */
  private async applyAndSettle(work: ApplyWork[]): Promise<void> {
    const fresh: ApplyWork[] = [];
    const skipped = new Map<GroupId, number>();
    for (const w of work) {
      const applied = this.sm.applied(w.groupId);
      const entries = w.entries.filter((e) => e.index > applied);
      skipped.set(w.groupId, w.entries.length - entries.length);
      if (entries.length > 0) fresh.push({ groupId: w.groupId, entries });
    }
    const results = fresh.length > 0 ? await this.sm.apply(fresh) : new Map<GroupId, unknown[][]>();
    for (const w of work) {
      // The group may have been removed while its entries were applied (this node left it,
      // RAFTIS MOVE-REPLICA); removeGroup already failed its waiters.
      const rt = this.groups.get(w.groupId);
      if (rt === undefined) continue;
      const res = results.get(w.groupId);
      const skip = skipped.get(w.groupId) ?? 0;
      w.entries.forEach((e, i) => this.settleEntry(rt, e, i < skip ? [] : res?.[i - skip] ?? []));
    }
  }

  private noteSoftState(rt: GroupRuntime, rd: Ready): void {
    if (!rd.softState) return;
    const { leader, role } = rd.softState;
    const lostLeadership = rt.role === Role.Leader && role !== Role.Leader;
    rt.leader = leader;
    rt.role = role;
    if (lostLeadership) {
      // Queued ops were never proposed; reads waiting for a round will not get one.
      for (const w of rt.queued.splice(0)) w.resolve({ kind: 'notLeader', leaderHint: leader });
      for (const w of rt.reads.values()) w.resolve({ kind: 'notLeader', leaderHint: leader });
      rt.reads.clear();
    }
    this.onLeaderChange(rt.groupId, leader, role);
  }

  private sendAll(rt: GroupRuntime, messages: Message[]): void {
    for (const m of messages) {
      if (m.type === MessageType.Snap && m.snapshot && m.snapshot.data.length === 0) {
        void this.sendSnapshot(rt, m);
      } else {
        this.transport.send(m.to, [m]);
      }
    }
  }

  private async sendSnapshot(rt: GroupRuntime, m: Message): Promise<void> {
    try {
      const applied = this.sm.applied(rt.groupId);
      if (applied !== m.snapshot!.meta.index) {
        throw new Error(`snapshot meta index ${m.snapshot!.meta.index} != applied ${applied}`);
      }
      const data = await this.sm.snapshot(rt.groupId);
      this.transport.send(m.to, [{ ...m, snapshot: { meta: m.snapshot!.meta, data } }]);
      this.log.info({ group: rt.groupId, to: m.to, index: applied, bytes: data.length }, 'sent snapshot');
      rt.node.reportSnapshot(m.to, true);
    } catch (err) {
      this.log.warn({ group: rt.groupId, to: m.to, err: String(err) }, 'snapshot send failed');
      rt.node.reportSnapshot(m.to, false);
    }
    this.kick();
  }

  private settleEntry(rt: GroupRuntime, e: Entry, results: unknown[]): void {
    const p = rt.proposed.get(e.index);
    if (!p) return;
    rt.proposed.delete(e.index);
    if (p.term !== e.term || e.type !== EntryType.Normal) {
      // Another leader's entry took this index: ours was never committed.
      for (const w of p.waiters) w.resolve({ kind: 'lost' });
      return;
    }
    p.waiters.forEach((w, i) => w.resolve({ kind: 'ok', value: results[i] }));
  }

  private serveReads(rt: GroupRuntime): void {
    if (rt.readsWaitingApply.length === 0) return;
    const applied = this.sm.applied(rt.groupId);
    const still: ReadWaiter[] = [];
    for (const w of rt.readsWaitingApply) {
      if (w.index <= applied) w.resolve({ kind: 'ok', value: undefined });
      else still.push(w);
    }
    rt.readsWaitingApply = still;
  }

  private compacting = false;

  private async maybeCompact(): Promise<void> {
    if (this.compacting) return;
    const due: GroupRuntime[] = [];
    for (const rt of this.groups.values()) {
      if (rt.node.appliedLog().entries > this.opts.compactEntries) due.push(rt);
    }
    if (due.length === 0) return;
    this.compacting = true;
    try {
      // The log may drop entries only once the state they produced is durable. The
      // compaction points are read before the sync: entries applied while it runs
      // (early applies) are not covered by it.
      const points = due.map((rt) => Math.min(this.sm.applied(rt.groupId), rt.node.appliedLog().applied));
      await this.sm.sync();
      const updates: HostLogUpdate[] = [];
      for (const [i, rt] of due.entries()) {
        const applied = points[i];
        rt.node.compact(applied);
        // The compaction point becomes the log's start: a restart needs its index, term and membership.
        updates.push({ groupId: rt.groupId, snapshot: rt.node.compactionPoint(), compactTo: applied });
      }
      await this.logStore.write(updates, { sync: false });
    } finally {
      this.compacting = false;
    }
  }

  /** Fails the requests of one group, e.g. when it is removed or the node stops. */
  private failAll(rt: GroupRuntime, err: HostError): void {
    for (const w of rt.queued.splice(0)) w.resolve(err);
    for (const p of rt.proposed.values()) for (const w of p.waiters) w.resolve(err);
    rt.proposed.clear();
    for (const w of rt.reads.values()) w.resolve(err);
    rt.reads.clear();
    for (const w of rt.readsWaitingApply.splice(0)) w.resolve(err);
  }

}

/** The last index of a persisted log (0 when there is none). */
function persistedLastIndex(persisted: RaftPersistedState | undefined): number {
  if (!persisted) return 0;
  const last = persisted.entries[persisted.entries.length - 1];
  return last ? last.index : persisted.snapshot?.index ?? 0;
}
