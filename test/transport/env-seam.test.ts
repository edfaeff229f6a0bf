// Proves the transport reaches time only through Env (so a simulator can drive it): a scan of
// src/transport/ finds no direct clock or timer use, and a send stays queued until the Env's
// `soon` callback runs.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { realTimers } from '../../src/env/real.js';
import type { Env, Timers } from '../../src/env/env.js';
import { SeededRandom } from '../../src/env/random.js';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import { captureLogger, closeStarted, heartbeat, startNode, until } from './helpers.js';

afterEach(closeStarted);

test('src/transport/ uses no timers, clock or Math.random directly', () => {
  const dir = join(process.cwd(), 'src', 'transport');
  const found: string[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const code = readFileSync(join(dir, name), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    if (/\b(setTimeout|setInterval|setImmediate|Date\.now|performance|Math\.random)\b/.test(code)) found.push(name);
  }
  assert.deepEqual(found, []);
});

test('a send is flushed by the Env timers, not by the transport itself', { timeout: 20_000 }, async (t) => {
  const b = await startNode(2);
  const held: Array<() => void> = [];
  const timers: Timers = { ...realTimers, soon: (fn) => held.push(fn) };
  const env: Env = { clock: { nowMs: () => 0, monotonicMs: () => 0 }, timers, random: new SeededRandom(1), logger: captureLogger() };
  const a = new PeerTransport({ env, nodeId: 1, clusterId: 'test-cluster' });
  t.after(() => a.close());
  await a.listen();
  a.addPeer(2, '127.0.0.1', b.port);
  a.send(2, [heartbeat(1, 2, 1)]);
  a.send(2, [heartbeat(1, 2, 2)]);
  assert.equal(held.length, 1, 'one flush scheduled for the turn');
  assert.equal(a.stats().raftFramesSent, 0);
  held.shift()!();
  await until(() => b.received.length === 1);
  assert.equal(b.received[0].messages.length, 2);
});
