/**
 * CONFIG GET / SET over the parameters raftis has. Settable: requirepass,
 * maxclients, timeout (kept and reported; see docs/commands.md for what they
 * do), maxmemory, maxmemory-policy, maxmemory-samples (docs/eviction.md).
 * Reported with Redis's defaults and immutable here: save, appendonly,
 * databases, proto-max-bulk-len. Unknown names
 * behave as in Redis 7.0: GET answers nothing for them, SET refuses them.
 * Values are per node: CONFIG SET is not replicated (as in Redis Cluster).
 */
import { bulk, map, ok, type Reply } from '../resp/encoder.js';
import { errConfigSetFailed, errConfigSetUnknown, errWrongArgs } from '../resp/replies.js';
import { globMatch } from './glob.js';
import { parseInt64 } from './spec.js';

interface Param {
  value: string;
  /** Parses a new value: the stored text, or the reason it is refused. */
  set?: (v: string) => { ok: string } | { error: string };
}

function intRange(lo: bigint, hi: bigint) {
  return (v: string): { ok: string } | { error: string } => {
    const n = parseInt64(v);
    if (n === undefined) return { error: "argument couldn't be parsed into an integer" };
    if (n < lo || n > hi) return { error: `argument must be between ${lo} and ${hi} inclusive` };
    return { ok: n.toString() };
  };
}

/** Redis's memtoull: digits with an optional unit (b, k, kb, m, mb, g, gb; any case). */
export function parseMemory(v: string): number | undefined {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3 };
  const n = Number(m[1]) * mult[unit];
  return Number.isSafeInteger(n) ? n : undefined;
}

const MAXMEMORY_POLICIES = ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction'];

export class RuntimeConfig {
  private readonly params = new Map<string, Param>();

  constructor(initial: { maxClients: number; requirepass?: string; maxmemory?: number; maxmemoryPolicy?: string; maxmemorySamples?: number }) {
    this.params.set('requirepass', { value: initial.requirepass ?? '', set: (v) => ({ ok: v }) });
    this.params.set('maxclients', { value: String(initial.maxClients), set: intRange(1n, 4294967295n) });
    this.params.set('timeout', { value: '0', set: intRange(0n, 2147483647n) });
    this.params.set('save', { value: '' });
    this.params.set('appendonly', { value: 'no' });
    this.params.set('databases', { value: '1' });
    this.params.set('proto-max-bulk-len', { value: '536870912' });
    this.params.set('maxmemory', {
      value: String(initial.maxmemory ?? 0),
      set: (v) => {
        const n = parseMemory(v);
        return n === undefined ? { error: 'argument must be a memory value' } : { ok: String(n) };
      },
    });
    this.params.set('maxmemory-policy', {
      value: initial.maxmemoryPolicy ?? 'noeviction',
      set: (v) => MAXMEMORY_POLICIES.includes(v.toLowerCase())
        ? { ok: v.toLowerCase() }
        : { error: `argument(s) must be one of the following: ${MAXMEMORY_POLICIES.join(', ')}` },
    });
    this.params.set('maxmemory-samples', { value: String(initial.maxmemorySamples ?? 5), set: intRange(1n, 2147483647n) });
  }

  get(name: string): string | undefined {
    return this.params.get(name)?.value;
  }

  requirepass(): string {
    return this.params.get('requirepass')!.value;
  }

  /** CONFIG GET pattern [pattern ...]: a map of matching names to values. */
  getReply(args: Buffer[]): Reply {
    const out = new Map<string, string>();
    for (const pattern of args.slice(2)) {
      const p = Buffer.from(pattern.toString('latin1').toLowerCase(), 'latin1');
      for (const [name, param] of this.params) if (globMatch(p, Buffer.from(name), true)) out.set(name, param.value);
    }
    return map([...out].map(([k, v]) => [bulk(k), bulk(v)] as const));
  }

  /** CONFIG SET name value [name value ...]: all or nothing, as Redis 7.0. */
  setReply(args: Buffer[]): Reply {
    if (args.length < 4 || args.length % 2 !== 0) return errWrongArgs('config|set');
    const updates = new Map<string, string>();
    for (let i = 2; i < args.length; i += 2) {
      const name = args[i].toString('latin1').toLowerCase();
      const param = this.params.get(name);
      if (!param) return errConfigSetUnknown(args[i]);
      if (updates.has(name)) return errConfigSetFailed(name, 'duplicate parameter');
      if (!param.set) return errConfigSetFailed(name, "can't set immutable config");
      const r = param.set(args[i + 1].toString());
      if ('error' in r) return errConfigSetFailed(name, r.error);
      updates.set(name, r.ok);
    }
    for (const [name, v] of updates) this.params.get(name)!.value = v;
    return ok();
  }
}
