import { array, bulk, integer, ok, nullBulk, type Reply } from '../resp/encoder.js';
import {
  errDecrementOverflow, errIncrNanOrInf, errInvalidExpireTime, errNotFloat, errNotInteger, errOffsetOutOfRange, errOverflow, errStringTooLong,
  errSyntax, errWrongArgs, errWrongType,
} from '../resp/replies.js';
import { lookup, valueBytes, ValueType, type ReadContext, type WriteContext } from './keyspace.js';
import { INT64_MAX, INT64_MIN, lower, parseInt64, toReplyInt, type KeyedCommand } from './spec.js';
import { addDecimal, formatDecimal, parseDecimal } from './decimal.js';

/** Redis's proto-max-bulk-len default: the largest string value. */
export const STRING_BYTES_MAX = 512 * 1024 * 1024;

const get: KeyedCommand = {
  kind: 'read',
  name: 'get',
  read(ctx, args) {
    const v = lookup(ctx, args[1]);
    if (v === undefined) return nullBulk();
    if (v.type !== ValueType.String) return errWrongType();
    return bulk(v.value instanceof Buffer ? v.value : Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength));
  },
};

/** SET's options, parsed once at the edge and again at apply (both deterministic). */
interface SetOptions {
  cond: 'nx' | 'xx' | null;
  get: boolean;
  keepTtl: boolean;
  /** Unit of `expire`, or null for none. */
  expireKind: 'ex' | 'px' | 'exat' | 'pxat' | null;
  expire: bigint;
}

/**
 * SET's options as Redis 7.0 reads them (parseExtendedStringArgumentsOrReply): an option
 * may repeat (NX NX, EX 1 EX 2: the last value counts) but not clash (NX XX, EX PX,
 * KEEPTTL EX); the expiry value is checked only after every option was read.
 */
function parseSetOptions(args: Buffer[]): SetOptions | Reply {
  const o: SetOptions = { cond: null, get: false, keepTtl: false, expireKind: null, expire: 0n };
  let expireArg: Buffer | undefined;
  for (let i = 3; i < args.length; i++) {
    const opt = lower(args[i]);
    const hasNext = i + 1 < args.length;
    if ((opt === 'nx' || opt === 'xx') && o.cond !== (opt === 'nx' ? 'xx' : 'nx')) o.cond = opt;
    else if (opt === 'get') o.get = true;
    else if (opt === 'keepttl' && o.expireKind === null) o.keepTtl = true;
    else if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && (o.expireKind === null || o.expireKind === opt) && !o.keepTtl && hasNext) {
      o.expireKind = opt;
      expireArg = args[++i];
    } else return errSyntax();
  }
  if (o.expireKind !== null) {
    const n = parseInt64(expireArg!);
    if (n === undefined) return errNotInteger();
    o.expire = n;
    const unitMs = o.expireKind === 'ex' || o.expireKind === 'exat' ? 1000n : 1n;
    if (o.expire <= 0n || o.expire > INT64_MAX / unitMs) return errInvalidExpireTime('set');
  }
  return o;
}

/** The absolute expiry (ms) for a SET at `nowMs`, or an error if it overflows. */
export function absoluteExpiry(o: { expireKind: SetOptions['expireKind']; expire: bigint }, nowMs: number, command = 'set'): number | Reply {
  const now = BigInt(Math.floor(nowMs));
  let at: bigint;
  switch (o.expireKind) {
    case 'ex': at = now + o.expire * 1000n; break;
    case 'px': at = now + o.expire; break;
    case 'exat': at = o.expire * 1000n; break;
    case 'pxat': at = o.expire; break;
    default: return 0;
  }
  if (at > INT64_MAX) return errInvalidExpireTime(command);
  // Beyond 2^53 ms (~285,000 years) precision is moot; clamp to stay a safe number.
  return at > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(at);
}

