// Proves that cluster-aware clients work against raftis with -MOVED redirects:
// three real nodes with `--redirect moved`, checked byte for byte on the
// topology replies (CLUSTER SLOTS/SHARDS/NODES/INFO...) against the Raft state
// in INFO raft, then driven by ioredis Cluster, node-redis's cluster client and
// redis-cli -c across leadership transfers, follower reads, CROSSSLOT errors
// and automatic leader balancing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { keySlot } from '../../src/cluster/slot.js';
import { nodeHexId } from '../../src/cluster/ids.js';
import { TestCluster } from './harness.js';

const GROUPS = 4;
const cluster = new TestCluster({ extra: ['--groups', String(GROUPS), '--redirect', 'moved', '--balance-ms', '700', '--gossip-ms', '100'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  await cluster.start();
});

after(async () => {
  await cluster.stop();
});

/** Leader of every data group per INFO raft of node 1 (which hosts them all). */
async function leaders(): Promise<Map<number, number>> {
  const info = (await cluster.client(1).info('raft')) as string;
  const out = new Map<number, number>();
  for (const line of info.split('\r\n')) {
    const m = /^group(\d+):.*leader=(\d+)/.exec(line);
    if (m && m[1] !== '0') out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits until every node's gossip agrees on the leaders (CLUSTER INFO ok everywhere). */
async function settled(): Promise<void> {
  await waitFor('cluster_state:ok on every node', async () => {
    for (const id of cluster.nodeIds()) {
      const info = (await cluster.client(id).call('CLUSTER', 'INFO')) as string;
      if (!info.includes('cluster_state:ok')) return false;
    }
    return true;
  });
}

test('CLUSTER SLOTS lists each group\'s leader first, then its followers, with 40-hex ids', async () => {
  await settled();
  const slots = (await cluster.client(2).call('CLUSTER', 'SLOTS')) as unknown[][];
  assert.equal(slots.length, GROUPS);
  const lead = await leaders();
  let next = 0;
  for (const [i, range] of slots.entries()) {
    const [start, end, ...nodes] = range as [number, number, ...Array<[string, number, string, unknown[]]>];
    assert.equal(start, next);
    next = end + 1;
    assert.equal(nodes.length, 3);
    const leaderPort = cluster.port(lead.get(i + 1)!);
    assert.equal(nodes[0][1], leaderPort, `group ${i + 1}: master is the leader`);
    for (const [host, port, id, extra] of nodes) {
      assert.equal(host, '127.0.0.1');
      assert.equal(id, nodeHexId('raftis', port - cluster.basePort + 1));
      assert.match(id, /^[0-9a-f]{40}$/);
      assert.deepEqual(extra, []);
    }
  }
  assert.equal(next, 16384);
  const myid = await cluster.client(3).call('CLUSTER', 'MYID');
  assert.equal(myid, nodeHexId('raftis', 3));
  assert.match((await cluster.client(3).call('CLUSTER', 'MYSHARDID')) as string, /^[0-9a-f]{40}$/);
});

/**
 * Runs `check` until it passes or `timeoutMs` ends (then its last failure is thrown): for views
 * built from gossip, which lag the nodes' own state by up to a gossip period or two under load.
 */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

test('CLUSTER NODES, SHARDS and INFO follow Redis\'s formats', () => eventually(async () => {
  const c = cluster.client(1);
  const lead = await leaders();
  const nodes = ((await c.call('CLUSTER', 'NODES')) as string).trim().split('\n');
  assert.equal(nodes.length, 3);
  for (const line of nodes) {
    const f = line.split(' ');
    assert.match(f[0], /^[0-9a-f]{40}$/);
    assert.match(f[1], /^127\.0\.0\.1:\d+@\d+$/);
    const nodeId = Number(f[1].split(':')[1].split('@')[0]) - cluster.basePort + 1;
    const ledGroups = [...lead].filter(([, l]) => l === nodeId).length;
    assert.equal(f[2].split(',').includes('master'), ledGroups > 0, line);
    assert.equal(f[2].includes('myself'), nodeId === 1, line);
    assert.equal(f[7], 'connected');
    assert.match(f[6], /^\d+$/);
    for (const s of f.slice(8)) assert.match(s, /^\d+(-\d+)?$/);
  }
  const shards = (await c.call('CLUSTER', 'SHARDS')) as unknown[][];
  assert.equal(shards.length, GROUPS);
  const first = shards[0] as [string, number[], string, unknown[][]];
  assert.equal(first[0], 'slots');
  assert.deepEqual(first[1], [0, 4095]);
  assert.equal(first[2], 'nodes');
  const roles = first[3].map((n) => {
    const m = new Map<string, unknown>();
    for (let i = 0; i < n.length; i += 2) m.set(n[i] as string, n[i + 1]);
    assert.deepEqual([...m.keys()], ['id', 'port', 'ip', 'endpoint', 'role', 'replication-offset', 'health']);
    assert.equal(m.get('health'), 'online');
    assert.ok((m.get('replication-offset') as number) >= 1);
    return m.get('role');
  });
  assert.deepEqual(roles.sort(), ['master', 'replica', 'replica']);
  const info = (await c.call('CLUSTER', 'INFO')) as string;
  assert.match(info, /^cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n/);
  assert.match(info, /cluster_known_nodes:3\r\n/);
}));

test('CLUSTER KEYSLOT matches Redis, hash tags included; key counts per slot are local', async () => {
  const c = cluster.client(1);
  for (const k of ['123456789', 'foo', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}']) {
    assert.equal(await c.call('CLUSTER', 'KEYSLOT', k), keySlot(k), k);
  }
  assert.equal(await c.call('CLUSTER', 'KEYSLOT', '123456789'), 0x31c3 % 16384);
  assert.equal(await c.call('CLUSTER', 'KEYSLOT', 'foo{bar}{zap}'), await c.call('CLUSTER', 'KEYSLOT', 'bar'));
  const cc = new Cluster([{ host: '127.0.0.1', port: cluster.port(1) }]);
  try {
    for (const k of ['{tag}a', '{tag}b', '{tag}c']) await cc.set(k, 'x');
    const slot = keySlot('{tag}a');
    await waitFor('replicas to apply', async () => (await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))) === 3);
    const keys = (await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '2')) as string[];
    assert.equal(keys.length, 2);
    for (const k of keys) assert.ok(['{tag}a', '{tag}b', '{tag}c'].includes(k));
  } finally {
    cc.disconnect();
  }
});

