import type { ArgumentDoc, CommandDocs, CommandSpec } from './table.js';
import { CLUSTER_DOCS, CLUSTER_SUBCOMMAND_SPECS } from '../cluster/docs.js';
import { FAULT_DOCS, FAULT_SPECS } from '../fault/fault-hook.js';

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
  object: { summary: 'A container for object introspection commands', since: '2.2.3', group: 'generic', complexity: 'Depends on subcommand.' },
  'object|freq': { summary: 'Get the logarithmic access frequency counter of a Redis object', since: '4.0.0', group: 'generic', complexity: 'O(1)', arguments: [key()] },
  'object|idletime': { summary: 'Get the time since a Redis object was last accessed', since: '2.2.3', group: 'generic', complexity: 'O(1)', arguments: [key()] },
  memory: { summary: 'A container for memory diagnostics commands', since: '4.0.0', group: 'server', complexity: 'Depends on subcommand.' },
  'memory|usage': {
    summary: 'Estimate the memory usage of a key (raftis: the bytes its records take as stored)', since: '4.0.0', group: 'server',
    complexity: 'O(1)', arguments: [key(), int('count', { token: 'SAMPLES', flags: ['optional'] })],
  },
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
  ...CLUSTER_DOCS,
  // Registered only when RAFTIS_FAULT_INJECTION=1 (a command without a handler is skipped).
  ...FAULT_DOCS,
};

const expireOpts = (): ArgumentDoc => ({
  name: 'condition', type: 'oneof', since: '7.0.0', flags: ['optional'],
  arguments: [token('nx', 'NX'), token('xx', 'XX'), token('gt', 'GT'), token('lt', 'LT')],
});
const g = (group: string, since: string, summary: string, complexity: string, args?: ArgumentDoc[]): CommandDocs =>
  ({ summary, since, group, complexity, ...(args ? { arguments: args } : {}) });
const pairs = (a: string, b: string): ArgumentDoc =>
  ({ name: `${a}_${b}`, type: 'block', flags: ['multiple'], arguments: [a === 'key' ? key() : str(a), str(b)] });

