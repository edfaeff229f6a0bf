// Proves the client limits on a real three-node cluster, each against a raw socket, and that the
// rest of the cluster is unaffected: unauthenticated request caps with requirepass set on one
// node, requirepass never shown by CONFIG GET or INFO nor written to the logs, CONFIG SET
// maxclients and timeout enforced, and the output and query buffer limits closing one client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster } from './harness.js';

const cluster = new TestCluster({ extra: ['--groups', '2'] });

before(async () => {
  await cluster.start();
});

after(async () => {
  await cluster.stop();
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends bytes and collects everything the server sends until it closes the connection. */
async function untilServerCloses(port: number, input: Buffer): Promise<string> {
  const s = await open(port);
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(input);
  });
}

/** Writes without ever reading; resolves once the server closed (a PING every 50 ms finds out). */
async function closedWithoutReading(port: number, input: Buffer[]): Promise<void> {
  const s = await open(port);
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
    for (const chunk of input) s.write(chunk);
    timer = setInterval(() => s.write('PING\r\n'), 50);
  });
}

test('with requirepass, unauthenticated requests are capped; the secret shows nowhere', async () => {
  const secret = 'sEcReT-4711';
  assert.equal(cluster.redisCli(1, 'CONFIG', 'SET', 'requirepass', secret), 'OK');
  assert.equal(await untilServerCloses(cluster.port(1), b('*11\r\n')), '-ERR Protocol error: unauthenticated multibulk length\r\n');
  assert.equal(await untilServerCloses(cluster.port(1), b('*2\r\n$4\r\nECHO\r\n$20000\r\n')), '-ERR Protocol error: unauthenticated bulk length\r\n');
  assert.equal(await untilServerCloses(cluster.port(1), b('GET k\r\nQUIT\r\n')), '-NOAUTH Authentication required.\r\n+OK\r\n');
  // Other nodes have no password and serve as before.
  assert.equal(cluster.redisCli(2, 'SET', 'lim:k', 'v'), 'OK');
  assert.equal(cluster.redisCli(3, 'GET', 'lim:k'), 'v');
  const authed = ['-a', secret, '--no-auth-warning'];
  assert.equal(cluster.redisCli(1, ...authed, 'GET', 'lim:k'), 'v');
  assert.equal(cluster.redisCli(1, ...authed, 'CONFIG', 'GET', 'requirepass'), 'requirepass\n<hidden>');
  assert.doesNotMatch(cluster.redisCli(1, ...authed, 'CONFIG', 'GET', '*'), new RegExp(secret));
  assert.doesNotMatch(cluster.redisCli(1, ...authed, 'INFO', 'everything'), new RegExp(secret));
  assert.equal(cluster.redisCli(1, 'AUTH', 'wrong'), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.match(cluster.redisCli(1, ...authed, 'INFO', 'stats'), /acl_access_denied_auth:[1-9]/);
  assert.equal(cluster.redisCli(1, ...authed, 'CONFIG', 'SET', 'requirepass', ''), 'OK');
  assert.equal(cluster.redisCli(1, 'CONFIG', 'GET', 'requirepass'), 'requirepass');
  const logs = readFileSync(join((cluster as unknown as { dataDir: string }).dataDir, 'node-1.log'), 'utf8');
  assert.equal(logs.includes(secret), false, 'the password is never logged');
});

/** Writes `input` and resolves with the first bytes the server sends. */
async function firstReply(s: Socket, input: string): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    s.write(input);
  });
}

test('CONFIG SET maxclients refuses clients past it with Redis text', async () => {
  const connected = Number(/connected_clients:(\d+)/.exec(cluster.redisCli(2, 'INFO', 'clients'))![1]);
  assert.equal(cluster.redisCli(2, 'CONFIG', 'SET', 'maxclients', String(connected)), 'OK');
  // Clients are admitted until the count reaches maxclients (redis-cli's own connection may
  // still be counted for a moment), then refused.
  const held: Socket[] = [];
  let refused = '';
  for (let i = 0; i < 5 && refused === ''; i++) {
    const s = await open(cluster.port(2));
    s.on('error', () => {});
    const reply = await firstReply(s, 'PING\r\n');
    if (reply === '+PONG\r\n') held.push(s);
    else refused = reply;
  }
  assert.equal(refused, '-ERR max number of clients reached\r\n');
  for (const s of held) s.destroy();
  assert.match(cluster.redisCli(3, 'INFO', 'stats'), /rejected_connections:0/);
  // redis-cli retries until the held connections are gone and a slot is free.
  for (let i = 0; i < 50; i++) {
    try {
      if (cluster.redisCli(2, 'CONFIG', 'SET', 'maxclients', '10000') === 'OK') break;
    } catch {
      // refused: not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(cluster.redisCli(2, 'INFO', 'stats'), /rejected_connections:[1-9]/);
  assert.equal(cluster.redisCli(2, 'PING'), 'PONG');
});

test('CONFIG SET timeout closes an idle client', async () => {
  assert.equal(cluster.redisCli(3, 'CONFIG', 'SET', 'timeout', '1'), 'OK');
  // The idle client is closed by the server (the wait ends when it is; no time is asserted).
  assert.equal(await untilServerCloses(cluster.port(3), b('PING\r\n')), '+PONG\r\n');
  assert.equal(cluster.redisCli(3, 'CONFIG', 'SET', 'timeout', '0'), 'OK');
  assert.equal(cluster.redisCli(3, 'GET', 'lim:k'), 'v');
});

test('output and query buffer limits close only the offending client', async () => {
  const client = cluster.client(1);
  assert.equal(await client.set('lim:big', 'x'.repeat(512 * 1024)), 'OK');
  client.disconnect();
  assert.equal(cluster.redisCli(1, 'CONFIG', 'SET', 'client-output-buffer-limit', 'normal 1mb 0 0'), 'OK');
  await closedWithoutReading(cluster.port(1), [b('GET lim:big\r\n'.repeat(100))]);
  assert.equal(cluster.redisCli(1, 'CONFIG', 'SET', 'client-output-buffer-limit', 'normal 0 0 0'), 'OK');
  assert.equal(cluster.redisCli(1, 'CONFIG', 'GET', 'client-output-buffer-limit'),
    'client-output-buffer-limit\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60');

  assert.equal(cluster.redisCli(2, 'CONFIG', 'SET', 'client-query-buffer-limit', '1mb'), 'OK');
  const partial = [b('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n'), ...Array.from({ length: 20 }, () => Buffer.alloc(100 * 1024, 0x61))];
  await closedWithoutReading(cluster.port(2), partial);
  assert.equal(cluster.redisCli(2, 'CONFIG', 'SET', 'client-query-buffer-limit', '1gb'), 'OK');
  for (const node of [1, 2, 3]) assert.equal(cluster.redisCli(node, 'STRLEN', 'lim:big'), String(512 * 1024));
});
