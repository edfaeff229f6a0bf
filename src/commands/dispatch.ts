import { array, bulk, integer, nullBulk, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errCrossSlot, errExecAbortBecause, errGeneric, errNoAuth, errWrongArgs } from '../resp/replies.js';
import { arityOk, CommandRegistry, getKeyIndexes, lookupCommand, singleKeyIndex, type CommandSpec } from './table.js';
import { COMMAND_DOCS, SUBCOMMAND_SPECS } from './docs.js';
import { keySlot } from '../cluster/slot.js';
import type { Placement } from '../cluster/placement.js';
import type { Router } from '../cluster/router.js';
import { readPolicyOf } from '../cluster/read-policy.js';
import type { GroupId } from '../raft/types.js';
import type { KeyedCommand } from './spec.js';
import type { ServerCommand, ServerInfo } from './server.js';
import { asReply } from './reply-parse.js';
import * as tx from './transactions.js';
import { Fanout } from './fanout.js';
import { aclCommand, addAclCommand } from './acl-rules.js';

/** What the registry holds for each command: how to run it. */
export type Handler =
  | { kind: 'keyed'; cmd: KeyedCommand }
  | { kind: 'server'; fn: ServerCommand }
  /** Commands the dispatcher runs itself: transactions and whole-keyspace commands. */
  | { kind: 'dispatcher' };

/** Commands served by the Dispatcher itself (they need the router or the connection's transaction). */
export const DISPATCHER_COMMANDS = new Set(['multi', 'exec', 'discard', 'watch', 'unwatch', 'keys', 'scan', 'randomkey', 'dbsize', 'flushdb', 'flushall']);

/** Commands a client may send before AUTH when a password is required (Redis's no-auth flag). */
const NO_AUTH = new Set(['auth', 'hello', 'quit', 'reset']);

/**
 * The name ACL rules know a command by: `container|sub` for a subcommand that Redis's table has
 * even when raftis registered only the container.
 */
function aclName(name: string, args: Buffer[]): string {
  if (name.includes('|') || args.length < 2) return name;
  const c = aclCommand(name);
  if (!c || c.subs.length === 0) return name;
  const sub = `${name}|${args[1].toString('latin1').toLowerCase()}`;
  return aclCommand(sub) ? sub : name;
}

/** Registers every command raftis serves, with its docs, in one registry. */
export function buildRegistry(
  keyed: ReadonlyMap<string, KeyedCommand>,
  server: ReadonlyMap<string, ServerCommand>,
): CommandRegistry<Handler> {
  const registry = new CommandRegistry<Handler>();
  const names = Object.keys(COMMAND_DOCS).sort((a, b) => a.split('|').length - b.split('|').length);
  for (const name of names) {
    const top = name.split('|')[0];
    const k = keyed.get(top);
    const fn = server.get(top);
    if (!k && !fn && !DISPATCHER_COMMANDS.has(top)) continue;
    const handler: Handler = k ? { kind: 'keyed', cmd: k } : DISPATCHER_COMMANDS.has(top) ? { kind: 'dispatcher' } : { kind: 'server', fn: fn! };
    registry.register({ name, handler, docs: COMMAND_DOCS[name], ...(SUBCOMMAND_SPECS[name] ? { spec: SUBCOMMAND_SPECS[name] } : {}) });
    const registered = name.includes('|') ? registry.get(top)?.subcommands.get(name.split('|')[1]) : registry.get(name);
    if (registered) addAclCommand(name, registered.aclCategories);
  }
  for (const name of [...keyed.keys(), ...server.keys(), ...DISPATCHER_COMMANDS]) {
    if (!registry.get(name)) throw new Error(`command ${name} has no docs in commands/docs.ts`);
  }
  return registry;
}

/** COMMAND GETKEYS: the keys of a full command line, with Redis's errors. */
export function getKeysReply(registry: CommandRegistry<Handler>, args: Buffer[]): Reply {
  const spec = lookupCommand(args[0]);
  if (!spec) return errGeneric('Invalid command specified');
  if (!arityOk(spec.arity, args.length)) return errGeneric('Invalid number of arguments specified for command');
  const keys = getKeyIndexes(spec, args);
  if (keys.length === 0) return errGeneric('The command has no key arguments');
  void registry;
  return array(keys.map((i) => bulk(args[i])));
}

export interface DispatcherOptions {
  /** Internal commands (internal.ts), reachable by peers' forwarded requests only. */
  internal: ReadonlyMap<string, KeyedCommand>;
  random: () => number;
  /** A monotonic clock (ms) for COMMANDSTATS. */
  clockMs: () => number;
}

