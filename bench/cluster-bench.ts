/**
 * `npm run bench -- --cluster`: a local three-node raftis cluster (forwarding
 * mode, so that both kinds of client work against the same nodes; leadership
 * does not follow the load, so the plain client's forwarding stays measured), measured
 * with
 *  1. ioredis `Cluster` (reads CLUSTER SLOTS, sends each key to its group's
 *     leader) against a plain ioredis client on node 1 (requests for groups
 *     node 1 does not lead are forwarded over the peer link), same
 *     concurrency, same duration;
 *  2. `redis-benchmark --cluster` (reads CLUSTER NODES).
 * Reports a markdown table.
 *
 * Options: --seconds S (per run, default 5), --concurrency C (default 50), --groups G (default 8)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { arg, spawnLocalCluster } from './common.js';

const seconds = Number(arg('seconds', '5'));
const concurrency = Number(arg('concurrency', '50'));
const groups = Number(arg('groups', '8'));
const BASE_PORT = 27201;
const VALUE = 'x'.repeat(100);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row { client: string; test: string; rps: number; p50: number; p99: number }

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** `concurrency` workers issue one command at a time each for `seconds`. */
async function drive(name: string, test: 'set' | 'get', c: Redis | Cluster): Promise<Row> {
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  let errors = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const key = `key:${Math.floor(Math.random() * 100000)}`;
      const t0 = process.hrtime.bigint();
      try {
        if (test === 'set') await c.set(key, VALUE);
        else await c.get(key);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors++;
      }
    }
  }));
  if (errors > 0) process.stderr.write(`${name} ${test}: ${errors} errors\n`);
  latencies.sort((a, b) => a - b);
  return { client: name, test: test.toUpperCase(), rps: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function redisBenchmarkCluster(port: number, test: string): Row {
  const r = spawnSync('redis-benchmark', [
    '-h', '127.0.0.1', '-p', String(port), '--cluster', '-c', String(concurrency), '-n', '50000', '-d', '100', '-r', '100000',
    '-t', test, '--csv', '-q',
  ], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}`));
  if (!line) throw new Error(`unexpected redis-benchmark output: ${r.stdout}`);
  const f = line.split(',').map((s) => s.replace(/"/g, ''));
  return { client: 'redis-benchmark --cluster', test: test.toUpperCase(), rps: Number(f[1]), p50: Number(f[4]), p99: Number(f[6]) };
}

/** Waits until every node reports cluster_state:ok and every node leads at least one group. */
async function waitBalanced(ports: number[]): Promise<void> {
  const c = new Redis({ port: ports[0], lazyConnect: false, retryStrategy: () => 200 });
  c.on('error', () => {});
  try {
    for (let i = 0; i < 300; i++) {
      try {
        const info = (await c.call('CLUSTER', 'INFO')) as string;
        const nodes = (await c.call('CLUSTER', 'NODES')) as string;
        const masters = nodes.trim().split('\n').filter((l) => l.split(' ')[2].includes('master')).length;
        if (info.includes('cluster_state:ok') && masters === ports.length) return;
      } catch {
        // not up yet
      }
      await sleep(200);
    }
    throw new Error('cluster did not settle');
  } finally {
    c.disconnect();
  }
}

export async function runClusterBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftis-cbench-'));
  const procs: ChildProcess[] = [];
  try {
    const nodes = spawnLocalCluster({ basePort: BASE_PORT, dataDir, extra: ['--groups', String(groups), '--follow-load', 'no'] });
    procs.push(...nodes.procs);
    const ports = nodes.ports;
    await waitBalanced(ports);
    const cluster = new Cluster([{ host: '127.0.0.1', port: ports[0] }]);
    const plain = new Redis({ port: ports[0] });
    // Warm up both paths and fill the keyspace a little.
    await drive('warmup', 'set', cluster);
    const rows: Row[] = [];
    // Two rounds each, alternating which client goes first, so machine noise hits both alike.
    for (const test of ['set', 'get'] as const) {
      for (let round = 0; round < 2; round++) {
        const order = round === 0 ? [['ioredis Cluster (to leaders)', cluster], ['ioredis plain on node 1 (forwarded)', plain]] as const
          : [['ioredis plain on node 1 (forwarded)', plain], ['ioredis Cluster (to leaders)', cluster]] as const;
        for (const [name, c] of order) rows.push(await drive(`${name} #${round + 1}`, test, c));
      }
      process.stderr.write(`${test} done\n`);
    }
    cluster.disconnect();
    plain.disconnect();
    for (const test of ['set', 'get']) rows.push(redisBenchmarkCluster(ports[0], test));
    console.log(`\nraftis: 3 nodes, ${groups} groups, 100-byte values, ${concurrency} requests in flight, no pipelining\n`);
    console.log('| client | test | ops/s | p50 ms | p99 ms |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) {
      console.log(`| ${r.client} | ${r.test} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
