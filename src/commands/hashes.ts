/**
 * Hashes. The key's record (type Hash) holds the field count; each field is a
 * storage record of its own (putField/delField), so HSET or HGET of one field
 * never reads or rewrites the whole hash. A hash left with no fields is
 * deleted, as in Redis. Fields are kept, and listed, in byte order.
 */
import { array, bulk, integer, map, nullBulk, ok, type Reply } from '../resp/encoder.js';
import {
  errHashNotFloat, errHashNotInteger, errIncrNanOrInf, errInvalidCursor, errNanOrInfinity, errNotFloat, errNotInteger,
  errOverflow, errSyntax, errWrongArgs, errWrongType,
} from '../resp/replies.js';
import { clearIfExpired, lookup, valueBytes, ValueType, type ReadContext, type StoredValue, type WriteContext } from './keyspace.js';
import { INT64_MAX, INT64_MIN, lower, parseInt64, toReplyInt, type KeyedCommand } from './spec.js';
import { addDecimal, formatDecimal, parseDecimal } from './decimal.js';
import { globMatch } from './glob.js';

/** The live hash at `key`; undefined when absent; WRONGTYPE for another type. */
function hashAt(ctx: ReadContext | WriteContext, key: Buffer): StoredValue | undefined | Reply {
  const v = lookup(ctx, key);
  if (v === undefined) return undefined;
  if (v.type !== ValueType.Hash) return errWrongType();
  return v;
}

const isReply = (x: unknown): x is Reply => typeof x === 'object' && x !== null && 'kind' in x && !('revision' in x);

function fieldCount(v: StoredValue | undefined): number {
  return v === undefined ? 0 : Number(valueBytes(v).toString('latin1'));
}

/** Writes the key record of a hash after its fields changed (deleting it when empty). */
function saveHash(ctx: WriteContext, key: Buffer, old: StoredValue | undefined, count: number): void {
  if (count === 0) {
    if (ctx.ks.getRaw(key) !== undefined) ctx.ks.del(key);
    return;
  }
  ctx.ks.put(key, { type: ValueType.Hash, value: Buffer.from(String(count), 'latin1'), expireAtMs: old?.expireAtMs ?? 0, revision: ctx.revision });
}

/** The hash to write into: the live one, or none after clearing an expired one. */
function hashForWrite(ctx: WriteContext, key: Buffer): StoredValue | undefined | Reply {
  const h = hashAt(ctx, key);
  if (h === undefined) clearIfExpired(ctx, key);
  return h;
}

function hsetCommand(name: 'hset' | 'hmset'): KeyedCommand {
  return {
    kind: 'write',
    name,
    validate: (args) => (args.length % 2 === 0 ? undefined : errWrongArgs(name)),
    apply(ctx, args) {
      if (args.length % 2 !== 0) return errWrongArgs(name);
      const h = hashForWrite(ctx, args[1]);
      if (isReply(h)) return h;
      let count = fieldCount(h);
      let added = 0;
      for (let i = 2; i + 1 < args.length; i += 2) {
        if (ctx.ks.getField(args[1], args[i]) === undefined) {
          count++;
          added++;
        }
        ctx.ks.putField(args[1], Buffer.from(args[i]), Buffer.from(args[i + 1]));
      }
      saveHash(ctx, args[1], h, count);
      return name === 'hset' ? integer(added) : ok();
    },
  };
}

const hsetnx: KeyedCommand = {
  kind: 'write',
  name: 'hsetnx',
  apply(ctx, args) {
    const h = hashForWrite(ctx, args[1]);
    if (isReply(h)) return h;
    if (h !== undefined && ctx.ks.getField(args[1], args[2]) !== undefined) return integer(0);
    ctx.ks.putField(args[1], Buffer.from(args[2]), Buffer.from(args[3]));
    saveHash(ctx, args[1], h, fieldCount(h) + 1);
    return integer(1);
  },
};

const hget: KeyedCommand = {
  kind: 'read',
  name: 'hget',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    const v = h === undefined ? undefined : ctx.ks.getField(args[1], args[2]);
    return v === undefined ? nullBulk() : bulk(Buffer.from(v));
  },
};

const hmget: KeyedCommand = {
  kind: 'read',
  name: 'hmget',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    return array(args.slice(2).map((f) => {
      const v = h === undefined ? undefined : ctx.ks.getField(args[1], f);
      return v === undefined ? nullBulk() : bulk(Buffer.from(v));
    }));
  },
};

const hdel: KeyedCommand = {
  kind: 'write',
  name: 'hdel',
  apply(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    if (h === undefined) return integer(0);
    let count = fieldCount(h);
    let removed = 0;
    for (let i = 2; i < args.length; i++) {
      if (ctx.ks.getField(args[1], args[i]) === undefined) continue;
      ctx.ks.delField(args[1], args[i]);
      count--;
      removed++;
    }
    if (removed > 0) saveHash(ctx, args[1], h, count);
    return integer(removed);
  },
};

const hlen: KeyedCommand = {
  kind: 'read',
  name: 'hlen',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    return integer(fieldCount(h));
  },
};

const hexists: KeyedCommand = {
  kind: 'read',
  name: 'hexists',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    return integer(h !== undefined && ctx.ks.getField(args[1], args[2]) !== undefined ? 1 : 0);
  },
};