/** Per-command counters for INFO commandstats. */
export interface CommandStat {
  calls: number;
  usec: number;
  failedCalls: number;
  rejectedCalls: number;
}

/**
 * The entry point of every client command: looks it up, checks arity and
 * syntax, finds the slot of its keys and hands it to the router — or runs it
 * here when it touches no key. Multi-key commands whose replies combine (DEL,
 * EXISTS, MGET) are split per group; other multi-key commands need one slot.
 * Inside MULTI, commands are queued (transactions.ts).
 */
export class Dispatcher {
  readonly commandStats = new Map<string, CommandStat>();
  private readonly fanout: Fanout;
  private readonly txRunner: tx.TxRunner;

  constructor(
    private readonly registry: CommandRegistry<Handler>,
    private readonly info: ServerInfo,
    private readonly router: Router,
    private readonly placement: Placement,
    private readonly opts: DispatcherOptions,
  ) {
    const internal = (name: string): KeyedCommand => opts.internal.get(name)!;
    this.fanout = new Fanout({
      dataGroups: () => this.placement.dataGroups().map((g) => g.groupId),
      routeGroup: (g, cmd, args) => this.router.route(g, this.placement.group(g)!.slotStart, cmd, args, 2),
      internal,
      random: opts.random,
    });
    this.txRunner = {
      routeSlot: (slot, cmd, args, proto) => this.router.route(this.placement.groupOfSlot(slot), slot, cmd, args, proto),
      runNow: (ctx, args) => this.handle(ctx, args),
      internal,
    };
  }

  handle = (ctx: ClientContext, args: Buffer[]): Reply | Promise<Reply> => {
    this.info.stats.commandsProcessed++;
    // ASKING covers only the command after it (raftis never answers -ASK, so it changes nothing else).
    ctx.flags.delete('asking');
    const r = this.registry.resolve(args);
    if (!r.ok) {
      const name = args[0].toString('latin1').toLowerCase();
      tx.flagDirty(ctx);
      this.countRejected(name);
      // As Redis (rejectCommand -> execCommandAbort): a refused EXEC discards the transaction.
      if (name === 'exec' && tx.inMulti(ctx) && r.reply.kind === 'error') {
        tx.clearTransaction(ctx);
        return errExecAbortBecause(r.reply.message.replace(/^ERR /, ''));
      }
      return r.reply;
    }
    const spec = r.command.spec;
    const bar = spec.name.indexOf('|');
    const top = bar === -1 ? spec.name : spec.name.slice(0, bar);
    // As Redis authRequired(): while the default user needs no password every client may run
    // commands; otherwise only those that authenticated (AUTH, HELLO AUTH).
    const noAuth = NO_AUTH.has(top) || spec.flags.includes('no_auth');
    // A client that started while no password was needed stays logged in (Redis createClient).
    if (!ctx.state.has('authenticated')) ctx.state.set('authenticated', this.info.acl.defaultNeedsNoAuth());
    if (!noAuth && ctx.state.get('authenticated') !== true && !this.info.acl.defaultNeedsNoAuth()) {
      tx.flagDirty(ctx);
      this.countRejected(spec.name);
      return errNoAuth();
    }
    if (!noAuth) {
      const keyed = r.command.handler.kind === 'keyed' || top === 'watch';
      const denied = this.info.acl.check(ctx, aclName(spec.name, args), args, () => (keyed ? getKeyIndexes(spec, args) : []));
      if (denied !== null) {
        tx.flagDirty(ctx);
        this.countRejected(spec.name);
        return denied;
      }
    }
    const h = r.command.handler;
    if (tx.inMulti(ctx) && !tx.IMMEDIATE_IN_MULTI.has(top)) {
      if (h.kind !== 'keyed') return tx.queue(ctx, args, []);
      const positions = getKeyIndexes(spec, args);
      if (positions.length === 0) {
        tx.flagDirty(ctx);
        return errWrongArgs(spec.name);
      }
      return tx.queue(ctx, args, positions.map((p) => keySlot(args[p])));
    }
    const started = this.opts.clockMs();
    const result = this.run(ctx, h, spec, top, args);
    if (result instanceof Promise) return result.then((reply) => this.count(spec.name, started, reply));
    return this.count(spec.name, started, result);
  };