/** Docs of the commands added with the cache command set (strings, keys, TTL, hashes, transactions, server). */
const MORE_DOCS: Record<string, CommandDocs> = {
  incrbyfloat: g('string', '2.6.0', 'Increment the float value of a key by the given amount', 'O(1)', [key(), { name: 'increment', type: 'double' }]),
  setnx: g('string', '1.0.0', 'Set the value of a key, only if the key does not exist', 'O(1)', [key(), str('value')]),
  setex: g('string', '2.0.0', 'Set the value and expiration of a key', 'O(1)', [key(), int('seconds'), str('value')]),
  psetex: g('string', '2.6.0', 'Set the value and expiration in milliseconds of a key', 'O(1)', [key(), int('milliseconds'), str('value')]),
  getset: g('string', '1.0.0', 'Set the string value of a key and return its old value', 'O(1)', [key(), str('value')]),
  getdel: g('string', '6.2.0', 'Get the value of a key and delete the key', 'O(1)', [key()]),
  getex: g('string', '6.2.0', 'Get the value of a key and optionally set its expiration', 'O(1)', [key(), {
    name: 'expiration', type: 'oneof', flags: ['optional'], arguments: [
      int('seconds', { token: 'EX' }), int('milliseconds', { token: 'PX' }),
      { name: 'unix-time-seconds', type: 'unix-time', token: 'EXAT' }, { name: 'unix-time-milliseconds', type: 'unix-time', token: 'PXAT' },
      token('persist', 'PERSIST'),
    ],
  }]),
  mget: g('string', '1.0.0', 'Get the values of all the given keys', 'O(N) where N is the number of keys to retrieve.', [keys()]),
  mset: g('string', '1.0.1', 'Set multiple keys to multiple values (keys in one slot)', 'O(N) where N is the number of keys to set.', [pairs('key', 'value')]),
  msetnx: g('string', '1.0.1', 'Set multiple keys to multiple values, only if none of the keys exist (keys in one slot)', 'O(N) where N is the number of keys to set.', [pairs('key', 'value')]),
  append: g('string', '2.0.0', 'Append a value to a key', 'O(1)', [key(), str('value')]),
  strlen: g('string', '2.2.0', 'Get the length of the value stored in a key', 'O(1)', [key()]),
  getrange: g('string', '2.4.0', 'Get a substring of the string stored at a key', 'O(N) where N is the length of the returned string.', [key(), int('start'), int('end')]),
  setrange: g('string', '2.2.0', 'Overwrite part of a string at key starting at the specified offset', 'O(1)', [key(), int('offset'), str('value')]),
  unlink: g('generic', '4.0.0', 'Delete a key (as DEL)', 'O(N) where N is the number of keys that will be removed.', [keys()]),
  touch: g('generic', '3.2.1', 'Alters the last access time of a key(s). Returns the number of existing keys specified.', 'O(N) where N is the number of keys that will be touched.', [keys()]),
  type: g('generic', '1.0.0', 'Determine the type stored at key', 'O(1)', [key()]),
  expire: g('generic', '1.0.0', 'Set a key\'s time to live in seconds', 'O(1)', [key(), int('seconds'), expireOpts()]),
  pexpire: g('generic', '2.6.0', 'Set a key\'s time to live in milliseconds', 'O(1)', [key(), int('milliseconds'), expireOpts()]),
  expireat: g('generic', '1.2.0', 'Set the expiration for a key as a UNIX timestamp', 'O(1)', [key(), { name: 'unix-time-seconds', type: 'unix-time' }, expireOpts()]),
  pexpireat: g('generic', '2.6.0', 'Set the expiration for a key as a UNIX timestamp specified in milliseconds', 'O(1)', [key(), { name: 'unix-time-milliseconds', type: 'unix-time' }, expireOpts()]),
  ttl: g('generic', '1.0.0', 'Get the time to live for a key in seconds', 'O(1)', [key()]),
  pttl: g('generic', '2.6.0', 'Get the time to live for a key in milliseconds', 'O(1)', [key()]),
  expiretime: g('generic', '7.0.0', 'Get the expiration Unix timestamp for a key', 'O(1)', [key()]),
  pexpiretime: g('generic', '7.0.0', 'Get the expiration Unix timestamp for a key in milliseconds', 'O(1)', [key()]),
  persist: g('generic', '2.2.0', 'Remove the expiration from a key', 'O(1)', [key()]),
  rename: g('generic', '1.0.0', 'Rename a key (both keys in one slot)', 'O(1)', [key(), key('newkey')]),
  renamenx: g('generic', '1.0.0', 'Rename a key, only if the new key does not exist (both keys in one slot)', 'O(1)', [key(), key('newkey')]),
  keys: g('generic', '1.0.0', 'Find all keys matching the given pattern (every group)', 'O(N) with N being the number of keys in the database', [{ name: 'pattern', type: 'pattern' }]),
  scan: g('generic', '2.8.0', 'Incrementally iterate the keys space (every group)', 'O(1) for every call. O(N) for a complete iteration.', [
    int('cursor'), { name: 'pattern', type: 'pattern', token: 'MATCH', flags: ['optional'] }, int('count', { token: 'COUNT', flags: ['optional'] }),
    str('type', { token: 'TYPE', flags: ['optional'], since: '6.0.0' }),
  ]),
  randomkey: g('generic', '1.0.0', 'Return a random key from the keyspace', 'O(1)'),
  flushdb: g('server', '1.0.0', 'Remove all keys from the current database (every group)', 'O(N) where N is the number of keys in the selected database', [
    { name: 'flush-type', type: 'oneof', flags: ['optional'], arguments: [token('async', 'ASYNC'), token('sync', 'SYNC')] },
  ]),
  flushall: g('server', '1.0.0', 'Remove all keys from all databases (every group)', 'O(N) where N is the total number of keys in all databases', [
    { name: 'flush-type', type: 'oneof', flags: ['optional'], arguments: [token('async', 'ASYNC'), token('sync', 'SYNC')] },
  ]),
  multi: g('transactions', '1.2.0', 'Mark the start of a transaction block', 'O(1)'),
  exec: g('transactions', '1.2.0', 'Execute all commands issued after MULTI', 'Depends on commands in the transaction'),
  discard: g('transactions', '2.0.0', 'Discard all commands issued after MULTI', 'O(N), when N is the number of queued commands'),
  watch: g('transactions', '2.2.0', 'Watch the given keys to determine execution of the MULTI/EXEC block', 'O(1) for every key.', [keys()]),
  unwatch: g('transactions', '2.2.0', 'Forget about all watched keys', 'O(1)'),
  hset: g('hash', '2.0.0', 'Set the string value of a hash field', 'O(1) for each field/value pair added', [key(), pairs('field', 'value')]),
  hmset: g('hash', '2.0.0', 'Set multiple hash fields to multiple values', 'O(N) where N is the number of fields being set.', [key(), pairs('field', 'value')]),
  hsetnx: g('hash', '2.0.0', 'Set the value of a hash field, only if the field does not exist', 'O(1)', [key(), str('field'), str('value')]),
  hget: g('hash', '2.0.0', 'Get the value of a hash field', 'O(1)', [key(), str('field')]),
  hmget: g('hash', '2.0.0', 'Get the values of all the given hash fields', 'O(N) where N is the number of fields being requested.', [key(), str('field', { flags: ['multiple'] })]),
  hdel: g('hash', '2.0.0', 'Delete one or more hash fields', 'O(N) where N is the number of fields to be removed.', [key(), str('field', { flags: ['multiple'] })]),
  hlen: g('hash', '2.0.0', 'Get the number of fields in a hash', 'O(1)', [key()]),
  hexists: g('hash', '2.0.0', 'Determine if a hash field exists', 'O(1)', [key(), str('field')]),
  hstrlen: g('hash', '3.2.0', 'Get the length of the value of a hash field', 'O(1)', [key(), str('field')]),
  hgetall: g('hash', '2.0.0', 'Get all the fields and values in a hash', 'O(N) where N is the size of the hash.', [key()]),
  hkeys: g('hash', '2.0.0', 'Get all the fields in a hash', 'O(N) where N is the size of the hash.', [key()]),
  hvals: g('hash', '2.0.0', 'Get all the values in a hash', 'O(N) where N is the size of the hash.', [key()]),
  hincrby: g('hash', '2.0.0', 'Increment the integer value of a hash field by the given number', 'O(1)', [key(), str('field'), int('increment')]),
  hincrbyfloat: g('hash', '2.6.0', 'Increment the float value of a hash field by the given amount', 'O(1)', [key(), str('field'), { name: 'increment', type: 'double' }]),
  hscan: g('hash', '2.8.0', 'Incrementally iterate hash fields and associated values', 'O(1) for every call. O(N) for a complete iteration.', [
    key(), int('cursor'), { name: 'pattern', type: 'pattern', token: 'MATCH', flags: ['optional'] }, int('count', { token: 'COUNT', flags: ['optional'] }),
  ]),
  auth: g('connection', '1.0.0', 'Authenticate to the server', 'O(N) where N is the number of passwords defined for the user', [
    str('username', { since: '6.0.0', flags: ['optional'] }), str('password'),
  ]),
  reset: g('connection', '6.2.0', 'Reset the connection', 'O(1)'),
  time: g('server', '2.6.0', 'Return the current server time', 'O(1)'),
  config: g('server', '2.0.0', 'A container for server configuration commands', 'Depends on subcommand.'),
  'config|get': g('server', '2.0.0', 'Get the values of configuration parameters', 'O(N) when N is the number of configuration parameters provided', [str('parameter', { flags: ['multiple'] })]),
  'config|set': g('server', '2.0.0', 'Set configuration parameters to the given values', 'O(N) when N is the number of configuration parameters provided', [pairs('parameter', 'value')]),
  'config|resetstat': g('server', '2.0.0', 'Reset the stats returned by INFO', 'O(1)'),
  'client|kill': g('connection', '2.4.0', 'Kill the connection of a client', 'O(N) where N is the number of client connections', [
    { name: 'filter', type: 'oneof', arguments: [str('ip:port'), { name: 'new-format', type: 'oneof', flags: ['multiple'], arguments: [
      int('client-id', { token: 'ID', flags: ['optional'] }), str('ip:port', { token: 'ADDR', flags: ['optional'] }),
      str('ip:port', { token: 'LADDR', flags: ['optional'] }), str('username', { token: 'USER', flags: ['optional'] }),
      str('yes/no', { token: 'SKIPME', flags: ['optional'] }),
    ] }] },
  ]),
  acl: g('server', '6.0.0', 'A container for Access List Control commands', 'Depends on subcommand.'),
  'acl|setuser': g('server', '6.0.0', 'Modify or create the rules for a specific ACL user', 'O(N). Where N is the number of rules provided.', [str('username'), str('rule', { flags: ['optional', 'multiple'] })]),
  'acl|getuser': g('server', '6.0.0', 'Get the rules for a specific ACL user', 'O(N). Where N is the number of password, command and pattern rules that the user has.', [str('username')]),
  'acl|deluser': g('server', '6.0.0', 'Remove the specified ACL users and the associated rules', 'O(1) amortized time considering the typical user.', [str('username', { flags: ['multiple'] })]),
  'acl|list': g('server', '6.0.0', 'List the current ACL rules in ACL config file format', 'O(N). Where N is the number of configured users.'),
  'acl|users': g('server', '6.0.0', 'List the username of all the configured ACL rules', 'O(N). Where N is the number of configured users.'),
  'acl|whoami': g('server', '6.0.0', 'Return the name of the user associated to the current connection', 'O(1)'),
  'acl|cat': g('server', '6.0.0', 'List the ACL categories or the commands inside a category', 'O(1) since the categories and commands are a fixed set.', [str('categoryname', { flags: ['optional'] })]),
  'acl|log': g('server', '6.0.0', 'List latest events denied because of ACLs in place', 'O(N) with N being the number of entries shown.', [str('operation', { flags: ['optional'] })]),
};
Object.assign(COMMAND_DOCS, MORE_DOCS);

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
  'client|kill': { arity: -3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'config|get': { arity: -3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'config|set': { arity: -4, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'config|resetstat': { arity: 2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|setuser': { arity: -3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|getuser': { arity: 3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|deluser': { arity: -3, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|list': { arity: 2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|users': { arity: 2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'acl|whoami': { arity: 2, flags: ['noscript', 'loading', 'stale'] },
  'acl|cat': { arity: -2, flags: ['noscript', 'loading', 'stale'] },
  'acl|log': { arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'object|freq': { arity: 3, flags: ['readonly'], keyStart: 2, keyStop: 2, keyStep: 1 },
  'object|idletime': { arity: 3, flags: ['readonly'], keyStart: 2, keyStop: 2, keyStep: 1 },
  'memory|usage': { arity: -3, flags: ['readonly'], keyStart: 2, keyStop: 2, keyStep: 1 },
  ...CLUSTER_SUBCOMMAND_SPECS,
  ...FAULT_SPECS,
};
