/**
 * Per-group bookkeeping of every stored key for maxmemory: the bytes each key
 * occupies as stored (its LevelDB records: key, value header, value, and a
 * hash's field records), and approximate access statistics (last access time
 * and Redis's logarithmic LFU counter) for the eviction policies.
 *
 * Every replica keeps it as it applies entries, so the byte counts are a pure
 * function of the replicated state (the same number on every replica, and the
 * same after a restart, which rebuilds it by scanning the store). The access
 * statistics are not: they live only in this process's memory, are updated by
 * the writes this replica applies and the reads it serves, and never feed back
 * into applied data. Only a group's leader acts on them, by proposing
 * deletions through Raft (eviction.ts).
 */

/** Bytes of a key's main record beyond the key and value: group prefix (9), kind tag (1), value header (15). */
export const KEY_RECORD_OVERHEAD = 25;
/** Bytes of a hash field record beyond key, field and value: group prefix (9), kind tag and key length (5). */
export const FIELD_RECORD_OVERHEAD = 14;

/** Redis's LFU defaults (lfu-log-factor 10, lfu-decay-time 1 minute, LFU_INIT_VAL 5). */
export const LFU_INIT_VAL = 5;
export const LFU_LOG_FACTOR = 10;
export const LFU_DECAY_MINUTES = 1;

/** The bytes a key's main record takes as stored. */
export function keyRecordBytes(keyLen: number, valueLen: number): number {
  return KEY_RECORD_OVERHEAD + keyLen + valueLen;
}

/** The bytes one hash field record takes as stored. */
export function fieldRecordBytes(keyLen: number, fieldLen: number, valueLen: number): number {
  return FIELD_RECORD_OVERHEAD + keyLen + fieldLen + valueLen;
}

/** What is known of one stored key. */
export interface KeyStat {
  /** Bytes of the main record (0 until the key's main record is written). */
  mainBytes: number;
  /** Bytes of a hash's field records. */
  fieldBytes: number;
  /** Absolute expiry (ms) or 0. */
  expireAtMs: number;
  /** Last access (ms, this process's view): LRU and OBJECT IDLETIME. */
  accessMs: number;
  /** Redis's 8-bit logarithmic access counter. */
  lfu: number;
  /** When `lfu` was last decayed (ms). */
  lfuMs: number;
  /** Position in the all-keys sample array. */
  pos: number;
  /** Position in the volatile-keys sample array, or -1. */
  vpos: number;
  /** True while a deletion of this key proposed by this leader is in flight. */
  evicting: boolean;
}

export function keyBytes(s: KeyStat): number {
  return s.mainBytes + s.fieldBytes;
}

/** The keys of one group with their sizes and access statistics. */
export class GroupKeyStats {
  private readonly stats = new Map<string, KeyStat>();
  /** Keys in random-access arrays, for sampling in O(1). */
  private readonly all: string[] = [];
  private readonly volatile: string[] = [];
  /** Bytes of all stored keys of the group: the replicated `used` figure. */
  usedBytes = 0;
  /** Bytes of keys whose eviction this node proposed and that are not yet deleted. */
  evictingBytes = 0;

  /** `random` drives the LFU counter's probabilistic increments (this process's statistics only). */
  constructor(private readonly random: () => number) {}

  get size(): number {
    return this.stats.size;
  }

  get(key: string): KeyStat | undefined {
    return this.stats.get(key);
  }

  clear(): void {
    this.stats.clear();
    this.all.length = 0;
    this.volatile.length = 0;
    this.usedBytes = 0;
    this.evictingBytes = 0;
  }

  private entry(key: string, nowMs: number): KeyStat {
    let s = this.stats.get(key);
    if (!s) {
      s = { mainBytes: 0, fieldBytes: 0, expireAtMs: 0, accessMs: nowMs, lfu: LFU_INIT_VAL, lfuMs: nowMs, pos: this.all.length, vpos: -1, evicting: false };
      this.stats.set(key, s);
      this.all.push(key);
    }
    return s;
  }

  private addBytes(s: KeyStat, delta: number): void {
    this.usedBytes += delta;
    if (s.evicting) this.evictingBytes += delta;
  }

