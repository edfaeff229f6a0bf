// Proves that a five-node cluster, where each node hosts only some of the
// groups (3 replicas of 5 groups), serves every key from every node in the
// default forwarding mode — leaders of groups a node does not host come from
// gossip — and that ioredis Cluster, node-redis's cluster client and
// redis-cli -c keep working while a node leading groups is killed and restarted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { TestCluster } from './harness.js';

const cluster = new TestCluster({ nodes: 5, extra: ['--groups', '5', '--gossip-ms', '100', '--balance-ms', '0'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  await cluster.start();
});

after(async () => {
  await cluster.stop();
});

/** group -> leader, from the nodes that lead them (INFO raft role=leader). */
async function leadersByInfo(nodes = cluster.nodeIds()): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const id of nodes) {
    const info = (await cluster.client(id).info('raft')) as string;
    for (const line of info.split('\r\n')) {
      const m = /^group(\d+):role=leader,/.exec(line);
      if (m && m[1] !== '0') out.set(Number(m[1]), id);
    }
  }
  return out;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('every node reports every group\'s leader in CLUSTER SLOTS, hosted or not', async () => {
  await waitFor('cluster_state:ok everywhere', async () => {
    for (const id of cluster.nodeIds()) {
      if (!((await cluster.client(id).call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok')) return false;
    }
    return true;
  });
  // Under load a group may be between leaders for a moment, and gossip then needs a round to
  // spread the new one: wait until every node's CLUSTER SLOTS agrees with the leaders' own INFO.
  let mismatch = '';
  await waitFor('every node to report every group\'s leader', async () => {
    const lead = await leadersByInfo();
    if (lead.size !== 5) return !(mismatch = `${lead.size} groups have a leader`);
    for (const id of cluster.nodeIds()) {
      const slots = (await cluster.client(id).call('CLUSTER', 'SLOTS')) as Array<[number, number, ...Array<[string, number]>]>;
      assert.equal(slots.length, 5);
      for (const [i, range] of slots.entries()) {
        assert.equal(range.length, 2 + 3, 'leader + 2 followers');
        if (range[2][1] !== cluster.port(lead.get(i + 1)!)) return !(mismatch = `node ${id} names another leader of group ${i + 1}`);
      }
    }
    return true;
  }).catch((err: Error) => { throw new Error(`${err.message}: ${mismatch}`); });
});

test('a plain client on any node reads and writes keys of every group (forwarding)', async () => {
  for (const id of cluster.nodeIds()) {
    const c = cluster.client(id);
    for (let i = 0; i < 40; i++) assert.equal(await c.set(`fw:${id}:${i}`, `${i}`), 'OK');
  }
  for (const id of cluster.nodeIds()) {
    const c = cluster.client(((id) % 5) + 1);
    for (let i = 0; i < 40; i++) assert.equal(await c.get(`fw:${id}:${i}`), `${i}`);
  }
});

test('cluster clients and redis-cli -c keep working when a leading node is killed', async () => {
  const io = new Cluster([{ host: '127.0.0.1', port: cluster.port(1) }, { host: '127.0.0.1', port: cluster.port(2) }],
    { retryDelayOnClusterDown: 100, retryDelayOnTryAgain: 100, maxRedirections: 50, clusterRetryStrategy: () => 200 });
  io.on('error', () => {});
  const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.port(2)}` }], defaults: { socket: { reconnectStrategy: () => 200 } } });
  nr.on('error', () => {});
  await nr.connect();
  const acked = new Map<string, string>();
  let stop = false;
  const writer = async (name: string, set: (k: string, v: string) => Promise<unknown>) => {
    for (let i = 0; !stop; i++) {
      const k = `k5:${name}:${i}`;
      try {
        await set(k, String(i));
        acked.set(k, String(i));
      } catch {
        await sleep(50); // indeterminate, not acknowledged
      }
    }
  };
  const loads = [writer('io', (k, v) => io.set(k, v)), writer('nr', (k, v) => nr.set(k, v))];
  try {
    await sleep(500);
    const lead = await leadersByInfo();
    const victim = lead.get(1)!;
    await cluster.kill(victim, 'SIGKILL');
    const at = acked.size;
    const others = cluster.nodeIds().filter((id) => id !== victim);
    await waitFor('a new leader of group 1', async () => (await leadersByInfo(others)).get(1) !== undefined);
    await waitFor('writes to continue after the kill', async () => acked.size > at + 50, 30000);
    const cliNode = others[0];
    assert.equal(cluster.redisCli(cliNode, '-c', 'SET', 'cli5', 'after-kill'), 'OK');
    for (const id of others) assert.equal(cluster.redisCli(id, '-c', 'GET', 'cli5'), 'after-kill');
    cluster.startNode(victim);
    await cluster.waitReady(victim);
    const more = acked.size;
    await waitFor('writes to continue after the restart', async () => acked.size > more + 50, 30000);
  } finally {
    stop = true;
    await Promise.all(loads);
  }
  for (const [k, v] of acked) assert.equal(await io.get(k), v, `acknowledged ${k}`);
  io.disconnect();
  await nr.disconnect();
});

test('removing a node is refused when one of its groups would lose its quorum', async () => {
  // Group 2 lives on nodes 2, 3 and 4: with 2 and 3 down it cannot commit a membership change.
  await Promise.all([2, 3].map((id) => cluster.kill(id, 'SIGKILL')));
  const c = cluster.client(4);
  await waitFor('nodes 2 and 3 to be seen as failed', async () => {
    const nodes = (await c.call('CLUSTER', 'NODES')) as string;
    return nodes.trim().split('\n').filter((l) => l.includes(' disconnected')).length === 2;
  });
  await assert.rejects(c.call('RAFTIS', 'REMOVE-NODE', '2'),
    /^ReplyError: ERR cannot remove node 2: group \d+ would lose its quorum \(1 of 3 replicas reachable now\)$/);
  const placement = (await c.call('RAFTIS', 'PLACEMENT')) as unknown[];
  assert.equal(placement[1], 0, 'no placement change was committed');
});

test('CLUSTER INFO says fail and SHARDS marks nodes failed once a group has no reachable leader', async () => {
  // Group 1 lives on nodes 1, 2 and 3 (round-robin placement): with all three down it has no leader.
  await cluster.kill(1, 'SIGKILL');
  const c = cluster.client(4);
  await waitFor('cluster_state:fail', async () => ((await c.call('CLUSTER', 'INFO')) as string).includes('cluster_state:fail'));
  await waitFor('nodes 1-3 to be seen as failed', async () =>
    ((await c.call('CLUSTER', 'NODES')) as string).trim().split('\n').filter((l) => l.includes(' disconnected')).length === 3);
  const info = (await c.call('CLUSTER', 'INFO')) as string;
  assert.match(info, /cluster_slots_fail:[1-9]\d*\r\n/);
  const shards = (await c.call('CLUSTER', 'SHARDS')) as Array<[string, number[], string, unknown[][]]>;
  const health = new Map<number, string>();
  for (const shard of shards) {
    for (const n of shard[3]) {
      const m = new Map<string, unknown>();
      for (let i = 0; i < n.length; i += 2) m.set(n[i] as string, n[i + 1]);
      health.set((m.get('port') as number) - cluster.basePort + 1, m.get('health') as string);
    }
  }
  assert.deepEqual([1, 2, 3].map((id) => health.get(id)), ['failed', 'failed', 'failed']);
  assert.equal(health.get(4), 'online');
  const nodes = (await c.call('CLUSTER', 'NODES')) as string;
  for (const line of nodes.trim().split('\n')) {
    const port = Number(line.split(' ')[1].split(':')[1].split('@')[0]);
    assert.equal(line.includes(' disconnected'), port - cluster.basePort + 1 <= 3, line);
  }
});
