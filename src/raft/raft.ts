import { afterPoll, campaign, handleVote, poll } from './election.js';
import { RaftLog, assert } from './log.js';
import { EMPTY_BYTES, newMessage } from './message.js';
import { copyConf } from './conf-change.js';
import { applyConfEntry } from './membership.js';
import { Progress } from './progress.js';
import { ReadOnly } from './read-only.js';
import { bcastAppend, bcastHeartbeat, maybeCommit, maybeSendTimeoutNow, stepLeader } from './step-leader.js';
import { stepCandidate, stepFollower } from './step-follower.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type RaftLogger,
  type RandomSource,
  type RawNodeConfig,
  type ReadState,
  Role,
  type Snapshot,
} from './types.js';

const ROLE_NAMES = ['follower', 'pre-candidate', 'candidate', 'leader'];

/**
 * The Raft state machine of one group on one node (Raft paper Figure 2, with
 * etcd-raft's PreVote, CheckQuorum, flow control and read-only extensions).
 * Pure and deterministic: inputs are messages, ticks and proposals; outputs are
 * accumulated in `msgs`, `msgsAfterPersist`, `readStates` and the log, and
 * collected by RawNode into Readies.
 */
export class Raft {
  readonly id: NodeId;
  readonly groupId: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly leaseDriftTicks: number;
  readonly followerLeases: boolean;
  readonly random: RandomSource;
  readonly logger: RaftLogger;

  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = Role.Follower;
  readonly log: RaftLog;

  /** Applied membership, and the log index it reflects. */
  conf: ConfState;
  confIndex: number;
  /** Membership as of each applied conf change since the compaction point (for compactionPoint). */
  confHistory: Array<{ index: number; confState: ConfState }>;
  /** Set when `conf` changed since the last Ready. */
  confChanged = false;

  /** The leader's view of every member (empty unless leader). */
  prs = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  /** A snapshot received from the leader, to hand to the host in the next Ready. */
  pendingSnapshot: Snapshot | null = null;

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since this node started; the leader's lease clock. */
  tickCount = 0;
  /** The leader's lease holds while tickCount < leaseUntil. */
  leaseUntil = 0;
  /** Votes are refused (as within a lease) until tickCount reaches this; nonzero only after a restart. */
  restartGuardTicks = 0;
  /** Set once a TimeoutNow was sent this term: voters may now ignore their lease, so ours is void. */
  leaseBlocked = false;
  leadTransferee: NodeId = NONE;
  /** A leader accepts no conf change while one at an index > applied may be pending. */
  pendingConfIndex = 0;
  readonly readOnly = new ReadOnly();

  // ---- follower read leases (docs/raft-core.md) ----
  /** Follower: reads may be served locally while tickCount < followerLeaseUntil (this term's leader granted it). */
  followerLeaseUntil = 0;
  /** Follower: heartbeat rounds acked this term -> tickCount when the ack was made (a lease's anchor). */
  readonly ackTicks = new Map<number, number>();
  /** Follower: the last round that revoked our lease; grants anchored at or before it are stale. */
  revokedRound = 0;
  /** Leader: follower -> its last heartbeat ack (round, and our tick when it arrived). */
  readonly lastAcks = new Map<NodeId, { round: number; tick: number }>();
  /** Leader: follower -> tick until which it may hold a read lease from us; commits wait for it meanwhile. */
  readonly leaseHolders = new Map<NodeId, number>();
  /** Leader: follower -> anchor round to grant in the next heartbeat. */
  readonly pendingGrants = new Map<NodeId, number>();
  /** Leader: the first round sent revoking leases for the current transfer (0: none). */
  revokeFromRound = 0;

