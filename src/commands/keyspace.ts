/** The state-machine view commands work on: typed values with expiry and revision. */

import { ValueType, type StoredValue } from '../storage/types.js';
import { keyId as id } from '../storage/key-layout.js';

export { ValueType, type StoredValue };

/** Raw access to one group's keys, expired ones included. */
export interface KeyspaceReader {
  /** `id`: keyId(key), when the caller has it already. */
  getRaw(key: Buffer, id?: string): StoredValue | undefined;
  /** One field of a hash (raw: the caller checks the key's type and expiry). */
  getField(key: Buffer, field: Buffer): Buffer | undefined;
  /** Every field of a hash, in field byte order. */
  fields(key: Buffer): Promise<Array<[Buffer, Buffer]>>;
  /**
   * Up to `limit` keys in key byte order, starting after `after` (exclusive), or at
   * `after` when `inclusive`. Expired keys are included; callers judge expiry.
   */
  scan(after: Buffer | undefined, limit: number, inclusive?: boolean): Promise<Array<[Buffer, StoredValue]>>;
  /** Keys stored in the group, expired ones not yet deleted included (DBSIZE); reads only. */
  keyCount?(): number;
  /**
   * SCAN's step (reads only): keys in scan order (CRC-32 of the key, then bytes) from hash
   * `fromHash` on — at least `count` of them, and then every further key of the same hash,
   * so that the next step can start at a hash. `nextHash` is the hash of the first key not
   * returned, undefined when the group is done. Expired keys are included.
   */
  scanHashed?(fromHash: number, count: number): Promise<{ rows: Array<[Buffer, StoredValue]>; nextHash: number | undefined }>;
  /** Revision of the deletion of an absent key, if a tombstone for it is kept. */
  tombstone?(key: Buffer): number | undefined;
  /** Every deletion whose tombstone was pruned has a revision at most this. */
  tombstoneFloor?(): number;
  /** The group's applied index (reads only): WATCH's point in the log for an absent key. */
  appliedIndex?(): number;
}

export interface KeyspaceWriter extends KeyspaceReader {
  put(key: Buffer, value: StoredValue): void;
  /** Deletes the key and, for a hash, all its fields. */
  del(key: Buffer): void;
  /**
   * `old`: the field's value as the caller has just read it through this keyspace, null when it
   * has none; omitted, the keyspace reads it.
   */
  putField(key: Buffer, field: Buffer, value: Buffer, old?: Buffer | null): void;
  /** `old`: as for putField. */
  delField(key: Buffer, field: Buffer, old?: Buffer | null): void;
}

/** What a read command sees: the group's keys at one instant. */
export interface ReadContext {
  ks: KeyspaceReader;
  /** Time used to judge expiry. */
  nowMs: number;
  /** The group the read runs on (set by the node's read view; OBJECT and MEMORY USAGE need it). */
  groupId?: number;
}

/** What a write command sees while it is applied from a committed entry. */
export interface WriteContext {
  ks: KeyspaceWriter;
  /** The leader's stamp on the entry: the only clock applies may use. */
  nowMs: number;
  /** Index of the entry: the revision of every key it changes. */
  revision: number;
  /** Node-local counters of applied background deletions (INFO stats); never read back by apply. */
  counters?: { evictedKeys: number };
}

/** The live value of a key, or undefined if absent or expired at `nowMs`. */
export function lookup(ctx: ReadContext | WriteContext, key: Buffer): StoredValue | undefined {
  const v = ctx.ks.getRaw(key);
  if (v === undefined) return undefined;
  if (v.expireAtMs !== 0 && v.expireAtMs <= ctx.nowMs) return undefined;
  return v;
}

/**
 * Removes an expired key's remains (a hash's fields above all) before a command
 * creates a fresh value under the same name, so old fields never resurface.
 */
