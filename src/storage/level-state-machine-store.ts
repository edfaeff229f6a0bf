/**
 * The production state-machine store: one LevelDB per node, a key space per group
 * (layout in key-layout.ts). Each applied batch carries the group's applied index,
 * so a restart resumes from it and replays only the log after it. Batches are not
 * synced: the Raft log is the durable record.
 */
import type { GroupId } from '../raft/types.js';
import type { ScanOptions, StateMachineBatch, StateMachineStore, StateSnapshot, StoredValue, Tombstones } from './types.js';
import { ValueType } from './types.js';
import { LevelEngine, type EngineOp } from './level-engine.js';
import type { TimerHandle, Timers } from '../env/env.js';
import {
  dataKey, dataPrefix, decodeMeta, keyId, decodeRevision, decodeValue, encodeMeta, encodeRevision, encodeValue, fieldSuffix, FLOOR_SUFFIX,
  garbageKey, KIND_FIELD, KIND_MAIN, KIND_SCAN, mainSuffix, metaKey, parseSuffix, prefixEnd, scanHash, scanSuffix, TAG_DATA, TAG_FLUSH, TAG_GARBAGE, TAG_META,
  tombSuffix, VALUE_HEADER_BYTES, type GroupMeta,
} from './key-layout.js';
import { decodeSnapshotStream, encodeSnapshotStream } from './snapshot-stream.js';
import { assert } from './assert.js';

const FLUSH_KEY = Buffer.from([TAG_FLUSH]);
const EMPTY = Buffer.alloc(0);

/** Bytes of staged snapshot data per LevelDB batch while installing. */
const INSTALL_BATCH_BYTES = 1024 * 1024;

type BatchOp =
  // `stored`: the record as the cache keeps it, a view into its encoded LevelDB value (set by engineOps).
  // `rec`: the key's cache record as the batch was built (RecordHint), to stage into without a lookup.
  | { op: 'put'; groupId: GroupId; key: Uint8Array; value: StoredValue; existed: boolean; stored: StoredValue | undefined; id: string | undefined; rec: CachedRecord | undefined }
  | { op: 'del'; groupId: GroupId; key: Uint8Array; id: string | undefined; rec: CachedRecord | undefined }
  | { op: 'putField'; groupId: GroupId; key: Uint8Array; field: Uint8Array; value: Uint8Array }
  | { op: 'delField'; groupId: GroupId; key: Uint8Array; field: Uint8Array }
  | { op: 'putTomb'; groupId: GroupId; key: Uint8Array; revision: number }
  | { op: 'delTomb'; groupId: GroupId; key: Uint8Array }
  | { op: 'floor'; groupId: GroupId; revision: number }
  | { op: 'applied'; groupId: GroupId; index: number };

/** The cache record of a key, if the store's last read found it (else undefined). */
type RecordHint = (groupId: GroupId, id: string) => CachedRecord | undefined;

class LevelBatch implements StateMachineBatch {
  readonly ops: BatchOp[] = [];
  constructor(private readonly commit: (ops: BatchOp[]) => Promise<void>, private readonly hint: RecordHint) {}
  get length(): number {
    return this.ops.length;
  }
  put(groupId: GroupId, key: Uint8Array, value: StoredValue, existed = false, id?: string): this {
    this.ops.push({ op: 'put', groupId, key, value, existed, stored: undefined, id, rec: id === undefined ? undefined : this.hint(groupId, id) });
    return this;
  }
  del(groupId: GroupId, key: Uint8Array, id?: string): this {
    this.ops.push({ op: 'del', groupId, key, id, rec: id === undefined ? undefined : this.hint(groupId, id) });
    return this;
  }
  putField(groupId: GroupId, key: Uint8Array, field: Uint8Array, value: Uint8Array): this {
    this.ops.push({ op: 'putField', groupId, key, field, value });
    return this;
  }
  delField(groupId: GroupId, key: Uint8Array, field: Uint8Array): this {
    this.ops.push({ op: 'delField', groupId, key, field });
    return this;
  }
  putTombstone(groupId: GroupId, key: Uint8Array, revision: number): this {
    this.ops.push({ op: 'putTomb', groupId, key, revision });
    return this;
  }
  delTombstone(groupId: GroupId, key: Uint8Array): this {
    this.ops.push({ op: 'delTomb', groupId, key });
    return this;
  }
  setTombstoneFloor(groupId: GroupId, revision: number): this {
    this.ops.push({ op: 'floor', groupId, revision });
    return this;
  }
  setApplied(groupId: GroupId, index: number): this {
    this.ops.push({ op: 'applied', groupId, index });
    return this;
  }
  write(): Promise<void> {
    return this.commit(this.ops);
  }
}

