import { array, bulk, integer, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errCrossSlot, errGeneric, errWrongArgs } from '../resp/replies.js';
import { arityOk, CommandRegistry, getKeyIndexes, lookupCommand, type CommandSpec } from './table.js';
import { COMMAND_DOCS, SUBCOMMAND_SPECS } from './docs.js';
import { keySlot } from '../cluster/slot.js';
import type { Placement } from '../cluster/placement.js';
import type { Router } from '../cluster/router.js';
import { readPolicyOf } from '../cluster/read-policy.js';
import type { GroupId } from '../raft/types.js';
import type { KeyedCommand } from './spec.js';
import type { ServerCommand, ServerInfo } from './server.js';

/** What the registry holds for each command: how to run it. */
export type Handler =
  | { kind: 'keyed'; cmd: KeyedCommand }
  | { kind: 'server'; fn: ServerCommand };

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
    if (!k && !fn) continue;
    const handler: Handler = k ? { kind: 'keyed', cmd: k } : { kind: 'server', fn: fn! };
    registry.register({ name, handler, docs: COMMAND_DOCS[name], ...(SUBCOMMAND_SPECS[name] ? { spec: SUBCOMMAND_SPECS[name] } : {}) });
  }
  for (const name of [...keyed.keys(), ...server.keys()]) {
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

/**
 * The entry point of every client command: looks it up, checks arity and
 * syntax, finds the slot of its keys and hands it to the router — or runs it
 * here when it touches no key. Multi-key commands whose replies add up (DEL,
 * EXISTS) are split per group; other multi-key commands need one slot.
 */
export class Dispatcher {
  constructor(
    private readonly registry: CommandRegistry<Handler>,
    private readonly info: ServerInfo,
    private readonly router: Router,
    private readonly placement: Placement,
  ) {}

  handle = (ctx: ClientContext, args: Buffer[]): Reply | Promise<Reply> => {
    this.info.stats.commandsProcessed++;
    // ASKING covers only the command after it (raftis never answers -ASK, so it changes nothing else).
    ctx.flags.delete('asking');
    const r = this.registry.resolve(args);
    if (!r.ok) return r.reply;
    const h = r.command.handler;
    if (h.kind === 'server') return h.fn(ctx, args, this.info);
    return this.runKeyed(ctx, h.cmd, r.command.spec, args);
  };

  /** Finds the command of a forwarded request (its syntax was checked by the sender). */
  lookupForwarded = (name: string): { cmd: KeyedCommand; slot: number } | undefined => {
    const h = this.registry.get(name)?.handler;
    return h?.kind === 'keyed' ? { cmd: h.cmd, slot: 0 } : undefined;
  };

  private runKeyed(ctx: ClientContext, cmd: KeyedCommand, spec: CommandSpec, args: Buffer[]): Reply | Promise<Reply> {
    const invalid = cmd.validate?.(args);
    if (invalid) return invalid;
    const positions = getKeyIndexes(spec, args);
    if (positions.length === 0) return errWrongArgs(spec.name);
    const slots = positions.map((p) => keySlot(args[p]));
    const first = slots[0];
    if (slots.every((s) => s === first)) {
      return this.router.route(this.placement.groupOfSlot(first), first, cmd, args, ctx.protocol, false, readPolicyOf(ctx));
    }
    // With -MOVED on, clients follow Redis Cluster's rule: every key in one slot.
    if (this.router.redirectsMoved || cmd.combine !== 'sum' || positions.some((p, i) => p !== i + 1)) return errCrossSlot();
    // Split `NAME k1 k2 ...` into one command per group and add the integer replies.
    const byGroup = new Map<GroupId, { slot: number; keys: Buffer[] }>();
    positions.forEach((p, i) => {
      const g = this.placement.groupOfSlot(slots[i]);
      let part = byGroup.get(g);
      if (!part) byGroup.set(g, (part = { slot: slots[i], keys: [] }));
      part.keys.push(args[p]);
    });
    const parts = [...byGroup].map(([g, part]) =>
      this.router.route(g, part.slot, cmd, [args[0], ...part.keys], ctx.protocol, false, readPolicyOf(ctx)));
    return Promise.all(parts).then((replies) => {
      let sum = 0;
      for (const r of replies) {
        if (r.kind === 'integer') sum += Number(r.value);
        else if (r.kind === 'raw') {
          const m = /^:(-?\d+)\r\n$/.exec(r.bytes.toString('latin1'));
          if (!m) return r;
          sum += Number(m[1]);
        } else return r;
      }
      return integer(sum);
    });
  }
}
