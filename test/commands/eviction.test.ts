// Proves the parts of maxmemory that need no cluster: the used-bytes figure
// that apply keeps on every replica equals what a rebuild from the store finds
// (so a restarted or snapshot-installed replica agrees), is the same on two
// replicas whose in-memory statistics differ, and tracks strings, hashes and
// deletions exactly; the eviction op spares keys without a TTL when volatile;
// LFU counters follow Redis's logarithmic increment; the growth bound covers
// denyoom commands only; the options load from flags, env and a config file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine } from '../../src/commands/apply.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { encodeEntryBatch } from '../../src/host/entry-batch.js';
import { encodeOp } from '../../src/commands/op-codec.js';
import { EntryType } from '../../src/raft/types.js';
import { stateMachineCommands } from '../../src/node.js';
import { growthBound } from '../../src/commands/eviction.js';
import { loadConfig } from '../../src/config.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../../src/env/random.js';
import { GroupKeyStats, LFU_INIT_VAL, touchStat } from '../../src/commands/key-stats.js';

const G = 1;

function entry(index: number, timeMs: number, ...cmds: string[][]) {
  return { term: 1, index, type: EntryType.Normal, data: encodeEntryBatch({ timeMs, ops: cmds.map((c) => encodeOp(c.map((a) => Buffer.from(a)))) }) };
}

async function replica(seed: number) {
  const store = new MemoryStateMachineStore();
  await store.open();
  let s = seed;
  const sm = new KvStateMachine(store, stateMachineCommands().all, () => ((s = (s * 16807) % 2147483647) / 2147483647), () => 1000);
  await sm.init([G]);
  return { store, sm };
}

const script: string[][][] = [
  [['SET', 'a', 'hello'], ['SET', 'b', 'x'.repeat(100), 'PX', '100000']],
  [['HSET', 'h', 'f1', 'v1', 'f2', 'value2'], ['APPEND', 'a', ' world']],
  [['HSET', 'h', 'f1', 'longer-value'], ['HDEL', 'h', 'f2'], ['SET', 'c', '1']],
  [['INCR', 'c'], ['DEL', 'b'], ['HSET', 'h2', 'x', 'y']],
  [['SET', 'h2', 'now a string'], ['raftis.evict', 'volatile', 'a', 'c'], ['EXPIRE', 'a', '100']],
  [['raftis.evict', 'volatile', 'a'], ['SET', 'd', 'dd']],
];

test('used bytes kept by apply equal a rebuild from the store, on replicas with different statistics', async () => {
  const r1 = await replica(1);
  const r2 = await replica(99);
  let index = 1;
  for (const cmds of script) {
    const e = entry(index++, 1000 + index, ...cmds);
    await r1.sm.apply([{ groupId: G, entries: [e] }]);
    await r2.sm.apply([{ groupId: G, entries: [e] }]);
  }
  const used = r1.sm.usedBytes(G);
  assert.equal(r2.sm.usedBytes(G), used);
  // Expected as stored: main records are 25 + key + value; field records 14 + key + field + value.
  // Left: h2 "now a string", h {f1: longer-value} (count and next insertion number "1 3"; the
  // field's value starts with its 6-byte insertion number), c "2", d "dd"; a and b are gone.
  const expected = (25 + 2 + 12) + (25 + 1 + 3) + (14 + 1 + 2 + 6 + 12) + (25 + 1 + 1) + (25 + 1 + 2);
  assert.equal(used, expected);
  const rebuilt = new KvStateMachine(r1.store, stateMachineCommands().all);
  await rebuilt.init([G]);
  assert.equal(rebuilt.usedBytes(G), used);
  assert.equal(r1.sm.counters.evictedKeys, 1, 'volatile eviction spared the keys without a TTL, then took a');
});

test('LFU counter: new keys start at 5 and grow logarithmically with accesses', () => {
  const stats = new GroupKeyStats(Math.random);
  const s = stats.put('k', 1, 1, 0, 0, true);
  assert.equal(s.lfu, LFU_INIT_VAL);
  const seeded = new SeededRandom(7);
  const random = () => seeded.next();
  for (let i = 0; i < 1000; i++) touchStat(s, 1, random);
  // Redis's table for lfu-log-factor 10 (redis.conf): 10 after 100 hits, 18 after 1000, 142 after 100K.
  assert.ok(s.lfu >= 14 && s.lfu <= 24, `counter ${s.lfu} after 1000 hits`);
  for (let i = 0; i < 100000; i++) touchStat(s, 1, random);
  assert.ok(s.lfu <= 255);
});

test('sampling arrays follow puts, expiry changes and deletes', () => {
  const stats = new GroupKeyStats(Math.random);
  for (let i = 0; i < 100; i++) stats.put(`k${i}`, 3, 1, i % 2 === 0 ? 5000 : 0, 0, true);
  assert.equal(stats.size, 100);
  assert.equal(stats.volatileCount, 50);
  for (let i = 0; i < 100; i += 3) stats.del(`k${i}`);
  stats.put('k1', 2, 1, 7000, 0, false);
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const k = stats.sample(true, Math.random)!;
    assert.ok(stats.get(k)!.expireAtMs !== 0, `${k} sampled as volatile has a TTL`);
    seen.add(k);
  }
  assert.equal(seen.size, stats.volatileCount);
  assert.equal(stats.usedBytes, [...Array(100).keys()].filter((i) => i % 3 !== 0).length * (25 + 3 + 1) - 1);
});

test('growth bound: denyoom writes only, EXEC sums its queued writes', () => {
  const b = (...a: string[]) => a.map((x) => Buffer.from(x));
  assert.equal(growthBound(b('DEL', 'k')), 0);
  assert.equal(growthBound(b('EXPIRE', 'k', '10')), 0);
  assert.ok(growthBound(b('SET', 'k', 'v'.repeat(100))) >= 25 + 1 + 100);
  assert.ok(growthBound(b('SETRANGE', 'k', '100000', 'x')) > 100000);
  const exec = [Buffer.from('raftis.exec'), Buffer.from('0'), encodeOp(b('SET', 'k', 'v')), encodeOp(b('DEL', 'k'))];
  assert.equal(growthBound(exec), growthBound(b('SET', 'k', 'v')));
});

test('config: maxmemory (bytes or Redis units), policy and samples from flags and a config file', () => {
  const c = loadConfig(['--node-id', '1', '--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lfu', '--maxmemory-samples', '10'], {});
  assert.equal(c.maxmemory, 100 * 1024 * 1024);
  assert.equal(c.maxmemoryPolicy, 'allkeys-lfu');
  assert.equal(c.maxmemorySamples, 10);
  const dir = mkdtempSync(join(tmpdir(), 'raftis-cfg-'));
  const file = join(dir, 'node.json');
  writeFileSync(file, JSON.stringify({ nodeId: 2, maxmemory: '1gb', maxmemoryPolicy: 'volatile-ttl' }));
  const f = loadConfig(['--config', file], {});
  assert.equal(f.maxmemory, 1024 ** 3);
  assert.equal(f.maxmemoryPolicy, 'volatile-ttl');
  assert.equal(loadConfig(['--node-id', '1'], { RAFTIS_MAXMEMORY: '4096' }).maxmemory, 4096);
  assert.throws(() => loadConfig(['--node-id', '1', '--maxmemory', 'lots'], {}), /maxmemory: expected a byte count/);
  assert.throws(() => loadConfig(['--node-id', '1', '--maxmemory-policy', 'lru'], {}), /maxmemoryPolicy: expected one of/);
  rmSync(dir, { recursive: true, force: true });
});
