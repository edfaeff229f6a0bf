/**
 * `npm run bench:evict`: SET throughput at steady state while evicting, in
 * one run, on a local three-node raftis cluster and a real redis-server:
 *
 *   1. raftis, no limit (maxmemory 0);
 *   2. raftis with maxmemory and the policy on every node, prefilled past the
 *      limit first so every measured SET makes a group evict;
 *   3. redis-server with the same maxmemory and policy, prefilled the same way;
 *   4. redis-server, no limit.
 *
 * The workload is redis-benchmark SET with 100-byte values over a key space
 * (-r) several times larger than what fits, 50 clients, pipelined. Reports
 * ops/s, p50/p99 and the ratios evicting/unlimited and raftis/Redis, and the
 * keys evicted during each measured run (proof it was evicting).
 *
 * Options: --requests N (default 200000), --maxmemory 16mb, --policy allkeys-lru,
 *          --pipeline 16, --keyspace 1000000
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, redisBenchmark, spawnLocalCluster, spawnRedis, waitReady, type Result } from './common.js';

const requests = Number(arg('requests', '200000'));
const maxmemory = arg('maxmemory', '16mb');
const policy = arg('policy', 'allkeys-lru');
const pipeline = Number(arg('pipeline', '16'));
const keyspace = Number(arg('keyspace', '1000000'));
const REDIS_PORT = 6380 + Math.floor(Math.random() * 9);
const BASE_PORT = Number(arg('base-port', '27301'));

function cli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

function infoField(port: number, section: string, field: string): number {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(cli(port, 'info', section));
  return m ? Number(m[1]) : NaN;
}

function setBench(port: number, n: number): Result {
  return redisBenchmark({ port, test: 'set', pipeline, requests: n, keyspace, timeoutMs: 900_000 });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftis-evict-bench-'));
  const procs: ChildProcess[] = [];
  try {
    procs.push(spawnRedis(REDIS_PORT));
    const cluster = spawnLocalCluster({ basePort: BASE_PORT, dataDir, extra: ['--request-timeout-ms', '30000'] });
    procs.push(...cluster.procs);
    await waitReady(REDIS_PORT, 10_000);
    const nodePorts = cluster.ports;
    for (const p of nodePorts) await waitReady(p, 30_000);
    const raftis = nodePorts[0];
    const setAll = (ports: number[], ...kv: string[]) => ports.forEach((p) => cli(p, 'config', 'set', ...kv));
    const rows: string[] = [];
    const row = (name: string, r: Result, evicted: number, used: number) => {
      rows.push(`| ${name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} | ${evicted.toLocaleString('en-US')} | ${used.toLocaleString('en-US')} |`);
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    };
    const measure = (name: string, port: number, statPorts: number[]) => {
      const before = statPorts.map((p) => infoField(p, 'stats', 'evicted_keys'));
      const r = setBench(port, requests);
      const evicted = statPorts.reduce((sum, p, i) => sum + infoField(p, 'stats', 'evicted_keys') - before[i], 0);
      row(name, r, evicted, Math.max(...statPorts.map((p) => infoField(p, 'memory', 'used_memory'))));
      return r;
    };

    // 1. raftis without a limit (warmed by one run first: JIT, connections).
    setBench(raftis, Math.min(requests, 50_000));
    cli(raftis, 'flushall');
    const raftisFree = measure('raftis, maxmemory 0', raftis, [raftis]);
    // 2. raftis at steady state while evicting: prefill past the limit, then measure.
    cli(raftis, 'flushall');
    setAll(nodePorts, 'maxmemory', maxmemory, 'maxmemory-policy', policy);
    setBench(raftis, requests);
    // evicted_keys counts the evictions each node applied: node 1's count is every group's.
    const raftisEvict = measure(`raftis, maxmemory ${maxmemory} ${policy}`, raftis, [raftis]);
    // 3. Redis with the same limit and policy, prefilled likewise.
    setAll([REDIS_PORT], 'maxmemory', maxmemory, 'maxmemory-policy', policy);
    setBench(REDIS_PORT, requests);
    const redisEvict = measure(`redis-server, maxmemory ${maxmemory} ${policy}`, REDIS_PORT, [REDIS_PORT]);
    // 4. Redis without a limit.
    cli(REDIS_PORT, 'flushall');
    setAll([REDIS_PORT], 'maxmemory', '0');
    const redisFree = measure('redis-server, maxmemory 0', REDIS_PORT, [REDIS_PORT]);

    console.log(`\nredis-benchmark -t set -c 50 -d 100 -r ${keyspace} -P ${pipeline} -n ${requests} (raftis: 3 nodes, client on node 1)\n`);
    console.log('| run | SET ops/s | p50 / p99 ms | keys evicted during the run | used_memory after |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    console.log('');
    console.log(`raftis evicting / raftis unlimited: ${(raftisEvict.rps / raftisFree.rps).toFixed(2)}`);
    console.log(`redis evicting / redis unlimited:   ${(redisEvict.rps / redisFree.rps).toFixed(2)}`);
    console.log(`raftis evicting / redis evicting:   ${(raftisEvict.rps / redisEvict.rps).toFixed(3)}`);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