/** The cache keeps its own copy: a caller's value may be a view into a larger buffer it reuses. */
function copyValue(v: StoredValue): StoredValue {
  return { type: v.type, value: Buffer.from(v.value), expireAtMs: v.expireAtMs, revision: v.revision };
}

function concat(a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a, b]);
}

/** Default bound of the value cache: keys, values and a per-entry overhead. */
export const CACHE_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** Bytes a cached record is counted for beyond its key and value (Map slot, object, Buffer header). */
const CACHE_ENTRY_OVERHEAD_BYTES = 160;

/** How long staged batches may wait to be written together, when timers are given. */
export const WRITE_DELAY_MS_DEFAULT = 10;
/** Staged operations that start a write at once rather than at the end of the delay. */
export const WRITE_OPS_MIN_DEFAULT = 4096;
/** Staged operations past which a commit waits for the write in flight (the bound of the dirty set). */
export const PENDING_OPS_MAX_DEFAULT = 65536;

export interface LevelStateMachineStoreOptions {
  /** Bound of the in-memory cache of key records (0 turns it off). */
  cacheBytesMax?: number;
  /**
   * Timers (the Env's) for the write-back delay. Without them a staged batch is
   * written as soon as no write is in flight (batches coalesce only while one is).
   */
  timers?: Pick<Timers, 'after'>;
  /** With timers: how long staged batches wait to be written together (0: no wait). */
  writeDelayMs?: number;
  /** Staged operations that start a write before the delay is over. */
  writeOpsMin?: number;
  /** Staged operations past which commit() waits for LevelDB (bounds memory). */
  pendingOpsMax?: number;
}

/**
 * The key records reads are answered from before LevelDB: those staged and not yet
 * written (dirty: `seq` above the last written batch), and a bounded cache of
 * records as LevelDB holds them (clean), null for a key known to be absent. One map
 * per group for both, keyed by the key's bytes as a latin1 string (`keyId`), so a
 * read or a staged write is one lookup with the id its caller already made
 * (decisions.md, "Write-back state machine"). Insertion order is eviction order
 * (first held, first forgotten: a rewrite updates a record in place). Only clean
 * records are evicted; dirty ones stay until their batch is written.
 */
interface CachedRecord {
  value: StoredValue | null;
  bytes: number;
  /** The staged batch that wrote it (dirty while above the last written batch), 0 if read from LevelDB. */
  seq: number;
  /** False once it left its group's map (evicted, group dropped): a RecordHint to it is stale. */
  live: boolean;
}

/** Eviction frees this much below the bound at once, so that it does not run on every write. */
const CACHE_EVICT_SLACK = 1 / 64;

class RecordCache {
  private readonly groups = new Map<GroupId, Map<string, CachedRecord>>();
  private bytes = 0;
  /** Where the next eviction starts (groups take turns giving records up). */
  private evictFrom = 0;

  /**
   * Whether the cache ever forgot a clean record it held (eviction) or cannot hold any:
   * until then it holds every record written since open, so for a group that was
   * empty at open a miss means the key is absent (see `LevelStateMachineStore.getSync`).
   */
  lossy: boolean;

  constructor(private readonly bytesMax: number) {
    this.lossy = bytesMax <= 0;
  }

  get(groupId: GroupId, id: string): CachedRecord | undefined {
    return this.groups.get(groupId)?.get(id);
  }

  private group(groupId: GroupId): Map<string, CachedRecord> {
    let g = this.groups.get(groupId);
    if (g === undefined) this.groups.set(groupId, (g = new Map()));
    return g;
  }

  private static bytesOf(id: string, value: StoredValue | null): number {
    return id.length + (value?.value.byteLength ?? 0) + CACHE_ENTRY_OVERHEAD_BYTES;
  }

  /** A record read from LevelDB (the key was not in the map). */
  fill(groupId: GroupId, id: string, value: StoredValue | null, writtenSeq: number): CachedRecord | undefined {
    if (this.bytesMax <= 0) return undefined;
    const bytes = RecordCache.bytesOf(id, value);
    const rec: CachedRecord = { value, bytes, seq: 0, live: true };
    this.group(groupId).set(id, rec);
    this.bytes += bytes;
    if (this.bytes > this.bytesMax) this.evict(writtenSeq);
    return rec;
  }

  /**
   * A record staged by batch `seq`: read from here until that batch is written, and cached
   * after. A key already held is updated in place and keeps its place in the eviction order.
   * `rec`: the key's record when the caller has it (a map lookup less), used while still live.
   */
  stage(groupId: GroupId, id: string, value: StoredValue | null, seq: number, rec?: CachedRecord): void {
    const bytes = RecordCache.bytesOf(id, value);
    this.bytes += bytes;
    let old = rec !== undefined && rec.live ? rec : undefined;
    if (old === undefined) {
      const g = this.group(groupId);
      old = g.get(id);
      if (old === undefined) {
        g.set(id, { value, bytes, seq, live: true });
        return;
      }
    }
    this.bytes -= old.bytes;
    old.value = value;
    old.bytes = bytes;
    old.seq = seq;
  }

