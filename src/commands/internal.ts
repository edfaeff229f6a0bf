/**
 * Commands that only nodes send: the transaction entry (EXEC), background
 * expiry, FLUSHDB's per-group share, the scans behind KEYS/SCAN/RANDOMKEY and
 * WATCH's revision read. Their names are not in the client registry, so a
 * client sending them gets "unknown command"; peers reach them by forwarding.
 */
import { array, bulk, integer, nullArray, nullBulk, ok, type Reply } from '../resp/encoder.js';
import { errSyntax } from '../resp/replies.js';
import { watchedKeyChanged, watchToken } from './keyspace.js';
import { decodeOp, encodeOp } from './op-codec.js';
import { applyCommand } from './apply.js';
import { globMatch } from './glob.js';
import { typeName } from './keys.js';
import type { KeyedCommand } from './spec.js';

export const INTERNAL = {
  exec: 'raftis.exec',
  expire: 'raftis.expire',
  flush: 'raftis.flush',
  scan: 'raftis.scan',
  scanHashed: 'raftis.scanh',
  rev: 'raftis.rev',
  dbsize: 'raftis.dbsize',
} as const;

/** The op EXEC proposes: watched keys with their revisions, then the queued commands. */
export function encodeExec(watched: Array<[Buffer, number]>, commands: Buffer[][]): Buffer[] {
  const args: Buffer[] = [Buffer.from(INTERNAL.exec), Buffer.from(String(watched.length))];
  for (const [k, rev] of watched) args.push(k, Buffer.from(String(rev)));
  for (const c of commands) args.push(encodeOp(c));
  return args;
}

/**
 * Applies a transaction all or nothing with respect to WATCH: if a watched key
 * changed since WATCH read its token (keyspace.ts watchToken: a live key's
 * revision, or the read's applied index for an absent one, compared with its
 * expiry, tombstone or the tombstone floor), nothing runs and EXEC answers a
 * null array. Otherwise
 * every command runs in order within this one entry, so no other write can
 * interleave; runtime errors are reported per command, as Redis does.
 */
function execCommand(commands: () => ReadonlyMap<string, KeyedCommand>): KeyedCommand {
  return {
    kind: 'write',
    name: INTERNAL.exec,
    async apply(ctx, args) {
      const n = Number(args[1].toString('latin1'));
      let at = 2;
      for (let i = 0; i < n; i++, at += 2) {
        if (watchedKeyChanged(ctx, args[at], Number(args[at + 1].toString('latin1')))) return nullArray();
      }
      const replies: Reply[] = [];
      for (; at < args.length; at++) {
        const cargs = decodeOp(args[at]);
        const cmd = commands().get(cargs[0].toString('latin1').toLowerCase());
        const invalid = cmd?.validate?.(cargs);
        if (invalid) replies.push(invalid);
        else if (cmd?.kind === 'read') replies.push(await cmd.read(ctx, cargs));
        else replies.push(await applyCommand(cmd, ctx, cargs));
      }
      return array(replies);
    },
  };
}

/** Deletes each key that is still expired at the entry's stamp (a concurrent SET wins). */
const expire: KeyedCommand = {
  kind: 'write',
  name: INTERNAL.expire,
  apply(ctx, args) {
    let n = 0;
    for (let i = 1; i < args.length; i++) {
      const v = ctx.ks.getRaw(args[i]);
      if (v !== undefined && v.expireAtMs !== 0 && v.expireAtMs <= ctx.nowMs) {
        ctx.ks.del(args[i]);
        n++;
      }
    }
    return integer(n);
  },
};

/** Deletes every key of the group (FLUSHDB / FLUSHALL send one to each group). */
const flush: KeyedCommand = {
  kind: 'write',
  name: INTERNAL.flush,
  async apply(ctx) {
    for (const [k] of await ctx.ks.scan(undefined, Number.MAX_SAFE_INTEGER)) ctx.ks.del(k);
    return ok();
  },
};

/**
 * `raftis.scan after count pattern type`: examines up to `count` keys after
 * `after` (empty: from the start) and replies [last examined key or nil when
 * the group is done, live keys that match...].
 */
const scan: KeyedCommand = {
  kind: 'read',
  name: INTERNAL.scan,
  async read(ctx, args) {
    if (args.length !== 5) return errSyntax();
    const after = args[1].length === 0 ? undefined : args[1];
    const count = Number(args[2].toString('latin1'));
    const pattern = args[3].length === 0 ? undefined : args[3];
    const type = args[4].length === 0 ? undefined : args[4].toString('latin1');
    const rows = await ctx.ks.scan(after, count + 1);
    const more = rows.length > count;
    if (more) rows.length = count;
    const out: Reply[] = [more ? bulk(rows[rows.length - 1][0]) : nullBulk()];
    for (const [k, v] of rows) {
      if (v.expireAtMs !== 0 && v.expireAtMs <= ctx.nowMs) continue;
      if (pattern !== undefined && !globMatch(pattern, k)) continue;
      if (type !== undefined && typeName(v) !== type) continue;
      out.push(bulk(k));
    }
    return array(out);
  },
};

/**
 * `raftis.scanh fromHash count pattern type`: SCAN's step in one group. Examines at
 * least `count` keys in scan order from `fromHash` (keyspace.ts scanHashed) and
 * replies [hash to continue from, or nil when the group is done, number of keys examined,
 * live keys that match...].
 */
const scanHashed: KeyedCommand = {
  kind: 'read',
  name: INTERNAL.scanHashed,
  async read(ctx, args) {
    if (args.length !== 5 || ctx.ks.scanHashed === undefined) return errSyntax();
    const fromHash = Number(args[1].toString('latin1'));
    const count = Number(args[2].toString('latin1'));
    if (!Number.isInteger(fromHash) || fromHash < 0 || fromHash > 0xffffffff || !(count >= 1)) return errSyntax();
    const pattern = args[3].length === 0 ? undefined : args[3];
    const type = args[4].length === 0 ? undefined : args[4].toString('latin1');
    const { rows, nextHash } = await ctx.ks.scanHashed(fromHash, count);
    const out: Reply[] = [nextHash === undefined ? nullBulk() : bulk(String(nextHash)), integer(rows.length)];
    for (const [k, v] of rows) {
      if (v.expireAtMs !== 0 && v.expireAtMs <= ctx.nowMs) continue;
      if (pattern !== undefined && !globMatch(pattern, k)) continue;
      if (type !== undefined && typeName(v) !== type) continue;
      out.push(bulk(k));
    }
    return array(out);
  },
};

/** WATCH's token of each key: its revision when live, minus the applied index when absent or expired. */
const rev: KeyedCommand = {
  kind: 'read',
  name: INTERNAL.rev,
  read(ctx, args) {
    const out: Reply[] = [];
    for (let i = 1; i < args.length; i++) out.push(integer(watchToken(ctx, args[i])));
    return array(out);
  },
};

/** The group's key count (DBSIZE adds those of every group). */
const dbsize: KeyedCommand = {
  kind: 'read',
  name: INTERNAL.dbsize,
  read: (ctx) => integer(ctx.ks.keyCount?.() ?? 0),
};

/** The internal commands, given the full command map EXEC dispatches into. */
export function internalCommands(commands: () => ReadonlyMap<string, KeyedCommand>): KeyedCommand[] {
  return [execCommand(commands), expire, flush, scan, scanHashed, rev, dbsize];
}

