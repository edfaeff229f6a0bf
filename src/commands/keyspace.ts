/** The state-machine view commands work on: typed values with expiry and revision. */

import { ValueType, type StoredValue } from '../storage/types.js';

export { ValueType, type StoredValue };

/** Raw access to one group's keys, expired ones included. */
export interface KeyspaceReader {
  getRaw(key: Buffer): StoredValue | undefined;
}

export interface KeyspaceWriter extends KeyspaceReader {
  put(key: Buffer, value: StoredValue): void;
  del(key: Buffer): void;
}

/** What a read command sees: the group's keys at one instant. */
export interface ReadContext {
  ks: KeyspaceReader;
  /** Time used to judge expiry. */
  nowMs: number;
}

/** What a write command sees while it is applied from a committed entry. */
export interface WriteContext {
  ks: KeyspaceWriter;
  /** The leader's stamp on the entry: the only clock applies may use. */
  nowMs: number;
  /** Index of the entry: the revision of every key it changes. */
  revision: number;
}

/** The live value of a key, or undefined if absent or expired at `nowMs`. */
export function lookup(ctx: ReadContext | WriteContext, key: Buffer): StoredValue | undefined {
  const v = ctx.ks.getRaw(key);
  if (v === undefined) return undefined;
  if (v.expireAtMs !== 0 && v.expireAtMs <= ctx.nowMs) return undefined;
  return v;
}

/**
 * A write-through overlay: writes of earlier ops in one apply batch are seen
 * by later ops before the storage batch is committed.
 */
export class OverlayKeyspace implements KeyspaceWriter {
  private readonly pending = new Map<string, StoredValue | null>();

  constructor(
    private readonly base: KeyspaceReader,
    /** `existed`: whether the key was stored (live or expired) before this write. */
    private readonly onPut: (key: Buffer, value: StoredValue, existed: boolean) => void,
    private readonly onDel: (key: Buffer, existed: boolean) => void,
  ) {}

  getRaw(key: Buffer): StoredValue | undefined {
    const k = key.toString('latin1');
    if (this.pending.has(k)) return this.pending.get(k) ?? undefined;
    return this.base.getRaw(key);
  }

  put(key: Buffer, value: StoredValue): void {
    const existed = this.getRaw(key) !== undefined;
    this.pending.set(key.toString('latin1'), value);
    this.onPut(key, value, existed);
  }

  del(key: Buffer): void {
    const existed = this.getRaw(key) !== undefined;
    this.pending.set(key.toString('latin1'), null);
    this.onDel(key, existed);
  }
}
