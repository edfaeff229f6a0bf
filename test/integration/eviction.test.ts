// Proves maxmemory and every eviction policy on a real three-node cluster
// (four data groups, every group on every node): writes fill the keyspace
// past the limit, then each node's used_memory (the bytes its data takes as
// stored) must be within maxmemory with no tolerance, every replica must hold
// exactly the same keys (read per node with stale local reads), volatile-*
// must never remove a key without a TTL, volatile-ttl must remove the
// soonest-expiring keys of each group first, LRU/LFU must keep a small hot set
// alive, and noeviction must answer -OOM to writes while reads and deletes
// still work. Eviction keeps working across a leader change and a restart.
// Replies of CONFIG GET/SET, OBJECT FREQ/IDLETIME, MEMORY USAGE and OOM are
// compared with a real redis-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { TestCluster } from './harness.js';
import { ReferenceRedis } from './reference.js';
import { keySlot } from '../../src/cluster/slot.js';

const MAXMEMORY = 160 * 1024;
const cluster = new TestCluster({ extra: ['--groups', '4', '--maxmemory', '160kb', '--maxmemory-policy', 'allkeys-lru'] });
const VALUE = 'v'.repeat(100);
const reference = new ReferenceRedis();
const redisPort = reference.port;

before(async () => {
  await reference.start();
  await cluster.start();
});

after(async () => {
  reference.stop();
  await cluster.stop();
});

/** Every node's client (one connection each). */
function clients(): Redis[] {
  return cluster.nodeIds().map((id) => cluster.client(id));
}

async function configAll(...args: string[]): Promise<void> {
  for (const c of clients()) assert.equal(await c.call('CONFIG', 'SET', ...args), 'OK');
}

function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  assert.ok(m, `INFO has ${field}`);
  return Number(m[1]);
}

/** Sends SETs in pipelined batches; returns the keys acknowledged OK and the error replies. */
async function fill(c: Redis, keys: string[], ttlMsOf?: (key: string) => number, between?: () => Promise<void>) {
  const okKeys: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < keys.length; i += 50) {
    const p = c.pipeline();
    const part = keys.slice(i, i + 50);
    for (const k of part) {
      const ttl = ttlMsOf?.(k) ?? 0;
      if (ttl > 0) p.set(k, VALUE, 'PX', ttl);
      else p.set(k, VALUE);
    }
    const res = (await p.exec())!;
    res.forEach(([err], j) => (err ? errors.push(err.message) : okKeys.push(part[j])));
    if (between) await between();
  }
  return { okKeys, errors };
}

/** The keys among `keys` that node `nodeId` holds locally (stale reads of its own state machine). */
async function localKeys(nodeId: number, keys: string[]): Promise<Set<string>> {
  const c = new Redis({ port: cluster.port(nodeId), lazyConnect: true });
  await c.connect();
  await c.call('CLIENT', 'CONSISTENCY', 'stale');
  const out = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const part = keys.slice(i, i + 500);
    const vals = await c.mget(...part);
    vals.forEach((v, j) => v !== null && out.add(part[j]));
  }
  c.disconnect();
  return out;
}

