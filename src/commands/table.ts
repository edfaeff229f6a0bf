/**
 * The command table: name, arity, flags and key positions of every Redis command (from
 * `@ioredis/commands`, the metadata ioredis itself routes by), plus a registry where command
 * families register their handler and docs, from which COMMAND COUNT / INFO / DOCS replies are
 * built in Redis 7.0's shapes.
 */
import { createRequire } from 'node:module';
import {
  array, bulk, integer, map, nullBulk, set, simple, type Reply,
} from '../resp/encoder.js';
import { errUnknownCommand, errUnknownSubcommand, errWrongArgs } from '../resp/replies.js';

/** Static metadata of one command, as in Redis's command table. */
export interface CommandSpec {
  /** Lowercase name; subcommands as `container|sub`. */
  readonly name: string;
  /** Redis arity: N means exactly N args (name included), -N means at least N. */
  readonly arity: number;
  /** Redis command flags (`write`, `readonly`, `fast`, `movablekeys`...). */
  readonly flags: readonly string[];
  /** Position (in the full argv, name at 0) of the first key; 0 when there are none. */
  readonly keyStart: number;
  /** Position of the last key; negative counts from the end (-1 = last argument). */
  readonly keyStop: number;
  readonly keyStep: number;
}

interface RawSpec { arity: number; flags: string[]; keyStart: number; keyStop: number; step: number }

const require = createRequire(import.meta.url);
const raw = require('@ioredis/commands/built/commands.json') as Record<string, RawSpec>;
const ioredisCommands = require('@ioredis/commands') as {
  getKeyIndexes(name: string, args: Array<string | Buffer>): number[];
};

const specs = new Map<string, CommandSpec>();
for (const [name, r] of Object.entries(raw)) {
  specs.set(name, Object.freeze({
    name, arity: r.arity, flags: Object.freeze([...r.flags]), keyStart: r.keyStart, keyStop: r.keyStop, keyStep: r.step,
  }));
}

function lower(name: Buffer | string): string {
  return (typeof name === 'string' ? name : name.toString('latin1')).toLowerCase();
}

/** The table entry for a command name (any case), or undefined if Redis has no such command. */
export function lookupCommand(name: Buffer | string): CommandSpec | undefined {
  return specs.get(lower(name));
}

/** Every command in the table. */
export function allCommandSpecs(): IterableIterator<CommandSpec> {
  return specs.values();
}

/** True when `argc` (name included) satisfies the arity. */
export function arityOk(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}

/**
 * Positions in `args` (full argv, name at 0) of the keys, as Redis's key specs give them.
 * Movable-keys commands (EVAL, ZUNIONSTORE, SORT...) are resolved by @ioredis/commands.
 * Returns [] for unknown commands and keyless ones.
 */
export function getKeyIndexes(spec: CommandSpec, args: ReadonlyArray<Buffer>): number[] {
  if (spec.flags.includes('movablekeys')) {
    try {
      return ioredisCommands.getKeyIndexes(spec.name, args.slice(1) as Buffer[]).map((i) => i + 1).filter((i) => i < args.length);
    } catch {
      return [];
    }
  }
  if (spec.keyStart <= 0 || spec.keyStep <= 0) return [];
  const last = spec.keyStop < 0 ? args.length + spec.keyStop : Math.min(spec.keyStop, args.length - 1);
  const keys: number[] = [];
  for (let i = spec.keyStart; i <= last; i += spec.keyStep) keys.push(i);
  return keys;
}

/**
 * The position of a command's only key when getKeyIndexes would return exactly one position
 * from its fixed key spec (GET k, SET k v...), else -1 (no key, several keys, movable keys).
 * Allocates nothing: the per-request fast path of single-key commands.
 */
export function singleKeyIndex(spec: CommandSpec, argc: number): number {
  if (spec.keyStart <= 0 || spec.keyStep <= 0 || spec.flags.includes('movablekeys')) return -1;
  const last = spec.keyStop < 0 ? argc + spec.keyStop : Math.min(spec.keyStop, argc - 1);
  return spec.keyStart <= last && spec.keyStart + spec.keyStep > last ? spec.keyStart : -1;
}

