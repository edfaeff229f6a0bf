/**
 * The storage contracts of a node: one log store shared by every Raft group the
 * node hosts, and one state-machine store (a key space per group). Production
 * wires the segmented log file and LevelDB; the simulator wires the in-memory
 * versions, which implement the same interfaces.
 */
import type { Entry, GroupId, HardState, RaftPersistedState, SnapshotMeta } from '../raft/types.js';

/** What one group asks the log store to persist in one write cycle. */
export interface LogUpdate {
  groupId: GroupId;
  /**
   * An installed snapshot. Applied first. If the log holds an entry at
   * `snapshot.index` with `snapshot.term`, the entries after it are kept
   * (Raft paper §7); otherwise the whole log is discarded.
   */
  snapshot?: SnapshotMeta;
  /**
   * Contiguous entries, applied after `snapshot`. They may overwrite the tail:
   * everything from `entries[0].index` on is replaced (Raft paper §5.3).
   * Entries at or below the compaction point are ignored.
   */
  entries?: Entry[];
  /** Applied after `entries`. */
  hardState?: HardState;
  /** Drops entries <= compactTo (log truncation after a snapshot). Applied last. */
  compactTo?: number;
}

export interface LogWriteOptions {
  /** When true, the write is durable (one fsync for the whole call) before the promise resolves. */
  sync: boolean;
}

export interface LogStoreStats {
  /** Data fsyncs (fdatasync) performed by write(): at most one per call. */
  fsyncs: number;
  /** Directory fsyncs, one per new segment file (amortized over the segment size). */
  dirSyncs: number;
  /** Calls to write(). */
  writes: number;
  /** Bytes appended to the log. */
  bytesWritten: number;
}

/** The entries and hard state of every group on a node (DESIGN.md, "Storage and recovery"). */
export interface LogStore {
  /** Loads the persisted state; repairs an unsynced torn tail; throws on corruption of synced data. */
  open(): Promise<void>;
  /** Groups with any persisted state, ascending. */
  groups(): GroupId[];
  /** What a restarting group hands to its RawNode: hard state, snapshot meta and the entries after it. */
  load(groupId: GroupId): RaftPersistedState;
  /** Entries with lo <= index < hi. Throws when the range is not within [firstIndex, lastIndex + 1]. */
  entries(groupId: GroupId, lo: number, hi: number): Entry[];
  /** Term of the entry at `index`, also for the compaction point itself; undefined when unknown. */
  term(groupId: GroupId, index: number): number | undefined;
  /** Index of the first entry still in the log (compaction point + 1). */
  firstIndex(groupId: GroupId): number;
  /** Index of the last entry, or the compaction point when the log is empty. */
  lastIndex(groupId: GroupId): number;
  hardState(groupId: GroupId): HardState;
  snapshotMeta(groupId: GroupId): SnapshotMeta | null;
  /** The hot path: persists every update in one write, with one fsync when `opts.sync`. Calls are serialized. */
  write(updates: LogUpdate[], opts: LogWriteOptions): Promise<void>;
  close(): Promise<void>;
  stats(): LogStoreStats;
}

/** The type of a stored value. Numbers are part of the on-disk format: never reuse one. */
export const ValueType = {
  String: 1,
  Hash: 2,
  List: 3,
  Set: 4,
  ZSet: 5,
} as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

export interface StoredValue {
  type: ValueType;
  /** For a hash, whatever the command layer keeps at key level (fields live apart, see putField). */
  value: Uint8Array;
  /** Absolute expiry in ms since the epoch (stamped by the leader); 0 = none. */
  expireAtMs: number;
  /** Log index of the last change of this key (WATCH compares it). */
  revision: number;
}

