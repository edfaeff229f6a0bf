// Proves online membership changes lose no acknowledged write: while two
// clients keep writing, a fourth node joins (learner, snapshot, promotion) and
// takes its share of replicas and leadership, one replica moves between
// nodes, and an original node is removed (its replicas move first) and
// forgotten; afterwards every acknowledged write reads back and leadership is
// balanced again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TestCluster, writeUntil } from './harness.js';

const ADMIN_CLI = fileURLToPath(new URL('../../src/admin/cli.js', import.meta.url));
/** Runs the packaged admin CLI against node 1 (asynchronously: the writers keep running meanwhile). */
async function admin(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [ADMIN_CLI, '--server', `127.0.0.1:${cluster.port(1)}`, ...args]);
  return stdout;
}

const GROUPS = 6;
const cluster = new TestCluster({
  extra: ['--groups', String(GROUPS), '--gossip-ms', '100', '--balance-ms', '500', '--compact-entries', '100'],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  await cluster.start();
});

after(async () => {
  await cluster.stop();
});

interface GroupRow { group: number; leader: number; members: number[]; target: number[]; settled: number; roles: string[] }

function toMap(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1]);
  return m;
}

async function groups(nodeId: number): Promise<GroupRow[]> {
  const rows = (await cluster.client(nodeId).call('RAFTIS', 'GROUPS')) as unknown[][];
  return rows.map((r) => {
    const m = toMap(r);
    const members = (m.get('members') as unknown[][]).map(toMap);
    return {
      group: m.get('group') as number,
      leader: m.get('leader') as number,
      members: members.map((x) => x.get('node') as number),
      roles: members.map((x) => x.get('role') as string),
      target: m.get('target') as number[],
      settled: m.get('settled') as number,
    };
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 40000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const settledOn = (nodeId: number) => async () => (await groups(nodeId)).every((g) => g.settled === 1);

async function balanced(nodeId: number, nodes: number[]): Promise<boolean> {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const g of (await groups(nodeId)).filter((x) => x.group !== 0)) {
    if (!counts.has(g.leader)) return false;
    counts.set(g.leader, counts.get(g.leader)! + 1);
  }
  const c = [...counts.values()];
  return Math.max(...c) - Math.min(...c) <= 1;
}

const acked = new Map<string, string>();
let stop = false;
let loads: Promise<void>[] = [];

function startWriters(): void {
  loads = [1, 2].map((nodeId) => writeUntil(cluster.client(nodeId), `m:${nodeId}:`, acked, () => stop));
}

test('a fourth node joins under write load, catches up by snapshot and gets replicas and leadership', async () => {
  await waitFor('initial settle', settledOn(1));
  startWriters();
  await sleep(500);
  const addArgs = cluster.planJoiningNode(4);
  cluster.startNode(4);
  const reply = (await cluster.client(2).call('RAFTIS', 'ADD-NODE', ...addArgs)) as unknown[];
  const r = toMap(reply);
  assert.equal(r.get('version'), 1);
  assert.ok((r.get('moves') as string[]).length >= 3, `replicas move to node 4: ${String(r.get('moves'))}`);
  await waitFor('node 4 to hold its replicas', async () => {
    const gs = await groups(1);
    return gs.every((g) => g.settled === 1) && gs.filter((g) => g.group !== 0 && g.members.includes(4)).length >= 4;
  });
  await waitFor('leadership balanced over four nodes', () => balanced(1, [1, 2, 3, 4]));
  const n4 = cluster.client(4);
  assert.equal(await n4.call('CLUSTER', 'MYID'), (await n4.call('CLUSTER', 'NODES') as string).split('\n').find((l) => l.includes('myself'))!.split(' ')[0]);
  assert.equal(((await n4.call('CLUSTER', 'NODES')) as string).trim().split('\n').length, 4);
  // Node 4 serves reads of keys written before it joined.
  assert.equal(await n4.get('m:1:0'), '0');
});

test('one replica moves from one node to another', async () => {
  const gs = await groups(1);
  const g = gs.find((x) => x.group !== 0 && !x.members.includes(4))
    ?? gs.find((x) => x.group !== 0)!;
  const to = [1, 2, 3, 4].find((n) => !g.members.includes(n))!;
  const from = g.members.find((n) => n !== g.leader)!;
  const reply = toMap((await cluster.client(3).call('RAFTIS', 'MOVE-REPLICA', String(g.group), String(from), String(to))) as unknown[]);
  assert.deepEqual(reply.get('moves'), [`group ${g.group}: ${from} -> ${to}`]);
  await waitFor(`group ${g.group} to move from ${from} to ${to}`, async () => {
    const row = (await groups(2)).find((x) => x.group === g.group)!;
    return row.settled === 1 && row.members.includes(to) && !row.members.includes(from);
  });
  await assert.rejects(cluster.client(1).call('RAFTIS', 'MOVE-REPLICA', String(g.group), String(from), String(to)),
    new RegExp(`ERR node ${from} has no replica of group ${g.group}`));
});

test('node 3 is removed under write load: replicas move off it first, then it is forgotten', async () => {
  // The admin CLI waits until every group has settled and node 3 is forgotten.
  const out = await admin('remove-node', '3', '--wait');
  assert.match(out, /^placement version \d+\n(  group \d+: 3 -> [124-]\n)+settled\n$/);
  await assert.rejects(cluster.client(1).call('RAFTIS', 'REMOVE-NODE', '3'), /ERR node 3 is not a member/);
  await waitFor('node 3 to be forgotten', async () => {
    const nodes = (await cluster.client(1).call('CLUSTER', 'NODES')) as string;
    const gs = await groups(1);
    return !nodes.includes(`:${cluster.port(3)}@`) && gs.every((g) => g.settled === 1 && !g.members.includes(3));
  });
  await cluster.kill(3, 'SIGTERM');
  await waitFor('leadership balanced over the three remaining nodes', () => balanced(2, [1, 2, 4]));
  const before = acked.size;
  await waitFor('writes to continue', async () => acked.size > before + 50);
  stop = true;
  await Promise.all(loads);
  const reader = cluster.client(4);
  let checked = 0;
  for (const [k, v] of acked) {
    assert.equal(await reader.get(k), v, `acknowledged write ${k} survived`);
    checked++;
  }
  assert.ok(checked > 100, `enough writes were acknowledged (${checked})`);
  const table = await admin('groups');
  assert.match(table.split('\n')[0], /^group\s+slots\s+leader\s+term\s+commit\s+applied\s+settled\s+members/);
  assert.equal(table.trim().split('\n').length, GROUPS + 2);
});

test('nodes restarted after the changes come back with the groups they hold now', async () => {
  // Node 1 was a bootstrap member and left and rejoined groups; node 4 joined later (its
  // membership comes only from the snapshots it installed). Both restart from disk.
  for (const id of [1, 4]) {
    await cluster.kill(id, 'SIGKILL');
    cluster.startNode(id);
    await cluster.waitReady(id);
  }
  await waitFor('every group settled again', settledOn(2));
  const gs = await groups(2);
  for (const g of gs) for (const m of g.members) assert.ok([1, 2, 4].includes(m), `group ${g.group} on ${g.members}`);
  for (const id of [1, 4]) {
    const expected = gs.filter((g) => g.members.includes(id)).map((g) => g.group).sort((a, b) => a - b);
    await waitFor(`node ${id} to host exactly its groups`, async () => {
      const info = (await cluster.client(id).info('raft')) as string;
      const now = info.split('\r\n').filter((l) => /^group\d+:/.test(l)).map((l) => Number(/^group(\d+)/.exec(l)![1])).sort((a, b) => a - b);
      return now.join(',') === expected.join(',');
    });
  }
  let n = 0;
  for (const [k, v] of acked) {
    if (n++ % 10 !== 0) continue;
    assert.equal(await cluster.client(1).get(k), v);
  }
});

test('a dead node can be removed: its groups shrink to the live replicas and keep serving', async () => {
  await cluster.kill(4, 'SIGKILL');
  const c = cluster.client(1);
  await waitFor('node 4 to be seen as failed', async () =>
    ((await c.call('CLUSTER', 'NODES')) as string).split('\n').some((l) => l.includes(`:${cluster.port(4)}@`) && l.includes(' disconnected')));
  const reply = toMap((await c.call('RAFTIS', 'REMOVE-NODE', '4')) as unknown[]);
  for (const m of reply.get('moves') as string[]) assert.match(m, /^group \d+: 4 -> -$/);
  await waitFor('node 4 to be forgotten', async () => {
    const gs = await groups(2);
    const nodes = (await c.call('CLUSTER', 'NODES')) as string;
    return gs.every((g) => g.settled === 1 && g.members.length === 2 && !g.members.includes(4)) && !nodes.includes(`:${cluster.port(4)}@`);
  });
  for (let i = 0; i < 50; i++) assert.equal(await cluster.client(2).set(`after-dead:${i}`, String(i)), 'OK');
  for (let i = 0; i < 50; i++) assert.equal(await c.get(`after-dead:${i}`), String(i));
  for (const [k, v] of [...acked].slice(-100)) assert.equal(await c.get(k), v);
});