  constructor(config: RawNodeConfig) {
    assert(config.nodeId !== NONE, 'config: nodeId must not be 0');
    assert(config.electionTicks > config.heartbeatTicks && config.heartbeatTicks > 0, 'config: need electionTicks > heartbeatTicks > 0');
    this.id = config.nodeId;
    this.groupId = config.groupId;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxSizePerMsg = config.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflightMsgs = config.maxInflightMsgs ?? 256;
    this.maxInflightBytes = config.maxInflightBytes ?? 0;
    this.leaseDriftTicks = config.leaseDriftTicks ?? 1;
    this.followerLeases = config.followerLeases ?? false;
    assert(this.maxInflightMsgs > 0, 'config: maxInflightMsgs must be > 0');
    assert(this.leaseDriftTicks >= 0 && this.leaseDriftTicks < this.electionTicks, 'config: need 0 <= leaseDriftTicks < electionTicks');
    this.random = config.random;
    this.logger = config.logger;

    const p = config.persisted;
    const snap = p?.snapshot ?? null;
    const hs = p?.hardState ?? { term: 0, vote: NONE, commit: 0 };
    const snapIndex = snap?.index ?? 0;
    // A store may keep entries at or below its snapshot until it truncates: skip them.
    const entries = (p?.entries ?? []).filter((e) => e.index > snapIndex);
    const lastIndex = snapIndex + entries.length;
    const applied = Math.max(config.applied ?? 0, snapIndex);
    // Applied entries were committed, even when the commit index on disk lags
    // (a commit-only hard state is not synced): resume from the larger.
    assert(applied <= lastIndex, `restart: applied ${applied} is beyond the persisted log (last ${lastIndex})`);
    this.log = new RaftLog(snapIndex, snap?.term ?? 0, entries, Math.max(hs.commit, applied), applied);
    this.term = hs.term;
    this.vote = hs.vote;
    this.conf = snap !== null ? copyConf(snap.confState) : { voters: uniq(config.voters), learners: uniq(config.learners ?? []) };
    this.confIndex = this.log.snapIndex;
    this.confHistory = [{ index: this.log.snapIndex, confState: copyConf(this.conf) }];
    // Membership on restart: the snapshot's (or bootstrap) membership plus the
    // conf changes the state machine has already applied.
    for (let i = this.log.firstIndex(); i <= this.log.applied; i++) {
      const e = this.log.entry(i);
      if (e.type === EntryType.ConfChange) applyConfEntry(this, e, false);
    }
    this.confIndex = this.log.applied;
    this.confChanged = false;
    this.becomeFollower(this.term, NONE);
    if (hs.term > 0) this.restartGuardTicks = this.electionTicks;
  }

  // ---- helpers -----------------------------------------------------------

  fields(extra: object = {}): object {
    return { node: this.id, group: this.groupId, term: this.term, ...extra };
  }

  /** Queues a message to go out at once (it promises nothing about our disk). */
  send(m: Message): void {
    m.from = this.id;
    m.groupId = this.groupId;
    if (m.term === 0) m.term = this.term;
    this.msgs.push(m);
  }

  /** Queues a message that must wait until this node's pending writes are durable. */
  sendAfterPersist(m: Message): void {
    m.from = this.id;
    m.groupId = this.groupId;
    if (m.term === 0) m.term = this.term;
    this.msgsAfterPersist.push(m);
  }

  promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  /** True once the leader has committed an entry of its own term (§5.4.2, thesis §6.4). */
  committedOwnTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  leaseValid(): boolean {
    return this.role === Role.Leader && this.checkQuorum && !this.leaseBlocked && this.leadTransferee === NONE &&
      this.committedOwnTerm() && this.tickCount < this.leaseUntil;
  }

  /**
   * Follower lease read: the index a local read must have applied (our last
   * log index), or -1 when we hold no lease from this term's leader or hold no
   * entry of its term yet (then entries committed by earlier leaders may still
   * be missing here).
   */
  followerReadIndex(): number {
    if (this.role !== Role.Follower || this.lead === NONE || this.tickCount >= this.followerLeaseUntil) return -1;
    if (this.log.lastTerm() !== this.term) return -1;
    return this.log.lastIndex();
  }

  /** Leader: true while a follower other than the transfer target may still hold a read lease. */
  transferWaitsOnLeases(): boolean {
    for (const id of this.liveLeaseHolders().keys()) if (id !== this.leadTransferee) return true;
    return false;
  }

  /** Leader: the lease holders whose lease may still run (expired ones are dropped). */
  liveLeaseHolders(): Map<NodeId, number> {
    for (const [id, until] of this.leaseHolders) if (until <= this.tickCount) this.leaseHolders.delete(id);
    return this.leaseHolders;
  }

  /** checkQuorum is on, a leader is known, and we heard from it within the minimum election timeout. */
  inLease(): boolean {
    if (!this.checkQuorum) return false;
    // After a restart we cannot know whether we acked a leader's heartbeat just
    // before crashing, and that leader may count us in its lease: stay loyal
    // to whoever that was for one minimum election timeout.
    if (this.tickCount < this.restartGuardTicks) return true;
    return this.lead !== NONE && this.electionElapsed < this.electionTicks;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.random.int(this.electionTicks, 2 * this.electionTicks - 1);
  }

