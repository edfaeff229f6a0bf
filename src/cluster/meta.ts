import { errorReply, ok, type Reply } from '../resp/encoder.js';
import type { KeyspaceReader, WriteContext } from '../commands/keyspace.js';
import type { KeyedCommand } from '../commands/spec.js';
import { ValueType } from '../storage/types.js';
import type { PlacementState } from './placement.js';

/**
 * Group 0's replicated state: the cluster's placement, one JSON value under
 * an internal key of group 0's keyspace. It changes only through the
 * internal op below (never registered as a client command), which is a
 * compare-and-set on the version so that two admins planning from the same
 * placement cannot both win.
 */
export const PLACEMENT_OP = 'raftis.placement';
export const PLACEMENT_KEY = Buffer.from('\u0000raftis:placement', 'latin1');

/** The placement stored in group 0, or undefined while it is still the bootstrap one. */
export function readPlacement(ks: KeyspaceReader): PlacementState | undefined {
  const v = ks.getRaw(PLACEMENT_KEY);
  if (!v) return undefined;
  return JSON.parse(Buffer.from(v.value).toString('utf8')) as PlacementState;
}

/** `raftis.placement <expected version> <json>`: applied on every replica of group 0. */
export const placementCommand: KeyedCommand = {
  kind: 'write',
  name: PLACEMENT_OP,
  apply(ctx: WriteContext, args: Buffer[]): Reply {
    const expected = Number(args[1]?.toString('latin1'));
    const current = readPlacement(ctx.ks)?.version ?? 0;
    if (current !== expected) {
      return errorReply(`ERR placement changed concurrently (version ${current}, expected ${expected}); retry`);
    }
    let next: PlacementState;
    try {
      next = JSON.parse(args[2].toString('utf8')) as PlacementState;
    } catch {
      return errorReply('ERR invalid placement');
    }
    if (next.version !== expected + 1) return errorReply('ERR invalid placement version');
    ctx.ks.put(PLACEMENT_KEY, { type: ValueType.String, value: args[2], expireAtMs: 0, revision: ctx.revision });
    return ok();
  },
};