/** The keys of a command, as Buffers (see getKeyIndexes). */
export function getKeys(spec: CommandSpec, args: ReadonlyArray<Buffer>): Buffer[] {
  return getKeyIndexes(spec, args).map((i) => args[i]!);
}

// ---------------------------------------------------------------------------------------------
// Registry and docs.

/** One argument in COMMAND DOCS (Redis's redisCommandArg). */
export interface ArgumentDoc {
  name: string;
  type: 'string' | 'integer' | 'double' | 'key' | 'pattern' | 'unix-time' | 'pure-token' | 'oneof' | 'block';
  keySpecIndex?: number;
  token?: string;
  summary?: string;
  since?: string;
  deprecatedSince?: string;
  flags?: Array<'optional' | 'multiple' | 'multiple_token'>;
  arguments?: ArgumentDoc[];
}

/** The COMMAND DOCS fields of a command. */
export interface CommandDocs {
  summary: string;
  since: string;
  /** Redis command group: `string`, `generic`, `hash`, `connection`, `server`, `cluster`, `transactions`... */
  group: string;
  complexity?: string;
  docFlags?: string[];
  deprecatedSince?: string;
  replacedBy?: string;
  /** [version, description] pairs. */
  history?: Array<[string, string]>;
  arguments?: ArgumentDoc[];
}

/** One key spec of COMMAND INFO (Redis 7 keySpec). */
export interface KeySpec {
  notes?: string;
  /** e.g. ['RO', 'access'], ['RW', 'update'], ['OW', 'update'], ['RM', 'delete']. */
  flags: string[];
  beginSearch: { type: 'index'; index: number } | { type: 'keyword'; keyword: string; startfrom: number };
  findKeys: { type: 'range'; lastkey: number; keystep: number; limit: number }
    | { type: 'keynum'; keynumidx: number; firstkey: number; keystep: number };
}

/** What a command family registers. */
export interface CommandRegistration<H> {
  /** Command name, or `container|sub` for a subcommand. */
  name: string;
  handler: H;
  docs: CommandDocs;
  /** Overrides of the @ioredis/commands metadata (required for names it does not know). */
  spec?: Partial<Omit<CommandSpec, 'name'>>;
  /** ACL categories without `@`; derived from flags and docs.group when absent. */
  aclCategories?: string[];
  /** Command tips such as `request_policy:multi_shard`. */
  tips?: string[];
  /** Derived from keyStart/keyStop/keyStep and the read/write flags when absent. */
  keySpecs?: KeySpec[];
}

/** A registered command: its table spec, handler and docs. */
export interface RegisteredCommand<H> {
  readonly spec: CommandSpec;
  readonly handler: H;
  readonly docs: CommandDocs;
  readonly aclCategories: readonly string[];
  readonly tips: readonly string[];
  readonly keySpecs: readonly KeySpec[];
  /** Subcommands by lowercase subcommand name (without the container prefix). */
  readonly subcommands: Map<string, RegisteredCommand<H>>;
}

/** Redis's ACL category order (acl.c ACLCommandCategories), which COMMAND INFO follows. */
const ACL_ORDER = ['keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap',
  'hyperloglog', 'geo', 'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection',
  'transaction', 'scripting'];

const GROUP_CATEGORY: Record<string, string> = {
  generic: 'keyspace', string: 'string', hash: 'hash', list: 'list', set: 'set', 'sorted-set': 'sortedset',
  bitmap: 'bitmap', hyperloglog: 'hyperloglog', geo: 'geo', stream: 'stream', 'pubsub': 'pubsub',
  connection: 'connection', transactions: 'transaction', scripting: 'scripting',
};

function deriveAclCategories(spec: CommandSpec, docs: CommandDocs): string[] {
  const cats = new Set<string>();
  const f = new Set(spec.flags);
  if (f.has('write')) cats.add('write');
  if (f.has('readonly') && docs.group !== 'connection') cats.add('read');
  if (f.has('admin')) { cats.add('admin'); cats.add('dangerous'); }
  if (f.has('pubsub')) cats.add('pubsub');
  if (f.has('blocking')) cats.add('blocking');
  cats.add(f.has('fast') ? 'fast' : 'slow');
  const group = GROUP_CATEGORY[docs.group];
  if (group !== undefined) cats.add(group);
  return sortCategories([...cats]);
}

