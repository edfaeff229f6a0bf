/**
 * CONFIG GET / SET over the parameters raftis has. Settable: requirepass,
 * maxclients, timeout (kept and reported; see docs/commands.md for what they
 * do). Reported with Redis's defaults and immutable here: save, appendonly,
 * databases, proto-max-bulk-len, maxmemory, maxmemory-policy. Unknown names
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

export class RuntimeConfig {
  private readonly params = new Map<string, Param>();
  private readonly hooks: ConfigSetHook[] = [];

  constructor(initial: { maxClients: number; requirepass?: string }) {
    this.params.set('requirepass', { value: initial.requirepass ?? '', set: (v) => ({ ok: v }) });
    this.params.set('maxclients', { value: String(initial.maxClients), set: intRange(1n, 4294967295n) });
    this.params.set('timeout', { value: '0', set: intRange(0n, 2147483647n) });
    this.params.set('save', { value: '' });
    this.params.set('appendonly', { value: 'no' });
    this.params.set('databases', { value: '1' });
    this.params.set('proto-max-bulk-len', { value: '536870912' });
    this.params.set('maxmemory', { value: '0' });
    this.params.set('maxmemory-policy', { value: 'noeviction' });
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