  /** Forgets clean records, oldest held first, group by group in turn, until the bound (less some slack) is met. */
  evict(writtenSeq: number): void {
    if (this.bytes <= this.bytesMax) return;
    const target = this.bytesMax - Math.floor(this.bytesMax * CACHE_EVICT_SLACK);
    const groups = [...this.groups.values()];
    for (let turn = 0; turn < groups.length && this.bytes > target; turn++) {
      const g = groups[(this.evictFrom + turn) % groups.length];
      for (const [k, e] of g) {
        if (this.bytes <= target) break;
        if (e.seq > writtenSeq) continue;
        g.delete(k);
        e.live = false;
        this.bytes -= e.bytes;
        this.lossy = true;
      }
    }
    this.evictFrom++;
  }

  /** Forgets every key of a group (its generation changed or it was deleted); nothing of it may be dirty. */
  dropGroup(groupId: GroupId): void {
    const g = this.groups.get(groupId);
    if (g === undefined) return;
    for (const e of g.values()) {
      this.bytes -= e.bytes;
      e.live = false;
    }
    this.groups.delete(groupId);
  }
}

/**
 * Hash fields by the keyId of their LevelDB key (which carries the group's generation): values
 * read from LevelDB, and every field write staged since, absent fields as null. Without it each
 * HSET read LevelDB on the main thread twice per field (once for the reply, once for the size
 * accounting) on every replica, and each HGET once (docs/decisions.md, "Hash field cache").
 * Every change of a field passes through `stage()`, which writes it here, so an entry is never
 * behind LevelDB and the staged batches. Bounded in bytes; the oldest entries go first.
 */
class FieldCache {
  private readonly map = new Map<string, Uint8Array | null>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  /** The field's value, null when it is known absent, undefined when not held. */
  get(id: string): Uint8Array | null | undefined {
    return this.map.get(id);
  }

  set(id: string, value: Uint8Array | null): void {
    if (this.bytesMax <= 0) return;
    const old = this.map.get(id);
    if (old !== undefined) {
      this.bytes -= FieldCache.bytesOf(id, old);
      this.map.delete(id);
    }
    this.map.set(id, value);
    this.bytes += FieldCache.bytesOf(id, value);
    if (this.bytes <= this.bytesMax) return;
    const target = this.bytesMax - Math.floor(this.bytesMax * CACHE_EVICT_SLACK);
    for (const [k, v] of this.map) {
      if (this.bytes <= target) break;
      this.map.delete(k);
      this.bytes -= FieldCache.bytesOf(k, v);
    }
  }

  /** Forgets everything (a group's generation changed). */
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  private static bytesOf(id: string, value: Uint8Array | null): number {
    return id.length + (value?.byteLength ?? 0) + CACHE_ENTRY_OVERHEAD_BYTES;
  }
}

/** A record staged but not yet known written to LevelDB; `seq` is the batch that staged it. */
interface Dirty<T> {
  value: T | null;
  seq: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** A key's id qualified by its group (for maps of one batch, which may span groups). */
function groupKeyId(groupId: GroupId, key: Uint8Array): string {
  return `${groupId}|${keyId(key)}`;
}

export class LevelStateMachineStore implements StateMachineStore {
  private readonly engine: LevelEngine;
  /**
   * Generation and applied index of every group as of the last staged batch:
   * what reads see. LevelDB holds them as of the last written batch.
   */
  private readonly metas = new Map<GroupId, GroupMeta>();
  /**
   * Records of the live generation of each group, exactly as LevelDB holds them
   * once the last written batch is written: updated after each write, dropped for
   * a group whose generation changes. Point reads (GET, and every write command's
   * look at the old value on every replica) were LevelDB's `getSync` on the main
   * thread, the largest CPU item of a SET (decisions.md).
   */
  private readonly cache: RecordCache;
  /**
   * Groups whose keys may be in LevelDB and not in the cache: those with data at open,
   * and those that installed a snapshot. For any other group, while the cache has never
   * evicted (`cache.lossy`), every key written since open is staged or cached, so a
   * miss is an absent key without a LevelDB read. Why: on a node whose groups started
   * empty, every SET of a new key paid a LevelDB `getSync` that found nothing
   * (decisions.md, "Write-back state machine").
   */
  private readonly uncached = new Set<GroupId>();

