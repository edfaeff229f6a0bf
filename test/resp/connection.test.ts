// Proves the connection layer's contract over real TCP sockets: replies in request order despite out-of-order async handlers, coalesced writes, ioredis pipelining, back-pressure on a client that does not read, isolation of a malformed client, maxclients, QUIT, HELLO 3, and handler failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { ClientContext, CommandHandler, Connection } from '../../src/resp/connection.js';
import { bulk, integer, simple, type Reply } from '../../src/resp/encoder.js';
import { connectRaw, exchange, readUntil, recordingLogger, startServer, toyHandler } from './helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

test('async replies resolving in reverse order are written in request order', async () => {
  const waiting: Array<{ n: string; d: ReturnType<typeof deferred<Reply>> }> = [];
  const allArrived = deferred<void>();
  const handler: CommandHandler = (_ctx, args) => {
    const n = args[1]!.toString();
    if (n === 'sync') return simple('SYNC');
    const d = deferred<Reply>();
    waiting.push({ n, d });
    if (waiting.length === 5) allArrived.resolve();
    return d.promise;
  };
  const server = await startServer({ handler });
  const s = await connectRaw(server.port);
  s.write(b('X 1\r\nX 2\r\nX sync\r\nX 3\r\nX 4\r\nX 5\r\n'));
  await allArrived.promise;
  const replies = readUntil(s, (d) => d.toString().split('\r\n').length > 6);
  for (const w of [...waiting].reverse()) w.d.resolve(bulk(w.n));
  const out = (await replies).toString();
  assert.equal(out, '$1\r\n1\r\n$1\r\n2\r\n+SYNC\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n');
  s.destroy();
  await server.close();
});

test('all replies ready in one turn go out in one socket write', async () => {
  const server = await startServer();
  const writes: number[] = [];
  const original = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (this.localPort === server.port) writes.push(1);
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof original;
  try {
    const out = await exchange(server.port, b('PING\r\n'.repeat(100)));
    assert.equal(out.toString(), '+PONG\r\n'.repeat(100));
    assert.equal(writes.length, 1);
  } finally {
    Socket.prototype.write = original;
    await server.close();
  }
});

test('ioredis pipelines 10,000 commands against a toy GET/SET handler', async () => {
  const server = await startServer({ handler: toyHandler() });
  const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false });
  await redis.connect();
  const pipeline = redis.pipeline();
  for (let i = 0; i < 5000; i++) pipeline.set(`k${i}`, `v${i}`);
  for (let i = 0; i < 5000; i++) pipeline.get(`k${i}`);
  const results = await pipeline.exec();
  assert.equal(results!.length, 10000);
  for (let i = 0; i < 5000; i++) assert.deepEqual(results![i], [null, 'OK']);
  for (let i = 0; i < 5000; i++) assert.deepEqual(results![5000 + i], [null, `v${i}`]);
  assert.equal(await redis.get('k42'), 'v42');
  await redis.quit();
  await server.close();
});

test('a client that does not read is paused; memory stays bounded; it gets every reply once it reads', async () => {
  const big = Buffer.alloc(1024 * 1024, 0x62);
  let handled = 0;
  const handler: CommandHandler = () => { handled++; return bulk(big); };
  const server = await startServer({ handler, outputBytesHighWater: 1024 * 1024 });
  const total = 400; // 400 MiB of replies if nothing pushed back.
  const s = await connectRaw(server.port);
  s.pause();
  s.write(b('GET big\r\n'.repeat(total)));
  const conn = (): Connection => server.clients()[0] as Connection;
  while (server.clients().length === 0 || !conn().readingPaused) await new Promise((r) => setImmediate(r));
  assert.ok(handled < total, `handled ${handled} of ${total} before pausing`);
  assert.ok(conn().outputBytes < 64 * 1024 * 1024, `output ${conn().outputBytes}`);
  const expectedBytes = total * (big.length + 12);
  let received = 0;
  await new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => { received += c.length; if (received >= expectedBytes) resolve(); });
    s.resume();
  });
  assert.equal(received, expectedBytes);
  assert.equal(handled, total);
  s.destroy();
  await server.close();
});

test('malformed input on one socket does not disturb another client', async () => {
  const server = await startServer();
  const good = await connectRaw(server.port);
  good.write(b('SET a 1\r\n'));
  await readUntil(good, (d) => d.toString() === '+OK\r\n');
  const bad = await exchange(server.port, b('*1\r\n$-5\r\n'), false);
  assert.equal(bad.toString(), '-ERR Protocol error: invalid bulk length\r\n');
  const garbage = await exchange(server.port, Buffer.from([0x2a, 0xff, 0x0d, 0x0a, 0x00]), false);
  assert.equal(garbage.toString(), '-ERR Protocol error: invalid multibulk length\r\n');
  good.write(b('GET a\r\n'));
  assert.equal((await readUntil(good, (d) => d.length >= 7)).toString(), '$1\r\n1\r\n');
  good.destroy();
  await server.close();
});

