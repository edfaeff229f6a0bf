import { applyConfChange, copyConf, encodeConfChange } from './conf-change.js';
import { campaign } from './election.js';
import { assert } from './log.js';
import { compactLog, confStateAt, onApplied } from './membership.js';
import { newMessage } from './message.js';
import { Raft } from './raft.js';
import { bcastAppend, registerRead, transferLeadership } from './step-leader.js';
import {
  type ConfChange,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type ProgressStatus,
  type ProposeResult,
  type RaftStatus,
  type RawNodeApi,
  type RawNodeConfig,
  type ReadIndexResult,
  type ReadMode,
  type Ready,
  Role,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

/**
 * The host's handle on one Raft group member: feeds it input and collects
 * its output in numbered Readies (tikv/raft-rs style), exactly one outstanding
 * at a time.
 */
export class RawNode implements RawNodeApi {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private readyNumber = 0;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | null = null;
  /**
   * Highest committed index handed to the host to apply, by a Ready or by
   * `takeCommittedEntries`. Invariant: applied <= handedOut <= committed
   * (handedOut may lag behind applied after a snapshot restore; readers take the max).
   */
  private handedOut = 0;

  constructor(config: RawNodeConfig) {
    this.raft = new Raft(config);
    this.handedOut = this.raft.log.applied;
    this.prevSoft = { leader: this.raft.lead, role: this.raft.role };
    this.prevHard = this.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  propose(data: Uint8Array): ProposeResult {
    const r = this.raft;
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    const e = r.appendEntry(EntryType.Normal, data);
    bcastAppend(r);
    return { kind: 'ok', index: e.index, term: e.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const r = this.raft;
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    // One change at a time, and only after this term's no-op is applied (thesis §4.1, decisions.md).
    if (r.pendingConfIndex > r.log.applied) {
      return { kind: 'dropped', reason: `a conf change at index ${r.pendingConfIndex} may still be pending (applied ${r.log.applied})` };
    }
    const check = applyConfChange(r.conf, change);
    if (!check.ok) return { kind: 'dropped', reason: `invalid conf change: ${check.reason}` };
    const e = r.appendEntry(EntryType.ConfChange, encodeConfChange(change));
    r.pendingConfIndex = e.index;
    r.logger.info(r.fields({ index: e.index, type: change.type, changed: change.nodeId }), 'proposed conf change');
    bcastAppend(r);
    return { kind: 'ok', index: e.index, term: e.term };
  }

  private refuseProposal(): ProposeResult | null {
    const r = this.raft;
    if (r.role !== Role.Leader) return { kind: 'notLeader', leaderHint: r.lead };
    if (r.leadTransferee !== NONE) return { kind: 'transferring', leaderHint: r.leadTransferee };
    return null;
  }

  campaign(): void {
    const r = this.raft;
    if (r.role === Role.Leader) return;
    campaign(r, r.preVote ? 'pre' : 'election');
  }

  transferLeader(to: NodeId): void {
    const r = this.raft;
    if (r.role === Role.Leader) transferLeadership(r, to);
    else if (r.lead !== NONE) r.send(newMessage(MessageType.TransferLeader, r.lead, { index: to }));
  }

  readIndex(context: Uint8Array, mode: ReadMode): ReadIndexResult {
    const r = this.raft;
    if (r.role !== Role.Leader) {
      if (r.lead === NONE) return { kind: 'notLeader', leaderHint: NONE };
      const local = mode === 'lease' ? r.followerReadIndex() : -1;
      if (local >= 0) {
        r.addReadState({ index: local, context });
        return { kind: 'ok' };
      }
      r.send(newMessage(MessageType.ReadIndex, r.lead, { context }));
      return { kind: 'ok' };
    }
    if (mode === 'lease' && r.leaseValid()) {
      r.addReadState({ index: r.log.committed, context });
      return { kind: 'ok' };
    }
    registerRead(r, { index: 0, context, from: r.id });
    return { kind: 'ok' };
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const r = this.raft;
    if (r.msgs.length > 0 || r.msgsAfterPersist.length > 0 || r.readStates.length > 0) return true;
    if (r.pendingSnapshot !== null || r.confChanged) return true;
    if (r.log.unstableFrom <= r.log.lastIndex()) return true;
    if (r.log.committed > this.applyFrom() - 1) return true;
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    const hs = this.hardState();
    return hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit;
  }

  /**
   * Hands out, ahead of the next Ready, the AppendEntries messages queued so
   * far. They promise nothing about this node's disk (a leader may replicate
   * entries it has not yet persisted, thesis §10.2.1), so the host may send
   * them while a Ready is still outstanding, and followers start persisting a
   * proposal without waiting for the leader's cycle in flight. Heartbeats stay
   * for `ready()`, which seals the ReadIndex rounds they carry; snapshots too,
   * as they are cut at `ready()`.
   */
  takeAppendMessages(): Message[] {
    const r = this.raft;
    if (!r.msgs.some((m) => m.type === MessageType.App)) return [];
    const out: Message[] = [];
    const rest: Message[] = [];
    for (const m of r.msgs) (m.type === MessageType.App ? out : rest).push(m);
    r.msgs = rest;
    return out;
  }

  /**
   * True when the next Ready will carry a snapshot for a lagging follower: its
   * meta is cut at `ready()` from the applied index, so the host must have
   * applied everything handed out by then.
   */
  hasSnapshotToSend(): boolean {
    for (const m of this.raft.msgs) if (m.type === MessageType.Snap && m.snapshot !== null && m.snapshot.meta.index === 0) return true;
    return false;
  }

  /** The first committed index not yet handed to the host to apply. */
  private applyFrom(): number {
    return Math.max(this.raft.log.applied, this.handedOut) + 1;
  }

  /**
   * Hands out, ahead of the next Ready, committed entries that are already
   * durable in this node's log (index <= stableIndex), so the host can apply
   * them and answer their clients without waiting for the Ready in flight
   * (whose write may be an unrelated fsync). Only Normal entries, stopping at
   * the first conf change (membership changes at advance, in Ready order), and
   * nothing while the outstanding Ready installs a snapshot or applies a conf
   * change, or while a snapshot for a follower waits for the next Ready. The host applies them in index order after everything handed out
   * before (the outstanding Ready's committed entries included) and then calls
   * `advanceApplied`. Applying a committed, locally durable entry early is what
   * the Ready would do anyway: only the moment changes.
   */
  takeCommittedEntries(): Entry[] {
    const r = this.raft;
    const rd = this.outstanding;
    if (rd !== null && (rd.snapshot !== null || rd.committedEntries.some((e) => e.type !== EntryType.Normal))) return [];
    // The next Ready cuts a snapshot from the applied index: let it catch up first.
    if (this.hasSnapshotToSend()) return [];
    const from = this.applyFrom();
    const to = Math.min(r.log.committed, r.log.stableIndex);
    if (to < from) return [];
    const out: Entry[] = [];
    for (let i = from; i <= to; i++) {
      const e = r.log.entry(i);
      if (e.type !== EntryType.Normal) break;
      out.push(e);
    }
    if (out.length > 0) this.handedOut = out[out.length - 1].index;
    return out;
  }

  /** The host applied the entries `takeCommittedEntries` handed out, up to `index`. */
  advanceApplied(index: number): void {
    const r = this.raft;
    assert(index <= this.handedOut, `raw-node: advanceApplied(${index}) beyond what was handed out (${this.handedOut})`);
    if (index > r.log.applied) r.log.applied = index;
  }

  ready(): Ready {
    assert(this.outstanding === null, 'raw-node: ready() called while a Ready is outstanding');
    const r = this.raft;
    const soft: SoftState = { leader: r.lead, role: r.role };
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hs = this.hardState();
    const hardChanged = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit;
    const termOrVoteChanged = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote;
    const entries = r.log.unstableEntries();
    const snapshot = r.pendingSnapshot;
    const from = this.applyFrom();
    const committedEntries = r.log.committed >= from ? r.log.slice(from, r.log.committed) : [];
    const messages = r.msgs;
    for (const m of messages) if (m.type === MessageType.Snap && m.snapshot !== null && m.snapshot.meta.index === 0) this.fillSnapshot(m);
    this.handedOut = Math.max(this.handedOut, r.log.committed);

    const ready: Ready = {
      number: ++this.readyNumber,
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hs : null,
      confState: r.confChanged ? copyConf(r.conf) : null,
      snapshot,
      entries,
      messages,
      messagesAfterPersist: r.msgsAfterPersist,
      committedEntries,
      readStates: r.readStates,
      mustSync: entries.length > 0 || termOrVoteChanged || snapshot !== null,
    };
    r.msgs = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    r.pendingSnapshot = null;
    r.confChanged = false;
    r.log.unstableFrom = r.log.lastIndex() + 1;
    r.readOnly.sealAll();
    this.prevSoft = soft;
    this.prevHard = hs;
    this.outstanding = ready;
    return ready;
  }

  /** The leader's snapshot for a lagging follower is its applied state as of this Ready. */
  private fillSnapshot(m: Message): void {
    const r = this.raft;
    const index = r.log.applied;
    assert(this.handedOut <= index, 'raw-node: a snapshot is cut while handed-out entries are still being applied');
    const term = r.log.term(index);
    assert(term !== undefined, 'raw-node: applied index has no term');
    m.snapshot = { meta: { index, term, confState: copyConf(r.conf) }, data: m.snapshot!.data };
    const pr = r.prs.get(m.to);
    if (pr !== undefined && pr.state === 'snapshot') pr.pendingSnapshot = index;
  }

  advance(readyNumber: number): void {
    const ready = this.outstanding;
    assert(ready !== null && ready.number === readyNumber, `raw-node: advance(${readyNumber}) does not match the outstanding Ready`);
    this.outstanding = null;
    const r = this.raft;
    if (ready.snapshot !== null) r.log.stableTo(ready.snapshot.meta.index, ready.snapshot.meta.term);
    if (ready.entries.length > 0) {
      const last = ready.entries[ready.entries.length - 1];
      r.log.stableTo(last.index, last.term);
    }
    if (ready.hardState !== null) r.onHardStatePersisted(ready.hardState.term, ready.hardState.vote);
    onApplied(r, ready.committedEntries);
    r.onEntriesPersisted();
  }

  reportUnreachable(to: NodeId): void {
    const pr = this.raft.prs.get(to);
    if (this.raft.role === Role.Leader && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    const r = this.raft;
    const pr = r.prs.get(to);
    if (r.role !== Role.Leader || pr === undefined || pr.state !== 'snapshot') return;
    r.logger.info(r.fields({ to, ok, pendingSnapshot: pr.pendingSnapshot }), 'snapshot reported');
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat reply) before probing again.
    pr.probeSent = true;
  }

  compact(index: number): void {
    compactLog(this.raft, index);
  }

  /**
   * The current compaction point as snapshot meta (index, term, membership as
   * of that index): what the log store records as `persisted.snapshot` after
   * truncating its log to match `compact`.
   */
  compactionPoint(): SnapshotMeta {
    const log = this.raft.log;
    return { index: log.snapIndex, term: log.snapTerm, confState: confStateAt(this.raft, log.snapIndex) };
  }

  /** The applied index and how many applied entries the in-memory log still holds; cheap, asked every cycle. */
  appliedLog(): { applied: number; entries: number } {
    const log = this.raft.log;
    return { applied: log.applied, entries: log.applied - log.snapIndex };
  }

  /**
   * The commit index a lease read may be served at, or -1 when the lease does
   * not hold (not leader, no own-term commit yet, or expired). Cheap: the host
   * asks on every read.
   */
  leaseReadIndex(): number {
    return this.raft.leaseValid() ? this.raft.log.committed : -1;
  }

  /**
   * On a follower holding a read lease (follower leases on): the index a local
   * read must wait to have applied; -1 when it holds none. Cheap, like leaseReadIndex.
   */
  followerReadIndex(): number {
    return this.raft.followerReadIndex();
  }

  status(): RaftStatus {
    const r = this.raft;
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (r.role === Role.Leader) {
      progress = new Map();
      for (const [id, pr] of r.prs) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, learner: pr.learner, recentActive: pr.recentActive });
      }
    }
    return {
      nodeId: r.id,
      groupId: r.groupId,
      role: r.role,
      leader: r.lead,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      confState: copyConf(r.conf),
      progress,
      leadTransferee: r.leadTransferee,
      leaseValid: r.leaseValid(),
    };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }
}