  private setExpiry(key: string, s: KeyStat, expireAtMs: number): void {
    s.expireAtMs = expireAtMs;
    if (expireAtMs !== 0 && s.vpos < 0) {
      s.vpos = this.volatile.length;
      this.volatile.push(key);
    } else if (expireAtMs === 0 && s.vpos >= 0) {
      removeAt(this.volatile, s.vpos, (k, i) => (this.stats.get(k)!.vpos = i));
      s.vpos = -1;
    }
  }

  /** A key's main record was written (created or replaced). `isNew`: the key did not exist. */
  put(key: string, keyLen: number, valueLen: number, expireAtMs: number, nowMs: number, isNew: boolean): KeyStat {
    const s = this.entry(key, nowMs);
    const bytes = keyRecordBytes(keyLen, valueLen);
    this.addBytes(s, bytes - s.mainBytes);
    s.mainBytes = bytes;
    this.setExpiry(key, s, expireAtMs);
    if (!isNew) touchStat(s, nowMs, this.random);
    return s;
  }

  /** A hash field record was written; `oldValueLen` is the replaced value's length, if any. */
  putField(key: string, keyLen: number, fieldLen: number, valueLen: number, oldValueLen: number | undefined, nowMs: number): void {
    const s = this.entry(key, nowMs);
    const delta = fieldRecordBytes(keyLen, fieldLen, valueLen) - (oldValueLen === undefined ? 0 : fieldRecordBytes(keyLen, fieldLen, oldValueLen));
    s.fieldBytes += delta;
    this.addBytes(s, delta);
  }

  /** A hash field record was deleted; `oldValueLen` is its value's length (undefined: there was none). */
  delField(key: string, keyLen: number, fieldLen: number, oldValueLen: number | undefined): void {
    const s = this.stats.get(key);
    if (!s || oldValueLen === undefined) return;
    const delta = -fieldRecordBytes(keyLen, fieldLen, oldValueLen);
    s.fieldBytes += delta;
    this.addBytes(s, delta);
  }

  /** A key and all its records were deleted. */
  del(key: string): void {
    const s = this.stats.get(key);
    if (!s) return;
    this.addBytes(s, -keyBytes(s));
    this.setExpiry(key, s, 0);
    removeAt(this.all, s.pos, (k, i) => (this.stats.get(k)!.pos = i));
    this.stats.delete(key);
  }

  /** Marks a key as chosen for eviction (its bytes count as about to be freed). */
  markEvicting(key: string): void {
    const s = this.stats.get(key);
    if (!s || s.evicting) return;
    s.evicting = true;
    this.evictingBytes += keyBytes(s);
  }

  /** Clears the mark of a key whose eviction did not happen (proposal failed, or skipped at apply). */
  unmarkEvicting(key: string): void {
    const s = this.stats.get(key);
    if (!s || !s.evicting) return;
    s.evicting = false;
    this.evictingBytes -= keyBytes(s);
  }

  /** A random key (any, or only those with a TTL), or undefined when there are none. */
  sample(volatileOnly: boolean, random: () => number): string | undefined {
    const arr = volatileOnly ? this.volatile : this.all;
    if (arr.length === 0) return undefined;
    return arr[Math.floor(random() * arr.length)];
  }

  /** Number of keys with a TTL. */
  get volatileCount(): number {
    return this.volatile.length;
  }
}

function removeAt(arr: string[], i: number, moved: (key: string, at: number) => void): void {
  const last = arr.pop()!;
  if (i < arr.length) {
    arr[i] = last;
    moved(last, i);
  }
}

/** Redis's LFUDecrAndReturn: the counter after decaying one step per elapsed decay period (minutes, as Redis counts them). */
export function lfuDecayed(s: KeyStat, nowMs: number): number {
  const periods = Math.floor((Math.floor(nowMs / 60_000) - Math.floor(s.lfuMs / 60_000)) / LFU_DECAY_MINUTES);
  if (periods <= 0) return s.lfu;
  return periods > s.lfu ? 0 : s.lfu - periods;
}

/** Records one access: LRU time and Redis's LFULogIncr (probabilistic logarithmic increment). */
export function touchStat(s: KeyStat, nowMs: number, random: () => number): void {
  let counter = lfuDecayed(s, nowMs);
  if (nowMs > s.lfuMs) s.lfuMs = nowMs;
  if (counter < 255) {
    const base = Math.max(0, counter - LFU_INIT_VAL);
    if (random() < 1 / (base * LFU_LOG_FACTOR + 1)) counter++;
  }
  s.lfu = counter;
  if (nowMs > s.accessMs) s.accessMs = nowMs;
}
