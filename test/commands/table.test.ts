// Proves the command table knows Redis's arity, flags and key positions, that resolve() yields Redis's exact unknown-command / arity errors, and that COMMAND INFO / DOCS / COUNT replies are byte-identical to redis-server 7.0's for the same command, by asking a real redis-server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { arityOk, CommandRegistry, commandDocsReply, commandInfoReply, getKeyIndexes, getKeys, lookupCommand } from '../../src/commands/table.js';
import { encodeReply, type Reply } from '../../src/resp/encoder.js';
import { exchange, startRealRedis, type RealRedis } from '../resp/helpers.js';

const args = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x));
const keysOf = (...xs: string[]): string[] => {
  const spec = lookupCommand(xs[0]!);
  assert.ok(spec, xs[0]);
  return getKeys(spec, args(...xs)).map(String);
};

test('lookup is case-insensitive and carries Redis metadata', () => {
  const get = lookupCommand(Buffer.from('GeT'));
  assert.deepEqual(get, { name: 'get', arity: 2, flags: ['readonly', 'fast'], keyStart: 1, keyStop: 1, keyStep: 1 });
  assert.equal(lookupCommand('nosuchcommand'), undefined);
  assert.equal(lookupCommand('set')?.arity, -3);
  assert.ok(lookupCommand('set')?.flags.includes('write'));
});

test('arity', () => {
  assert.ok(arityOk(2, 2));
  assert.ok(!arityOk(2, 3));
  assert.ok(arityOk(-3, 3) && arityOk(-3, 10));
  assert.ok(!arityOk(-3, 2));
});

test('key positions for standard and movable-keys commands', () => {
  assert.deepEqual(keysOf('get', 'k'), ['k']);
  assert.deepEqual(keysOf('set', 'k', 'v', 'EX', '10'), ['k']);
  assert.deepEqual(keysOf('mget', 'a', 'b', 'c'), ['a', 'b', 'c']);
  assert.deepEqual(keysOf('mset', 'a', '1', 'b', '2'), ['a', 'b']);
  assert.deepEqual(keysOf('del', 'a', 'b'), ['a', 'b']);
  assert.deepEqual(keysOf('exists', 'a', 'b'), ['a', 'b']);
  assert.deepEqual(keysOf('rename', 'a', 'b'), ['a', 'b']);
  assert.deepEqual(keysOf('hset', 'h', 'f', 'v'), ['h']);
  assert.deepEqual(keysOf('ping'), []);
  assert.deepEqual(keysOf('eval', 'return 1', '2', 'k1', 'k2', 'a1'), ['k1', 'k2']);
  assert.deepEqual(keysOf('zunionstore', 'dst', '2', 'a', 'b', 'WEIGHTS', '1', '2'), ['dst', 'a', 'b']);
  const spec = lookupCommand('mget')!;
  assert.deepEqual(getKeyIndexes(spec, args('mget', 'a', 'b')), [1, 2]);
});

// Docs copied from Redis 7.0's src/commands/get.json and ping.json.
function registry(): CommandRegistry<string> {
  const r = new CommandRegistry<string>();
  r.register({
    name: 'get', handler: 'get',
    docs: { summary: 'Get the value of a key', since: '1.0.0', group: 'string', complexity: 'O(1)',
      arguments: [{ name: 'key', type: 'key', keySpecIndex: 0 }] },
  });
  r.register({
    name: 'mget', handler: 'mget',
    docs: { summary: 'Get the values of all the given keys', since: '1.0.0', group: 'string',
      complexity: 'O(N) where N is the number of keys to retrieve.',
      arguments: [{ name: 'key', type: 'key', keySpecIndex: 0, flags: ['multiple'] }] },
    tips: ['request_policy:multi_shard'],
  });
  r.register({
    name: 'ping', handler: 'ping',
    docs: { summary: 'Ping the server', since: '1.0.0', group: 'connection', complexity: 'O(1)',
      arguments: [{ name: 'message', type: 'string', flags: ['optional'] }] },
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
  });
  r.register({
    name: 'client', handler: 'client',
    docs: { summary: 'A container for client connection commands', since: '2.4.0', group: 'connection', complexity: 'Depends on subcommand.' },
  });
  r.register({
    name: 'client|setname', handler: 'client|setname',
    spec: { arity: 3, flags: ['noscript', 'loading', 'stale'] }, // @ioredis/commands lists no subcommands.
    docs: { summary: 'Set the current connection name', since: '2.6.9', group: 'connection', complexity: 'O(1)',
      arguments: [{ name: 'connection-name', type: 'string' }] },
  });
  return r;
}

test('resolve gives the command or Redis\'s exact error', () => {
  const r = registry();
  const ok = r.resolve(args('GET', 'k'));
  assert.ok(ok.ok && ok.command.handler === 'get');
  const sub = r.resolve(args('client', 'SETNAME', 'x'));
  assert.ok(sub.ok && sub.command.handler === 'client|setname');
  const enc = (res: ReturnType<typeof r.resolve>): string => (res.ok ? 'ok' : encodeReply(res.reply).toString());
  assert.equal(enc(r.resolve(args('get'))), "-ERR wrong number of arguments for 'get' command\r\n");
  assert.equal(enc(r.resolve(args('foo', 'a', 'b'))), "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  assert.equal(enc(r.resolve(args('client', 'foo'))), "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
  assert.equal(enc(r.resolve(args('client', 'setname'))), "-ERR wrong number of arguments for 'client|setname' command\r\n");
  assert.throws(() => r.register({ name: 'get', handler: 'x', docs: { summary: '', since: '', group: 'string' } }));
  assert.throws(() => r.register({ name: 'nosuch', handler: 'x', docs: { summary: '', since: '', group: 'string' } }));
});

let real: RealRedis;
before(async () => { real = await startRealRedis(); });
after(async () => { await real.stop(); });

async function redisSays(request: string): Promise<string> {
  return (await exchange(real.port, Buffer.from(request))).toString('latin1');
}

const hello3 = (s: string): string => s.slice(s.indexOf('*0\r\n') + 4); // strip the HELLO 3 reply (ends with modules *0)

for (const proto of [2, 3] as const) {
  test(`COMMAND INFO / DOCS match redis-server byte for byte (RESP${proto})`, async () => {
    const r = registry();
    const prefix = proto === 3 ? 'HELLO 3\r\n' : '';
    const cases: Array<[string, Reply]> = [
      ['COMMAND INFO get', commandInfoReply(r, 'get')],
      ['COMMAND INFO GET mget ping nosuch', r.commandInfoReply(['GET', 'mget', 'ping', 'nosuch'])],
      ['COMMAND DOCS get', commandDocsReply(r, 'get')],
      ['COMMAND DOCS mget ping nosuch', r.commandDocsReply(['mget', 'ping', 'nosuch'])],
      ['COMMAND DOCS client|setname', r.commandDocsReply(['client|setname'])],
      ['COMMAND INFO client|setname', r.commandInfoReply(['client|setname'])],
    ];
    for (const [request, reply] of cases) {
      let expected = await redisSays(`${prefix}${request}\r\n`);
      if (proto === 3) expected = hello3(expected);
      assert.equal(encodeReply(reply, proto).toString('latin1'), expected, request);
    }
  });
}

test('COMMAND COUNT counts registered commands', () => {
  assert.equal(encodeReply(registry().commandCountReply()).toString(), ':4\r\n');
});