const set: KeyedCommand = {
  kind: 'write',
  name: 'set',
  validate(args) {
    const o = parseSetOptions(args);
    return 'kind' in o ? o : undefined;
  },
  apply(ctx, args) {
    const o = parseSetOptions(args);
    if ('kind' in o) return o;
    const key = args[1];
    const old = lookup(ctx, key);
    if (o.get && old !== undefined && old.type !== ValueType.String) return errWrongType();
    const previous = o.get ? (old === undefined ? nullBulk() : bulk(Buffer.from(old.value))) : undefined;
    if ((o.cond === 'nx' && old !== undefined) || (o.cond === 'xx' && old === undefined)) {
      return previous ?? nullBulk();
    }
    let expireAtMs = 0;
    if (o.keepTtl && old !== undefined) expireAtMs = old.expireAtMs;
    if (o.expireKind !== null) {
      const at = absoluteExpiry(o, ctx.nowMs);
      if (typeof at !== 'number') return at;
      expireAtMs = at;
    }
    if (expireAtMs !== 0 && expireAtMs <= ctx.nowMs) {
      // An expiry already in the past deletes the key, as Redis does.
      ctx.ks.del(key);
    } else {
      // The store copies the value when it stages the write (a view into the entry until then).
      ctx.ks.put(key, { type: ValueType.String, value: args[2], expireAtMs, revision: ctx.revision });
    }
    return previous ?? ok();
  },
};

function incrementBy(ctx: WriteContext, key: Buffer, by: bigint): Reply {
  const old = lookup(ctx, key);
  let current = 0n;
  if (old !== undefined) {
    if (old.type !== ValueType.String) return errWrongType();
    const n = parseInt64(Buffer.from(old.value.buffer, old.value.byteOffset, old.value.byteLength));
    if (n === undefined) return errNotInteger();
    current = n;
  }
  const next = current + by;
  if (next > INT64_MAX || next < INT64_MIN) return errOverflow();
  ctx.ks.put(key, {
    type: ValueType.String,
    value: Buffer.from(next.toString(), 'latin1'),
    expireAtMs: old?.expireAtMs ?? 0,
    revision: ctx.revision,
  });
  return integer(toReplyInt(next));
}

function byArgument(args: Buffer[], negate: boolean): bigint | Reply {
  const n = parseInt64(args[2]);
  if (n === undefined) return errNotInteger();
  if (negate && n === INT64_MIN) return errDecrementOverflow();
  return negate ? -n : n;
}

const incr: KeyedCommand = { kind: 'write', name: 'incr', apply: (ctx, args) => incrementBy(ctx, args[1], 1n) };
const decr: KeyedCommand = { kind: 'write', name: 'decr', apply: (ctx, args) => incrementBy(ctx, args[1], -1n) };

function incrByCommand(name: string, negate: boolean): KeyedCommand {
  return {
    kind: 'write',
    name,
    validate(args) {
      const by = byArgument(args, negate);
      return typeof by === 'bigint' ? undefined : by;
    },
    apply(ctx, args) {
      const by = byArgument(args, negate);
      return typeof by === 'bigint' ? incrementBy(ctx, args[1], by) : by;
    },
  };
}


function putString(ctx: WriteContext, key: Buffer, value: Buffer, expireAtMs: number): void {
  ctx.ks.put(key, { type: ValueType.String, value, expireAtMs, revision: ctx.revision });
}

/** The live string at `key`: undefined when absent, an error reply for another type. */
function stringAt(ctx: ReadContext | WriteContext, key: Buffer): Buffer | undefined | Reply {
  const v = lookup(ctx, key);
  if (v === undefined) return undefined;
  if (v.type !== ValueType.String) return errWrongType();
  return valueBytes(v);
}

const isReply = (x: unknown): x is Reply => typeof x === 'object' && x !== null && 'kind' in x;

const setnx: KeyedCommand = {
  kind: 'write',
  name: 'setnx',
  apply(ctx, args) {
    if (lookup(ctx, args[1]) !== undefined) return integer(0);
    putString(ctx, args[1], Buffer.from(args[2]), 0);
    return integer(1);
  },
};

/** SETEX / PSETEX key ttl value. */
function setexCommand(name: 'setex' | 'psetex'): KeyedCommand {
  const parse = (args: Buffer[]): bigint | Reply => {
    const n = parseInt64(args[2]);
    if (n === undefined) return errNotInteger();
    if (n <= 0n || (name === 'setex' && n > INT64_MAX / 1000n)) return errInvalidExpireTime(name);
    return n;
  };
  return {
    kind: 'write',
    name,
    validate(args) {
      const n = parse(args);
      return typeof n === 'bigint' ? undefined : n;
    },
    apply(ctx, args) {
      const n = parse(args);
      if (typeof n !== 'bigint') return n;
      const at = absoluteExpiry({ expireKind: name === 'setex' ? 'ex' : 'px', expire: n }, ctx.nowMs, name);
      if (typeof at !== 'number') return at;
      putString(ctx, args[1], Buffer.from(args[3]), at);
      return ok();
    },
  };
}

