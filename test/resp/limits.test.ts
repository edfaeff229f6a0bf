// Proves the connection limits against raw sockets, each compared with a real redis-server where
// one can show it: the unauthenticated request caps (exact protocol errors, then close), the
// output buffer hard limit (a client that never reads is closed), the query buffer limit, a
// maxclients that changes at run time, and the protected-mode decision for a non-loopback peer
// (tested through an injected peer address: the tests can only connect over loopback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { CommandHandler } from '../../src/resp/connection.js';
import { isLoopback, outputLimitReached } from '../../src/resp/connection.js';
import { bulk, ok, simple } from '../../src/resp/encoder.js';
import { AclService } from '../../src/commands/acl.js';
import { protectedModeDenial } from '../../src/node.js';
import { connectRaw, exchange, freePort, startServer } from './helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A handler with AUTH (any password), GET (a 512 KiB value) and PING. */
const handler: CommandHandler = (ctx, args) => {
  const name = args[0]!.toString().toLowerCase();
  if (name === 'auth') {
    ctx.state.set('authenticated', true);
    return ok();
  }
  if (name === 'get') return bulk(Buffer.alloc(512 * 1024, 0x61));
  return simple('PONG');
};
const authRequired = (ctx: { state: Map<string, unknown> }): boolean => ctx.state.get('authenticated') !== true;

async function startRedis(...extra: string[]): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1', ...extra], { stdio: 'ignore' });
  for (;;) {
    try {
      (await connectRaw(port)).destroy();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { port, stop: () => child.kill('SIGKILL') };
}

/**
 * Writes `input` without ever reading; resolves when the server has closed the socket. A paused
 * socket does not see the server's FIN, so a PING is written every 50 ms until the write fails.
 */
function untilClosed(s: Socket, input: Buffer | Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearInterval(timer);
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('close', done);
    s.pause();
    for (const chunk of Array.isArray(input) ? input : [input]) s.write(chunk);
    timer = setInterval(() => s.write('PING\r\n'), 50);
  });
}

test('loopback addresses and the output buffer limit rule', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
  for (const a of ['10.0.0.1', '192.0.2.7', '::ffff:10.0.0.1', 'fe80::1', undefined]) assert.equal(isLoopback(a), false, String(a));
  const limit = { hardBytes: 1000, softBytes: 500, softSeconds: 2 };
  assert.deepEqual(outputLimitReached(1000, limit, -1, 0), { close: true, softSinceMs: -1 });
  assert.deepEqual(outputLimitReached(600, limit, -1, 10), { close: false, softSinceMs: 10 });
  assert.deepEqual(outputLimitReached(600, limit, 10, 2010), { close: false, softSinceMs: 10 });
  assert.deepEqual(outputLimitReached(600, limit, 10, 2011), { close: true, softSinceMs: 10 });
  assert.deepEqual(outputLimitReached(100, limit, 10, 5000), { close: false, softSinceMs: -1 });
  assert.deepEqual(outputLimitReached(1e9, { hardBytes: 0, softBytes: 0, softSeconds: 0 }, -1, 0), { close: false, softSinceMs: -1 });
});

test('unauthenticated clients are capped as redis-server caps them', async () => {
  const redis = await startRedis('--requirepass', 'pw');
  const server = await startServer({ handler, authRequired });
  const inputs = [
    b('*11\r\n'),
    b('*2\r\n$4\r\nECHO\r\n$16385\r\n'),
    Buffer.concat([b('*2\r\n$4\r\nECHO\r\n$16385\r\n'), Buffer.alloc(16385, 0x61), b('\r\n')]),
    b(`*11\r\n${'$1\r\na\r\n'.repeat(11)}`),
  ];
  for (const input of inputs) {
    const expected = (await exchange(redis.port, input)).toString('latin1');
    assert.match(expected, /^-(ERR Protocol error: unauthenticated|NOAUTH)/);
    const got = (await exchange(server.port, input)).toString('latin1');
    if (expected.startsWith('-ERR')) assert.equal(got, expected, JSON.stringify(input.toString('latin1', 0, 40)));
  }
  // Small requests are served before AUTH; after it the caps are gone.
  const big = `*12\r\n$4\r\nPING\r\n${'$1\r\na\r\n'.repeat(11)}`;
  assert.equal((await exchange(server.port, b(`PING\r\n*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n${big}`))).toString(), '+PONG\r\n+OK\r\n+PONG\r\n');
  await server.close();
  redis.stop();
});

test('a client that never reads is closed at the output buffer hard limit, as redis-server does', async () => {
  const redis = await startRedis();
  assert.equal((await exchange(redis.port, b(`CONFIG SET client-output-buffer-limit "normal 1mb 0 0"\r\nSET k ${'a'.repeat(1000)}\r\nSETRANGE k 524287 a\r\n`))).toString(),
    '+OK\r\n+OK\r\n:524288\r\n');
  const server = await startServer({ handler, outputLimit: () => ({ hardBytes: 1024 * 1024, softBytes: 0, softSeconds: 0 }) });
  const gets = b('GET k\r\n'.repeat(200));
  await untilClosed(await connectRaw(redis.port), gets);
  await untilClosed(await connectRaw(server.port), gets);
  // Other clients are unaffected.
  assert.equal((await exchange(server.port, b('PING\r\n'))).toString(), '+PONG\r\n');
  await server.close();
  redis.stop();
});

test('a client past client-query-buffer-limit is closed without a reply, as redis-server does', async () => {
  const redis = await startRedis('--client-query-buffer-limit', '1mb');
  const server = await startServer({ handler, decoderLimits: { protoMaxBulkLen: 512 * 1024 * 1024, queryBufferLimitBytes: 1024 * 1024 } });
  const input = [b('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n'), ...Array.from({ length: 20 }, () => Buffer.alloc(100 * 1024, 0x61))];
  for (const port of [redis.port, server.port]) {
    const s = await connectRaw(port);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await untilClosed(s, input);
    assert.equal(Buffer.concat(chunks).length, 0);
  }
  await server.close();
  redis.stop();
});

test('maxclients read at every accept: lowering it refuses the next client with Redis text', async () => {
  let max = 1;
  const server = await startServer({ handler, maxClients: () => max });
  const first = await connectRaw(server.port);
  assert.equal((await exchange(server.port, b('PING\r\n'))).toString(), '-ERR max number of clients reached\r\n');
  max = 2;
  assert.equal((await exchange(server.port, b('PING\r\n'))).toString(), '+PONG\r\n');
  first.destroy();
  await server.close();
});

test('protected mode refuses a non-loopback peer with Redis text while the default user has no password', async () => {
  let requirepass = '';
  const acl = new AclService({ requirepass: () => requirepass, propose: async () => ok(), broadcast: async () => {}, clients: () => [] });
  // The tests connect over loopback only: the peer is presented as 192.0.2.7 to the decision.
  const server = await startServer({ handler, admit: () => protectedModeDenial('192.0.2.7', acl) });
  const denied = (await exchange(server.port, b('PING\r\n'))).toString();
  assert.match(denied, /^-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user\. .*outside\.\r\n$/);
  const binary = spawn('strings', ['/usr/bin/redis-server']);
  let text = '';
  binary.stdout.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  await new Promise((r) => binary.on('close', r));
  assert.ok(text.includes(denied.slice(0, -2)), 'the DENIED text is the one in redis-server');
  assert.equal(protectedModeDenial('127.0.0.1', acl), null);
  requirepass = 'pw';
  assert.equal((await exchange(server.port, b('PING\r\n'))).toString(), '+PONG\r\n');
  await server.close();
});
