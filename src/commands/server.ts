import {
  bulk, integer, map, nullBulk, ok, simple, verbatim, array, type Reply,
} from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import {
  errDbIndexOutOfRange, errGeneric, errNoProto, errNotInteger, errSyntax, errUnknownSubcommand, errWrongArgs,
} from '../resp/replies.js';
import { lower, parseInt64 } from './spec.js';
import type { RuntimeConfig } from './config-params.js';
import { clearTransaction } from './transactions.js';
import { errAuthNotConfigured, errNoAuthHello, errNoSuchClient, errWrongPass } from '../resp/replies.js';
import { clientConsistency } from '../cluster/read-policy.js';
import type { AclService } from './acl.js';

/** What the connection and server commands need to know about the node. */
export interface ServerInfo {
  version: string;
  nodeId: number;
  tcpPort: number;
  startedAtMs: number;
  nowMs(): number;
  clients(): ClientContext[];
  /** INFO sections this node adds (replication, keyspace, raft...), by lowercase name. */
  sections(): Array<[name: string, lines: Array<[string, string | number]>]>;
  stats: { commandsProcessed: number; connectionsReceived: number; rejectedConnections?: number };
  commandCount(): number;
  commandInfo(names: string[] | null): Reply;
  commandDocs(names: string[] | null): Reply;
  commandList(): Reply;
  commandGetKeys(args: Buffer[]): Reply;
  /** CONFIG GET/SET parameters of this node. */
  config: RuntimeConfig;
  /** ACL users and counters. */
  acl: AclService;
  /** Bytes of data stored in this node's data groups and keys evicted (docs/eviction.md); absent: process memory. */
  memory?: () => { usedBytes: number; evictedKeys: number };
  /** Per-command counters (INFO commandstats), by command name (`container|sub` for subcommands). */
  commandStats(): ReadonlyMap<string, { calls: number; usec: number; failedCalls: number; rejectedCalls: number }>;
}

/** Authenticates a connection as `user` (AUTH, HELLO AUTH); WRONGPASS counts in INFO stats. */
function login(ctx: ClientContext, info: ServerInfo, user: string, pass: Buffer): boolean {
  if (!info.acl.authenticate(user, pass)) return false;
  ctx.state.set('authenticated', true);
  ctx.state.set('user', user);
  return true;
}

function auth(ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  if (args.length > 3) return errSyntax();
  // As Redis: AUTH <password> with the default user passwordless (and no requirepass) is an error.
  if (args.length === 2 && info.acl.defaultNeedsNoAuth()) return errAuthNotConfigured();
  const user = args.length === 3 ? args[1].toString() : 'default';
  if (!login(ctx, info, user, args[args.length - 1])) return errWrongPass();
  return ok();
}

function reset(ctx: ClientContext, _args: Buffer[], info: ServerInfo): Reply {
  clearTransaction(ctx);
  ctx.protocol = 2;
  ctx.name = null;
  ctx.db = 0;
  ctx.flags.delete('readonly');
  ctx.state.set('authenticated', info.acl.defaultNeedsNoAuth());
  ctx.state.set('user', 'default');
  return simple('RESET');
}

function time(_ctx: ClientContext, _args: Buffer[], info: ServerInfo): Reply {
  const us = Math.floor(info.nowMs() * 1000);
  return array([bulk(String(Math.floor(us / 1e6))), bulk(String(us % 1e6))]);
}

function config(_ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  switch (lower(args[1])) {
    case 'get': return info.config.getReply(args);
    case 'set': return info.config.setReply(args);
    case 'resetstat': return ok();
    default: return errUnknownSubcommand('config', args[1]);
  }
}

/** CLIENT KILL addr (old form: OK or an error) or CLIENT KILL <filter value> ... (new form: how many). */
function clientKill(ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  if (args.length === 3) {
    const addr = args[2].toString();
    const victim = info.clients().find((c) => c.addr === addr);
    if (!victim) return errNoSuchClient();
    victim.closeAfterReply();
    return ok();
  }
  if (args.length % 2 !== 0) return errSyntax();
  let skipMe = true;
  const filters: Array<(c: ClientContext) => boolean> = [];
  for (let i = 2; i < args.length; i += 2) {
    const opt = lower(args[i]);
    const v = args[i + 1].toString();
    if (opt === 'id') {
      const id = parseInt64(v);
      if (id === undefined || id <= 0n) return errGeneric('client-id should be greater than 0');
      filters.push((c) => BigInt(c.id) === id);
    } else if (opt === 'addr') filters.push((c) => c.addr === v);
    else if (opt === 'laddr') filters.push((c) => c.laddr === v);
    else if (opt === 'user') filters.push((c) => v === (typeof c.state.get('user') === 'string' ? c.state.get('user') : 'default'));
    else if (opt === 'type') filters.push(() => ['normal'].includes(v.toLowerCase()));
    else if (opt === 'skipme') {
      const y = v.toLowerCase();
      if (y !== 'yes' && y !== 'no') return errSyntax();
      skipMe = y === 'yes';
    } else return errSyntax();
  }
  let killed = 0;
  for (const c of info.clients()) {
    if (skipMe && c.id === ctx.id) continue;
    if (!filters.every((f) => f(c))) continue;
    c.closeAfterReply();
    killed++;
  }
  return integer(killed);
}

