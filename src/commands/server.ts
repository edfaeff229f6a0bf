import {
  bulk, integer, map, nullBulk, ok, simple, verbatim, array, type Reply,
} from '../resp/encoder.js';
import type { ClientContext } from '../resp/connection.js';
import {
  errDbIndexOutOfRange, errGeneric, errNoProto, errNotInteger, errSyntax, errUnknownSubcommand, errWrongArgs,
} from '../resp/replies.js';
import { lower, parseInt64 } from './spec.js';

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
  stats: { commandsProcessed: number; connectionsReceived: number };
  /** Linearizable key count over every group. */
  dbSize(): Promise<number>;
  commandCount(): number;
  commandInfo(names: string[] | null): Reply;
  commandDocs(names: string[] | null): Reply;
  commandList(): Reply;
  commandGetKeys(args: Buffer[]): Reply;
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
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === 'auth' && i + 2 < args.length) {
      i += 2; // No users or passwords yet: every client is the default user.
    } else if (opt === 'setname' && i + 1 < args.length) {
      const n = args[++i].toString();
      if (!VALID_NAME.test(n)) return errGeneric('Client names cannot contain spaces, newlines or special characters.');
      name = n;
    } else {
      return errSyntax();
    }
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
  return `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=0 name=${c.name ?? ''} age=0 idle=0 flags=N db=${c.db} ` +
    `sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 ` +
    `tot-mem=0 events=r cmd=client|list user=default redir=-1 resp=${c.protocol}` + (now < 0 ? '' : '');
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
      ['maxclients', 10000],
      ['blocked_clients', 0],
    ]],
    ['stats', [
      ['total_connections_received', info.stats.connectionsReceived],
      ['total_commands_processed', info.stats.commandsProcessed],
    ]],
  ];
  const all = [...builtin, ...info.sections()];
  const pick = wanted.length === 0 || wanted.includes('all') || wanted.includes('everything') || wanted.includes('default')
    ? all
    : all.filter(([name]) => wanted.includes(name));
  return pick
    .map(([name, lines]) => `# ${name[0].toUpperCase()}${name.slice(1)}\r\n${lines.map(([k, v]) => `${k}:${v}\r\n`).join('')}`)
    .join('\r\n');
}

function infoCommand(_ctx: ClientContext, args: Buffer[], info: ServerInfo): Reply {
  return verbatim(renderInfo(info, args.slice(1).map((a) => lower(a))));
}

async function dbsize(_ctx: ClientContext, _args: Buffer[], info: ServerInfo): Promise<Reply> {
  return integer(await info.dbSize());
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
  ['dbsize', dbsize],
  ['quit', () => ok()],
]);
