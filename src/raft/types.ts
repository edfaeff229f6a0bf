/**
 * The data types of the Raft core: entries, hard state, snapshots, messages and
 * the Ready batch. This file is the contract between the core (`src/raft/`), the
 * message codec, the storage layer, the simulator and the multi-raft host.
 *
 * Everything here is plain data: no classes, no I/O. Byte payloads are
 * `Uint8Array` (a Node `Buffer` is one, so the host may pass Buffers in).
 */

/** A node (process) in the cluster. 0 means "none". */
export type NodeId = number;
/** A Raft group. Group 0 is the metadata group; data groups start at 1. */
export type GroupId = number;

export const NONE: NodeId = 0;

export const EntryType = {
  /** Application data (may be empty: the no-op a new leader appends). */
  Normal: 0,
  /** `data` is an encoded ConfChange (see codec.ts). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before a node votes or acknowledges (Raft paper, Figure 2). */
export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or NONE. */
  vote: NodeId;
  commit: number;
}

/** Membership of a group. Changes are applied one server at a time (see docs/decisions.md). */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export const ConfChangeType = {
  /** Add a voter, or promote an existing learner to voter. */
  AddVoter: 0,
  /** Remove a voter or a learner. */
  RemoveNode: 1,
  /** Add a learner (non-voting member that receives the log). */
  AddLearner: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core; the host may carry the node's address here. */
  context: Uint8Array;
}

export interface SnapshotMeta {
  /** Last log index covered by the snapshot. */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** Membership as of `index`. */
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** Opaque state-machine image; produced and consumed by the host. */
  data: Uint8Array;
}

