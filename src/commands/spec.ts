import type { Reply } from '../resp/encoder.js';
import type { ReadContext, WriteContext } from './keyspace.js';

/**
 * How a keyed command runs. `validate` rejects bad syntax at the edge, before
 * anything is proposed (so a syntax error never costs a Raft round). A write's
 * `apply` runs on every replica from the committed entry and must be
 * deterministic: it may look only at its arguments, the keyspace, and the
 * entry's stamp and index.
 */
export type KeyedCommand =
  | {
      kind: 'read';
      name: string;
      validate?: (args: Buffer[]) => Reply | undefined;
      read: (ctx: ReadContext, args: Buffer[]) => Reply | Promise<Reply>;
      /** How replies of a command split over several groups combine (multi-key commands). */
      combine?: Combine;
    }
  | {
      kind: 'write';
      name: string;
      validate?: (args: Buffer[]) => Reply | undefined;
      apply: (ctx: WriteContext, args: Buffer[]) => Reply | Promise<Reply>;
      combine?: Combine;
    };

/**
 * How a multi-key command whose keys span groups is split: `sum` adds the
 * integer replies (DEL, EXISTS), `gather` puts array replies back in argument
 * order (MGET). Commands without it need all keys in one slot (CROSSSLOT).
 */
export type Combine = 'sum' | 'gather';

/** Parses a Redis integer argument as Redis's string2ll does: no spaces, no '+', no leading zeros. */
export function parseInt64(arg: Buffer | string): bigint | undefined {
  const s = typeof arg === 'string' ? arg : arg.toString('latin1');
  if (s.length === 0 || s.length > 20) return undefined;
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > INT64_MAX || v < INT64_MIN) return undefined;
  return v;
}

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;

/** An integer reply from a bigint known to be in int64 range. */
export function toReplyInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function lower(arg: Buffer): string {
  return arg.toString('latin1').toLowerCase();
}

const UINT64_MAX = 0xffffffffffffffffn;

/**
 * A SCAN-family cursor as Redis 7.0 reads it (parseScanCursorOrReply: strtoul, base
 * 10): no leading space, an optional sign, digits; "" is 0 and "-N" wraps to 2^64-N;
 * anything else, or a value past 2^64-1, is undefined (`ERR invalid cursor`).
 */
export function parseScanCursor(arg: Buffer | string): bigint | undefined {
  const m = /^([+-]?)(\d*)$/.exec(typeof arg === 'string' ? arg : arg.toString('latin1'));
  if (m === null) return undefined;
  if (m[2] === '') return m[1] === '' ? 0n : undefined;
  const n = BigInt(m[2]);
  if (n > UINT64_MAX) return undefined;
  return m[1] === '-' ? (UINT64_MAX + 1n - n) & UINT64_MAX : n;
}
