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
import {
  dataPrefix, decodeMeta, decodeRevision, decodeValue, encodeMeta, encodeRevision, encodeValue, fieldSuffix, FLOOR_SUFFIX,
  garbageKey, KIND_SCAN, mainSuffix, metaKey, parseSuffix, prefixEnd, scanHash, scanSuffix, TAG_FLUSH, TAG_GARBAGE, TAG_META,
  tombSuffix, type GroupMeta,
} from './key-layout.js';
import { decodeSnapshotStream, encodeSnapshotStream } from './snapshot-stream.js';
import { assert } from './assert.js';

const FLUSH_KEY = Buffer.from([TAG_FLUSH]);
const EMPTY = Buffer.alloc(0);

/** Bytes of staged snapshot data per LevelDB batch while installing. */
const INSTALL_BATCH_BYTES = 1024 * 1024;

type BatchOp =
  | { op: 'put'; groupId: GroupId; key: Uint8Array; value: StoredValue; existed: boolean }
  | { op: 'del'; groupId: GroupId; key: Uint8Array }
  | { op: 'putField'; groupId: GroupId; key: Uint8Array; field: Uint8Array; value: Uint8Array }
  | { op: 'delField'; groupId: GroupId; key: Uint8Array; field: Uint8Array }
  | { op: 'putTomb'; groupId: GroupId; key: Uint8Array; revision: number }
  | { op: 'delTomb'; groupId: GroupId; key: Uint8Array }
  | { op: 'floor'; groupId: GroupId; revision: number }
  | { op: 'applied'; groupId: GroupId; index: number };

class LevelBatch implements StateMachineBatch {
  readonly ops: BatchOp[] = [];
  constructor(private readonly commit: (ops: BatchOp[]) => Promise<void>) {}
  get length(): number {
    return this.ops.length;
  }
  put(groupId: GroupId, key: Uint8Array, value: StoredValue, existed = false): this {
    this.ops.push({ op: 'put', groupId, key, value, existed });
    return this;
  }
  del(groupId: GroupId, key: Uint8Array): this {
    this.ops.push({ op: 'del', groupId, key });
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

export interface LevelStateMachineStoreOptions {
  /** Bound of the in-memory cache of key records (0 turns it off). */
  cacheBytesMax?: number;
}

/**
 * A bounded cache of key records (type, value, expiry, revision), or null for a
 * key known to be absent, in front of LevelDB's point reads. Entries are keyed
 * by group and key; insertion order is eviction order, and a write moves the key
 * to the end (least recently written goes first).
 */
const GROUP_PREFIXES: string[] = [];

/** `${groupId}|`, kept for the small group ids so that a lookup does not format the number. */
function groupPrefix(groupId: GroupId): string {
  if (groupId >= 4096) return `${groupId}|`;
  return GROUP_PREFIXES[groupId] ??= `${groupId}|`;
}

class RecordCache {
  private readonly map = new Map<string, { value: StoredValue | null; bytes: number }>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  static id(groupId: GroupId, key: Uint8Array): string {
    const b = key instanceof Buffer ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    return groupPrefix(groupId) + b.toString('latin1');
  }

  get(id: string): StoredValue | null | undefined {
    return this.map.get(id)?.value;
  }

  set(id: string, value: StoredValue | null): void {
    if (this.bytesMax <= 0) return;
    const old = this.map.get(id);
    if (old !== undefined) {
      this.map.delete(id);
      this.bytes -= old.bytes;
    }
    const bytes = id.length + (value?.value.byteLength ?? 0) + CACHE_ENTRY_OVERHEAD_BYTES;
    this.map.set(id, { value, bytes });
    this.bytes += bytes;
    if (this.bytes <= this.bytesMax) return;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.bytesMax) break;
      this.map.delete(k);
      this.bytes -= e.bytes;
    }
  }

  /** Forgets every key of a group (its generation changed or it was deleted). */
  dropGroup(groupId: GroupId): void {
    const prefix = `${groupId}|`;
    for (const [k, e] of this.map) {
      if (!k.startsWith(prefix)) continue;
      this.map.delete(k);
      this.bytes -= e.bytes;
    }
  }
}