export function clearIfExpired(ctx: WriteContext, key: Buffer): void {
  const raw = ctx.ks.getRaw(key);
  if (raw !== undefined && raw.expireAtMs !== 0 && raw.expireAtMs <= ctx.nowMs) ctx.ks.del(key);
}

/**
 * What WATCH records for a key: its revision when it is live (>= 1), or, when it is
 * absent or expired, minus the applied index it was read at (<= 0).
 */
export function watchToken(ctx: ReadContext, key: Buffer): number {
  const v = lookup(ctx, key);
  if (v !== undefined) return v.revision;
  return -(ctx.ks.appliedIndex?.() ?? 0);
}

/**
 * The revision of the last change of an absent key: an expired record's own revision
 * (it expired at its expiry instant, with no entry), its tombstone's, or the floor of
 * pruned tombstones when it has none (conservative: may be later than its real change).
 */
function absentChangeRevision(ctx: WriteContext, key: Buffer): number {
  const raw = ctx.ks.getRaw(key);
  if (raw !== undefined) return raw.revision;
  return ctx.ks.tombstone?.(key) ?? ctx.ks.tombstoneFloor?.() ?? 0;
}

/** Whether a watched key changed since WATCH recorded `token` (see watchToken); EXEC aborts if so. */
export function watchedKeyChanged(ctx: WriteContext, key: Buffer, token: number): boolean {
  const v = lookup(ctx, key);
  if (token >= 1) return v?.revision !== token;
  if (v !== undefined) return true;
  return absentChangeRevision(ctx, key) > -token;
}

/** The bytes of a stored value as a Buffer view. */
export function valueBytes(v: StoredValue): Buffer {
  return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength);
}

function cmpId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface FieldOverlay {
  /** The key was deleted in this batch: fields in the base are gone. */
  cleared: boolean;
  fields: Map<string, Buffer | null>;
}

/** Callbacks an overlay reports every change to (they build the storage batch). */
export interface OverlaySink {
  /**
   * `existed`: whether the key was stored (live or expired) before this write.
   * `id`: the key's bytes as a latin1 string (computed once per key, for the caller's maps).
   */
  put(key: Buffer, value: StoredValue, existed: boolean, id: string): void;
  /** `tombstone`: the revision of the deletion when the key existed (see tombstones.ts). */
  del(key: Buffer, existed: boolean, tombstone: number | undefined, id: string): void;
  /** `old`: the field's value before this write, if it had one. */
  putField(key: Buffer, field: Buffer, value: Buffer, old: Buffer | undefined): void;
  delField(key: Buffer, field: Buffer, old: Buffer | undefined): void;
}

/**
 * A write-through overlay: writes of earlier ops in one apply batch are seen
 * by later ops before the storage batch is committed.
 */
export class OverlayKeyspace implements KeyspaceWriter {
  private readonly pending = new Map<string, StoredValue | null>();
  private readonly fieldPending = new Map<string, FieldOverlay>();
  private revision = 0;
  private nowMs = 0;
  private lastKey: Buffer | null = null;
  private lastId = '';
  private baseKey: Buffer | null = null;
  private baseValue: StoredValue | undefined;

  constructor(private readonly base: KeyspaceReader, private readonly sink: OverlaySink) {}

  /** The entry being applied: the revision and time a deletion's tombstone is judged by. */
  at(revision: number, nowMs: number): void {
    this.revision = revision;
    this.nowMs = nowMs;
  }

  tombstone(key: Buffer): number | undefined {
    return this.base.tombstone?.(key);
  }

  tombstoneFloor(): number {
    return this.base.tombstoneFloor?.() ?? 0;
  }

  /**
   * The key's id, remembered for the last key object: a command looks up and then writes
   * the same argument, and each step would otherwise convert its bytes again (the SET path).
   * Argument buffers are views into an immutable entry, so the same object has the same bytes.
   */
  private idOf(key: Buffer): string {
    if (key !== this.lastKey) {
      this.lastId = id(key);
      this.lastKey = key;
    }
    return this.lastId;
  }