/** Waits until every node reports the same used_memory, then checks the bound and the key sets. */
async function converged(keys: string[]): Promise<{ present: Set<string>; used: number }> {
  const deadline = Date.now() + 30000;
  let used: number[] = [];
  for (;;) {
    used = await Promise.all(clients().map(async (c) => infoField((await c.info('memory')) as string, 'used_memory')));
    if (used.every((u) => u === used[0])) {
      const sets = await Promise.all(cluster.nodeIds().map((id) => localKeys(id, keys)));
      const same = sets.every((s) => s.size === sets[0].size && [...s].every((k) => sets[0].has(k)));
      if (same) {
        for (const u of used) assert.ok(u <= MAXMEMORY, `used_memory ${u} within maxmemory ${MAXMEMORY}`);
        return { present: sets[0], used: used[0] };
      }
    }
    if (Date.now() > deadline) assert.fail(`replicas did not converge: used_memory ${used.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** slot range of each data group, from INFO raft. */
async function groupOfKey(): Promise<(key: string) => number> {
  const info = (await cluster.client(1).info('raft')) as string;
  const ranges: Array<[number, number, number]> = [];
  for (const m of info.matchAll(/^group(\d+):.*slots=(\d+)-(\d+)/gm)) ranges.push([Number(m[1]), Number(m[2]), Number(m[3])]);
  return (key) => {
    const s = keySlot(Buffer.from(key));
    return ranges.find(([, lo, hi]) => s >= lo && s <= hi)![0];
  };
}

async function reset(policy: string): Promise<void> {
  const c = cluster.client(1);
  await c.flushall();
  await configAll('maxmemory-policy', policy, 'maxmemory', String(MAXMEMORY));
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

for (const policy of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random']) {
  test(`${policy}: the data stays within maxmemory, replicas evict the same keys${policy === 'allkeys-random' ? '' : ', a hot set survives'}`, async () => {
    await reset(policy);
    const c = cluster.client(1);
    const hot = names(`${policy}:hot`, 10);
    await fill(c, hot);
    const touchHot = async () => {
      for (let i = 0; i < (policy === 'allkeys-lfu' ? 3 : 1); i++) await c.mget(...hot);
    };
    if (policy === 'allkeys-lfu') for (let i = 0; i < 30; i++) await touchHot();
    const cold = names(`${policy}:cold`, 4000);
    const { okKeys, errors } = await fill(c, cold, undefined, policy === 'allkeys-random' ? undefined : touchHot);
    assert.deepEqual(errors, [], 'no write refused while keys can be evicted');
    assert.equal(okKeys.length, cold.length);
    const { present } = await converged([...hot, ...cold]);
    const coldLeft = cold.filter((k) => present.has(k)).length;
    assert.ok(coldLeft < cold.length / 2, `most cold keys evicted (${coldLeft} left)`);
    if (policy !== 'allkeys-random') assert.deepEqual(hot.filter((k) => !present.has(k)), [], 'every hot key survived');
    const evicted = await Promise.all(clients().map(async (n) => infoField((await n.info('stats')) as string, 'evicted_keys')));
    assert.ok(evicted.every((e) => e > 0), `evicted_keys counted on every node: ${evicted.join(', ')}`);
  });
}

for (const policy of ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']) {
  test(`${policy}: only keys with a TTL are evicted${policy === 'volatile-ttl' ? ', soonest expiry first in each group' : ''}; OOM once none is left`, async () => {
    await reset(policy);
    const c = cluster.client(1);
    const volatile = names(`${policy}:ttl`, 600);
    // TTLs in shuffled order, far in the future: the order of expiry is not the order of writes.
    const ttlOf = new Map(volatile.map((k, i) => [k, 3_600_000 + ((i * 7919) % 600) * 1000]));
    const first = await fill(c, volatile, (k) => ttlOf.get(k)!);
    assert.deepEqual(first.errors, []);
    const persistent = names(`${policy}:keep`, 2000);
    const { okKeys, errors } = await fill(c, persistent);
    assert.ok(errors.length > 0, 'writes are refused once no key with a TTL is left');
    assert.ok(errors.every((e) => e === "OOM command not allowed when used memory > 'maxmemory'."), errors[0]);
    const { present } = await converged([...volatile, ...persistent]);
    assert.deepEqual(okKeys.filter((k) => !present.has(k)), [], 'no key without a TTL was evicted');
    const gone = volatile.filter((k) => !present.has(k));
    assert.ok(gone.length > 0, 'keys with a TTL were evicted');
    if (policy === 'volatile-ttl') {
      const groupOf = await groupOfKey();
      for (const g of new Set(volatile.map(groupOf))) {
        const evictedMax = Math.max(...gone.filter((k) => groupOf(k) === g).map((k) => ttlOf.get(k)!));
        const keptMin = Math.min(...volatile.filter((k) => groupOf(k) === g && present.has(k)).map((k) => ttlOf.get(k)!));
        assert.ok(evictedMax <= keptMin, `group ${g}: evicted TTLs (max ${evictedMax}) come before kept ones (min ${keptMin})`);
      }
    }
  });
}

test('noeviction: writes past the limit get -OOM; reads and deletes still work, and a delete makes room', async () => {
  await reset('noeviction');
  const c = cluster.client(2);
  const keys = names('noev', 2000);
  const { okKeys, errors } = await fill(c, keys);
  assert.ok(errors.length > 0 && okKeys.length > 0);
  assert.ok(errors.every((e) => e === "OOM command not allowed when used memory > 'maxmemory'."), errors[0]);
  const { present } = await converged(keys);
  assert.deepEqual(okKeys.filter((k) => !present.has(k)), [], 'noeviction evicts nothing');
  assert.equal(await c.get(okKeys[0]), VALUE);
  await assert.rejects(c.set('noev:more', VALUE), /^ReplyError: OOM command not allowed when used memory > 'maxmemory'\.$/);
  assert.equal(await c.del(...okKeys.slice(0, 200)), 200);
  assert.equal(await c.set('noev:more', VALUE), 'OK');
  const info = (await c.info('memory')) as string;
  assert.match(info, /^maxmemory_policy:noeviction$/m);
  assert.equal(infoField(info, 'maxmemory'), MAXMEMORY);
});

test('eviction goes on across a leader change and a restart; a restarted replica agrees on used bytes', async () => {
  await reset('allkeys-lru');
  const c = cluster.client(1);
  const a = names('lead:a', 1500);
  assert.deepEqual((await fill(c, a)).errors, []);
  await converged(a);
  // Kill the leader of group 1 (a leader change for every group it led), write on, then restart it:
  // it rebuilds its used bytes from its store and takes maxmemory and the policy from its flags.
  const leader = await cluster.leaderOf(1);
  await cluster.kill(leader);
  const survivor = cluster.nodeIds().find((id) => id !== leader)!;
  const s = cluster.client(survivor);
  const b = names('lead:b', 1500);
  let res = await fill(s, b);
  assert.deepEqual(res.errors.filter((e) => e.startsWith('OOM')), [], 'no OOM across the leader change');
  cluster.startNode(leader);
  await cluster.waitReady(leader);
  const cc = names('lead:c', 1500);
  res = await fill(cluster.client(leader), cc);
  assert.deepEqual(res.errors, []);
  const { present } = await converged([...a, ...b, ...cc]);
  assert.ok(cc.filter((k) => present.has(k)).length > 0);
});

test('CONFIG GET/SET of maxmemory options, OBJECT FREQ/IDLETIME, MEMORY USAGE and OOM reply as redis-server does', async () => {
  await reset('noeviction');
  await configAll('maxmemory', '0');
  const ref = new Redis({ port: redisPort });
  ref.on('error', () => {});
  try {
    await configDiff(ref);
  } finally {
    ref.disconnect();
  }
  await configAll('maxmemory', String(MAXMEMORY));
});

async function configDiff(ref: Redis): Promise<void> {
  const ours = cluster.client(3);
  const others = [cluster.client(1), cluster.client(2)];
  const run = (r: Redis, args: string[]) => r.call(args[0], ...args.slice(1)).then((v) => ({ v }), (e: Error) => ({ e: e.message }));
  const both = async (...args: string[]) => {
    const [want, got] = await Promise.all([run(ref, args), run(ours, args)]);
    assert.deepEqual(got, want, `reply to ${args.join(' ')}`);
    // CONFIG SET is per node (as in Redis Cluster): set it on every node, as an operator would.
    if (args[0] === 'CONFIG' && args[1] === 'SET') for (const o of others) assert.deepEqual(await run(o, args), got);
    return got;
  };
  await ref.flushall();
  await both('SET', 'k', 'v');
  await both('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await both('OBJECT', 'FREQ', 'k');
  await both('OBJECT', 'FREQ', 'nokey');
  await both('OBJECT', 'IDLETIME', 'nokey');
  // Redis's LRU clock has a one-second resolution: a key touched just before a second boundary
  // reads as idle for 1 s at once. Both must say "just used" (0 or 1), not necessarily the same.
  for (const r of [ref, ours]) {
    const idle = await run(r, ['OBJECT', 'IDLETIME', 'k']);
    assert.ok('v' in idle && (idle.v === 0 || idle.v === 1), `OBJECT IDLETIME k right after SET: ${JSON.stringify(idle)}`);
  }
  await both('OBJECT', 'FREQ');
  await both('OBJECT', 'IDLETIME', 'a', 'b');
  await both('OBJECT');
  await both('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
  await both('SET', 'f', 'v');
  await both('OBJECT', 'FREQ', 'f');
  await both('OBJECT', 'IDLETIME', 'k');
  await both('CONFIG', 'SET', 'maxmemory-policy', 'ALLKEYS-LRU');
  await both('CONFIG', 'GET', 'maxmemory-policy');
  await both('CONFIG', 'SET', 'maxmemory-policy', 'bogus');
  await both('CONFIG', 'SET', 'maxmemory', '10mb');
  await both('CONFIG', 'GET', 'maxmemory');
  await both('CONFIG', 'SET', 'maxmemory', '2GB');
  await both('CONFIG', 'GET', 'maxmemory');
  await both('CONFIG', 'SET', 'maxmemory', 'abc');
  await both('CONFIG', 'SET', 'maxmemory', '-1');
  await both('CONFIG', 'SET', 'maxmemory-samples', '0');
  await both('CONFIG', 'SET', 'maxmemory-samples', 'x');
  await both('CONFIG', 'SET', 'maxmemory-samples', '7');
  await both('CONFIG', 'GET', 'maxmemory-samples');
  await both('MEMORY', 'USAGE', 'nokey');
  await both('MEMORY', 'USAGE', 'k', 'SAMPLES', 'x');
  await both('MEMORY', 'USAGE', 'k', 'SAMPLES', '-1');
  await both('MEMORY', 'USAGE', 'k', 'foo', '1');
  await both('MEMORY', 'USAGE', 'k', 'SAMPLES');
  await both('MEMORY', 'USAGE');
  // MEMORY USAGE answers the bytes the key takes as stored (Redis: its allocator's view).
  assert.equal(await ours.call('MEMORY', 'USAGE', 'k', 'SAMPLES', '0'), 25 + 1 + 1);
  assert.equal(await ours.call('MEMORY', 'USAGE', 'k'), 27);
  await ours.hset('h', 'field', 'value');
  // A hash: its main record (holding the field count and the next insertion number, "1 2") plus
  // one field record carrying the key, whose value starts with its 6-byte insertion number.
  assert.equal(await ours.call('MEMORY', 'USAGE', 'h'), (25 + 1 + 3) + (14 + 1 + 5 + 6 + 5));
  await both('CONFIG', 'SET', 'maxmemory-policy', 'noeviction', 'maxmemory', '1');
  await both('SET', 'x', 'y');
  await both('GET', 'k');
  await both('INCR', 'n');
  await both('DEL', 'k');
  await both('CONFIG', 'SET', 'maxmemory', '0');
  await both('OBJECT', 'FREQ', 'f');
}

test('a write larger than its group\'s whole budget gets -OOM and evicts nothing', async () => {
  await reset('allkeys-lru');
  const c = cluster.client(1);
  const keys = names('big', 100);
  assert.deepEqual((await fill(c, keys)).errors, []);
  const before = await converged(keys);
  // The budget of a group is maxmemory / 4 groups = 40 KB.
  await assert.rejects(c.set('big:value', 'x'.repeat(MAXMEMORY / 4)), /OOM command not allowed when used memory > 'maxmemory'\./);
  const after = await converged(keys);
  assert.equal(after.present.size, before.present.size);
  assert.equal(after.used, before.used);
});