export type ServerCommand = (ctx: ClientContext, args: Buffer[], info: ServerInfo) => Reply | Promise<Reply>;

const VALID_NAME = /^[!-~]*$/; // printable ASCII without spaces, as Redis requires of client names

function ping(ctx: ClientContext, args: Buffer[]): Reply {
  if (args.length > 2) return errWrongArgs('ping');
  return args.length === 2 ? bulk(args[1]) : simple('PONG');
}

function echo(_ctx: ClientContext, args: Buffer[]): Reply {
  return bulk(args[1]);
}

function select(ctx: ClientContext, args: Buffer[]): Reply {
  const n = parseInt64(args[1]);
  if (n === undefined) return errNotInteger();
  if (n !== 0n) return errDbIndexOutOfRange();
  ctx.db = 0;
  return ok();
}

function hello(ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  let proto = ctx.protocol;
  let i = 1;
  if (args.length > 1) {
    const v = parseInt64(args[1]);
    if (v === undefined) return errGeneric('Protocol version is not an integer or out of range');
    if (v !== 2n && v !== 3n) return errNoProto();
    proto = Number(v) as 2 | 3;
    i = 2;
  }
  let name: string | null | undefined;
  let authed = false;
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === 'auth' && i + 2 < args.length) {
      if (!login(ctx, info, args[i + 1].toString(), args[i + 2])) return errWrongPass();
      authed = true;
      i += 2;
    } else if (opt === 'setname' && i + 1 < args.length) {
      const n = args[++i].toString();
      if (!VALID_NAME.test(n)) return errGeneric('Client names cannot contain spaces, newlines or special characters.');
      name = n;
    } else {
      return errSyntax();
    }
  }
  if (!authed && ctx.state.get('authenticated') !== true && !info.acl.defaultNeedsNoAuth()) {
    return errNoAuthHello();
  }
  ctx.protocol = proto;
  if (name !== undefined) ctx.name = name === '' ? null : name;
  return map([
    [bulk('server'), bulk('redis')],
    [bulk('version'), bulk(info.version)],
    [bulk('proto'), integer(proto)],
    [bulk('id'), integer(ctx.id)],
    [bulk('mode'), bulk('standalone')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), array([])],
  ]);
}

function clientLine(c: ClientContext, now: number): string {
  return `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=0 name=${c.name ?? ''} age=0 idle=0 flags=${c.flags.has('multi') ? 'x' : 'N'} db=${c.db} ` +
    `sub=0 psub=0 ssub=0 multi=${(c.state.get('multi') as { queued: unknown[] } | undefined)?.queued.length ?? -1} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 ` +
    `tot-mem=0 events=r cmd=client|list user=${typeof c.state.get('user') === 'string' ? c.state.get('user') as string : 'default'} redir=-1 resp=${c.protocol}` + (now < 0 ? '' : '');
}

function client(ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  const sub = lower(args[1]);
  switch (sub) {
    case 'setname': {
      if (args.length !== 3) return errWrongArgs('client|setname');
      const n = args[2].toString();
      if (!VALID_NAME.test(n)) return errGeneric('Client names cannot contain spaces, newlines or special characters.');
      ctx.name = n === '' ? null : n;
      return ok();
    }
    case 'getname':
      if (args.length !== 2) return errWrongArgs('client|getname');
      return ctx.name === null ? nullBulk() : bulk(ctx.name);
    case 'id':
      if (args.length !== 2) return errWrongArgs('client|id');
      return integer(ctx.id);
    case 'setinfo': {
      if (args.length !== 4) return errWrongArgs('client|setinfo');
      const attr = lower(args[2]);
      if (attr !== 'lib-name' && attr !== 'lib-ver') return errGeneric(`Unrecognized option '${args[2].toString()}'`);
      ctx.state.set(attr, args[3].toString());
      return ok();
    }
    case 'info':
      return verbatim(clientLine(ctx, info.nowMs()) + '\n');
    case 'list':
      return verbatim(info.clients().map((c) => clientLine(c, info.nowMs()) + '\n').join(''));
    case 'kill':
      return clientKill(ctx, args, info);
    case 'consistency':
      return clientConsistency(ctx, args);
    case 'no-evict':
    case 'no-touch':
      if (args.length !== 3) return errWrongArgs(`client|${sub}`);
      if (!['on', 'off'].includes(lower(args[2]))) return errSyntax();
      return ok();
    default:
      return errUnknownSubcommand('client', args[1]);
  }
}

