import { integer } from '../resp/encoder.js';
import { lookup } from './keyspace.js';
import type { KeyedCommand } from './spec.js';

/** DEL k [k ...]: the number of keys removed. Split per group by the router; replies summed. */
const del: KeyedCommand = {
  kind: 'write',
  name: 'del',
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

/** EXISTS k [k ...]: counts each argument, so a repeated key counts twice (as Redis). */
const exists: KeyedCommand = {
  kind: 'read',
  name: 'exists',
  combine: 'sum',
  read(ctx, args) {
    let n = 0;
    for (let i = 1; i < args.length; i++) if (lookup(ctx, args[i]) !== undefined) n++;
    return integer(n);
  },
};

export const KEY_COMMANDS: KeyedCommand[] = [del, exists];