function sortCategories(cats: string[]): string[] {
  const rank = (c: string): number => { const i = ACL_ORDER.indexOf(c); return i === -1 ? ACL_ORDER.length : i; };
  return [...cats].sort((a, b) => rank(a) - rank(b));
}

function deriveKeySpecs(spec: CommandSpec): KeySpec[] {
  if (spec.keyStart <= 0 || spec.flags.includes('movablekeys')) return [];
  const flags = spec.flags.includes('write') ? ['RW', 'update'] : ['RO', 'access'];
  const lastkey = spec.keyStop < 0 ? spec.keyStop : spec.keyStop - spec.keyStart;
  return [{ flags, beginSearch: { type: 'index', index: spec.keyStart }, findKeys: { type: 'range', lastkey, keystep: spec.keyStep, limit: 0 } }];
}

const NAME_CACHE_SLOTS = 256;
const NAME_CACHE_LEN_MAX = 32;

/** Outcome of resolving an incoming argv against the registry. */
export type Resolution<H> =
  | { readonly ok: true; readonly command: RegisteredCommand<H> }
  | { readonly ok: false; readonly reply: Reply };

/** The commands a node serves: handler, docs and metadata for each. */
export class CommandRegistry<H> {
  private readonly commands = new Map<string, RegisteredCommand<H>>();
  /**
   * Top-level commands by the bytes of their name, direct-mapped: resolve() finds a command
   * sent in any case without converting its name to a (lowercase) string per request.
   */
  private readonly byBytes: Array<{ name: Buffer; command: RegisteredCommand<H> } | undefined> = new Array(NAME_CACHE_SLOTS);

  /** Registers a command or (with `container|sub`) a subcommand of an already registered container. */
  register(reg: CommandRegistration<H>): void {
    this.byBytes.fill(undefined);
    const fullName = reg.name.toLowerCase();
    const [container, sub] = fullName.split('|') as [string, string | undefined];
    const base = lookupCommand(fullName);
    const arity = reg.spec?.arity ?? base?.arity;
    if (arity === undefined) throw new Error(`command ${fullName}: not in the Redis table; give spec.arity`);
    const spec: CommandSpec = Object.freeze({
      name: fullName,
      arity,
      flags: Object.freeze([...(reg.spec?.flags ?? base?.flags ?? [])]),
      keyStart: reg.spec?.keyStart ?? base?.keyStart ?? 0,
      keyStop: reg.spec?.keyStop ?? base?.keyStop ?? 0,
      keyStep: reg.spec?.keyStep ?? base?.keyStep ?? 0,
    });
    const command: RegisteredCommand<H> = {
      spec,
      handler: reg.handler,
      docs: reg.docs,
      aclCategories: reg.aclCategories ? sortCategories(reg.aclCategories) : deriveAclCategories(spec, reg.docs),
      tips: reg.tips ?? [],
      keySpecs: reg.keySpecs ?? deriveKeySpecs(spec),
      subcommands: new Map(),
    };
    if (sub === undefined) {
      if (this.commands.has(fullName)) throw new Error(`command ${fullName}: registered twice`);
      this.commands.set(fullName, command);
      return;
    }
    const parent = this.commands.get(container);
    if (parent === undefined) throw new Error(`subcommand ${fullName}: register ${container} first`);
    if (parent.subcommands.has(sub)) throw new Error(`subcommand ${fullName}: registered twice`);
    parent.subcommands.set(sub, command);
  }

  /** The registered command (not subcommand) by name, any case. */
  get(name: Buffer | string): RegisteredCommand<H> | undefined {
    return this.commands.get(lower(name));
  }

  /** Number of registered top-level commands (COMMAND COUNT). */
  get size(): number {
    return this.commands.size;
  }

  /** Registered top-level commands in registration order. */
  list(): RegisteredCommand<H>[] {
    return [...this.commands.values()];
  }

