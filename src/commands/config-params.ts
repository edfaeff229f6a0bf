/**
 * CONFIG GET / SET over the parameters raftis has. Settable: requirepass (never
 * shown by GET), maxclients, timeout, protected-mode, client-query-buffer-limit,
 * client-output-buffer-limit (docs/security.md), maxmemory, maxmemory-policy,
 * maxmemory-samples (docs/eviction.md). Reported with Redis's defaults and
 * immutable here: save, appendonly, databases, proto-max-bulk-len. Unknown names
 * behave as in Redis 7.0: GET answers nothing for them, SET refuses them.
 * Values are per node: CONFIG SET is not replicated (as in Redis Cluster).
 */
import { bulk, map, ok, type Reply } from '../resp/encoder.js';
import { errConfigSetFailed, errConfigSetUnknown, errWrongArgs } from '../resp/replies.js';
import { globMatch } from './glob.js';
import { parseInt64 } from './spec.js';

export interface Param {
  value: string;
  /** Parses a new value: the stored text, or the reason it is refused. */
  set?: (v: string) => { ok: string } | { error: string };
  /** A secret: CONFIG GET shows '' and the value is not kept here (the SET hooks still get it). */
  sensitive?: boolean;
}

/**
 * Runs after a CONFIG SET has parsed and before it is stored, with every
 * new value of the command; returns an error text to refuse all of them
 * (e.g. a TLS reload that failed), or undefined.
 */
export type ConfigSetHook = (updates: ReadonlyMap<string, string>) => { name: string; error: string } | undefined;

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

const OBL_CLASSES = ['normal', 'slave', 'pubsub'];

/** CONFIG SET client-output-buffer-limit: `<class> <hard> <soft> <seconds>`... merged into `current`. */
function setOutputBufferLimit(current: string) {
  return (v: string): { ok: string } | { error: string } => {
    const words = v.split(/\s+/).filter((w) => w !== '');
    if (words.length === 0 || words.length % 4 !== 0) return { error: 'Wrong number of arguments in buffer limit configuration.' };
    const table = new Map<string, string[]>();
    const cur = current.split(' ');
    for (let i = 0; i < cur.length; i += 4) table.set(cur[i], cur.slice(i + 1, i + 4));
    for (let i = 0; i < words.length; i += 4) {
      let cls = words[i].toLowerCase();
      if (cls === 'replica') cls = 'slave';
      if (!OBL_CLASSES.includes(cls)) return { error: 'Invalid client class specified in buffer limit configuration.' };
      const nums = words.slice(i + 1, i + 4).map((w, j) => (j === 2 ? (/^\d+$/.test(w) ? Number(w) : undefined) : parseMemory(w)));
      if (nums.some((n) => n === undefined)) return { error: 'Error in hard, soft or soft_seconds setting in buffer limit configuration.' };
      table.set(cls, nums.map(String));
    }
    return { ok: OBL_CLASSES.map((c) => `${c} ${table.get(c)!.join(' ')}`).join(' ') };
  };
}

/** Secrets: CONFIG GET shows that one is set, never its value (docs/security.md). */
const SECRET_PARAMS = new Set(['requirepass']);
export const HIDDEN_SECRET = '<hidden>';

export class RuntimeConfig {
  private readonly params = new Map<string, Param>();
  private readonly hooks: ConfigSetHook[] = [];

  constructor(initial: { maxClients: number; requirepass?: string; protectedMode?: boolean; maxmemory?: number; maxmemoryPolicy?: string; maxmemorySamples?: number }) {
    this.params.set('requirepass', { value: initial.requirepass ?? '', set: (v) => ({ ok: v }) });
    this.params.set('maxclients', { value: String(initial.maxClients), set: intRange(1n, 4294967295n) });
    this.params.set('timeout', { value: '0', set: intRange(0n, 2147483647n) });
    this.params.set('protected-mode', {
      value: initial.protectedMode === false ? 'no' : 'yes',
      set: (v) => (['yes', 'no'].includes(v.toLowerCase()) ? { ok: v.toLowerCase() } : { error: "argument must be 'yes' or 'no'" }),
    });
    this.params.set('client-query-buffer-limit', {
      value: String(1024 ** 3),
      set: (v) => {
        const n = parseMemory(v);
        if (n === undefined) return { error: 'argument must be a memory value' };
        if (n < 1024 * 1024) return { error: 'argument must be between 1048576 and 9223372036854775807 inclusive' };
        return { ok: String(n) };
      },
    });
    const obl: Param = { value: 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60' };
    obl.set = (v) => setOutputBufferLimit(obl.value)(v);
    this.params.set('client-output-buffer-limit', obl);
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

  /** Adds (or replaces) a parameter; used by the layers that own one (TLS, for instance). */
  define(name: string, param: Param): void {
    this.params.set(name, { ...param, value: param.sensitive ? '' : param.value });
  }

  onSet(hook: ConfigSetHook): void {
    this.hooks.push(hook);
  }

  get(name: string): string | undefined {
    return this.params.get(name)?.value;
  }

  requirepass(): string {
    return this.params.get('requirepass')!.value;
  }

  /** A numeric parameter (maxclients, timeout, client-query-buffer-limit). */
  num(name: string): number {
    return Number(this.params.get(name)!.value);
  }

  /** client-output-buffer-limit of one class (`normal`, `slave`, `pubsub`). */
  outputBufferLimit(cls: string): { hardBytes: number; softBytes: number; softSeconds: number } {
    const text = this.params.get('client-output-buffer-limit')!.value;
    if (this.oblCache?.text !== text) this.oblCache = { text, byClass: new Map() };
    let limit = this.oblCache.byClass.get(cls);
    if (!limit) {
      const words = text.split(' ');
      const i = words.indexOf(cls);
      limit = { hardBytes: Number(words[i + 1]), softBytes: Number(words[i + 2]), softSeconds: Number(words[i + 3]) };
      this.oblCache.byClass.set(cls, limit);
    }
    return limit;
  }

  private oblCache: { text: string; byClass: Map<string, { hardBytes: number; softBytes: number; softSeconds: number }> } | undefined;

  /** CONFIG GET pattern [pattern ...]: a map of matching names to values. */
  getReply(args: Buffer[]): Reply {
    const out = new Map<string, string>();
    for (const pattern of args.slice(2)) {
      const p = Buffer.from(pattern.toString('latin1').toLowerCase(), 'latin1');
      for (const [name, param] of this.params) {
        if (!globMatch(p, Buffer.from(name), true)) continue;
        out.set(name, SECRET_PARAMS.has(name) && param.value !== '' ? HIDDEN_SECRET : param.value);
      }
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
    for (const hook of this.hooks) {
      const refused = hook(updates);
      if (refused !== undefined) return errConfigSetFailed(refused.name, refused.error);
    }
    for (const [name, v] of updates) {
      const param = this.params.get(name)!;
      param.value = param.sensitive ? '' : v;
    }
    return ok();
  }
}