export const MessageType = {
  /** Leader -> follower: AppendEntries. */
  App: 1,
  AppResp: 2,
  Vote: 3,
  VoteResp: 4,
  PreVote: 5,
  PreVoteResp: 6,
  /** Leader -> follower: heartbeat (carries commit, and a read context if any). */
  Heartbeat: 7,
  HeartbeatResp: 8,
  /** Leader -> follower: InstallSnapshot. */
  Snap: 9,
  /** Leader -> transfer target: campaign now (leadership transfer, thesis §3.10). */
  TimeoutNow: 10,
  /** Follower -> leader: ask for a read index on behalf of a follower read. */
  ReadIndex: 11,
  /** Leader -> follower: the read index for a forwarded read. */
  ReadIndexResp: 12,
  /** Any node -> leader: please transfer leadership to `from`-named target (in `index`). */
  TransferLeader: 13,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One Raft message. Unused fields are 0 / false / empty. Field meanings follow
 * etcd-raft's Message, which in turn follows the Raft paper:
 * - App: `logTerm`/`index` are prevLogTerm/prevLogIndex, `entries`, `commit`.
 * - AppResp: `index` is the last index matched (or, if `reject`, the index
 *   that was rejected); `rejectHint` and `logTerm` are the conflict hints
 *   used for fast backtracking (index and term of the follower's best guess).
 * - Vote/PreVote: `logTerm`/`index` are lastLogTerm/lastLogIndex; `context`
 *   is non-empty for a vote caused by a leadership transfer.
 * - Heartbeat/HeartbeatResp and ReadIndex/ReadIndexResp: `context` carries
 *   the read-request context (a heartbeat round id for heartbeats).
 * - Heartbeat with follower leases: `index` > 0 grants a read lease anchored
 *   at the recipient's ack of that round; `reject` revokes any lease held.
 * - Snap: `snapshot` holds the snapshot (meta and data).
 */
export interface Message {
  type: MessageType;
  groupId: GroupId;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  snapshot: Snapshot | null;
}

export const Role = {
  Follower: 0,
  PreCandidate: 1,
  Candidate: 2,
  Leader: 3,
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/** A read request that may now be served once `applied >= index`. */
export interface ReadState {
  index: number;
  /** The context passed to `readIndex` (opaque request id). */
  context: Uint8Array;
}

/**
 * The work the core hands to the host. The host must, in this order:
 * 1. send `messages` (may be sent at once, even before persisting);
 * 2. durably persist `snapshot` (if any), then `entries` (which may overwrite
 *    the log's tail from `entries[0].index` on), then `hardState` (if any);
 *    with fsync when `mustSync`;
 * 3. only then send `messagesAfterPersist` (vote grants, append acks);
 * 4. apply `committedEntries` in order, and serve `readStates` once applied;
 * 5. call `advance(ready.number)`.
 * The host may call `step`, `tick`, `propose` and `readIndex` between
 * `ready()` and `advance()`; what they produce goes into the next Ready.
 * `hasReady()` is false while a Ready is outstanding (not yet advanced).
 *
 * Snapshots (see docs/raft-core.md): a `Snap` message in `messages` has empty
 * `snapshot.data`; fill it with the state-machine image at
 * `snapshot.meta.index` (= your applied index right now, before applying this
 * Ready's committed entries). A non-null `snapshot` in the Ready is one this
 * follower must install: it replaces the whole log (drop every stored entry,
 * then store `entries`) and the state machine (applied = meta.index).
 */
export interface Ready {
  /** Sequence number of this Ready, passed back to `advance`. */
  number: number;
  /** Present when leader or role changed since the last Ready. */
  softState: SoftState | null;
  /** Present when term, vote or commit changed since the last Ready. */
  hardState: HardState | null;
  /** Present when membership changed (conf change applied or snapshot restored). */
  confState: ConfState | null;
  snapshot: Snapshot | null;
  entries: Entry[];
  messages: Message[];
  messagesAfterPersist: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
  /** True when hardState or entries or snapshot must be fsynced before messagesAfterPersist. */
  mustSync: boolean;
}

/** What a restarting node loads from its log store. */
export interface RaftPersistedState {
  hardState: HardState;
  /** The latest snapshot / compaction point, if any. */
  snapshot: SnapshotMeta | null;
  /** Entries after the snapshot index, contiguous. */
  entries: Entry[];
}

/** Minimal structured logger the core uses (a pino logger satisfies it). */
export interface RaftLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Seeded random source handed to the core (see src/env/random.ts). */
export interface RandomSource {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
}

/** Typed outcomes of requests to the core: operating conditions, never thrown. */
export type ProposeResult =
  | { kind: 'ok'; index: number; term: number }
  | { kind: 'notLeader'; leaderHint: NodeId }
  | { kind: 'transferring'; leaderHint: NodeId }
  | { kind: 'dropped'; reason: string };

export type ReadMode = 'readIndex' | 'lease';

export type ReadIndexResult =
  | { kind: 'ok' }
  | { kind: 'notLeader'; leaderHint: NodeId }
  | { kind: 'dropped'; reason: string };

export interface RawNodeConfig {
  nodeId: NodeId;
  groupId: GroupId;
  /**
   * Membership of a brand-new group. On restart, membership is rebuilt from
   * `persisted.snapshot.confState` (when present) and the conf-change entries
   * up to `applied`; otherwise from these lists, which must then be the same
   * at every start (they come from the cluster's bootstrap config).
   */
  voters: NodeId[];
  learners?: NodeId[];
  /** Base election timeout in ticks; the real one is random in [e, 2e). */
  electionTicks: number;
  heartbeatTicks: number;
  random: RandomSource;
  logger: RaftLogger;
  /** Default true. */
  preVote?: boolean;
  /** Default true. Required for lease reads. */
  checkQuorum?: boolean;
  /** Largest total entry bytes in one App message. */
  maxSizePerMsg?: number;
  /** Most App messages in flight to one follower in replicate state. */
  maxInflightMsgs?: number;
  /** Most entry bytes in flight to one follower (0 = unlimited). */
  maxInflightBytes?: number;
  /** Lease = electionTicks - leaseDriftTicks, counted from when a quorum-acked heartbeat round was sent. */
  leaseDriftTicks?: number;
  /**
   * Default false. Follower read leases (docs/raft-core.md): the leader grants
   * caught-up voters leases under its own, so they serve lease reads locally,
   * and commits wait until every lease holder has the entry (or its lease ran out).
   */
  followerLeases?: boolean;
  /** Log and hard state loaded from storage on restart. */
  persisted?: RaftPersistedState;
  /** Index the state machine has applied (loaded from the state machine on restart). */
  applied?: number;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  /** True while the follower is a learner. */
  learner: boolean;
  recentActive: boolean;
}

export interface RaftStatus {
  nodeId: NodeId;
  groupId: GroupId;
  role: Role;
  leader: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  confState: ConfState;
  /** Only on the leader. */
  progress: Map<NodeId, ProgressStatus> | null;
  leadTransferee: NodeId;
  /** True on a leader whose lease currently holds (and which has committed an entry of its term). */
  leaseValid: boolean;
}

/**
 * The API of `RawNode` (src/raft/raw-node.ts). Snapshots: when a follower
 * needs entries already compacted away, the leader's Ready carries a Snap
 * message whose `snapshot.meta` describes the leader's state as of its
 * `applied` index at the time of `ready()`, with empty `data`; the host fills
 * `data` with its state-machine image at that index before the Ready's
 * committed entries are applied (it is exactly that state at that moment),
 * sends it, and later calls `reportSnapshot`.
 */
export interface RawNodeApi {
  tick(): void;
  /** Feeds one message from a peer. Bad or stale messages are ignored, never thrown. */
  step(message: Message): void;
  propose(data: Uint8Array): ProposeResult;
  proposeConfChange(change: ConfChange): ProposeResult;
  /** Starts an election now (used for bootstrap and tests). */
  campaign(): void;
  transferLeader(to: NodeId): void;
  /** Requests a read index; the answer arrives as a ReadState in a later Ready. */
  readIndex(context: Uint8Array, mode: ReadMode): ReadIndexResult;
  hasReady(): boolean;
  ready(): Ready;
  advance(readyNumber: number): void;
  reportUnreachable(to: NodeId): void;
  reportSnapshot(to: NodeId, ok: boolean): void;
  /** Discards log entries up to `index` (which must be <= applied). */
  compact(index: number): void;
  /**
   * The compaction point {index, term, confState as of index}: what the log
   * store keeps as `RaftPersistedState.snapshot` once it has truncated its
   * entries up to `index` after `compact(index)`.
   */
  compactionPoint(): SnapshotMeta;
  status(): RaftStatus;
}