const hstrlen: KeyedCommand = {
  kind: 'read',
  name: 'hstrlen',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    return integer(h === undefined ? 0 : ctx.ks.getField(args[1], args[2])?.length ?? 0);
  },
};

function listCommand(name: string, shape: 'all' | 'keys' | 'vals'): KeyedCommand {
  return {
    kind: 'read',
    name,
    async read(ctx, args) {
      const h = hashAt(ctx, args[1]);
      if (isReply(h)) return h;
      const fields = h === undefined ? [] : await ctx.ks.fields(args[1]);
      if (shape === 'all') return map(fields.map(([f, v]) => [bulk(f), bulk(v)] as const));
      return array(fields.map(([f, v]) => bulk(shape === 'keys' ? f : v)));
    },
  };
}

const hincrby: KeyedCommand = {
  kind: 'write',
  name: 'hincrby',
  validate: (args) => (parseInt64(args[3]) === undefined ? errNotInteger() : undefined),
  apply(ctx, args) {
    const by = parseInt64(args[3]);
    if (by === undefined) return errNotInteger();
    const h = hashForWrite(ctx, args[1]);
    if (isReply(h)) return h;
    const old = h === undefined ? undefined : ctx.ks.getField(args[1], args[2]);
    let current = 0n;
    if (old !== undefined) {
      const n = parseInt64(old);
      if (n === undefined) return errHashNotInteger();
      current = n;
    }
    const next = current + by;
    if (next > INT64_MAX || next < INT64_MIN) return errOverflow();
    ctx.ks.putField(args[1], Buffer.from(args[2]), Buffer.from(next.toString(), 'latin1'));
    saveHash(ctx, args[1], h, fieldCount(h) + (old === undefined ? 1 : 0));
    return integer(toReplyInt(next));
  },
};

const hincrbyfloat: KeyedCommand = {
  kind: 'write',
  name: 'hincrbyfloat',
  validate(args) {
    const by = parseDecimal(args[3]);
    if (by === undefined) return errNotFloat();
    return 'inf' in by ? errNanOrInfinity() : undefined;
  },
  apply(ctx, args) {
    const by = parseDecimal(args[3]);
    if (by === undefined) return errNotFloat();
    if ('inf' in by) return errNanOrInfinity();
    const h = hashForWrite(ctx, args[1]);
    if (isReply(h)) return h;
    const old = h === undefined ? undefined : ctx.ks.getField(args[1], args[2]);
    const current = old === undefined ? { mant: 0n, exp: 0 } : parseDecimal(old);
    if (current === undefined) return errHashNotFloat();
    const sum = addDecimal(current, by);
    if (sum === undefined || 'inf' in sum) return errIncrNanOrInf();
    const text = Buffer.from(formatDecimal(sum), 'latin1');
    ctx.ks.putField(args[1], Buffer.from(args[2]), text);
    saveHash(ctx, args[1], h, fieldCount(h) + (old === undefined ? 1 : 0));
    return bulk(text);
  },
};

/** Hashes up to this many fields come back whole from one HSCAN call (Redis's listpack limit). */
const HSCAN_WHOLE_MAX = 512;

const hscan: KeyedCommand = {
  kind: 'read',
  name: 'hscan',
  validate(args) {
    if (!/^\d+$/.test(args[2].toString('latin1'))) return errInvalidCursor();
    return undefined;
  },
  async read(ctx, args) {
    const c = args[2].toString('latin1');
    if (!/^\d+$/.test(c)) return errInvalidCursor();
    let count = 10;
    let pattern: Buffer | undefined;
    for (let i = 3; i < args.length; i++) {
      const opt = lower(args[i]);
      if (opt === 'count' && i + 1 < args.length) {
        const n = parseInt64(args[++i]);
        if (n === undefined) return errNotInteger();
        if (n < 1n) return errSyntax();
        count = Number(n);
      } else if (opt === 'match' && i + 1 < args.length) {
        pattern = args[++i];
      } else return errSyntax();
    }
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    const fields = h === undefined ? [] : await ctx.ks.fields(args[1]);
    // The cursor is an offset into the fields in byte order.
    const from = fields.length <= HSCAN_WHOLE_MAX ? 0 : Math.min(Number(BigInt(c) > 2n ** 52n ? 2n ** 52n : BigInt(c)), fields.length);
    const to = fields.length <= HSCAN_WHOLE_MAX ? fields.length : Math.min(fields.length, from + count);
    const out: Reply[] = [];
    for (const [f, v] of fields.slice(from, to)) {
      if (pattern !== undefined && !globMatch(pattern, f)) continue;
      out.push(bulk(f), bulk(v));
    }
    return array([bulk(to >= fields.length ? '0' : String(to)), array(out)]);
  },
};

export const HASH_COMMANDS: KeyedCommand[] = [
  hsetCommand('hset'), hsetCommand('hmset'), hsetnx, hget, hmget, hdel, hlen, hexists, hstrlen,
  listCommand('hgetall', 'all'), listCommand('hkeys', 'keys'), listCommand('hvals', 'vals'), hincrby, hincrbyfloat, hscan,
];
