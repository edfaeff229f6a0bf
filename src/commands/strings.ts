import { bulk, integer, ok, nullBulk, type Reply } from '../resp/encoder.js';
import { errDecrementOverflow, errInvalidExpireTime, errNotInteger, errOverflow, errSyntax, errWrongType } from '../resp/replies.js';
import { lookup, ValueType, type WriteContext } from './keyspace.js';
import { INT64_MAX, INT64_MIN, lower, parseInt64, toReplyInt, type KeyedCommand } from './spec.js';

const get: KeyedCommand = {
  kind: 'read',
  name: 'get',
  read(ctx, args) {
    const v = lookup(ctx, args[1]);
    if (v === undefined) return nullBulk();
    if (v.type !== ValueType.String) return errWrongType();
    return bulk(Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength));
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

function parseSetOptions(args: Buffer[]): SetOptions | Reply {
  const o: SetOptions = { cond: null, get: false, keepTtl: false, expireKind: null, expire: 0n };
  for (let i = 3; i < args.length; i++) {
    const opt = lower(args[i]);
    const hasNext = i + 1 < args.length;
    if ((opt === 'nx' || opt === 'xx') && o.cond === null) o.cond = opt;
    else if (opt === 'get') o.get = true;
    else if (opt === 'keepttl' && o.expireKind === null) o.keepTtl = true;
    else if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && o.expireKind === null && !o.keepTtl && hasNext) {
      const n = parseInt64(args[++i]);
      if (n === undefined) return errNotInteger();
      o.expireKind = opt;
      o.expire = n;
    } else return errSyntax();
  }
  if (o.expireKind !== null) {
    const unitMs = o.expireKind === 'ex' || o.expireKind === 'exat' ? 1000n : 1n;
    if (o.expire <= 0n || o.expire > INT64_MAX / unitMs) return errInvalidExpireTime('set');
  }
  return o;
}

/** The absolute expiry (ms) for a SET at `nowMs`, or an error if it overflows. */
function absoluteExpiry(o: SetOptions, nowMs: number): number | Reply {
  const now = BigInt(Math.floor(nowMs));
  let at: bigint;
  switch (o.expireKind) {
    case 'ex': at = now + o.expire * 1000n; break;
    case 'px': at = now + o.expire; break;
    case 'exat': at = o.expire * 1000n; break;
    case 'pxat': at = o.expire; break;
    default: return 0;
  }
  if (at > INT64_MAX) return errInvalidExpireTime('set');
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
      ctx.ks.put(key, { type: ValueType.String, value: Buffer.from(args[2]), expireAtMs, revision: ctx.revision });
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

export const STRING_COMMANDS: KeyedCommand[] = [get, set, incr, decr, incrByCommand('incrby', false), incrByCommand('decrby', true)];