const getset: KeyedCommand = {
  kind: 'write',
  name: 'getset',
  apply(ctx, args) {
    const old = stringAt(ctx, args[1]);
    if (isReply(old)) return old;
    putString(ctx, args[1], Buffer.from(args[2]), 0);
    return old === undefined ? nullBulk() : bulk(Buffer.from(old));
  },
};

const getdel: KeyedCommand = {
  kind: 'write',
  name: 'getdel',
  apply(ctx, args) {
    const old = stringAt(ctx, args[1]);
    if (isReply(old)) return old;
    if (old === undefined) return nullBulk();
    const reply = bulk(Buffer.from(old));
    ctx.ks.del(args[1]);
    return reply;
  },
};

interface GetexOptions { persist: boolean; expireKind: 'ex' | 'px' | 'exat' | 'pxat' | null; expire: bigint }

/** GETEX's options, read as SET's are (see parseSetOptions): PERSIST PERSIST and EX 1 EX 2 are fine. */
function parseGetex(args: Buffer[]): GetexOptions | Reply {
  const o: GetexOptions = { persist: false, expireKind: null, expire: 0n };
  let expireArg: Buffer | undefined;
  for (let i = 2; i < args.length; i++) {
    const opt = lower(args[i]);
    const hasNext = i + 1 < args.length;
    if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && (o.expireKind === null || o.expireKind === opt) && !o.persist && hasNext) {
      o.expireKind = opt;
      expireArg = args[++i];
    } else if (opt === 'persist' && o.expireKind === null) {
      o.persist = true;
    } else return errSyntax();
  }
  if (o.expireKind !== null) {
    const n = parseInt64(expireArg!);
    if (n === undefined) return errNotInteger();
    o.expire = n;
    const unitMs = o.expireKind === 'ex' || o.expireKind === 'exat' ? 1000n : 1n;
    if (o.expire <= 0n || o.expire > INT64_MAX / unitMs) return errInvalidExpireTime('getex');
  }
  return o;
}

const getex: KeyedCommand = {
  kind: 'write',
  name: 'getex',
  validate(args) {
    const o = parseGetex(args);
    return isReply(o) ? o : undefined;
  },
  apply(ctx, args) {
    const o = parseGetex(args);
    if (isReply(o)) return o;
    const v = lookup(ctx, args[1]);
    if (v === undefined) return nullBulk();
    if (v.type !== ValueType.String) return errWrongType();
    const reply = bulk(Buffer.from(valueBytes(v)));
    if (o.expireKind !== null) {
      const at = absoluteExpiry(o, ctx.nowMs, 'getex');
      if (typeof at !== 'number') return at;
      if (at <= ctx.nowMs) ctx.ks.del(args[1]);
      else ctx.ks.put(args[1], { ...v, expireAtMs: at, revision: ctx.revision });
    } else if (o.persist && v.expireAtMs !== 0) {
      ctx.ks.put(args[1], { ...v, expireAtMs: 0, revision: ctx.revision });
    }
    return reply;
  },
};

/** MGET k [k ...]: nil for missing keys and keys of another type. Split per group and gathered. */
const mget: KeyedCommand = {
  kind: 'read',
  name: 'mget',
  combine: 'gather',
  read(ctx, args) {
    const out: Reply[] = [];
    for (let i = 1; i < args.length; i++) {
      const v = lookup(ctx, args[i]);
      out.push(v === undefined || v.type !== ValueType.String ? nullBulk() : bulk(Buffer.from(valueBytes(v))));
    }
    return array(out);
  },
};

function pairsValid(name: string) {
  return (args: Buffer[]): Reply | undefined => ((args.length - 1) % 2 === 0 ? undefined : errWrongArgs(name));
}

/** MSET k v [k v ...]: atomic, so all keys must share a slot (CROSSSLOT otherwise, as Redis Cluster). */
const mset: KeyedCommand = {
  kind: 'write',
  name: 'mset',
  validate: pairsValid('mset'),
  apply(ctx, args) {
    for (let i = 1; i + 1 < args.length; i += 2) putString(ctx, args[i], Buffer.from(args[i + 1]), 0);
    return ok();
  },
};

