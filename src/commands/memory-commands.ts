/**
 * OBJECT FREQ, OBJECT IDLETIME and MEMORY USAGE: what the node serving the
 * read knows of a key (on the leader by default; a READONLY or STALE read on
 * a follower sees that follower's own statistics). They look the key up
 * without counting it as an access, as Redis does.
 */
import { integer, nullBulk, type Reply } from '../resp/encoder.js';
import { errGeneric, errNotInteger, errSyntax } from '../resp/replies.js';
import type { KvStateMachine } from './apply.js';
import type { MaxmemorySettings } from './eviction.js';
import { lookup, type ReadContext } from './keyspace.js';
import { keyBytes, keyRecordBytes, lfuDecayed } from './key-stats.js';
import { lower, parseInt64, type KeyedCommand } from './spec.js';

const SWITCH_NOTE = 'Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.';

/** The key's live value through the non-touching reader, and its statistics. */
function find(sm: KvStateMachine, ctx: ReadContext, key: Buffer) {
  const groupId = ctx.groupId ?? 0;
  const value = lookup({ ks: sm.reader(groupId), nowMs: ctx.nowMs }, key);
  return { value, stat: value === undefined ? undefined : sm.keyStats(groupId).get(key.toString('latin1')) };
}

export function memoryCommands(sm: KvStateMachine, settings: MaxmemorySettings): KeyedCommand[] {
  const object: KeyedCommand = {
    kind: 'read',
    name: 'object',
    read(ctx, args): Reply {
      const sub = lower(args[1]);
      const { value, stat } = find(sm, ctx, args[2]);
      if (value === undefined) return nullBulk();
      const lfu = settings.policy().endsWith('-lfu');
      if (sub === 'freq') {
        if (!lfu) return errGeneric(`An LFU maxmemory policy is not selected, access frequency not tracked. ${SWITCH_NOTE}`);
        return integer(stat === undefined ? 0 : lfuDecayed(stat, ctx.nowMs));
      }
      // idletime
      if (lfu) return errGeneric(`An LFU maxmemory policy is selected, idle time not tracked. ${SWITCH_NOTE}`);
      return integer(stat === undefined ? 0 : Math.max(0, Math.floor((ctx.nowMs - stat.accessMs) / 1000)));
    },
  };
  const memory: KeyedCommand = {
    kind: 'read',
    name: 'memory',
    validate(args) {
      // MEMORY USAGE key [SAMPLES count]...: Redis accepts the option repeatedly.
      for (let j = 3; j < args.length; j++) {
        if (lower(args[j]) === 'samples' && j + 1 < args.length) {
          const n = parseInt64(args[j + 1]);
          if (n === undefined) return errNotInteger();
          if (n < 0n) return errSyntax();
          j++;
        } else {
          return errSyntax();
        }
      }
      return undefined;
    },
    read(ctx, args): Reply {
      const { value, stat } = find(sm, ctx, args[2]);
      if (value === undefined) return nullBulk();
      return integer(stat === undefined ? keyRecordBytes(args[2].length, value.value.length) : keyBytes(stat));
    },
  };
  return [object, memory];
}