export class LevelStateMachineStore implements StateMachineStore {
  private readonly engine: LevelEngine;
  private readonly metas = new Map<GroupId, GroupMeta>();
  private tail: Promise<void> = Promise.resolve();
  /**
   * Records of the live generation of each group, exactly as LevelDB holds them
   * once the last committed batch is written: updated after each batch write,
   * dropped for a group whose generation changes. Point reads (GET, and every
   * write command's look at the old value on every replica) were LevelDB's
   * `getSync` on the main thread, the largest CPU item of a SET (decisions.md).
   */
  private readonly cache: RecordCache;
  /** Generations found marked as garbage at open (an install or deletion a crash interrupted), then deleted. */
  recoveredGenerations = 0;

  constructor(readonly location: string, opts: LevelStateMachineStoreOptions = {}) {
    this.engine = new LevelEngine(location);
    this.cache = new RecordCache(opts.cacheBytesMax ?? CACHE_BYTES_MAX_DEFAULT);
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
  }

  async close(): Promise<void> {
    await this.tail;
    await this.engine.close();
  }

  groups(): GroupId[] {
    return [...this.metas.keys()].sort((a, b) => a - b);
  }

  getSync(groupId: GroupId, key: Uint8Array): StoredValue | undefined {
    const id = RecordCache.id(groupId, key);
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached ?? undefined;
    const raw = this.engine.getSync(concat(this.prefix(groupId), mainSuffix(key)));
    const value = raw === undefined ? undefined : decodeValue(raw);
    // NB: a batch write may be in flight; whatever this read saw, the write's own
    // cache update comes after it (commitNow), so the cache never keeps a stale record.
    this.cache.set(id, value ?? null);
    return value;
  }

  getFieldSync(groupId: GroupId, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    return this.engine.getSync(concat(this.prefix(groupId), fieldSuffix(key, field)));
  }

  async *fields(groupId: GroupId, key: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const start = concat(this.prefix(groupId), fieldSuffix(key));
    for await (const [k, v] of this.engine.iterate({ gte: start, lt: prefixEnd(start) })) {
      yield [k.subarray(start.length), v];
    }
  }

  async *scan(groupId: GroupId, opts: ScanOptions = {}): AsyncIterable<[Uint8Array, StoredValue]> {
    const prefix = this.prefix(groupId);
    const start = concat(prefix, mainSuffix(new Uint8Array(0)));
    const range = opts.after ? { gt: concat(prefix, mainSuffix(opts.after)) } : { gte: start };
    for await (const [k, v] of this.engine.iterate({ ...range, lt: prefixEnd(start), batchSize: opts.batchSize })) {
      yield [k.subarray(start.length), decodeValue(v)];
    }
  }

  async *scanByHash(groupId: GroupId, fromHash: number): AsyncIterable<[number, Uint8Array, StoredValue]> {
    const prefix = this.prefix(groupId);
    const all = concat(prefix, Buffer.from([KIND_SCAN]));
    for await (const [k] of this.engine.iterate({ gte: concat(prefix, scanSuffix(fromHash)), lt: prefixEnd(all), batchSize: 256 })) {
      const key = k.subarray(prefix.length + 5);
      // Read the record now: a batch written since the iterator opened may have deleted it.
      const v = this.getSync(groupId, key);
      if (v !== undefined) yield [k.readUInt32BE(prefix.length + 1), key, v];
    }
  }

  async tombstones(groupId: GroupId): Promise<Tombstones> {
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
    return new LevelBatch((ops) => this.commit(ops));
  }

  /** Turns a batch into one atomic LevelDB write; commits run one at a time. */
  private commit(batchOps: BatchOp[]): Promise<void> {
    const run = this.tail.then(() => this.commitNow(batchOps));
    this.tail = run.catch(() => {});
    return run;
  }