  /**
   * Finds the command for an argv and checks its arity as Redis processCommand does: unknown
   * command, unknown subcommand (for containers with registered subcommands), or wrong arity
   * errors come back as the exact Redis reply.
   */
  /** The top-level command named `name` (any case), through the byBytes cache. */
  private top(name: Buffer): RegisteredCommand<H> | undefined {
    const len = name.length;
    if (len === 0 || len > NAME_CACHE_LEN_MAX) return this.commands.get(lower(name));
    const slot = (len * 31 + (name[0]! | 0x20) * 7 + (name[len - 1]! | 0x20)) & (NAME_CACHE_SLOTS - 1);
    const hit = this.byBytes[slot];
    if (hit !== undefined && hit.name.length === len) {
      const want = hit.name;
      let i = 0;
      for (; i < len; i++) {
        let c = name[i]!;
        if (c >= 0x41 && c <= 0x5a) c |= 0x20; // ASCII A-Z only: command names are ASCII
        if (c !== want[i]) break;
      }
      if (i === len) return hit.command;
    }
    const command = this.commands.get(lower(name));
    if (command !== undefined) this.byBytes[slot] = { name: Buffer.from(command.spec.name, 'latin1'), command };
    return command;
  }

  resolve(args: ReadonlyArray<Buffer>): Resolution<H> {
    const command = this.top(args[0]!);
    if (command === undefined) return { ok: false, reply: errUnknownCommand(args) };
    if (command.subcommands.size > 0 && args.length >= 2) {
      const sub = command.subcommands.get(lower(args[1]!));
      if (sub === undefined) return { ok: false, reply: errUnknownSubcommand(command.spec.name, args[1]!) };
      if (!arityOk(sub.spec.arity, args.length)) return { ok: false, reply: errWrongArgs(sub.spec.name) };
      return { ok: true, command: sub };
    }
    if (!arityOk(command.spec.arity, args.length)) return { ok: false, reply: errWrongArgs(command.spec.name) };
    return { ok: true, command };
  }

  /** COMMAND COUNT. */
  commandCountReply(): Reply {
    return integer(this.commands.size);
  }

  /** COMMAND INFO [name ...]: every command when no names; a null entry for unknown names. */
  commandInfoReply(names: ReadonlyArray<Buffer | string> = []): Reply {
    if (names.length === 0) return array(this.list().map((c) => infoEntry(c)));
    return array(names.map((n) => {
      const c = this.findFull(lower(n));
      return c === undefined ? nullBulk() : infoEntry(c);
    }));
  }

  /** COMMAND DOCS [name ...]: a map name → docs; unknown names are left out. */
  commandDocsReply(names: ReadonlyArray<Buffer | string> = []): Reply {
    const chosen = names.length === 0
      ? this.list()
      : names.map((n) => this.findFull(lower(n))).filter((c): c is RegisteredCommand<H> => c !== undefined);
    return map(chosen.map((c) => [bulk(c.spec.name), docsEntry(c)] as const));
  }

  /** A command or `container|sub`. */
  private findFull(name: string): RegisteredCommand<H> | undefined {
    const [container, sub] = name.split('|') as [string, string | undefined];
    const c = this.commands.get(container);
    return sub === undefined ? c : c?.subcommands.get(sub);
  }
}

/** COMMAND INFO for one registered command. */
export function commandInfoReply<H>(registry: CommandRegistry<H>, name: Buffer | string): Reply {
  return registry.commandInfoReply([name]);
}

/** COMMAND DOCS for one registered command. */
export function commandDocsReply<H>(registry: CommandRegistry<H>, name: Buffer | string): Reply {
  return registry.commandDocsReply([name]);
}

const strings = (xs: readonly string[]): Reply => set(xs.map(simple));

