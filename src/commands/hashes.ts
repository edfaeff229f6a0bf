/**
 * Hashes. The key's record (type Hash) holds the field count and the next
 * insertion sequence number ("count next", latin1); each field is a storage
 * record of its own (putField/delField) whose value is its sequence number
 * (u48be) followed by the field's value, so HSET or HGET of one field never
 * reads or rewrites the whole hash. A new field takes the next sequence number,
 * a field written again keeps its own, so listing by sequence number gives
 * insertion order, as Redis's listpack encoding does for small hashes. A hash
 * left with no fields is deleted, as in Redis.
 */
import { array, bulk, integer, map, nullBulk, ok, type Reply } from '../resp/encoder.js';
import {
  errHashNotFloat, errHashNotInteger, errIncrNanOrInf, errInvalidCursor, errNanOrInfinity, errNotFloat, errNotInteger,
  errOverflow, errSyntax, errWrongArgs, errWrongType,
} from '../resp/replies.js';
import { clearIfExpired, lookup, valueBytes, ValueType, type ReadContext, type StoredValue, type WriteContext } from './keyspace.js';
import { INT64_MAX, INT64_MIN, lower, parseInt64, parseScanCursor, toReplyInt, type KeyedCommand } from './spec.js';
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

/** What a hash's key record holds. */
interface HashMeta {
  count: number;
  /** Sequence number the next new field takes (fields list in sequence order). */
  nextSeq: number;
}

function hashMeta(v: StoredValue | undefined): HashMeta {
  if (v === undefined) return { count: 0, nextSeq: 1 };
  const [count, next] = valueBytes(v).toString('latin1').split(' ');
  return { count: Number(count), nextSeq: Number(next) };
}

function fieldCount(v: StoredValue | undefined): number {
  return hashMeta(v).count;
}

const SEQ_BYTES = 6;

interface FieldValue {
  seq: number;
  value: Buffer;
}

function decodeField(raw: Buffer): FieldValue {
  return { seq: raw.readUIntBE(0, SEQ_BYTES), value: raw.subarray(SEQ_BYTES) };
}

function encodeField(seq: number, value: Buffer): Buffer {
  const b = Buffer.allocUnsafe(SEQ_BYTES + value.length);
  b.writeUIntBE(seq, 0, SEQ_BYTES);
  value.copy(b, SEQ_BYTES);
  return b;
}

/** One field of the hash at `key` (the caller checked the key is a live hash). */
function getField(ctx: ReadContext | WriteContext, key: Buffer, field: Buffer): FieldValue | undefined {
  const raw = ctx.ks.getField(key, field);
  return raw === undefined ? undefined : decodeField(raw);
}

/**
 * Sets one field, keeping its place when it exists, appending it otherwise; true when new.
 * `known`: the field's stored value when the caller has just read it, null when it has none.
 */
function setField(ctx: WriteContext, key: Buffer, meta: HashMeta, field: Buffer, value: Buffer, known?: Buffer | null): boolean {
  // A hash with no fields yet (a new one) has none to find: skip the read, which for a field
  // the store has not cached is a LevelDB lookup. The write is told what the read found.
  const raw = known !== undefined ? known ?? undefined : meta.count === 0 ? undefined : ctx.ks.getField(key, field);
  const old = raw === undefined ? undefined : decodeField(raw);
  const seq = old?.seq ?? meta.nextSeq++;
  ctx.ks.putField(key, Buffer.from(field), encodeField(seq, value), raw ?? null);
  if (old === undefined) meta.count++;
  return old === undefined;
}

/** Every field of a live hash in insertion order, with its sequence number. */
async function allFields(ctx: ReadContext | WriteContext, key: Buffer): Promise<Array<[Buffer, FieldValue]>> {
  const out = (await ctx.ks.fields(key)).map(([f, raw]) => [f, decodeField(raw)] as [Buffer, FieldValue]);
  return out.sort((a, b) => a[1].seq - b[1].seq);
}

/** Writes the key record of a hash after its fields changed (deleting it when empty). */
function saveHash(ctx: WriteContext, key: Buffer, old: StoredValue | undefined, meta: HashMeta): void {
  if (meta.count === 0) {
    if (ctx.ks.getRaw(key) !== undefined) ctx.ks.del(key);
    return;
  }
  const value = Buffer.from(`${meta.count} ${meta.nextSeq}`, 'latin1');
  ctx.ks.put(key, { type: ValueType.Hash, value, expireAtMs: old?.expireAtMs ?? 0, revision: ctx.revision });
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
      const meta = hashMeta(h);
      let added = 0;
      for (let i = 2; i + 1 < args.length; i += 2) if (setField(ctx, args[1], meta, args[i], args[i + 1])) added++;
      saveHash(ctx, args[1], h, meta);
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
    const meta = hashMeta(h);
    setField(ctx, args[1], meta, args[2], args[3], null);
    saveHash(ctx, args[1], h, meta);
    return integer(1);
  },
};