  private async commitNow(batchOps: BatchOp[]): Promise<void> {
    const ops: EngineOp[] = [];
    const metas = new Map<GroupId, GroupMeta>();
    const meta = (groupId: GroupId): GroupMeta => {
      let m = metas.get(groupId);
      if (!m) {
        m = { ...(this.metas.get(groupId) ?? { generation: 0, applied: 0 }) };
        metas.set(groupId, m);
      }
      return m;
    };
    // Fields put earlier in this batch, per group and key, so that del() removes them too.
    const stagedFields = new Map<string, Buffer[]>();
    for (const o of batchOps) {
      const prefix = dataPrefix(o.groupId, meta(o.groupId).generation);
      switch (o.op) {
        case 'put':
          ops.push({ type: 'put', key: concat(prefix, mainSuffix(o.key)), value: encodeValue(o.value) });
          // The scan index entry of a new key (or when unsure: rewriting it is harmless).
          if (!o.existed) ops.push({ type: 'put', key: concat(prefix, scanSuffix(scanHash(o.key), o.key)), value: EMPTY });
          break;
        case 'del': {
          const main = concat(prefix, mainSuffix(o.key));
          ops.push({ type: 'del', key: main });
          ops.push({ type: 'del', key: concat(prefix, scanSuffix(scanHash(o.key), o.key)) });
          const id = `${o.groupId}:${Buffer.from(o.key).toString('latin1')}`;
          for (const k of stagedFields.get(id) ?? []) ops.push({ type: 'del', key: k });
          stagedFields.delete(id);
          const existing = this.engine.getSync(main);
          if (existing !== undefined && existing[0] === ValueType.Hash) {
            const start = concat(prefix, fieldSuffix(o.key));
            for await (const [k] of this.engine.iterate({ gte: start, lt: prefixEnd(start) })) ops.push({ type: 'del', key: k });
          }
          break;
        }
        case 'putField': {
          const k = concat(prefix, fieldSuffix(o.key, o.field));
          ops.push({ type: 'put', key: k, value: Buffer.from(o.value) });
          const id = `${o.groupId}:${Buffer.from(o.key).toString('latin1')}`;
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
          meta(o.groupId).applied = o.index;
          break;
      }
    }
    for (const [groupId, m] of metas) ops.push({ type: 'put', key: metaKey(groupId), value: encodeMeta(m) });
    await this.engine.write(ops);
    for (const [groupId, m] of metas) this.metas.set(groupId, m);
    // In batch order, so the last write of a key wins, as in LevelDB.
    for (const o of batchOps) {
      if (o.op === 'put') this.cache.set(RecordCache.id(o.groupId, o.key), copyValue(o.value));
      else if (o.op === 'del') this.cache.set(RecordCache.id(o.groupId, o.key), null);
    }
  }

  flush(): Promise<void> {
    // LevelDB's log is sequential: syncing this write syncs every earlier one. Ordered after pending commits.
    const run = this.tail.then(() => this.engine.write([{ type: 'put', key: FLUSH_KEY, value: Buffer.alloc(0) }], true));
    this.tail = run.catch(() => {});
    return run;
  }

  async deleteGroup(groupId: GroupId): Promise<void> {
    const m = this.metas.get(groupId);
    if (!m) return;
    await this.engine.write([
      { type: 'del', key: metaKey(groupId) },
      { type: 'put', key: garbageKey(groupId, m.generation), value: Buffer.alloc(0) },
    ]);
    this.metas.delete(groupId);
    this.cache.dropGroup(groupId);
    await this.dropGeneration(groupId, m.generation);
  }

  createSnapshot(groupId: GroupId): StateSnapshot {
    const snapshot = this.engine.snapshot();
    const rawMeta = this.engine.getSync(metaKey(groupId), snapshot);
    const m = rawMeta ? decodeMeta(rawMeta) : { generation: 0, applied: 0 };
    const prefix = dataPrefix(groupId, m.generation);
    const engine = this.engine;
    let released = false;
    const release = async (): Promise<void> => {
      if (!released) {
        released = true;
        await snapshot.close();
      }
    };
    async function* records(): AsyncGenerator<[Buffer, Buffer]> {
      for await (const [k, v] of engine.iterate({ gte: prefix, lt: prefixEnd(prefix), snapshot, batchSize: 1024 })) {
        yield [k.subarray(prefix.length), v];
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
