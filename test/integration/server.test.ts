// Proves the product works end to end: three real node processes over TCP with
// LevelDB, driven by redis-cli and ioredis — replication across nodes, long
// pipelines, binary data, malformed input, and kill -9 of a leader under load
// without losing an acknowledged write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keySlot } from '../../src/cluster/slot.js';
import { initialPlacement } from '../../src/cluster/placement.js';
import { TestCluster } from './harness.js';

// A long request timeout: a 10,000-command pipeline on a loaded 2-core machine (snapshots every 20
// entries) can take longer than the default 5 s to commit its first entry.
const cluster = new TestCluster({ extra: ['--groups', '4', '--compact-entries', '20', '--request-timeout-ms', '15000'] });

before(async () => {
  await cluster.start();
});

after(async () => {
  await cluster.stop();
});

test('redis-cli SET on one node is read by GET on the others', () => {
  assert.equal(cluster.redisCli(1, 'SET', 'greeting', 'hello raftis'), 'OK');
  assert.equal(cluster.redisCli(2, 'GET', 'greeting'), 'hello raftis');
  assert.equal(cluster.redisCli(3, 'GET', 'greeting'), 'hello raftis');
  assert.equal(cluster.redisCli(3, 'PING'), 'PONG');
  assert.equal(cluster.redisCli(2, 'DEL', 'greeting', 'nothing'), '1');
  assert.equal(cluster.redisCli(1, 'EXISTS', 'greeting'), '0');
});

test('an ioredis pipeline of 10,000 commands returns every reply in order', async () => {
  const c = cluster.client(2);
  const p = c.pipeline();
  for (let i = 0; i < 5000; i++) p.set(`pipe:${i}`, `v${i}`);
  for (let i = 0; i < 5000; i++) p.get(`pipe:${i}`);
  const res = (await p.exec())!;
  assert.equal(res.length, 10000);
  for (let i = 0; i < 5000; i++) assert.deepEqual(res[i], [null, 'OK']);
  for (let i = 0; i < 5000; i++) assert.deepEqual(res[5000 + i], [null, `v${i}`]);
  assert.equal(await cluster.client(3).get('pipe:4999'), 'v4999');
});

test('binary keys and values round-trip byte for byte', async () => {
  const key = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x80]);
  const value = Buffer.alloc(70000);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7919) & 0xff;
  await cluster.client(1).set(key, value);
  const got = await cluster.client(3).getBuffer(key);
  assert.ok(got && got.equals(value));
});

test('INCR is atomic across concurrent clients on different nodes', async () => {
  const clients = [cluster.client(1), cluster.client(2), cluster.client(3)];
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < 100; i++) await c.incr('counter');
  }));
  assert.equal(await clients[0].get('counter'), '300');
  await assert.rejects(clients[1].incr('pipe:1'), /ERR value is not an integer or out of range/);
});

test('malformed RESP gets a protocol error and leaves other clients alone', async () => {
  const other = cluster.client(1);
  const reply = await new Promise<string>((resolve) => {
    const s = cluster.rawConnect(1);
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
    s.write('*1\r\n$abc\r\n');
  });
  assert.match(reply, /^-ERR Protocol error/);
  assert.equal(await other.set('after-garbage', 'ok'), 'OK');
  assert.equal(await other.get('after-garbage'), 'ok');
});

test('kill -9 of a group leader under write load loses no acknowledged write', async () => {
  const placement = initialPlacement(
    [1, 2, 3].map((id) => ({ nodeId: id, host: '127.0.0.1', port: cluster.port(id), peerPort: 0 })), 4, 3);
  const key = (i: number) => `load:${i}`;
  const group = placement.groupOfSlot(keySlot(key(0)));
  const victim = await cluster.leaderOf(group);
  assert.ok(victim > 0, 'the group has a leader');
  const writerNode = cluster.nodeIds().find((id) => id !== victim)!;
  const writer = cluster.client(writerNode);
  const acked: number[] = [];
  let stop = false;
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        await writer.set(key(i), String(i));
        acked.push(i);
      } catch {
        // An error is an indeterminate outcome, not an acknowledgement.
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await cluster.kill(victim, 'SIGKILL');
  const killedAt = acked.length;
  // Writes must resume once a new leader is elected.
  const deadline = Date.now() + 20000;
  while (acked.length < killedAt + 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  stop = true;
  await load;
  assert.ok(acked.length >= killedAt + 50, `writes resumed after the kill (${killedAt} -> ${acked.length})`);
  for (const i of acked) assert.equal(await writer.get(key(i)), String(i), `acknowledged write ${i} survived`);

  // The killed node restarts and catches up (by log or by snapshot, as compaction ran).
  cluster.startNode(victim);
  await cluster.waitReady(victim);
  const revived = cluster.client(victim);
  const last = acked[acked.length - 1];
  assert.equal(await revived.get(key(last)), String(last));
  assert.equal(await revived.get('pipe:4999'), 'v4999');
});

test('a node that missed compacted entries catches up by snapshot', async () => {
  // With --compact-entries 20, a few hundred writes in small batches while node 3 is
  // down push every group's leader past compaction.
  await cluster.kill(3, 'SIGTERM');
  const writers = [cluster.client(1), cluster.client(2)];
  await Promise.all(writers.map(async (c, w) => {
    for (let i = w; i < 600; i += writers.length) await c.set(`snap:${i}`, `s${i}`);
  }));
  cluster.startNode(3);
  await cluster.waitReady(3);
  const revived = cluster.client(3);
  for (const i of [0, 123, 599]) assert.equal(await revived.get(`snap:${i}`), `s${i}`);
  const logs = [1, 2].map((id) => readFileSync(join(cluster.dataDir, `node-${id}.log`), 'utf8')).join('');
  assert.match(logs, /"msg":"sent snapshot"/, 'some leader sent a snapshot to node 3');
});

test('SIGTERM stops a node cleanly and it restarts with its data', async () => {
  await cluster.client(1).set('durable-after-sigterm', 'yes');
  const exit = cluster.exitCode(2);
  await cluster.kill(2, 'SIGTERM');
  assert.equal(await exit, 0);
  cluster.startNode(2);
  await cluster.waitReady(2);
  assert.equal(await cluster.client(2).get('durable-after-sigterm'), 'yes');
});