const msetnx: KeyedCommand = {
  kind: 'write',
  name: 'msetnx',
  validate: pairsValid('msetnx'),
  apply(ctx, args) {
    for (let i = 1; i + 1 < args.length; i += 2) if (lookup(ctx, args[i]) !== undefined) return integer(0);
    for (let i = 1; i + 1 < args.length; i += 2) putString(ctx, args[i], Buffer.from(args[i + 1]), 0);
    return integer(1);
  },
};

const append: KeyedCommand = {
  kind: 'write',
  name: 'append',
  apply(ctx, args) {
    const v = lookup(ctx, args[1]);
    if (v !== undefined && v.type !== ValueType.String) return errWrongType();
    const old = v === undefined ? Buffer.alloc(0) : valueBytes(v);
    if (old.length + args[2].length > STRING_BYTES_MAX) return errStringTooLong();
    const next = Buffer.concat([old, args[2]]);
    putString(ctx, args[1], next, v?.expireAtMs ?? 0);
    return integer(next.length);
  },
};

const strlen: KeyedCommand = {
  kind: 'read',
  name: 'strlen',
  read(ctx, args) {
    const s = stringAt(ctx, args[1]);
    if (isReply(s)) return s;
    return integer(s === undefined ? 0 : s.length);
  },
};

const getrange: KeyedCommand = {
  kind: 'read',
  name: 'getrange',
  validate(args) {
    return parseInt64(args[2]) === undefined || parseInt64(args[3]) === undefined ? errNotInteger() : undefined;
  },
  read(ctx, args) {
    let start = parseInt64(args[2]);
    let end = parseInt64(args[3]);
    if (start === undefined || end === undefined) return errNotInteger();
    const s = stringAt(ctx, args[1]);
    if (isReply(s)) return s;
    const value = s ?? Buffer.alloc(0);
    // Redis 7.0 getrangeCommand, step by step.
    if (start < 0n && end < 0n && start > end) return bulk(Buffer.alloc(0));
    const len = BigInt(value.length);
    if (start < 0n) start = len + start;
    if (end < 0n) end = len + end;
    if (start < 0n) start = 0n;
    if (end < 0n) end = 0n;
    if (end >= len) end = len - 1n;
    if (start > end || len === 0n) return bulk(Buffer.alloc(0));
    return bulk(Buffer.from(value.subarray(Number(start), Number(end) + 1)));
  },
};

const setrange: KeyedCommand = {
  kind: 'write',
  name: 'setrange',
  validate(args) {
    const off = parseInt64(args[2]);
    if (off === undefined) return errNotInteger();
    return off < 0n ? errOffsetOutOfRange() : undefined;
  },
  apply(ctx, args) {
    const off = parseInt64(args[2]);
    if (off === undefined) return errNotInteger();
    if (off < 0n) return errOffsetOutOfRange();
    const v = lookup(ctx, args[1]);
    if (v !== undefined && v.type !== ValueType.String) return errWrongType();
    const old = v === undefined ? Buffer.alloc(0) : valueBytes(v);
    const piece = args[3];
    if (piece.length === 0) return integer(old.length);
    if (off + BigInt(piece.length) > BigInt(STRING_BYTES_MAX)) return errStringTooLong();
    const o = Number(off);
    const next = Buffer.alloc(Math.max(old.length, o + piece.length));
    old.copy(next, 0);
    piece.copy(next, o);
    putString(ctx, args[1], next, v?.expireAtMs ?? 0);
    return integer(next.length);
  },
};

const incrbyfloat: KeyedCommand = {
  kind: 'write',
  name: 'incrbyfloat',
  apply(ctx, args) {
    const v = lookup(ctx, args[1]);
    if (v !== undefined && v.type !== ValueType.String) return errWrongType();
    const current = v === undefined ? { mant: 0n, exp: 0 } : parseDecimal(valueBytes(v));
    const by = parseDecimal(args[2]);
    if (current === undefined || by === undefined) return errNotFloat();
    const sum = addDecimal(current, by);
    if (sum === undefined || 'inf' in sum) return errIncrNanOrInf();
    const text = Buffer.from(formatDecimal(sum), 'latin1');
    putString(ctx, args[1], text, v?.expireAtMs ?? 0);
    return bulk(text);
  },
};

export const STRING_COMMANDS: KeyedCommand[] = [
  get, set, incr, decr, incrByCommand('incrby', false), incrByCommand('decrby', true), incrbyfloat,
  setnx, setexCommand('setex'), setexCommand('psetex'), getset, getdel, getex, mget, mset, msetnx,
  append, strlen, getrange, setrange,
];