  // Write-back (docs/storage.md, "Write-back"): a committed batch is staged in memory
  // (these maps answer reads) and written to LevelDB later, coalesced with other batches.
  /** Hash fields staged and not yet written, by the LevelDB key's keyId. */
  private readonly dirtyFields = new Map<string, Dirty<Buffer>>();
  private readonly fieldCache: FieldCache;
  /** LevelDB operations of the staged batches, in order, not yet handed to LevelDB. */
  private pendingOps: EngineOp[] = [];
  /** Field ids the pending operations touch. */
  private pendingFieldIds: string[] = [];
  /** Groups whose meta record (generation, applied) the next write must carry. */
  private pendingMetaGroups = new Set<GroupId>();
  /** The write LevelDB is doing now (its operations are still answered from the dirty maps). */
  private inflight: { ops: EngineOp[]; done: Promise<void> } | null = null;
  /** Number of the last batch staged, and of the last batch written to LevelDB. */
  private stagedSeq = 0;
  private writtenSeq = 0;
  /** A failed LevelDB write: every later commit, flush and close reports it (the node must stop). */
  private failed: Error | null = null;
  /** Batches that delete a hash read its fields from LevelDB first; batches after it wait for it. */
  private preparing: Promise<void> | null = null;
  private writeTimer: TimerHandle | null = null;
  private readonly writeDelayMs: number;
  private readonly writeOpsMin: number;
  private readonly pendingOpsMax: number;
  private readonly timers: Pick<Timers, 'after'> | undefined;
  /** LevelDB batch writes done by write-back (tests and benchmarks look at it). */
  readonly writeStats = { batchesStaged: 0, engineWrites: 0 };
  /** Generations found marked as garbage at open (an install or deletion a crash interrupted), then deleted. */
  recoveredGenerations = 0;

  constructor(readonly location: string, opts: LevelStateMachineStoreOptions = {}) {
    this.engine = new LevelEngine(location);
    this.cache = new RecordCache(opts.cacheBytesMax ?? CACHE_BYTES_MAX_DEFAULT);
    // Hash fields have a bound of their own, half that of key records (0 turns both off).
    this.fieldCache = new FieldCache(Math.floor((opts.cacheBytesMax ?? CACHE_BYTES_MAX_DEFAULT) / 2));
    this.timers = opts.timers;
    this.writeDelayMs = opts.timers ? (opts.writeDelayMs ?? WRITE_DELAY_MS_DEFAULT) : 0;
    this.writeOpsMin = opts.writeOpsMin ?? WRITE_OPS_MIN_DEFAULT;
    this.pendingOpsMax = Math.max(opts.pendingOpsMax ?? PENDING_OPS_MAX_DEFAULT, this.writeOpsMin);
  }

  async open(): Promise<void> {
    await this.engine.open();
    for await (const [key, value] of this.engine.iterate({ gte: Buffer.from([TAG_META]), lt: Buffer.from([TAG_META + 1]) })) {
      this.metas.set(key.readUInt32BE(1), decodeMeta(value));
    }
    // Finish what a crash interrupted: staged snapshots never flipped to, generations replaced or deleted.
    const garbage: [GroupId, number][] = [];
    for await (const [key] of this.engine.iterate({ gte: Buffer.from([TAG_GARBAGE]), lt: Buffer.from([TAG_GARBAGE + 1]) })) {
      garbage.push([key.readUInt32BE(1), key.readUInt32BE(5)]);
    }
    for (const [groupId, generation] of garbage) {
      assert(this.metas.get(groupId)?.generation !== generation, `state machine: live generation ${generation} of group ${groupId} marked as garbage`);
      await this.dropGeneration(groupId, generation);
      this.recoveredGenerations++;
    }
    for (const [groupId, m] of this.metas) {
      const prefix = dataPrefix(groupId, m.generation);
      for await (const _ of this.engine.iterate({ gte: prefix, lt: prefixEnd(prefix), batchSize: 1 })) {
        this.uncached.add(groupId);
        break;
      }
    }
  }

  async close(): Promise<void> {
    try {
      await this.writeOut();
    } finally {
      this.writeTimer?.cancel();
      this.writeTimer = null;
      await this.engine.close();
    }
  }

  groups(): GroupId[] {
    return [...this.metas.keys()].sort((a, b) => a - b);
  }

  /** `id`: keyId(key), when the caller has it already. */
  getSync(groupId: GroupId, key: Uint8Array, id = keyId(key)): StoredValue | undefined {
    const cached = this.cache.get(groupId, id);
    if (cached !== undefined) {
      this.remember(groupId, id, cached);
      return cached.value ?? undefined;
    }
    if (!this.cache.lossy && !this.uncached.has(groupId)) return undefined;
    // Not staged, so LevelDB (even with a write in flight) holds the key's latest record.
    const raw = this.engine.getSync(dataKey(this.prefix(groupId), KIND_MAIN, key));
    const value = raw === undefined ? undefined : decodeValue(raw);
    const rec = this.cache.fill(groupId, id, value ?? null, this.writtenSeq);
    if (rec !== undefined) this.remember(groupId, id, rec);
    return value;
  }

