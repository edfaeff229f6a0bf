import { bulk, ok, type Reply } from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import { errGeneric } from '../resp/replies.js';
import { DEFAULT_READ_POLICY, type ReadPolicy } from './router.js';

const CONSISTENCY_KEY = 'consistency';
const LEVELS = ['linearizable', 'lease', 'stale'] as const;

/** The read policy of a connection: READONLY and CLIENT CONSISTENCY. */
export function readPolicyOf(ctx: ClientContext): ReadPolicy {
  const c = ctx.state.get(CONSISTENCY_KEY) as ReadPolicy['consistency'] | undefined;
  const readonly = ctx.flags.has('readonly');
  // The common case shares one frozen object instead of one per command.
  if (c === undefined && !readonly) return DEFAULT_READ_POLICY;
  return { consistency: c ?? 'default', readonly };
}

/**
 * `CLIENT CONSISTENCY [LINEARIZABLE|LEASE|STALE]`: sets how this connection's
 * reads are served (docs/cluster.md), or with no argument returns the level in
 * force (`default` = the node's `readMode`).
 */
export function clientConsistency(ctx: ClientContext, args: Buffer[]): Reply {
  if (args.length === 2) return bulk((ctx.state.get(CONSISTENCY_KEY) as string | undefined) ?? 'default');
  const level = args[2].toString('latin1').toLowerCase();
  if (level === 'default') {
    ctx.state.delete(CONSISTENCY_KEY);
    return ok();
  }
  if (!(LEVELS as readonly string[]).includes(level)) {
    return errGeneric('CLIENT CONSISTENCY must be one of LINEARIZABLE, LEASE, STALE or DEFAULT');
  }
  ctx.state.set(CONSISTENCY_KEY, level);
  return ok();
}
