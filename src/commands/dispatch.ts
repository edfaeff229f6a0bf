import { integer, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errCrossSlot, errUnknownCommand, errWrongArgs } from '../resp/replies.js';
import { keySlot } from '../cluster/slot.js';
import type { Placement } from '../cluster/placement.js';
import type { Router } from '../cluster/router.js';
import type { GroupId } from '../raft/types.js';
import type { KeyedCommand } from './spec.js';
import type { ServerCommand, ServerInfo } from './server.js';

/** What the dispatcher needs of the command table. */
export interface CommandMeta {
  name: string;
  arity: number;
}

export interface CommandTableView {
  lookup(name: string): CommandMeta | undefined;
  /** Positions of the key arguments in `args` (args[0] is the command name). */
  keyPositions(name: string, args: Buffer[]): number[];
}

/**
 * The entry point of every client command: looks it up, checks arity and
 * syntax, finds the slot of its keys and hands it to the router — or runs it
 * here when it touches no key. Multi-key commands whose replies add up (DEL,
 * EXISTS) are split per group; other multi-key commands need one slot.
 */
export class Dispatcher {
  constructor(
    private readonly table: CommandTableView,
    private readonly keyed: ReadonlyMap<string, KeyedCommand>,
    private readonly server: ReadonlyMap<string, ServerCommand>,
    private readonly info: ServerInfo,
    private readonly router: Router,
    private readonly placement: Placement,
  ) {}

  handle = (ctx: ClientContext, args: Buffer[]): Reply | Promise<Reply> => {
    this.info.stats.commandsProcessed++;
    const name = args[0].toString('latin1').toLowerCase();
    const meta = this.table.lookup(name);
    const serverCmd = this.server.get(name);
    const keyedCmd = this.keyed.get(name);
    if (meta === undefined || (serverCmd === undefined && keyedCmd === undefined)) return errUnknownCommand(args);
    if (meta.arity > 0 ? args.length !== meta.arity : args.length < -meta.arity) return errWrongArgs(name);
    if (serverCmd !== undefined) return serverCmd(ctx, args, this.info);
    return this.runKeyed(ctx, keyedCmd!, name, args);
  };

  /** Finds the command and slot of a forwarded request (its syntax was checked by the sender). */
  lookupForwarded = (name: string): { cmd: KeyedCommand; slot: number } | undefined => {
    const cmd = this.keyed.get(name);
    return cmd ? { cmd, slot: 0 } : undefined;
  };

  private runKeyed(ctx: ClientContext, cmd: KeyedCommand, name: string, args: Buffer[]): Reply | Promise<Reply> {
    const invalid = cmd.validate?.(args);
    if (invalid) return invalid;
    const positions = this.table.keyPositions(name, args);
    if (positions.length === 0) return errWrongArgs(name);
    const slots = positions.map((p) => keySlot(args[p]));
    const first = slots[0];
    if (slots.every((s) => s === first)) {
      return this.router.route(this.placement.groupOfSlot(first), first, cmd, args, ctx.protocol);
    }
    if (cmd.combine !== 'sum' || positions.some((p, i) => p !== i + 1)) return errCrossSlot();
    // Split `NAME k1 k2 ...` into one command per group and add the integer replies.
    const byGroup = new Map<GroupId, { slot: number; keys: Buffer[] }>();
    positions.forEach((p, i) => {
      const g = this.placement.groupOfSlot(slots[i]);
      let part = byGroup.get(g);
      if (!part) byGroup.set(g, (part = { slot: slots[i], keys: [] }));
      part.keys.push(args[p]);
    });
    const parts = [...byGroup].map(([g, part]) =>
      this.router.route(g, part.slot, cmd, [args[0], ...part.keys], ctx.protocol));
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