  /**
   * The record getSync last found: a command reads a key, then writes it, and the batch's
   * put or del takes the record along (recordHint) so that staging it needs no second lookup
   * in a map of every cached key (docs/decisions.md, "One record lookup per write").
   */
  private hitGroup: GroupId = -1;
  private hitId = '';
  private hit: CachedRecord | undefined;

  private remember(groupId: GroupId, id: string, rec: CachedRecord): void {
    this.hitGroup = groupId;
    this.hitId = id;
    this.hit = rec;
  }

  private readonly recordHint: RecordHint = (groupId, id) =>
    this.hit !== undefined && this.hitGroup === groupId && this.hitId === id ? this.hit : undefined;

  getFieldSync(groupId: GroupId, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    const k = concat(this.prefix(groupId), fieldSuffix(key, field));
    const id = keyId(k);
    if (this.dirtyFields.size > 0) {
      const d = this.dirtyFields.get(id);
      if (d !== undefined) return d.value ?? undefined;
    }
    const cached = this.fieldCache.get(id);
    if (cached !== undefined) return cached ?? undefined;
    // Not staged, so LevelDB (even with a write in flight) holds the field's latest value.
    const v = this.engine.getSync(k);
    this.fieldCache.set(id, v ?? null);
    return v;
  }

  async *fields(groupId: GroupId, key: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    await this.writeOut();
    const start = concat(this.prefix(groupId), fieldSuffix(key));
    for await (const [k, v] of this.engine.iterate({ gte: start, lt: prefixEnd(start) })) {
      yield [k.subarray(start.length), v];
    }
  }

  async *scan(groupId: GroupId, opts: ScanOptions = {}): AsyncIterable<[Uint8Array, StoredValue]> {
    await this.writeOut();
    const prefix = this.prefix(groupId);
    const start = concat(prefix, mainSuffix(new Uint8Array(0)));
    const range = opts.after ? { gt: concat(prefix, mainSuffix(opts.after)) } : { gte: start };
    for await (const [k, v] of this.engine.iterate({ ...range, lt: prefixEnd(start), batchSize: opts.batchSize })) {
      yield [k.subarray(start.length), decodeValue(v)];
    }
  }

  async *scanByHash(groupId: GroupId, fromHash: number): AsyncIterable<[number, Uint8Array, StoredValue]> {
    await this.writeOut();
    const prefix = this.prefix(groupId);
    const all = concat(prefix, Buffer.from([KIND_SCAN]));
    for await (const [k] of this.engine.iterate({ gte: concat(prefix, scanSuffix(fromHash)), lt: prefixEnd(all), batchSize: 256 })) {
      const key = k.subarray(prefix.length + 5);
      // Read the record now: a batch committed since the iterator opened may have deleted it.
      const v = this.getSync(groupId, key);
      if (v !== undefined) yield [k.readUInt32BE(prefix.length + 1), key, v];
    }
  }

  async tombstones(groupId: GroupId): Promise<Tombstones> {
    await this.writeOut();
    const prefix = this.prefix(groupId);
    const start = concat(prefix, tombSuffix(new Uint8Array(0)));
    const keys: Array<[Uint8Array, number]> = [];
    for await (const [k, v] of this.engine.iterate({ gte: start, lt: prefixEnd(start), batchSize: 1024 })) {
      keys.push([k.subarray(start.length), decodeRevision(v)]);
    }
    const floor = this.engine.getSync(concat(prefix, FLOOR_SUFFIX));
    return { floor: floor === undefined ? 0 : decodeRevision(floor), keys };
  }

  applied(groupId: GroupId): number {
    return this.metas.get(groupId)?.applied ?? 0;
  }

  batch(): StateMachineBatch {
    return new LevelBatch((ops) => this.commit(ops), this.recordHint);
  }

  /**
   * Stages a batch: from the moment this returns, reads (getSync, getFieldSync,
   * applied) see it; it reaches LevelDB with the batches staged around it in one
   * atomic write. The promise settles at once unless too much is waiting to be
   * written (then when LevelDB has caught up), or the batch deletes a hash (its
   * fields are read from LevelDB first).
   */
  private commit(batchOps: BatchOp[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.preparing) {
      const run = this.preparing.then(() => this.commitNow(batchOps));
      this.track(run);
      return run;
    }
    return this.commitNow(batchOps);
  }