test('a plain client gets -MOVED to the leader; multi-key commands need one slot', async () => {
  const lead = await leaders();
  const slot = keySlot('moved-key');
  const group = Math.floor((slot * GROUPS) / 16384) + 1;
  const follower = cluster.nodeIds().find((id) => id !== lead.get(group))!;
  await assert.rejects(cluster.client(follower).set('moved-key', 'v'),
    (err: Error) => err.message === `MOVED ${slot} 127.0.0.1:${cluster.port(lead.get(group)!)}`);
  const cc = new Cluster([{ host: '127.0.0.1', port: cluster.port(1) }]);
  try {
    await assert.rejects(cc.exists('a', 'b'), /CROSSSLOT Keys in request don't hash to the same slot/);
    await cc.set('{u1}name', 'ann');
    await cc.set('{u1}age', '7');
    assert.equal(await cc.exists('{u1}name', '{u1}age'), 2);
    assert.equal(await cc.del('{u1}name', '{u1}age', '{u1}none'), 2);
  } finally {
    cc.disconnect();
  }
});

test('redis-cli -c follows MOVED from any node', () => {
  for (const id of cluster.nodeIds()) {
    assert.equal(cluster.redisCli(id, '-c', 'SET', `cli:${id}`, `v${id}`), 'OK');
  }
  for (const id of cluster.nodeIds()) {
    for (const k of cluster.nodeIds()) assert.equal(cluster.redisCli(id, '-c', 'GET', `cli:${k}`), `v${k}`);
  }
});

test('ioredis Cluster and node-redis keep working across leadership changes (CLUSTER FAILOVER)', async () => {
  const io = new Cluster([{ host: '127.0.0.1', port: cluster.port(2) }], { retryDelayOnMoved: 20 });
  const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.port(3)}` }] });
  nr.on('error', () => {});
  await nr.connect();
  try {
    const acked: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await (i % 2 === 0 ? io.set(`lc:${i}`, String(i)) : nr.set(`lc:${i}`, String(i)));
          acked.push(`lc:${i}`);
        } catch {
          await sleep(20); // an error is indeterminate, not an acknowledgement
        }
      }
    })();
    try {
      // Move leadership of every group around: CLUSTER FAILOVER on followers of their shard.
      for (let round = 0; round < 2; round++) {
        for (const id of cluster.nodeIds()) {
          const c = cluster.client(id);
          const shard = await shardLeaderIsElsewhere(id);
          if (!shard) continue;
          // Under load a transfer may time out, or the shard be between leaders (the node then
          // says to retry): ask again every second until this node leads its shard.
          let askedAt = 0;
          await waitFor(`node ${id} to lead its shard`, async () => {
            if ((await leaders()).get(shard) === id) return true;
            if (Date.now() - askedAt > 1000) {
              askedAt = Date.now();
              await c.call('CLUSTER', 'FAILOVER').catch(() => {});
            }
            return false;
          });
          await sleep(150);
        }
      }
      const before = acked.length;
      await waitFor('writes to continue', async () => acked.length > before + 20);
    } finally {
      stop = true;
      await load;
    }
    for (const [i, k] of acked.entries()) {
      const v = i % 2 === 0 ? await nr.get(k) : await io.get(k);
      assert.equal(v, k.slice(3), `acknowledged ${k}`);
    }
    // redis-cli -c follows the new leaders too.
    for (const id of cluster.nodeIds()) {
      assert.equal(cluster.redisCli(id, '-c', 'SET', `after-failover:${id}`, 'ok'), 'OK');
      for (const k of cluster.nodeIds()) assert.equal(cluster.redisCli(k, '-c', 'GET', `after-failover:${id}`), 'ok');
    }
  } finally {
    io.disconnect();
    await nr.disconnect();
  }
});

/** The shard group of `nodeId` (its lowest group) when another node leads it, else 0. */
async function shardLeaderIsElsewhere(nodeId: number): Promise<number> {
  const lead = await leaders();
  return lead.get(1) !== nodeId ? 1 : 0;
}

test('CLUSTER FAILOVER on the leader itself is refused', async () => {
  const leader = (await leaders()).get(1)!;
  await assert.rejects(cluster.client(leader).call('CLUSTER', 'FAILOVER'), /ERR You should send CLUSTER FAILOVER to a replica/);
});

test('READONLY connections read on followers through ReadIndex; CLIENT CONSISTENCY picks the read level', async () => {
  const lead = await leaders();
  const slot = keySlot('ro-key');
  const group = Math.floor((slot * GROUPS) / 16384) + 1;
  const leaderNode = lead.get(group)!;
  const follower = cluster.nodeIds().find((id) => id !== leaderNode)!;
  const cc = new Cluster([{ host: '127.0.0.1', port: cluster.port(1) }]);
  await cc.set('ro-key', 'fresh');
  cc.disconnect();
  const f = cluster.client(follower);
  await assert.rejects(f.get('ro-key'), /^ReplyError: MOVED|MOVED/);
  assert.equal(await f.call('READONLY'), 'OK');
  // The write was acknowledged by the leader: a ReadIndex read on the follower must see it.
  assert.equal(await f.get('ro-key'), 'fresh');
  await assert.rejects(f.set('ro-key', 'x'), /MOVED/);
  assert.equal(await f.call('CLIENT', 'CONSISTENCY'), 'default');
  for (const level of ['LINEARIZABLE', 'LEASE', 'STALE']) {
    assert.equal(await f.call('CLIENT', 'CONSISTENCY', level), 'OK');
    assert.equal(await f.call('CLIENT', 'CONSISTENCY'), level.toLowerCase());
    assert.equal(await f.get('ro-key'), 'fresh');
  }
  assert.equal(await f.call('READWRITE'), 'OK');
  // STALE serves from the local replica even without READONLY.
  assert.equal(await f.get('ro-key'), 'fresh');
  assert.equal(await f.call('CLIENT', 'CONSISTENCY', 'DEFAULT'), 'OK');
  await assert.rejects(f.get('ro-key'), /MOVED/);
  await assert.rejects(f.call('CLIENT', 'CONSISTENCY', 'sometimes'), /ERR CLIENT CONSISTENCY must be one of/);
  assert.equal(await f.call('ASKING'), 'OK');
});

test('node-redis with useReplicas reads its own writes on followers (READONLY + ReadIndex)', async () => {
  const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.port(1)}` }], useReplicas: true });
  nr.on('error', () => {});
  await nr.connect();
  try {
    for (let i = 0; i < 50; i++) {
      await nr.set(`sr:${i}`, `v${i}`);
      assert.equal(await nr.get(`sr:${i}`), `v${i}`, 'a read right after the write sees it, wherever it is served');
    }
  } finally {
    await nr.disconnect();
  }
});

