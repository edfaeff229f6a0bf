import { integer, ok, simple, type Reply } from '../resp/encoder.js';
import {
  errExpireGtLt, errExpireNxXx, errInvalidExpireTime, errNoSuchKey, errNotInteger, errUnsupportedOption,
} from '../resp/replies.js';
import { lookup, ValueType, type StoredValue, type WriteContext } from './keyspace.js';
import { INT64_MAX, INT64_MIN, lower, parseInt64, type KeyedCommand } from './spec.js';

/** DEL / UNLINK k [k ...]: the number of keys removed. Split per group by the router; replies summed. */
function delCommand(name: string): KeyedCommand {
  return {
    kind: 'write',
    name,
    combine: 'sum',
    apply(ctx, args) {
      let removed = 0;
      for (let i = 1; i < args.length; i++) {
        if (lookup(ctx, args[i]) !== undefined) removed++;
        // An expired key is deleted too, so its bytes do not linger.
        if (ctx.ks.getRaw(args[i]) !== undefined) ctx.ks.del(args[i]);
      }
      return integer(removed);
    },
  };
}

/** EXISTS / TOUCH k [k ...]: counts each argument, so a repeated key counts twice (as Redis). */
function countCommand(name: string): KeyedCommand {
  return {
    kind: 'read',
    name,
    combine: 'sum',
    read(ctx, args) {
      let n = 0;
      for (let i = 1; i < args.length; i++) if (lookup(ctx, args[i]) !== undefined) n++;
      return integer(n);
    },
  };
}

const TYPE_NAMES: Record<number, string> = {
  [ValueType.String]: 'string', [ValueType.Hash]: 'hash', [ValueType.List]: 'list', [ValueType.Set]: 'set', [ValueType.ZSet]: 'zset',
};

/** The name TYPE reports for a stored value. */
export function typeName(v: StoredValue | undefined): string {
  return v === undefined ? 'none' : TYPE_NAMES[v.type] ?? 'none';
}

const type: KeyedCommand = {
  kind: 'read',
  name: 'type',
  read: (ctx, args) => simple(typeName(lookup(ctx, args[1]))),
};

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/** The absolute expiry (ms) an EXPIRE-family command asks for, or its error (expire.c expireGenericCommand). */
function parseExpire(args: Buffer[], name: string, unitMs: bigint, relative: boolean, nowMs: number): { when: bigint; flags: number } | Reply {
  let flags = 0;
  for (let i = 3; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === 'nx') flags |= EXPIRE_NX;
    else if (opt === 'xx') flags |= EXPIRE_XX;
    else if (opt === 'gt') flags |= EXPIRE_GT;
    else if (opt === 'lt') flags |= EXPIRE_LT;
    else return errUnsupportedOption(args[i]);
  }
  if ((flags & EXPIRE_NX) && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) return errExpireNxXx();
  if ((flags & EXPIRE_GT) && (flags & EXPIRE_LT)) return errExpireGtLt();
  let when = parseInt64(args[2]);
  if (when === undefined) return errNotInteger();
  if (unitMs === 1000n) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return errInvalidExpireTime(name);
    when *= 1000n;
  }
  const base = relative ? BigInt(Math.floor(nowMs)) : 0n;
  if (when > INT64_MAX - base) return errInvalidExpireTime(name);
  return { when: when + base, flags };
}

function expireCommand(name: string, unitMs: bigint, relative: boolean): KeyedCommand {
  return {
    kind: 'write',
    name,
    validate(args) {
      const r = parseExpire(args, name, unitMs, relative, 0);
      return 'kind' in r ? r : undefined;
    },
    apply(ctx, args) {
      const r = parseExpire(args, name, unitMs, relative, ctx.nowMs);
      if ('kind' in r) return r;
      const v = lookup(ctx, args[1]);
      if (v === undefined) return integer(0);
      const { when, flags } = r;
      const current = v.expireAtMs === 0 ? -1n : BigInt(v.expireAtMs);
      if ((flags & EXPIRE_NX) && current !== -1n) return integer(0);
      if ((flags & EXPIRE_XX) && current === -1n) return integer(0);
      if ((flags & EXPIRE_GT) && (when <= current || current === -1n)) return integer(0);
      if ((flags & EXPIRE_LT) && current !== -1n && when >= current) return integer(0);
      if (when <= BigInt(Math.floor(ctx.nowMs))) {
        ctx.ks.del(args[1]);
        return integer(1);
      }
      const at = when > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(when);
      ctx.ks.put(args[1], { ...v, expireAtMs: at, revision: ctx.revision });
      return integer(1);
    },
  };
}

/** TTL / PTTL / EXPIRETIME / PEXPIRETIME. */
function ttlCommand(name: string, absolute: boolean, unitMs: number): KeyedCommand {
  return {
    kind: 'read',
    name,
    read(ctx, args) {
      const v = lookup(ctx, args[1]);
      if (v === undefined) return integer(-2);
      if (v.expireAtMs === 0) return integer(-1);
      if (absolute) return integer(Math.floor(v.expireAtMs / unitMs));
      const ms = Math.max(0, v.expireAtMs - Math.floor(ctx.nowMs));
      return integer(unitMs === 1000 ? Math.floor((ms + 500) / 1000) : ms);
    },
  };
}

const persist: KeyedCommand = {
  kind: 'write',
  name: 'persist',
  apply(ctx, args) {
    const v = lookup(ctx, args[1]);
    if (v === undefined || v.expireAtMs === 0) return integer(0);
    ctx.ks.put(args[1], { ...v, expireAtMs: 0, revision: ctx.revision });
    return integer(1);
  },
};

/** Moves a key (with its TTL and, for a hash, its fields) to another name in the same group. */
async function moveKey(ctx: WriteContext, from: Buffer, to: Buffer, v: StoredValue): Promise<void> {
  const fields = v.type === ValueType.Hash ? await ctx.ks.fields(from) : [];
  if (ctx.ks.getRaw(to) !== undefined) ctx.ks.del(to);
  ctx.ks.put(to, { ...v, revision: ctx.revision });
  for (const [f, value] of fields) ctx.ks.putField(to, f, value);
  ctx.ks.del(from);
}

function renameCommand(name: 'rename' | 'renamenx'): KeyedCommand {
  return {
    kind: 'write',
    name,
    async apply(ctx, args): Promise<Reply> {
      const [, from, to] = args;
      const v = lookup(ctx, from);
      if (v === undefined) return errNoSuchKey();
      if (from.equals(to)) return name === 'rename' ? ok() : integer(0);
      if (name === 'renamenx' && lookup(ctx, to) !== undefined) return integer(0);
      await moveKey(ctx, from, to, v);
      return name === 'rename' ? ok() : integer(1);
    },
  };
}

export const KEY_COMMANDS: KeyedCommand[] = [
  delCommand('del'), delCommand('unlink'), countCommand('exists'), countCommand('touch'), type,
  expireCommand('expire', 1000n, true), expireCommand('pexpire', 1n, true),
  expireCommand('expireat', 1000n, false), expireCommand('pexpireat', 1n, false),
  ttlCommand('ttl', false, 1000), ttlCommand('pttl', false, 1), ttlCommand('expiretime', true, 1000), ttlCommand('pexpiretime', true, 1),
  persist, renameCommand('rename'), renameCommand('renamenx'),
];
