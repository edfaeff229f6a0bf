// readThroughSharedBuffer: on this Node the shared-buffer read path is really switched on, each
// chunk handed out is a buffer of its own (decoders keep views into it), and pause, resume and
// the peer's FIN still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readThroughSharedBuffer } from '../../src/transport/socket-read.js';

interface Pair {
  client: net.Socket;
  server: net.Socket;
  chunks: Buffer[];
  ended: Promise<void>;
  close(): Promise<void>;
}

/** A loopback connection whose accepted side reads through the shared buffer. */
async function pair(): Promise<Pair> {
  const chunks: Buffer[] = [];
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  assert.equal(readThroughSharedBuffer(server, (c) => chunks.push(c)), true, 'the shared-buffer path is available on this Node');
  const ended = new Promise<void>((resolve) => server.once('end', () => resolve()));
  server.resume();
  return {
    client, server, chunks, ended,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached in time');
}

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString();

test('each read is a buffer of its own: later reads do not overwrite earlier chunks', async () => {
  const p = await pair();
  try {
    p.client.write('first-chunk');
    await until(() => text(p.chunks) === 'first-chunk');
    const first = p.chunks[0]!;
    p.client.write('SECOND');
    await until(() => text(p.chunks) === 'first-chunkSECOND');
    assert.equal(first.toString(), 'first-chunk');
    // A second call finds the socket already switched and declines.
    assert.equal(readThroughSharedBuffer(p.server, () => {}), false);
  } finally {
    await p.close();
  }
});

test('a large write arrives whole, in order, across many reads', async () => {
  const p = await pair();
  try {
    const big = Buffer.alloc(1_000_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    p.client.write(big);
    await until(() => p.chunks.reduce((n, c) => n + c.length, 0) === big.length);
    assert.ok(p.chunks.length > 1);
    assert.ok(Buffer.concat(p.chunks).equals(big));
  } finally {
    await p.close();
  }
});

test('pause stops delivery until resume; the peer FIN still ends the socket', async () => {
  const p = await pair();
  try {
    p.server.pause();
    p.client.write('held');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.chunks.length, 0, 'nothing is read while paused');
    p.server.resume();
    await until(() => text(p.chunks) === 'held');
    p.client.end();
    await p.ended;
  } finally {
    await p.close();
  }
});