/** A write batch across groups; nothing is visible until `write()` resolves. */
export interface StateMachineBatch {
  /**
   * Stores the key's record. `existed`: the caller knows the key is stored already, so its
   * scan index entry exists and need not be written again (omit it when unsure).
   */
  put(groupId: GroupId, key: Uint8Array, value: StoredValue, existed?: boolean, id?: string): this;
  /** Deletes the key and, for a hash, all its fields. `id` (also for put): keyId(key), when the caller has it. */
  del(groupId: GroupId, key: Uint8Array, id?: string): this;
  putField(groupId: GroupId, key: Uint8Array, field: Uint8Array, value: Uint8Array): this;
  delField(groupId: GroupId, key: Uint8Array, field: Uint8Array): this;
  /**
   * Records that `key` was deleted at `revision` (WATCH on an absent key compares it).
   * Tombstones are state-machine data: replicated, in snapshots, never read by scan().
   */
  putTombstone(groupId: GroupId, key: Uint8Array, revision: number): this;
  delTombstone(groupId: GroupId, key: Uint8Array): this;
  /** The revision at or above which every pruned tombstone lies (0 when none was pruned). */
  setTombstoneFloor(groupId: GroupId, revision: number): this;
  /** Records the applied index of the group in the same atomic write as the data it covers. */
  setApplied(groupId: GroupId, index: number): this;
  /** Number of operations queued. */
  readonly length: number;
  /** Commits atomically (no fsync: the Raft log is the durable record). */
  write(): Promise<void>;
}

/** Deletion records of one group (see StateMachineBatch.putTombstone). */
export interface Tombstones {
  floor: number;
  keys: Array<[key: Uint8Array, revision: number]>;
}

export interface ScanOptions {
  /** Start after this key (exclusive), for SCAN-style cursors. */
  after?: Uint8Array;
  /** Most keys to return per step of the iteration (a hint). */
  batchSize?: number;
}

/** A point-in-time image of one group. */
export interface StateSnapshot {
  /** The group's applied index captured by the snapshot. */
  applied: number;
  /** The image as a byte stream of chunks of at most `SNAPSHOT_CHUNK_BYTES`. Iterate once. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases the snapshot without reading it (reading it to the end releases it too). */
  close(): Promise<void>;
}

/** The state machines of every group on a node (one LevelDB, a key space per group). */
export interface StateMachineStore {
  open(): Promise<void>;
  close(): Promise<void>;
  /** Groups with any state, ascending. */
  groups(): GroupId[];
  /** A point read without a thread-pool round trip. */
  getSync(groupId: GroupId, key: Uint8Array, id?: string): StoredValue | undefined;
  getFieldSync(groupId: GroupId, key: Uint8Array, field: Uint8Array): Uint8Array | undefined;
  /** The fields of a hash in field byte order. */
  fields(groupId: GroupId, key: Uint8Array): AsyncIterable<[field: Uint8Array, value: Uint8Array]>;
  /** The keys of a group in key byte order (KEYS, DBSIZE, RANDOMKEY). */
  scan(groupId: GroupId, opts?: ScanOptions): AsyncIterable<[key: Uint8Array, value: StoredValue]>;
  /**
   * The keys of a group in SCAN order — by CRC-32 of the key (key-layout.ts scanHash),
   * then key bytes — from the first key whose hash is >= `fromHash`. A key's position
   * never changes while it exists, so a cursor that is a hash stays valid anywhere.
   */
  scanByHash(groupId: GroupId, fromHash: number): AsyncIterable<[hash: number, key: Uint8Array, value: StoredValue]>;
  /** The group's tombstones (in key byte order) and tombstone floor. */
  tombstones(groupId: GroupId): Promise<Tombstones>;
  /** 0 for a group never applied. */
  applied(groupId: GroupId): number;
  batch(): StateMachineBatch;
  /**
   * Makes every batch written so far durable (one fsync of LevelDB's write-ahead log).
   * Batches are not synced, so after a power loss the state machine may be behind its
   * last applied index; call this before compacting the Raft log past `applied()`, or
   * the entries needed to catch up would be gone.
   */
  flush(): Promise<void>;
  /** Removes every key of the group and its applied index. */
  deleteGroup(groupId: GroupId): Promise<void>;
  createSnapshot(groupId: GroupId): StateSnapshot;
  /** Replaces the group's data and applied index atomically with the image read from `chunks`. */
  installSnapshot(groupId: GroupId, chunks: AsyncIterable<Uint8Array>): Promise<void>;
}

/** Upper bound on the size of one snapshot chunk. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

/** Thrown when synced data is found damaged: the node must stop, never repair silently. */
export class StorageCorruptionError extends Error {
  constructor(readonly file: string, readonly offset: number, detail: string) {
    super(`storage corruption in ${file} at offset ${offset}: ${detail}`);
    this.name = 'StorageCorruptionError';
  }
}