  // ---- roles -------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.votes.clear();
    this.prs.clear();
    this.readOnly.reset();
    this.leaseUntil = 0;
    this.leaseBlocked = false;
    this.pendingConfIndex = 0;
    this.followerLeaseUntil = 0;
    this.ackTicks.clear();
    this.revokedRound = 0;
    this.lastAcks.clear();
    this.leaseHolders.clear();
    this.pendingGrants.clear();
    this.revokeFromRound = 0;
  }

  becomeFollower(term: number, lead: NodeId): void {
    const was = this.role;
    this.reset(term);
    this.role = Role.Follower;
    this.lead = lead;
    if (was !== Role.Follower) this.logger.info(this.fields({ lead, from: ROLE_NAMES[was] }), 'became follower');
  }

  becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'raft: leader cannot become pre-candidate');
    // PreVote (thesis §9.6): the term does not change until the pre-election is won.
    this.role = Role.PreCandidate;
    this.lead = NONE;
    this.followerLeaseUntil = 0;
    this.votes.clear();
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.logger.info(this.fields(), 'became pre-candidate');
  }

  becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
    // NB: our own vote is counted only once the hard state carrying it is durable
    // (see onHardStatePersisted), so that a crash cannot make us vote twice in this term.
    this.logger.info(this.fields(), 'became candidate');
  }

  becomeLeader(): void {
    assert(this.role !== Role.Follower, 'raft: follower cannot become leader directly');
    this.reset(this.term);
    this.role = Role.Leader;
    this.lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of this.conf.voters) this.prs.set(id, this.newProgress(next, false));
    for (const id of this.conf.learners) this.prs.set(id, this.newProgress(next, true));
    const self = this.prs.get(this.id);
    if (self !== undefined) {
      self.match = this.log.stableIndex;
      self.becomeReplicate();
      self.next = next;
    }
    // The no-op of the new term (§8): committing it commits all earlier entries,
    // and until then any conf change up to here may be pending (thesis §4.1).
    this.appendEntry(EntryType.Normal, EMPTY_BYTES);
    this.pendingConfIndex = this.log.lastIndex();
    this.logger.info(this.fields({ lastIndex: this.log.lastIndex() }), 'became leader');
  }

  newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, learner, this.maxInflightMsgs, this.maxInflightBytes);
  }

  /** Leader: appends one entry of the current term to its own log. */
  appendEntry(type: Entry['type'], data: Uint8Array): Entry {
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([e]);
    return e;
  }

  // ---- elections ---------------------------------------------------------

  // ---- input -------------------------------------------------------------

  tick(): void {
    this.tickCount++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      campaign(this, this.preVote ? 'pre' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.leaseHolders.size > 0) {
      // A holder whose lease ran out no longer holds back commits (nor a leadership transfer).
      const before = this.leaseHolders.size;
      if (this.liveLeaseHolders().size < before) {
        if (maybeCommit(this)) bcastAppend(this);
        maybeSendTimeoutNow(this);
      }
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.logger.warn(this.fields(), 'no quorum heard from within an election timeout: stepping down');
        this.becomeFollower(this.term, NONE);
        return;
      }
      // A transfer waiting for other followers' leases to run out waits on (bounded: no grants meanwhile).
      if (this.leadTransferee !== NONE && !this.transferWaitsOnLeases()) {
        this.logger.info(this.fields({ transferee: this.leadTransferee }), 'leadership transfer abandoned');
        this.leadTransferee = NONE;
        this.revokeFromRound = 0;
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this);
    }
  }

  /** CheckQuorum: did a quorum of voters talk to us since the last check? Resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.conf.voters) {
      const pr = this.prs.get(id);
      if (id === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
    return active >= Math.floor(this.conf.voters.length / 2) + 1;
  }

  step(m: Message): void {
    if (m.groupId !== this.groupId || m.to !== this.id || m.from === NONE || m.from === this.id) {
      this.logger.debug(this.fields({ type: m.type, from: m.from, to: m.to }), 'ignoring misaddressed message');
      return;
    }
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context.byteLength > 0;
        if (!force && this.inLease()) {
          // Leader stickiness (thesis §4.2.3): a current leader holds; this is what makes leases safe.
          this.logger.debug(this.fields({ from: m.from, type: m.type }), 'ignoring vote request within lease');
          return;
        }
      }
      if (m.type === MessageType.PreVote || (m.type === MessageType.PreVoteResp && !m.reject)) {
        // A pre-vote changes no term: the requester's term is only a proposal.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
        // A stale leader cut off by PreVote/CheckQuorum would never learn of our term otherwise.
        this.send(newMessage(MessageType.AppResp, m.from));
      } else if (m.type === MessageType.PreVote) {
        this.send(newMessage(MessageType.PreVoteResp, m.from, { reject: true }));
      } else {
        this.logger.debug(this.fields({ from: m.from, type: m.type, msgTerm: m.term }), 'ignoring stale message');
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      handleVote(this, m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        stepLeader(this, m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        stepCandidate(this, m);
        break;
      default:
        stepFollower(this, m);
    }
  }

  // ---- persistence and apply feedback (from RawNode.advance) -------------------

  /** The hard state (term, vote) of a Ready is durable. */
  onHardStatePersisted(term: number, vote: NodeId): void {
    if (this.role === Role.Candidate && term === this.term && vote === this.id) {
      afterPoll(this, poll(this, this.id, true));
    }
  }

  /** Entries up to the log's stableIndex are durable: the leader counts itself now. */
  onEntriesPersisted(): void {
    if (this.role !== Role.Leader) return;
    const self = this.prs.get(this.id);
    if (self !== undefined && self.maybeUpdate(this.log.stableIndex)) {
      if (maybeCommit(this)) bcastAppend(this);
    }
  }

  addReadState(rs: ReadState): void {
    this.readStates.push(rs);
  }
}


function uniq(ids: readonly NodeId[]): NodeId[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}