  getRaw(key: Buffer): StoredValue | undefined {
    if (this.pending.size > 0) {
      const v = this.pending.get(this.idOf(key));
      if (v !== undefined) return v ?? undefined;
    }
    // The base does not change while the overlay is in use (its writes are staged after),
    // so the last key's base record stands (a command looks up, then writes, the same key).
    if (key !== this.baseKey) {
      this.baseValue = this.base.getRaw(key, this.idOf(key));
      this.baseKey = key;
    }
    return this.baseValue;
  }

  put(key: Buffer, value: StoredValue): void {
    const old = this.getRaw(key);
    let existed = old !== undefined;
    // A hash replaced by another type leaves no fields behind.
    if (existed && old!.type === ValueType.Hash && value.type !== ValueType.Hash) {
      this.del(key);
      existed = false;
    }
    const k = this.idOf(key);
    this.pending.set(k, value);
    this.sink.put(key, value, existed, k);
  }

  del(key: Buffer): void {
    const raw = this.getRaw(key);
    const k = this.idOf(key);
    this.pending.set(k, null);
    this.fieldPending.set(k, { cleared: true, fields: new Map() });
    // A key already expired was deleted at its expiry instant: its last change is its own revision.
    const expired = raw !== undefined && raw.expireAtMs !== 0 && raw.expireAtMs <= this.nowMs;
    this.sink.del(key, raw !== undefined, raw === undefined ? undefined : expired ? raw.revision : this.revision, k);
  }

  private fieldOverlay(key: Buffer): FieldOverlay {
    const k = id(key);
    let o = this.fieldPending.get(k);
    if (!o) this.fieldPending.set(k, (o = { cleared: false, fields: new Map() }));
    return o;
  }

  getField(key: Buffer, field: Buffer): Buffer | undefined {
    const o = this.fieldPending.get(id(key));
    if (o) {
      const f = id(field);
      if (o.fields.has(f)) return o.fields.get(f) ?? undefined;
      if (o.cleared) return undefined;
    }
    return this.base.getField(key, field);
  }

  putField(key: Buffer, field: Buffer, value: Buffer, known?: Buffer | null): void {
    const old = known === undefined ? this.getField(key, field) : known ?? undefined;
    this.fieldOverlay(key).fields.set(id(field), value);
    this.sink.putField(key, field, value, old);
  }

  delField(key: Buffer, field: Buffer, known?: Buffer | null): void {
    const old = known === undefined ? this.getField(key, field) : known ?? undefined;
    this.fieldOverlay(key).fields.set(id(field), null);
    this.sink.delField(key, field, old);
  }

  async fields(key: Buffer): Promise<Array<[Buffer, Buffer]>> {
    const o = this.fieldPending.get(id(key));
    if (!o) return this.base.fields(key);
    const merged = new Map<string, Buffer>();
    if (!o.cleared) for (const [f, v] of await this.base.fields(key)) merged.set(id(f), v);
    for (const [f, v] of o.fields) {
      if (v === null) merged.delete(f);
      else merged.set(f, v);
    }
    return [...merged.keys()].sort(cmpId).map((f) => [Buffer.from(f, 'latin1'), merged.get(f)!]);
  }

  async scan(after: Buffer | undefined, limit: number, inclusive = false): Promise<Array<[Buffer, StoredValue]>> {
    // Used by whole-group operations (FLUSHDB): merge the base with this batch's writes.
    const merged = new Map<string, StoredValue>();
    for (const [k, v] of await this.base.scan(after, Number.MAX_SAFE_INTEGER, inclusive)) merged.set(id(k), v);
    const from = after === undefined ? undefined : id(after);
    for (const [k, v] of this.pending) {
      if (from !== undefined && (inclusive ? k < from : k <= from)) continue;
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    return [...merged.keys()].sort(cmpId).slice(0, limit).map((k) => [Buffer.from(k, 'latin1'), merged.get(k)!]);
  }
}
