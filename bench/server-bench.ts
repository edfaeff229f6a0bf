/**
 * `npm run bench`: redis-benchmark against a local three-node raftis cluster
 * (the one `npm start` runs, on other ports) and against a real redis-server
 * without persistence, in one run, reporting ops/s, p50, p99 and the ratio
 * raftis/Redis. Runs alternate between the two servers so machine noise hits
 * both alike.
 *
 * `npm run bench -- --cluster` runs bench/cluster-bench.ts instead (cluster-aware vs forwarded clients).
 *
 * Options: --requests N (default 100000 at -P 1, 4x at -P 16),
 *          --tests set,get,incr,mset,hset,hget,cas (the default: all of them)
 *          --pipelines 1,16 (the -P values to run; the default: both)
 *          --node N (which raftis node redis-benchmark talks to; default 1)
 *          --base-port P (client ports P..P+2, peer ports P+100..; default 27101)
 *          --warmup N (SETs at -P 16 per warm-up run; default 100000. Redis gets one run, raftis
 *                      at least three, then more until its leaders stay put for a whole run)
 *          --profile DIR (run the raftis nodes under `node --cpu-prof`, profiles into DIR)
 *
 * Besides redis-benchmark's own SET/GET/INCR, `mset` is MSET of 10 keys sharing
 * one hash tag (MSET is atomic, so raftis needs its keys in one slot), `hset` /
 * `hget` touch one field of random hashes, and `cas` is a WATCH / GET / MULTI /
 * SET / EXEC read-modify-write loop of 50 ioredis clients on random keys,
 * counting committed transactions per second (aborted ones are retried).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { runClusterBench } from './cluster-bench.js';
import { CUSTOM, arg, childrenCpuMs, leaderCounts, processCpuMs, redisBenchmark, sleep, spawnLocalCluster, spawnRedis, waitReady, warmUpRaftis, type Result } from './common.js';

const requestsP1 = Number(arg('requests', '100000'));
const tests = arg('tests', 'set,get,incr,mset,hset,hget,cas').split(',');
const pipelines = arg('pipelines', '1,16').split(',').map(Number);

const targetNode = Number(arg('node', '1'));
const REDIS_PORT = 6390 + Math.floor(Math.random() * 9);
const BASE_PORT = Number(arg('base-port', '27101'));
const profileDir = arg('profile', '');
const warmupRequests = Number(arg('warmup', '100000'));
const nodeFlags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];

/** CPU time (ms) each raftis node process has used so far. */
function cpuMsEach(pids: number[]): number[] {
  return pids.map(processCpuMs);
}

/** CPU µs per request between two cpuMsEach readings: in all, and as "total (node 1 / node 2 / node 3)". */
function cpuPerOp(before: number[], after: number[], requests: number): { total: number; text: string } {
  const each = after.map((ms, i) => (ms - before[i]!) * 1000 / requests);
  const total = each.reduce((a, b) => a + b, 0);
  return { total, text: `${Math.round(total)} (${each.map((us) => Math.round(us)).join(' / ')})` };
}

function bench(port: number, test: string, pipeline: number, requests: number): Result {
  return redisBenchmark({ port, test, pipeline, requests, keyspace: 100000, custom: CUSTOM[test], timeoutMs: 600_000 });
}

