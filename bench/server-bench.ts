/**
 * `npm run bench`: redis-benchmark against a local three-node raftis cluster
 * (the one `npm start` runs, on other ports) and against a real redis-server
 * without persistence, in one run, reporting ops/s, p50, p99 and the ratio
 * raftis/Redis. Runs alternate between the two servers so machine noise hits
 * both alike.
 *
 * Options: --requests N (default 100000 at -P 1, 4x at -P 16), --tests set,get
 *          --node N (which raftis node redis-benchmark talks to; default 1)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_JS, planLocalCluster } from '../src/launcher.js';

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const requestsP1 = Number(arg('requests', '100000'));
const tests = arg('tests', 'set,get').split(',');
const targetNode = Number(arg('node', '1'));
const REDIS_PORT = 6390 + Math.floor(Math.random() * 9);
const BASE_PORT = 27101;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function redisBenchmark(port: number, test: string, pipeline: number, requests: number): Result {
  const r = spawnSync('redis-benchmark', [
    '-p', String(port), '-c', '50', '-n', String(requests), '-d', '100', '-r', '100000',
    '-t', test, '-P', String(pipeline), '--csv', '-q',
  ], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const line = r.stdout.trim().split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}`));
  if (!line) throw new Error(`unexpected redis-benchmark output: ${r.stdout}`);
  const f = line.split(',').map((s) => s.replace(/"/g, ''));
  return { rps: Number(f[1]), p50: Number(f[4]), p99: Number(f[6]) };
}

async function waitPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'set', '__bench_ready', '1'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'OK') return;
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready`);
    await sleep(200);
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftis-bench-'));
  const procs: ChildProcess[] = [];
  try {
    procs.push(spawn('redis-server', ['--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' }));
    const plan = planLocalCluster({ nodes: 3, basePort: BASE_PORT, peerBasePort: BASE_PORT + 100, dataDir, extra: ['--log-level', 'warn'] });
    for (const n of plan.nodes) procs.push(spawn(process.execPath, [MAIN_JS, ...n.args], { stdio: ['ignore', 'ignore', 'inherit'] }));
    await waitPing(REDIS_PORT, 10_000);
    for (const n of plan.nodes) await waitPing(BASE_PORT + n.nodeId - 1, 30_000);
    const raftisPort = BASE_PORT + targetNode - 1;
    // Warm up: fill the keyspace once so GETs hit, and let JIT settle.
    redisBenchmark(REDIS_PORT, 'set', 16, 100_000);
    redisBenchmark(raftisPort, 'set', 16, 100_000);

    const rows: string[] = [];
    for (const test of tests) {
      for (const pipeline of [1, 16]) {
        const n = pipeline === 1 ? requestsP1 : requestsP1 * 4;
        const redis = redisBenchmark(REDIS_PORT, test, pipeline, n);
        const raftis = redisBenchmark(raftisPort, test, pipeline, n);
        rows.push(`| ${test.toUpperCase()} -P${pipeline} | ${Math.round(redis.rps).toLocaleString('en-US')} | ${redis.p50.toFixed(2)} / ${redis.p99.toFixed(2)} | ` +
          `${Math.round(raftis.rps).toLocaleString('en-US')} | ${raftis.p50.toFixed(2)} / ${raftis.p99.toFixed(2)} | ${(raftis.rps / redis.rps).toFixed(2)} |`);
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
    }
    console.log(`\nredis-benchmark -c 50 -d 100 -r 100000 (raftis: 3 nodes, client on node ${targetNode}; Redis: one node, no persistence)\n`);
    console.log('| test | Redis ops/s | Redis p50 / p99 ms | raftis ops/s | raftis p50 / p99 ms | raftis/Redis |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