const hget: KeyedCommand = {
  kind: 'read',
  name: 'hget',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    const v = h === undefined ? undefined : getField(ctx, args[1], args[2]);
    return v === undefined ? nullBulk() : bulk(Buffer.from(v.value));
  },
};

const hmget: KeyedCommand = {
  kind: 'read',
  name: 'hmget',
  read(ctx, args) {
    const h = hashAt(ctx, args[1]);
    if (isReply(h)) return h;
    return array(args.slice(2).map((f) => {
      const v = h === undefined ? undefined : getField(ctx, args[1], f);
      return v === undefined ? nullBulk() : bulk(Buffer.from(v.value));
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
    const meta = hashMeta(h);
    let removed = 0;
    for (let i = 2; i < args.length; i++) {
      const old = ctx.ks.getField(args[1], args[i]);
      if (old === undefined) continue;
      ctx.ks.delField(args[1], args[i], old);
      meta.count--;
      removed++;
    }
    if (removed > 0) saveHash(ctx, args[1], h, meta);
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
    return integer(h === undefined ? 0 : getField(ctx, args[1], args[2])?.value.length ?? 0);
  },
};

function listCommand(name: string, shape: 'all' | 'keys' | 'vals'): KeyedCommand {
  return {
    kind: 'read',
    name,
    async read(ctx, args) {
      const h = hashAt(ctx, args[1]);
      if (isReply(h)) return h;
      const fields = h === undefined ? [] : await allFields(ctx, args[1]);
      if (shape === 'all') return map(fields.map(([f, v]) => [bulk(f), bulk(v.value)] as const));
      return array(fields.map(([f, v]) => bulk(shape === 'keys' ? f : v.value)));
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
    const raw = h === undefined ? null : ctx.ks.getField(args[1], args[2]) ?? null;
    const old = raw === null ? undefined : decodeField(raw).value;
    let current = 0n;
    if (old !== undefined) {
      const n = parseInt64(old);
      if (n === undefined) return errHashNotInteger();
      current = n;
    }
    const next = current + by;
    if (next > INT64_MAX || next < INT64_MIN) return errOverflow();
    const meta = hashMeta(h);
    setField(ctx, args[1], meta, args[2], Buffer.from(next.toString(), 'latin1'), raw);
    saveHash(ctx, args[1], h, meta);
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
    const raw = h === undefined ? null : ctx.ks.getField(args[1], args[2]) ?? null;
    const old = raw === null ? undefined : decodeField(raw).value;
    const current = old === undefined ? { mant: 0n, exp: 0 } : parseDecimal(old);
    if (current === undefined) return errHashNotFloat();
    const sum = addDecimal(current, by);
    if (sum === undefined || 'inf' in sum) return errIncrNanOrInf();
    const text = Buffer.from(formatDecimal(sum), 'latin1');
    const meta = hashMeta(h);
    setField(ctx, args[1], meta, args[2], text, raw);
    saveHash(ctx, args[1], h, meta);
    return bulk(text);
  },
};

/** Hashes up to this many fields come back whole from one HSCAN call (as Redis does for listpack hashes). */
const HSCAN_WHOLE_MAX = 512;

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]. A small hash comes back whole
 * (cursor 0). A larger one is walked in insertion order and the cursor is the
 * sequence number of the next field to return: a field keeps its number for as
 * long as it exists and new fields take higher ones, so a field present for the
 * whole scan is returned exactly once, on any node, whatever happens between calls.
 */
const hscan: KeyedCommand = {
  kind: 'read',
  name: 'hscan',
  validate(args) {
    return parseScanCursor(args[2]) === undefined ? errInvalidCursor() : undefined;
  },
  async read(ctx, args) {
    const cursor = parseScanCursor(args[2]);
    if (cursor === undefined) return errInvalidCursor();
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
    const fields = h === undefined ? [] : await allFields(ctx, args[1]);
    let page = fields;
    let next = 0;
    if (fields.length > HSCAN_WHOLE_MAX) {
      const from = fields.findIndex(([, v]) => BigInt(v.seq) >= cursor);
      page = from < 0 ? [] : fields.slice(from, from + count);
      next = from < 0 || from + count >= fields.length ? 0 : fields[from + count][1].seq;
    }
    const out: Reply[] = [];
    for (const [f, v] of page) {
      if (pattern !== undefined && !globMatch(pattern, f)) continue;
      out.push(bulk(f), bulk(v.value));
    }
    return array([bulk(String(next)), array(out)]);
  },
};

export const HASH_COMMANDS: KeyedCommand[] = [
  hsetCommand('hset'), hsetCommand('hmset'), hsetnx, hget, hmget, hdel, hlen, hexists, hstrlen,
  listCommand('hgetall', 'all'), listCommand('hkeys', 'keys'), listCommand('hvals', 'vals'), hincrby, hincrbyfloat, hscan,
];