function keySpecReply(k: KeySpec): Reply {
  const entries: Array<readonly [Reply, Reply]> = [];
  if (k.notes !== undefined) entries.push([bulk('notes'), bulk(k.notes)]);
  entries.push([bulk('flags'), strings(k.flags)]);
  const bs = k.beginSearch;
  entries.push([bulk('begin_search'), map([
    [bulk('type'), bulk(bs.type)],
    [bulk('spec'), bs.type === 'index'
      ? map([[bulk('index'), integer(bs.index)]])
      : map([[bulk('keyword'), bulk(bs.keyword)], [bulk('startfrom'), integer(bs.startfrom)]])],
  ])]);
  const fk = k.findKeys;
  entries.push([bulk('find_keys'), map([
    [bulk('type'), bulk(fk.type)],
    [bulk('spec'), fk.type === 'range'
      ? map([[bulk('lastkey'), integer(fk.lastkey)], [bulk('keystep'), integer(fk.keystep)], [bulk('limit'), integer(fk.limit)]])
      : map([[bulk('keynumidx'), integer(fk.keynumidx)], [bulk('firstkey'), integer(fk.firstkey)], [bulk('keystep'), integer(fk.keystep)]])],
  ])]);
  return map(entries);
}

/** [name, arity, flags, first, last, step, acl-categories, tips, key-specs, subcommands] (Redis 7). */
function infoEntry<H>(c: RegisteredCommand<H>): Reply {
  const s = c.spec;
  return array([
    bulk(s.name), integer(s.arity), strings(s.flags),
    integer(s.keyStart), integer(s.keyStop), integer(s.keyStep),
    strings(c.aclCategories.map((x) => `@${x}`)), set(c.tips.map((t) => bulk(t))),
    // Redis replies with sets (RESP3 `~`) for the key specs and the subcommands.
    set(c.keySpecs.map(keySpecReply)),
    set([...c.subcommands.values()].map((sub) => infoEntry(sub))),
  ]);
}

function argumentReply(a: ArgumentDoc): Reply {
  const entries: Array<readonly [Reply, Reply]> = [[bulk('name'), bulk(a.name)], [bulk('type'), bulk(a.type)]];
  if (a.keySpecIndex !== undefined) entries.push([bulk('key_spec_index'), integer(a.keySpecIndex)]);
  if (a.token !== undefined) entries.push([bulk('token'), bulk(a.token)]);
  if (a.summary !== undefined) entries.push([bulk('summary'), bulk(a.summary)]);
  if (a.since !== undefined) entries.push([bulk('since'), bulk(a.since)]);
  if (a.deprecatedSince !== undefined) entries.push([bulk('deprecated_since'), bulk(a.deprecatedSince)]);
  if (a.flags !== undefined && a.flags.length > 0) entries.push([bulk('flags'), strings(a.flags)]);
  if (a.arguments !== undefined) entries.push([bulk('arguments'), array(a.arguments.map(argumentReply))]);
  return map(entries);
}

/** Field order of Redis 7.0 addReplyCommandDocs. */
function docsEntry<H>(c: RegisteredCommand<H>): Reply {
  const d = c.docs;
  const entries: Array<readonly [Reply, Reply]> = [
    [bulk('summary'), bulk(d.summary)], [bulk('since'), bulk(d.since)], [bulk('group'), bulk(d.group)],
  ];
  if (d.complexity !== undefined) entries.push([bulk('complexity'), bulk(d.complexity)]);
  if (d.docFlags !== undefined && d.docFlags.length > 0) entries.push([bulk('doc_flags'), strings(d.docFlags)]);
  if (d.deprecatedSince !== undefined) entries.push([bulk('deprecated_since'), bulk(d.deprecatedSince)]);
  if (d.replacedBy !== undefined) entries.push([bulk('replaced_by'), bulk(d.replacedBy)]);
  if (d.history !== undefined && d.history.length > 0) {
    entries.push([bulk('history'), array(d.history.map(([v, text]) => array([bulk(v), bulk(text)])))]);
  }
  if (d.arguments !== undefined && d.arguments.length > 0) entries.push([bulk('arguments'), array(d.arguments.map(argumentReply))]);
  if (c.subcommands.size > 0) {
    entries.push([bulk('subcommands'), map([...c.subcommands.values()].map((sub) => [bulk(sub.spec.name), docsEntry(sub)] as const))]);
  }
  return map(entries);
}
