import type { ArgumentDoc, CommandDocs, CommandSpec } from './table.js';

/**
 * COMMAND DOCS of every command raftis serves, in Redis 7.0's words where it
 * has them (redis-cli builds its argument hints from these).
 */
const key = (name = 'key'): ArgumentDoc => ({ name, type: 'key', keySpecIndex: 0 });
const keys = (): ArgumentDoc => ({ name: 'key', type: 'key', keySpecIndex: 0, flags: ['multiple'] });
const str = (name: string, extra: Partial<ArgumentDoc> = {}): ArgumentDoc => ({ name, type: 'string', ...extra });
const int = (name: string, extra: Partial<ArgumentDoc> = {}): ArgumentDoc => ({ name, type: 'integer', ...extra });
const token = (name: string, t: string): ArgumentDoc => ({ name, type: 'pure-token', token: t });

export const COMMAND_DOCS: Record<string, CommandDocs> = {
  get: { summary: 'Get the value of a key', since: '1.0.0', group: 'string', complexity: 'O(1)', arguments: [key()] },
  set: {
    summary: 'Set the string value of a key', since: '1.0.0', group: 'string', complexity: 'O(1)',
    arguments: [
      key(), str('value'),
      { name: 'condition', type: 'oneof', since: '2.6.12', flags: ['optional'], arguments: [token('nx', 'NX'), token('xx', 'XX')] },
      { name: 'get', type: 'pure-token', token: 'GET', since: '6.2.0', flags: ['optional'] },
      {
        name: 'expiration', type: 'oneof', flags: ['optional'], arguments: [
          int('seconds', { token: 'EX', since: '2.6.12' }), int('milliseconds', { token: 'PX', since: '2.6.12' }),
          { name: 'unix-time-seconds', type: 'unix-time', token: 'EXAT', since: '6.2.0' },
          { name: 'unix-time-milliseconds', type: 'unix-time', token: 'PXAT', since: '6.2.0' },
          { name: 'keepttl', type: 'pure-token', token: 'KEEPTTL', since: '6.0.0' },
        ],
      },
    ],
  },
  incr: { summary: 'Increment the integer value of a key by one', since: '1.0.0', group: 'string', complexity: 'O(1)', arguments: [key()] },
  decr: { summary: 'Decrement the integer value of a key by one', since: '1.0.0', group: 'string', complexity: 'O(1)', arguments: [key()] },
  incrby: { summary: 'Increment the integer value of a key by the given amount', since: '1.0.0', group: 'string', complexity: 'O(1)', arguments: [key(), int('increment')] },
  decrby: { summary: 'Decrement the integer value of a key by the given number', since: '1.0.0', group: 'string', complexity: 'O(1)', arguments: [key(), int('decrement')] },
  del: { summary: 'Delete a key', since: '1.0.0', group: 'generic', complexity: 'O(N) where N is the number of keys that will be removed.', arguments: [keys()] },
  exists: { summary: 'Determine if a key exists', since: '1.0.0', group: 'generic', complexity: 'O(N) where N is the number of keys to check.', arguments: [keys()] },
  ping: { summary: 'Ping the server', since: '1.0.0', group: 'connection', complexity: 'O(1)', arguments: [str('message', { flags: ['optional'] })] },
  echo: { summary: 'Echo the given string', since: '1.0.0', group: 'connection', complexity: 'O(1)', arguments: [str('message')] },
  select: { summary: 'Change the selected database for the current connection (raftis has only database 0)', since: '1.0.0', group: 'connection', complexity: 'O(1)', arguments: [int('index')] },
  quit: { summary: 'Close the connection', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
  hello: {
    summary: 'Handshake with Redis', since: '6.0.0', group: 'connection', complexity: 'O(1)',
    arguments: [{
      name: 'arguments', type: 'block', flags: ['optional'], arguments: [
        int('protover'),
        { name: 'username_password', type: 'block', token: 'AUTH', flags: ['optional'], arguments: [str('username'), str('password')] },
        str('clientname', { token: 'SETNAME', flags: ['optional'] }),
      ],
    }],
  },
  client: { summary: 'A container for client connection commands', since: '2.4.0', group: 'connection', complexity: 'Depends on subcommand.' },
  'client|setname': { summary: 'Set the current connection name', since: '2.6.9', group: 'connection', complexity: 'O(1)', arguments: [str('connection-name')] },
  'client|getname': { summary: 'Get the current connection name', since: '2.6.9', group: 'connection', complexity: 'O(1)' },
  'client|id': { summary: 'Returns the client ID for the current connection', since: '5.0.0', group: 'connection', complexity: 'O(1)' },
  'client|info': { summary: 'Returns information about the current client connection.', since: '6.2.0', group: 'connection', complexity: 'O(1)' },
  'client|list': { summary: 'Get the list of client connections', since: '2.4.0', group: 'connection', complexity: 'O(N) where N is the number of client connections' },
  'client|setinfo': {
    summary: 'Set client or connection specific info', since: '7.2.0', group: 'connection', complexity: 'O(1)',
    arguments: [{ name: 'attr', type: 'oneof', arguments: [str('libname', { token: 'LIB-NAME' }), str('libver', { token: 'LIB-VER' })] }],
  },
  'client|no-evict': { summary: 'Set client eviction mode for the current connection', since: '7.0.0', group: 'connection', complexity: 'O(1)', arguments: [{ name: 'enabled', type: 'oneof', arguments: [token('on', 'ON'), token('off', 'OFF')] }] },
  'client|no-touch': { summary: 'Controls LRU/LFU stats of commands sent by the client', since: '7.2.0', group: 'connection', complexity: 'O(1)', arguments: [{ name: 'enabled', type: 'oneof', arguments: [token('on', 'ON'), token('off', 'OFF')] }] },
  command: { summary: 'Get array of Redis command details', since: '2.8.13', group: 'server', complexity: 'O(N) where N is the total number of Redis commands' },
  'command|count': { summary: 'Get total number of Redis commands', since: '2.8.13', group: 'server', complexity: 'O(1)' },
  'command|info': { summary: 'Get array of specific Redis command details, or all when no argument is given.', since: '2.8.13', group: 'server', complexity: 'O(N) where N is the number of commands to look up', arguments: [str('command-name', { flags: ['optional', 'multiple'] })] },
  'command|docs': { summary: 'Get array of specific Redis command documentation', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of commands to look up', arguments: [str('command-name', { flags: ['optional', 'multiple'] })] },
  'command|list': { summary: 'Get an array of Redis command names', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the total number of Redis commands' },
  'command|getkeys': { summary: 'Extract keys given a full Redis command', since: '2.8.13', group: 'server', complexity: 'O(N) where N is the number of arguments to the command', arguments: [str('command'), str('arg', { flags: ['optional', 'multiple'] })] },
  info: { summary: 'Get information and statistics about the server', since: '1.0.0', group: 'server', complexity: 'O(1)', arguments: [str('section', { flags: ['optional', 'multiple'] })] },
  dbsize: { summary: 'Return the number of keys in the selected database', since: '1.0.0', group: 'server', complexity: 'O(1)' },
};

/** Arity and flags of subcommands (the ioredis table lists top-level commands only), as Redis 7.0. */
export const SUBCOMMAND_SPECS: Record<string, Partial<Omit<CommandSpec, 'name'>>> = {
  'client|setname': { arity: 3, flags: ['noscript', 'loading', 'stale'] },
  'client|getname': { arity: 2, flags: ['noscript', 'loading', 'stale'] },
  'client|id': { arity: 2, flags: ['noscript', 'loading', 'stale'] },
  'client|info': { arity: 2, flags: ['noscript', 'loading', 'stale'] },
  'client|list': { arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'client|setinfo': { arity: 4, flags: ['noscript', 'loading', 'stale'] },
  'client|no-evict': { arity: 3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'client|no-touch': { arity: 3, flags: ['noscript', 'loading', 'stale'] },
  'command|count': { arity: 2, flags: ['loading', 'stale'] },
  'command|info': { arity: -2, flags: ['loading', 'stale'] },
  'command|docs': { arity: -2, flags: ['loading', 'stale'] },
  'command|list': { arity: -2, flags: ['loading', 'stale'] },
  'command|getkeys': { arity: -4, flags: ['loading', 'stale'] },
};
