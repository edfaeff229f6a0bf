/**
 * MULTI / EXEC / DISCARD / WATCH / UNWATCH. Per-connection state lives in the
 * client's `state` map. WATCH reads the revisions of its keys linearizably on
 * their group; EXEC proposes one entry (see internal.ts) carrying the watched
 * revisions and the queued keyed commands, which the state machine applies
 * all or none. Every key of a transaction (watched or queued) must hash to one
 * slot, as in Redis Cluster; a queued command in another slot is refused with
 * CROSSSLOT and makes EXEC fail with EXECABORT.
 */
import { array, nullArray, ok, simple, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import {
  errCrossSlot, errDiscardWithoutMulti, errExecAbort, errExecWithoutMulti, errMultiNested, errWatchInMulti,
} from '../resp/replies.js';
import { keySlot } from '../cluster/slot.js';
import type { KeyedCommand } from './spec.js';
import { encodeExec, INTERNAL } from './internal.js';
import { asReply } from './reply-parse.js';

/** What a transaction needs from the dispatcher. */
export interface TxRunner {
  /** Runs `args` of a keyed command on the group of `slot` (proto 2 when `raw2`). */
  routeSlot(slot: number, cmd: KeyedCommand, args: Buffer[], proto: 2 | 3): Promise<Reply>;
  /** Runs a keyless command now (server commands queued in MULTI). */
  runNow(ctx: ClientContext, args: Buffer[]): Reply | Promise<Reply>;
  internal(name: string): KeyedCommand;
}

interface QueuedCommand {
  args: Buffer[];
  keyed: boolean;
}

interface MultiState {
  queued: QueuedCommand[];
  dirty: boolean;
}

interface WatchState {
  slot: number;
  keys: Array<[Buffer, number]>;
}

const MULTI = 'multi';
const WATCH = 'watch';

/** Commands that run at once inside MULTI instead of being queued (Redis processCommand). */
export const IMMEDIATE_IN_MULTI = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

export function inMulti(ctx: ClientContext): boolean {
  return ctx.state.has(MULTI);
}

/** The slot every key of the transaction so far hashes to, or -1 when none yet. */
function txSlot(ctx: ClientContext): number {
  return (ctx.state.get('txslot') as number | undefined) ?? -1;
}

export function clearTransaction(ctx: ClientContext): void {
  ctx.state.delete(MULTI);
  ctx.state.delete(WATCH);
  ctx.state.delete('txslot');
  ctx.flags.delete('multi');
}

/** Queues a command inside MULTI; `keySlots` are the slots of its keys (empty for keyless). */
export function queue(ctx: ClientContext, args: Buffer[], keySlots: number[]): Reply {
  const m = ctx.state.get(MULTI) as MultiState;
  if (keySlots.length > 0) {
    const slot = txSlot(ctx) === -1 ? keySlots[0] : txSlot(ctx);
    if (keySlots.some((s) => s !== slot)) {
      m.dirty = true;
      return errCrossSlot();
    }
    ctx.state.set('txslot', slot);
  }
  m.queued.push({ args, keyed: keySlots.length > 0 });
  return simple('QUEUED');
}

/** Marks the transaction as failed (a command was refused while queueing). */
export function flagDirty(ctx: ClientContext): void {
  const m = ctx.state.get(MULTI) as MultiState | undefined;
  if (m) m.dirty = true;
}

export function multi(ctx: ClientContext): Reply {
  if (inMulti(ctx)) return errMultiNested();
  ctx.state.set(MULTI, { queued: [], dirty: false } satisfies MultiState);
  ctx.flags.add('multi');
  return ok();
}

export function discard(ctx: ClientContext): Reply {
  if (!inMulti(ctx)) return errDiscardWithoutMulti();
  clearTransaction(ctx);
  return ok();
}

export function unwatch(ctx: ClientContext): Reply {
  ctx.state.delete(WATCH);
  if (!inMulti(ctx)) ctx.state.delete('txslot');
  return ok();
}

export async function watch(ctx: ClientContext, args: Buffer[], run: TxRunner): Promise<Reply> {
  if (inMulti(ctx)) return errWatchInMulti();
  const keys = args.slice(1);
  const slot = keySlot(keys[0]);
  const prior = txSlot(ctx);
  if (keys.some((k) => keySlot(k) !== slot) || (prior !== -1 && prior !== slot)) return errCrossSlot();
  const reply = asReply(await run.routeSlot(slot, run.internal(INTERNAL.rev), [Buffer.from(INTERNAL.rev), ...keys], 2));
  if (reply.kind !== 'array' || reply.items === null) return reply;
  const w = (ctx.state.get(WATCH) as WatchState | undefined) ?? { slot, keys: [] };
  keys.forEach((k, i) => {
    const item = reply.items![i];
    // A token that matches no state: an unexpected reply makes EXEC abort.
    w.keys.push([k, item.kind === 'integer' ? Number(item.value) : Number.MAX_SAFE_INTEGER]);
  });
  ctx.state.set(WATCH, w);
  ctx.state.set('txslot', slot);
  return ok();
}

export async function exec(ctx: ClientContext, run: TxRunner): Promise<Reply> {
  const m = ctx.state.get(MULTI) as MultiState | undefined;
  if (!m) return errExecWithoutMulti();
  const w = ctx.state.get(WATCH) as WatchState | undefined;
  const slot = txSlot(ctx);
  clearTransaction(ctx);
  if (m.dirty) return errExecAbort();
  const keyed = m.queued.filter((q) => q.keyed);
  let keyedReplies: Reply[] = [];
  if (slot !== -1) {
    const onlyKeyed = keyed.length === m.queued.length;
    const op = encodeExec(w?.keys ?? [], keyed.map((q) => q.args));
    // Keyed commands only (the usual case): relay the group's reply as is, in the client's protocol.
    const raw = await run.routeSlot(slot, run.internal(INTERNAL.exec), op, onlyKeyed ? ctx.protocol : 2);
    if (onlyKeyed) return raw;
    const reply = asReply(raw);
    if (reply.kind !== 'array') return reply;
    if (reply.items === null) return nullArray();
    keyedReplies = [...reply.items];
  }
  const out: Reply[] = [];
  for (const q of m.queued) out.push(q.keyed ? keyedReplies.shift()! : await run.runNow(ctx, q.args));
  return array(out);
}