function command(_ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  if (args.length === 1) return info.commandInfo(null);
  const sub = lower(args[1]);
  const names = args.slice(2).map((a) => lower(a));
  switch (sub) {
    case 'count':
      if (args.length !== 2) return errWrongArgs('command|count');
      return integer(info.commandCount());
    case 'info':
      return info.commandInfo(names.length > 0 ? names : null);
    case 'docs':
      return info.commandDocs(names.length > 0 ? names : null);
    case 'list':
      return info.commandList();
    case 'getkeys':
      return info.commandGetKeys(args.slice(2));
    default:
      return errUnknownSubcommand('command', args[1]);
  }
}

/** Renders INFO in Redis's format: `# Section` headers and `field:value` lines. */
export function renderInfo(info: ServerInfo, wanted: string[]): string {
  const now = info.nowMs();
  const builtin: Array<[string, Array<[string, string | number]>]> = [
    ['server', [
      ['redis_version', info.version],
      ['redis_mode', 'standalone'],
      ['raftis_node_id', info.nodeId],
      ['os', `${process.platform} ${process.arch}`],
      ['process_id', process.pid],
      ['tcp_port', info.tcpPort],
      ['uptime_in_seconds', Math.floor((now - info.startedAtMs) / 1000)],
      ['uptime_in_days', Math.floor((now - info.startedAtMs) / 86400000)],
      ['executable', process.argv[1] ?? ''],
    ]],
    ['clients', [
      ['connected_clients', info.clients().length],
      ['maxclients', info.config.get('maxclients') ?? 10000],
      ['blocked_clients', 0],
    ]],
    ['memory', memoryLines(info)],
    ['stats', [
      ['total_connections_received', info.stats.connectionsReceived],
      ['total_commands_processed', info.stats.commandsProcessed],
      ['rejected_connections', info.stats.rejectedConnections ?? 0],
      ['acl_access_denied_auth', info.acl.stats.deniedAuth],
      ['acl_access_denied_cmd', info.acl.stats.deniedCmd],
      ['acl_access_denied_key', info.acl.stats.deniedKey],
      ['acl_access_denied_channel', info.acl.stats.deniedChannel],
      ['evicted_keys', info.memory?.().evictedKeys ?? 0],
    ]],
  ];
  const commandstats: [string, Array<[string, string | number]>] = ['commandstats', [...info.commandStats()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, s]) => [`cmdstat_${name}`,
      `calls=${s.calls},usec=${s.usec},usec_per_call=${(s.calls === 0 ? 0 : s.usec / s.calls).toFixed(2)},` +
      `rejected_calls=${s.rejectedCalls},failed_calls=${s.failedCalls}`])];
  const all = [...builtin, ...info.sections()];
  // As Redis: commandstats only in `all`, `everything` or by name, not in the default set.
  const pick = wanted.length === 0 || wanted.includes('default')
    ? all
    : wanted.includes('all') || wanted.includes('everything')
      ? [...all, commandstats]
      : [...all, commandstats].filter(([name]) => wanted.includes(name));
  return pick
    .map(([name, lines]) => `# ${name[0].toUpperCase()}${name.slice(1)}\r\n${lines.map(([k, v]) => `${k}:${v}\r\n`).join('')}`)
    .join('\r\n');
}

function humanBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n}B` : `${v.toFixed(2)}${units[i]}`;
}

/**
 * INFO memory. used_memory is the figure maxmemory limits: the bytes of the
 * data this node stores (docs/eviction.md); the process's own memory is in
 * used_memory_rss and raftis_process_heap.
 */
function memoryLines(info: ServerInfo): Array<[string, string | number]> {
  const m = process.memoryUsage();
  const used = info.memory ? info.memory().usedBytes : m.heapUsed + m.external;
  const maxmemory = Number(info.config.get('maxmemory') ?? '0');
  return [
    ['used_memory', used],
    ['used_memory_human', humanBytes(used)],
    ['used_memory_rss', m.rss],
    ['used_memory_rss_human', humanBytes(m.rss)],
    ['used_memory_peak', used],
    ['used_memory_peak_human', humanBytes(used)],
    ['used_memory_dataset', used],
    ['raftis_process_heap', m.heapUsed + m.external],
    ['total_system_memory', 0],
    ['maxmemory', maxmemory],
    ['maxmemory_human', humanBytes(maxmemory)],
    ['maxmemory_policy', info.config.get('maxmemory-policy') ?? 'noeviction'],
    ['maxmemory_samples', info.config.get('maxmemory-samples') ?? 5],
    ['mem_allocator', 'v8'],
  ];
}

function infoCommand(_ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  return verbatim(renderInfo(info, args.slice(1).map((a) => lower(a))));
}

/** Connection and server commands that touch no key. QUIT is handled by the connection itself. */
export const SERVER_COMMANDS = new Map<string, ServerCommand>([
  ['ping', ping],
  ['echo', echo],
  ['select', select],
  ['hello', hello],
  ['client', client],
  ['command', command],
  ['info', infoCommand],
  ['quit', () => ok()],
  ['auth', auth],
  ['reset', reset],
  ['time', time],
  ['config', config],
  ['acl', (ctx, args, info) => info.acl.command(ctx, args)],
]);