  private run(ctx: ClientContext, h: Handler, spec: CommandSpec, top: string, args: Buffer[]): Reply | Promise<Reply> {
    if (h.kind === 'server') return h.fn(ctx, args, this.info);
    if (h.kind === 'keyed') return this.runKeyed(ctx, h.cmd, spec, args);
    switch (top) {
      case 'multi': return tx.multi(ctx);
      case 'exec': return tx.exec(ctx, this.txRunner);
      case 'discard': return tx.discard(ctx);
      case 'watch': return tx.watch(ctx, args, this.txRunner);
      case 'unwatch': return tx.unwatch(ctx);
      case 'keys': return this.fanout.keys(args[1]);
      case 'scan': return this.fanout.scan(args);
      case 'randomkey': return this.fanout.randomKey();
      case 'dbsize': return this.fanout.dbSize();
      default: return this.fanout.flush(args); // flushdb, flushall
    }
  }

  private stat(name: string): CommandStat {
    let s = this.commandStats.get(name);
    if (!s) this.commandStats.set(name, (s = { calls: 0, usec: 0, failedCalls: 0, rejectedCalls: 0 }));
    return s;
  }

  private countRejected(name: string): void {
    if (this.registry.get(name.split('|')[0])) this.stat(name).rejectedCalls++;
  }

  private count(name: string, startedMs: number, reply: Reply): Reply {
    const s = this.stat(name);
    s.calls++;
    s.usec += Math.round((this.opts.clockMs() - startedMs) * 1000);
    if (reply.kind === 'error') s.failedCalls++;
    return reply;
  }

  /** Finds the command of a forwarded request (its syntax was checked by the sender). */
  lookupForwarded = (name: string): { cmd: KeyedCommand; slot: number } | undefined => {
    const internal = this.opts.internal.get(name);
    if (internal) return { cmd: internal, slot: 0 };
    const h = this.registry.get(name)?.handler;
    return h?.kind === 'keyed' ? { cmd: h.cmd, slot: 0 } : undefined;
  };

  /** Runs a command whose keys all hash to `slot`: at once when it is a read servable here (Router.readNow). */
  private runInSlot(ctx: ClientContext, cmd: KeyedCommand, args: Buffer[], slot: number): Reply | Promise<Reply> {
    const groupId = this.placement.groupOfSlot(slot);
    const policy = readPolicyOf(ctx);
    const now = cmd.kind === 'read' ? this.router.readNow(groupId, cmd, args, policy)
      : this.router.writeNow(groupId, slot, cmd, args, ctx.protocol, false, policy);
    if (now !== undefined) return now;
    return this.router.route(groupId, slot, cmd, args, ctx.protocol, false, policy);
  }

  private runKeyed(ctx: ClientContext, cmd: KeyedCommand, spec: CommandSpec, args: Buffer[]): Reply | Promise<Reply> {
    const invalid = cmd.validate?.(args);
    if (invalid) return invalid;
    const single = singleKeyIndex(spec, args.length);
    if (single > 0) return this.runInSlot(ctx, cmd, args, keySlot(args[single]));
    const positions = getKeyIndexes(spec, args);
    if (positions.length === 0) return errWrongArgs(spec.name);
    const slots = positions.map((p) => keySlot(args[p]));
    const first = slots[0];
    if (slots.every((s) => s === first)) return this.runInSlot(ctx, cmd, args, first);
    // With -MOVED on, clients follow Redis Cluster's rule: every key in one slot.
    if (this.router.redirectsMoved || cmd.combine === undefined || positions.some((p, i) => p !== i + 1)) return errCrossSlot();
    // Split `NAME k1 k2 ...` into one command per group, then combine the replies.
    const byGroup = new Map<GroupId, { slot: number; keys: Buffer[]; at: number[] }>();
    positions.forEach((p, i) => {
      const g = this.placement.groupOfSlot(slots[i]);
      let part = byGroup.get(g);
      if (!part) byGroup.set(g, (part = { slot: slots[i], keys: [], at: [] }));
      part.keys.push(args[p]);
      part.at.push(i);
    });
    const groups = [...byGroup.values()];
    const parts = groups.map((part) => this.router.route(this.placement.groupOfSlot(part.slot), part.slot, cmd, [args[0], ...part.keys], 2, false, readPolicyOf(ctx)));
    return Promise.all(parts).then((raw) => {
      const replies = raw.map(asReply);
      const failed = replies.find((r) => r.kind === 'error');
      if (failed) return failed;
      if (cmd.combine === 'sum') {
        let sum = 0;
        for (const r of replies) sum += r.kind === 'integer' ? Number(r.value) : 0;
        return integer(sum);
      }
      const out: Reply[] = new Array(positions.length).fill(nullBulk());
      replies.forEach((r, gi) => {
        if (r.kind !== 'array' || r.items === null) return;
        groups[gi].at.forEach((i, j) => (out[i] = r.items![j] ?? nullBulk()));
      });
      return array(out);
    });
  }
}