test('maxclients: the client past the limit gets the Redis error and is closed', async () => {
  const server = await startServer({ maxClients: 2 });
  const c1 = await connectRaw(server.port);
  const c2 = await connectRaw(server.port);
  c1.write(b('PING\r\n'));
  await readUntil(c1, (d) => d.length >= 7);
  c2.write(b('PING\r\n'));
  await readUntil(c2, (d) => d.length >= 7);
  const third = await exchange(server.port, b('PING\r\n'), false);
  assert.equal(third.toString(), '-ERR max number of clients reached\r\n');
  c1.destroy();
  while (server.clients().length > 1) await new Promise((r) => setImmediate(r));
  assert.equal((await exchange(server.port, b('PING\r\n'))).toString(), '+PONG\r\n');
  c2.destroy();
  await server.close();
});

test('QUIT replies +OK after earlier async replies, then closes', async () => {
  const d = deferred<Reply>();
  const handler: CommandHandler = () => d.promise;
  const server = await startServer({ handler });
  const s = await connectRaw(server.port);
  const chunks: Buffer[] = [];
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  s.on('data', (c: Buffer) => chunks.push(c));
  s.write(b('SLOW\r\nQUIT\r\nSLOW\r\n'));
  while (server.clients().length === 0) await new Promise((r) => setImmediate(r));
  d.resolve(integer(7));
  await closed;
  assert.equal(Buffer.concat(chunks).toString(), ':7\r\n+OK\r\n');
  await server.close();
});

test('a disconnect with replies pending crashes nothing', async () => {
  const d = deferred<Reply>();
  let calls = 0;
  const server = await startServer({ handler: () => (++calls <= 3 ? d.promise : simple('OK')) });
  const s = await connectRaw(server.port);
  s.write(b('A\r\nB\r\nC\r\n'));
  while (calls < 3) await new Promise((r) => setImmediate(r));
  s.destroy();
  d.resolve(simple('LATE'));
  while (server.clients().length > 0) await new Promise((r) => setImmediate(r));
  assert.equal((await exchange(server.port, b('X\r\n'))).toString(), '+OK\r\n', 'server still serves');
  await server.close();
});

test('a throwing handler yields -ERR for that command only, and is logged', async () => {
  const logger = recordingLogger();
  const handler: CommandHandler = (_ctx, args) => {
    const name = args[0]!.toString();
    if (name === 'THROW') throw new Error('boom');
    if (name === 'REJECT') return Promise.reject(new Error('async boom'));
    return simple('OK');
  };
  const server = await startServer({ handler, logger });
  const out = await exchange(server.port, b('A\r\nTHROW\r\nREJECT\r\nB\r\n'));
  assert.equal(out.toString(), '+OK\r\n-ERR boom\r\n-ERR async boom\r\n+OK\r\n');
  assert.equal(logger.errors.length, 2);
  await server.close();
});

test('HELLO 3 switches this connection to RESP3 from its own reply on; others stay RESP2', async () => {
  const server = await startServer();
  const out = await exchange(server.port, b('GET nokey\r\nHELLO 3\r\nGET nokey\r\nHELLO 2\r\nGET nokey\r\n'));
  assert.equal(out.toString(),
    '$-1\r\n'
    + '%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n'
    + '_\r\n'
    + '*6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n$7\r\nmodules\r\n*0\r\n'
    + '$-1\r\n');
  assert.equal((await exchange(server.port, b('GET nokey\r\n'))).toString(), '$-1\r\n');
  await server.close();
});

test('the context carries id, addresses, flags, db and per-connection state', async () => {
  const seen: ClientContext[] = [];
  const handler: CommandHandler = (ctx) => {
    seen.push(ctx);
    ctx.state.set('n', ((ctx.state.get('n') as number | undefined) ?? 0) + 1);
    ctx.flags.add('readonly');
    return integer(ctx.state.get('n') as number);
  };
  const server = await startServer({ handler });
  assert.equal((await exchange(server.port, b('A\r\nB\r\n'))).toString(), ':1\r\n:2\r\n');
  assert.equal((await exchange(server.port, b('A\r\n'))).toString(), ':1\r\n');
  assert.equal(seen[0], seen[1]);
  assert.notEqual(seen[0]!.id, seen[2]!.id);
  assert.match(seen[0]!.addr, /^127\.0\.0\.1:\d+$/);
  assert.equal(seen[0]!.laddr, `127.0.0.1:${server.port}`);
  assert.equal(seen[0]!.db, 0);
  assert.equal(seen[0]!.protocol, 2);
  assert.ok(seen[0]!.flags.has('readonly'));
  await server.close();
});

test('a client over the query buffer limit is closed without a reply; others are unaffected', async () => {
  const server = await startServer({ decoderLimits: { protoMaxBulkLen: 1024 * 1024, queryBufferLimitBytes: 64 * 1024 } });
  const other = await connectRaw(server.port);
  const s = await connectRaw(server.port);
  const closed = new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
  s.write(b('*2\r\n$4\r\nECHO\r\n$1000000\r\n'));
  s.write(Buffer.alloc(200 * 1024, 0x61));
  assert.equal((await closed).length, 0);
  other.write(b('PING\r\n'));
  assert.equal((await readUntil(other, (d) => d.length >= 7)).toString(), '+PONG\r\n');
  other.destroy();
  await server.close();
});