  private commitNow(batchOps: BatchOp[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    // A deleted hash takes its fields along: those need a LevelDB range read, so
    // this batch (rare) is staged once everything before it is written.
    const hashes = batchOps.some((o) => o.op === 'del' && this.getSync(o.groupId, o.key)?.type === ValueType.Hash);
    if (hashes) {
      const run = this.commitDeletingHashes(batchOps);
      this.track(run);
      return run;
    }
    this.stage(batchOps, this.engineOps(batchOps, new Map()));
    return this.backpressure();
  }

  private async commitDeletingHashes(batchOps: BatchOp[]): Promise<void> {
    // Not writeOut(): this batch is itself what later commits wait for.
    await this.writeStaged();
    const fieldsOf = new Map<string, Buffer[]>();
    for (const o of batchOps) {
      if (o.op !== 'del') continue;
      const id = groupKeyId(o.groupId, o.key);
      if (fieldsOf.has(id)) continue;
      const keys: Buffer[] = [];
      const prefix = dataPrefix(o.groupId, this.metas.get(o.groupId)?.generation ?? 0);
      if (this.engine.getSync(dataKey(prefix, KIND_MAIN, o.key))?.[0] === ValueType.Hash) {
        const start = concat(prefix, fieldSuffix(o.key));
        for await (const [k] of this.engine.iterate({ gte: start, lt: prefixEnd(start) })) keys.push(k);
      }
      fieldsOf.set(id, keys);
    }
    this.stage(batchOps, this.engineOps(batchOps, fieldsOf));
    await this.backpressure();
  }

  /** Keeps later commits behind `run` until it is done. */
  private track(run: Promise<void>): void {
    const tail = run.catch(() => {});
    this.preparing = tail;
    void tail.then(() => {
      if (this.preparing === tail) this.preparing = null;
    });
  }

  /**
   * The LevelDB operations of a batch; `fieldsOf` lists, per groupKeyId, the
   * stored fields of each hash the batch deletes (read before anything later was staged).
   */
  private engineOps(batchOps: BatchOp[], fieldsOf: Map<string, Buffer[]>): EngineOp[] {
    const ops: EngineOp[] = [];
    // Fields put earlier in this batch, per group and key, so that del() removes them too.
    let stagedFields: Map<string, Buffer[]> | undefined;
    let groupId = -1;
    let prefix: Buffer = EMPTY;
    for (const o of batchOps) {
      if (o.groupId !== groupId) {
        groupId = o.groupId;
        prefix = dataPrefix(groupId, this.metas.get(groupId)?.generation ?? 0);
      }
      switch (o.op) {
        case 'put': {
          const value = encodeValue(o.value);
          o.stored = { type: o.value.type, value: value.subarray(VALUE_HEADER_BYTES), expireAtMs: o.value.expireAtMs, revision: o.value.revision };
          ops.push({ type: 'put', key: dataKey(prefix, KIND_MAIN, o.key), value });
          // The scan index entry of a new key (or when unsure: rewriting it is harmless).
          if (!o.existed) ops.push({ type: 'put', key: concat(prefix, scanSuffix(scanHash(o.key), o.key)), value: EMPTY });
          break;
        }
        case 'del': {
          ops.push({ type: 'del', key: dataKey(prefix, KIND_MAIN, o.key) });
          ops.push({ type: 'del', key: concat(prefix, scanSuffix(scanHash(o.key), o.key)) });
          const id = groupKeyId(o.groupId, o.key);
          for (const k of stagedFields?.get(id) ?? []) ops.push({ type: 'del', key: k });
          stagedFields?.delete(id);
          for (const k of fieldsOf.get(id) ?? []) ops.push({ type: 'del', key: k });
          break;
        }
        case 'putField': {
          const k = concat(prefix, fieldSuffix(o.key, o.field));
          ops.push({ type: 'put', key: k, value: Buffer.from(o.value) });
          const id = groupKeyId(o.groupId, o.key);
          stagedFields ??= new Map();
          const list = stagedFields.get(id);
          if (list) list.push(k);
          else stagedFields.set(id, [k]);
          break;
        }
        case 'delField':
          ops.push({ type: 'del', key: concat(prefix, fieldSuffix(o.key, o.field)) });
          break;
        case 'putTomb':
          ops.push({ type: 'put', key: concat(prefix, tombSuffix(o.key)), value: encodeRevision(o.revision) });
          break;
        case 'delTomb':
          ops.push({ type: 'del', key: concat(prefix, tombSuffix(o.key)) });
          break;
        case 'floor':
          ops.push({ type: 'put', key: concat(prefix, FLOOR_SUFFIX), value: encodeRevision(o.revision) });
          break;
        case 'applied':
          break;
      }
    }
    return ops;
  }

  /** Makes a batch visible to reads and queues its LevelDB operations. */
  private stage(batchOps: BatchOp[], ops: EngineOp[]): void {
    const seq = ++this.stagedSeq;
    this.writeStats.batchesStaged++;
    for (const op of ops) this.pendingOps.push(op);
    for (const op of ops) {
      // Hash fields: TAG_DATA | groupId u32 | generation u32 | KIND_FIELD | ...
      if (op.key[9] !== KIND_FIELD || op.key[0] !== TAG_DATA) continue;
      const id = keyId(op.key);
      const value = op.type === 'put' ? op.value : null;
      this.dirtyFields.set(id, { value, seq });
      this.fieldCache.set(id, value);
      this.pendingFieldIds.push(id);
    }
    // In batch order, so the last write of a key wins, as in LevelDB.
    let lastGroup = -1;
    for (const o of batchOps) {
      if (o.groupId !== lastGroup) this.pendingMetaGroups.add((lastGroup = o.groupId));
      if (o.op === 'put' || o.op === 'del') {
        this.cache.stage(o.groupId, o.id ?? keyId(o.key), o.op === 'put' ? (o.stored ?? copyValue(o.value)) : null, seq, o.rec);
      } else if (o.op === 'applied') {
        const m = this.metas.get(o.groupId);
        if (m) m.applied = o.index;
        else this.metas.set(o.groupId, { generation: 0, applied: o.index });
      }
    }
    for (const g of this.pendingMetaGroups) if (!this.metas.has(g)) this.metas.set(g, { generation: 0, applied: 0 });
    this.scheduleWrite();
  }

  /** Settles at once unless too much waits to be written: then once the write in flight is done. */
  private backpressure(): Promise<void> {
    if (this.pendingOps.length < this.pendingOpsMax || this.inflight === null) return RESOLVED;
    const failed = this.inflight.done.then(() => {
      if (this.failed) throw this.failed;
    });
    return failed;
  }

  private scheduleWrite(): void {
    if (this.inflight !== null || this.pendingOps.length === 0 && this.pendingMetaGroups.size === 0) return;
    if (this.writeDelayMs <= 0 || this.pendingOps.length >= this.writeOpsMin) {
      this.startWrite();
      return;
    }
    if (this.writeTimer === null) {
      this.writeTimer = this.timers!.after(this.writeDelayMs, () => {
        this.writeTimer = null;
        if (this.inflight === null) this.startWrite();
      });
    }
  }

  /** Hands every staged batch to LevelDB in one atomic write, with the meta record of each group it touches. */
  private startWrite(): void {
    if (this.writeTimer !== null) {
      this.writeTimer.cancel();
      this.writeTimer = null;
    }
    if (this.failed || this.inflight !== null) return;
    if (this.pendingOps.length === 0 && this.pendingMetaGroups.size === 0) return;
    const ops = this.pendingOps;
    for (const g of this.pendingMetaGroups) {
      const m = this.metas.get(g);
      if (m) ops.push({ type: 'put', key: metaKey(g), value: encodeMeta(m) });
    }
    const fieldIds = this.pendingFieldIds;
    const seq = this.stagedSeq;
    this.pendingOps = [];
    this.pendingFieldIds = [];
    this.pendingMetaGroups = new Set();
    this.writeStats.engineWrites++;
    const done = this.engine.write(ops).then(() => {
      this.writtenSeq = seq;
      // LevelDB now holds these records: they are clean (cached) unless a later batch staged them again.
      this.cache.evict(seq);
      for (const id of fieldIds) {
        const d = this.dirtyFields.get(id);
        if (d !== undefined && d.seq <= seq) this.dirtyFields.delete(id);
      }
    }, (err: unknown) => {
      this.failed = err instanceof Error ? err : new Error(String(err));
    }).finally(() => {
      this.inflight = null;
      if (!this.failed) this.scheduleWrite();
    });
    this.inflight = { ops, done };
  }

  /** Writes every batch committed so far to LevelDB (no fsync): iteration reads LevelDB. */
  private async writeOut(): Promise<void> {
    while (this.preparing) await this.preparing;
    await this.writeStaged();
  }

  /** Writes every batch staged so far to LevelDB (no fsync). */
  private async writeStaged(): Promise<void> {
    const target = this.stagedSeq;
    while (this.writtenSeq < target) {
      if (this.failed) throw this.failed;
      if (this.inflight === null) this.startWrite();
      if (this.inflight === null) break;
      await this.inflight.done;
    }
    if (this.failed) throw this.failed;
  }

  async flush(): Promise<void> {
    // LevelDB's log is sequential: syncing this write syncs every earlier one.
    await this.writeOut();
    await this.engine.write([{ type: 'put', key: FLUSH_KEY, value: EMPTY }], true);
  }

  async deleteGroup(groupId: GroupId): Promise<void> {
    await this.writeOut();
    const m = this.metas.get(groupId);
    if (!m) return;
    await this.engine.write([
      { type: 'del', key: metaKey(groupId) },
      { type: 'put', key: garbageKey(groupId, m.generation), value: EMPTY },
    ]);
    this.metas.delete(groupId);
    this.cache.dropGroup(groupId);
    this.fieldCache.clear();
    await this.dropGeneration(groupId, m.generation);
  }

  createSnapshot(groupId: GroupId): StateSnapshot {
    // The state as reads see it: LevelDB at this instant, then the batches staged but not
    // yet known written, replayed in order over it (re-applying a batch that LevelDB already
    // holds changes nothing: every operation puts or deletes a whole record).
    const snapshot = this.engine.snapshot();
    const m = { ...(this.metas.get(groupId) ?? { generation: 0, applied: 0 }) };
    const prefix = dataPrefix(groupId, m.generation);
    const overlay = new Map<string, Buffer | null>();
    for (const ops of [this.inflight?.ops ?? [], this.pendingOps]) {
      for (const op of ops) {
        if (op.key.length < prefix.length || prefix.compare(op.key, 0, prefix.length, 0, prefix.length) !== 0) continue;
        overlay.set(keyId(op.key.subarray(prefix.length)), op.type === 'put' ? op.value : null);
      }
    }
    const staged = [...overlay].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const engine = this.engine;
    let released = false;
    const release = async (): Promise<void> => {
      if (!released) {
        released = true;
        await snapshot.close();
      }
    };
    async function* records(): AsyncGenerator<[Buffer, Buffer]> {
      let i = 0;
      for await (const [k, v] of engine.iterate({ gte: prefix, lt: prefixEnd(prefix), snapshot, batchSize: 1024 })) {
        const suffix = k.subarray(prefix.length);
        if (i < staged.length) {
          const id = keyId(suffix);
          for (; i < staged.length && staged[i][0] < id; i++) {
            const value = staged[i][1];
            if (value !== null) yield [Buffer.from(staged[i][0], 'latin1'), value];
          }
          if (i < staged.length && staged[i][0] === id) {
            const value = staged[i++][1];
            if (value !== null) yield [suffix, value];
            continue;
          }
        }
        yield [suffix, v];
      }
      for (; i < staged.length; i++) {
        const value = staged[i][1];
        if (value !== null) yield [Buffer.from(staged[i][0], 'latin1'), value];
      }
    }
    return {
      applied: m.applied,
      chunks: () => (async function* () {
        try {
          yield* encodeSnapshotStream(m.applied, records());
        } finally {
          await release();
        }
      })(),
      close: release,
    };
  }

  async installSnapshot(groupId: GroupId, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.writeOut();
    const old = this.metas.get(groupId);
    const generation = old ? old.generation + 1 : 1;
    const prefix = dataPrefix(groupId, generation);
    // Stage under a new generation, marked as garbage until the flip.
    await this.engine.write([{ type: 'put', key: garbageKey(groupId, generation), value: Buffer.alloc(0) }]);
    let applied = -1;
    try {
      let ops: EngineOp[] = [];
      let bytes = 0;
      for await (const item of decodeSnapshotStream(chunks)) {
        if (item.kind === 'header') {
          applied = item.applied;
          continue;
        }
        parseSuffix(item.suffix);
        ops.push({ type: 'put', key: concat(prefix, item.suffix), value: Buffer.from(item.value) });
        bytes += item.suffix.length + item.value.length;
        if (bytes >= INSTALL_BATCH_BYTES) {
          await this.engine.write(ops);
          ops = [];
          bytes = 0;
        }
      }
      if (ops.length > 0) await this.engine.write(ops);
    } catch (err) {
      await this.dropGeneration(groupId, generation);
      throw err;
    }
    const next: GroupMeta = { generation, applied };
    // The flip: one atomic batch makes the new generation live and the old one garbage.
    const flip: EngineOp[] = [
      { type: 'put', key: metaKey(groupId), value: encodeMeta(next) },
      { type: 'del', key: garbageKey(groupId, generation) },
    ];
    if (old) flip.push({ type: 'put', key: garbageKey(groupId, old.generation), value: Buffer.alloc(0) });
    await this.engine.write(flip);
    this.metas.set(groupId, next);
    this.cache.dropGroup(groupId);
    this.fieldCache.clear();
    this.uncached.add(groupId);
    if (old) await this.dropGeneration(groupId, old.generation);
  }

  private prefix(groupId: GroupId): Buffer {
    return dataPrefix(groupId, this.metas.get(groupId)?.generation ?? 0);
  }

  /** Deletes every key of one generation, then its garbage marker. */
  private async dropGeneration(groupId: GroupId, generation: number): Promise<void> {
    const prefix = dataPrefix(groupId, generation);
    let ops: EngineOp[] = [];
    for await (const [k] of this.engine.iterate({ gte: prefix, lt: prefixEnd(prefix), batchSize: 1024 })) {
      ops.push({ type: 'del', key: k });
      if (ops.length >= 4096) {
        await this.engine.write(ops);
        ops = [];
      }
    }
    ops.push({ type: 'del', key: garbageKey(groupId, generation) });
    await this.engine.write(ops);
  }
}