test('RAFTIS GROUPS lists leader, term, indexes and each member\'s lag', async () => {
  const rows = (await cluster.client(2).call('RAFTIS', 'GROUPS')) as unknown[][];
  assert.equal(rows.length, GROUPS + 1);
  const lead = await leaders();
  for (const row of rows.slice(1)) {
    const m = new Map<string, unknown>();
    for (let i = 0; i < row.length; i += 2) m.set(row[i] as string, row[i + 1]);
    assert.equal(m.get('leader'), lead.get(m.get('group') as number));
    assert.ok((m.get('term') as number) >= 1);
    assert.ok((m.get('commit') as number) >= 1);
    const members = m.get('members') as unknown[][];
    assert.equal(members.length, 3);
    for (const mem of members) assert.ok((mem[9] as number) >= 0, 'lag known');
  }
});

test('automatic balancing spreads leadership again after it was piled on one node', async () => {
  for (let g = 1; g <= GROUPS; g++) {
    const l = (await leaders()).get(g)!;
    if (l !== 1) await cluster.client(l).call('RAFTIS', 'TRANSFER-LEADER', String(g), '1');
  }
  await waitFor('balanced leadership', async () => {
    const counts = new Map<number, number>([[1, 0], [2, 0], [3, 0]]);
    for (const l of (await leaders()).values()) counts.set(l, counts.get(l)! + 1);
    const c = [...counts.values()];
    return Math.max(...c) - Math.min(...c) <= 1;
  }, 20000);
});