/** WATCH k / GET k / MULTI / SET k v+1 / EXEC on random keys from 50 clients for `ms`: committed tx/s and latency. */
async function casLoop(port: number, ms: number): Promise<Result> {
  const clients = Array.from({ length: 50 }, () => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 3 }));
  const latencies: number[] = [];
  let committed = 0;
  const end = Date.now() + ms;
  await Promise.all(clients.map(async (c) => {
    while (Date.now() < end) {
      const key = `{cas}:${Math.floor(Math.random() * 1000)}`;
      const t0 = process.hrtime.bigint();
      await c.watch(key);
      const v = Number((await c.get(key)) ?? '0');
      const r = await c.multi().set(key, String(v + 1)).exec();
      if (r !== null) {
        committed++;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }));
  for (const c of clients) c.disconnect();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { rps: committed / (ms / 1000), p50: q(0.5), p99: q(0.99) };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftis-bench-'));
  const procs: ChildProcess[] = [];
  try {
    procs.push(spawnRedis(REDIS_PORT));
    const cluster = spawnLocalCluster({ basePort: BASE_PORT, dataDir, nodeFlags });
    procs.push(...cluster.procs);
    const nodePids = cluster.procs.map((p) => p.pid!);
    await waitReady(REDIS_PORT, 10_000);
    for (const p of cluster.ports) await waitReady(p, 30_000);
    const raftisPort = BASE_PORT + targetNode - 1;
    // Warm up: fill the keyspace once so GETs hit, and let JIT settle. Leadership follows the
    // load (docs/cluster.md) once a group has been led for two balancer rounds, so raftis warms
    // up for at least three runs and then until its leaders stay put for a whole run.
    bench(REDIS_PORT, 'set', 16, warmupRequests);
    await warmUpRaftis(raftisPort, (p) => bench(p, 'set', 16, warmupRequests));
    const leadersLine = `data groups led by node: ${await leaderCounts(raftisPort)}`;
    process.stderr.write(`${leadersLine}\n`);

    const rows: string[] = [];
    for (const test of tests) {
      if (test === 'cas') {
        const redis = await casLoop(REDIS_PORT, 5000);
        const raftis = await casLoop(raftisPort, 5000);
        rows.push(`| WATCH/MULTI/EXEC rmw (50 clients, tx/s) | ${Math.round(redis.rps).toLocaleString('en-US')} | ${redis.p50.toFixed(2)} / ${redis.p99.toFixed(2)} | ` +
          `${Math.round(raftis.rps).toLocaleString('en-US')} | ${raftis.p50.toFixed(2)} / ${raftis.p99.toFixed(2)} | ${(raftis.rps / redis.rps).toFixed(2)} | - | - |`);
        process.stderr.write(`${rows[rows.length - 1]}\n`);
        continue;
      }
      for (const pipeline of pipelines) {
        const n = pipeline === 1 ? requestsP1 : requestsP1 * 4;
        const redis = bench(REDIS_PORT, test, pipeline, n);
        let raftis: Result;
        const cpuBefore = cpuMsEach(nodePids);
        const clientBefore = childrenCpuMs();
        try {
          raftis = bench(raftisPort, test, pipeline, n);
        } catch (err) {
          // Report the failure (e.g. CLUSTERDOWN when a request waits past the timeout) and go on.
          rows.push(`| ${test.toUpperCase()} -P${pipeline} | ${Math.round(redis.rps).toLocaleString('en-US')} | - | failed: ${String((err as Error).message).split('\n')[0]} | - | - | - | - |`);
          process.stderr.write(`${rows[rows.length - 1]}\n`);
          continue;
        }
        const cpu = cpuPerOp(cpuBefore, cpuMsEach(nodePids), n);
        // The most any server costing this much CPU per request could do with every core busy,
        // redis-benchmark's own CPU included (docs/decisions.md, "The Node floor at -P 1").
        const clientUs = (childrenCpuMs() - clientBefore) * 1000 / n;
        const ceiling = availableParallelism() * 1e6 / (cpu.total + clientUs) / redis.rps;
        const label = test === 'mset' ? 'MSET (10 keys, one hash tag)' : test.toUpperCase();
        rows.push(`| ${label} -P${pipeline} | ${Math.round(redis.rps).toLocaleString('en-US')} | ${redis.p50.toFixed(2)} / ${redis.p99.toFixed(2)} | ` +
          `${Math.round(raftis.rps).toLocaleString('en-US')} | ${raftis.p50.toFixed(2)} / ${raftis.p99.toFixed(2)} | ${(raftis.rps / redis.rps).toFixed(2)} | ${cpu.text} | ${ceiling.toFixed(2)} |`);
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
    }
    console.log(`\nredis-benchmark -c 50 -d 100 -r 100000 (raftis: 3 nodes, client on node ${targetNode}; Redis: one node, no persistence)`);
    console.log(`raftis ${leadersLine}\n`);
    console.log('| test | Redis ops/s | Redis p50 / p99 ms | raftis ops/s | raftis p50 / p99 ms | raftis/Redis | raftis CPU µs/op: all (node 1 / 2 / 3) | CPU ceiling, of Redis |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

(process.argv.includes('--cluster') ? runClusterBench() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
