// Pieces shared by the benchmark scripts that drive redis-benchmark and redis-cli.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import * as thisLauncher from '../src/launcher.js';

export interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** The value of `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface BenchmarkRun {
  port: number;
  /** A redis-benchmark -t test, or the name under which `custom` is reported. */
  test: string;
  pipeline: number;
  requests: number;
  /** -r: the random key space. */
  keyspace: number;
  /** A custom command (redis-benchmark reports it on the last CSV line). */
  custom?: string[];
  timeoutMs: number;
}

/**
 * Starts the reference redis-server on 127.0.0.1:`port`, without persistence, or, given
 * `aofDir`, with an AOF there synced before every turn's replies (`appendfsync always`).
 */
export function spawnRedis(port: number, aofDir?: string): ChildProcess {
  const persistence = aofDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aofDir];
  return spawn('redis-server', ['--port', String(port), '--save', '', ...persistence, '--bind', '127.0.0.1'], { stdio: 'ignore' });
}

/** Tests run as custom redis-benchmark commands (the rest are redis-benchmark's own -t tests). */
export const CUSTOM: Record<string, string[]> = {
  mset: ['MSET', ...Array.from({ length: 10 }, (_, i) => [`{m}:${i}:__rand_int__`, 'v'.repeat(10)]).flat()],
  hset: ['HSET', 'h:__rand_int__', 'f', 'v'.repeat(10)],
  hget: ['HGET', 'h:__rand_int__', 'f'],
};

/** One redis-benchmark run with 50 clients and 100-byte values: ops/s, p50 and p99 in ms. */
export function redisBenchmark(run: BenchmarkRun): Result {
  const r = spawnSync('redis-benchmark', [
    '-p', String(run.port), '-c', '50', '-n', String(run.requests), '-d', '100', '-r', String(run.keyspace),
    ...(run.custom ? [] : ['-t', run.test]), '-P', String(run.pipeline), '--csv', '-q', ...(run.custom ?? []),
  ], { encoding: 'utf8', timeout: run.timeoutMs });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const lines = r.stdout.trim().split('\n');
  const line = run.custom ? lines[lines.length - 1] : lines.find((l) => l.startsWith(`"${run.test.toUpperCase()}`));
  if (!line) throw new Error(`unexpected redis-benchmark output: ${r.stdout}`);
  const f = line.split(',').map((s) => s.replace(/"/g, ''));
  return { rps: Number(f[1]), p50: Number(f[4]), p99: Number(f[6]) };
}

/** Waits until a SET through redis-cli succeeds on `port` (a raftis node has a leader for it). */
export async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'set', '__bench_ready', '1'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'OK') return;
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready`);
    await sleep(200);
  }
}

/** utime + stime (fields 14, 15) and cutime + cstime (16, 17) of /proc/<pid>/stat, in ms; zeros off Linux. */
function procStatMs(pid: number | 'self'): { own: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on Linux
    return { own: (Number(f[11]) + Number(f[12])) * 10, children: (Number(f[13]) + Number(f[14])) * 10 };
  } catch {
    return { own: 0, children: 0 };
  }
}

/**
 * CPU time (user + system, ms) a process has used so far. CPU per request is what a shared,
 * noisy machine distorts least: throughput swings with other load, CPU per op much less.
 */
export function processCpuMs(pid: number): number {
  return procStatMs(pid).own;
}

/** CPU time (ms) used by this process's children that have been waited for (redis-benchmark runs). */
export function childrenCpuMs(): number {
  return procStatMs('self').children;
}

/** How many data groups each node leads, as "node:count ..." (RAFTIS GROUPS on `port`). */
export async function leaderCounts(port: number): Promise<string> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  try {
    await c.connect();
    const groups = (await c.call('RAFTIS', 'GROUPS')) as unknown[][];
    const counts = new Map<string, number>();
    for (const g of groups) {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < g.length; i += 2) fields.set(String(g[i]), g[i + 1]);
      if (Number(fields.get('group')) === 0) continue;
      const leader = String(fields.get('leader'));
      counts.set(leader, (counts.get(leader) ?? 0) + 1);
    }
    return [...counts].sort().map(([n, k]) => `${n}:${k}`).join(' ');
  } finally {
    c.disconnect();
  }
}

/**
 * Warms a raftis cluster up through the node on `port`: fills the keyspace so that GETs hit, lets
 * the JIT settle, and lets leadership follow the load (docs/cluster.md), which moves a group once
 * it has been led for two balancer rounds. So `run` (a write load) goes at least three times and
 * then until the leaders stay put for a whole run (at most ten).
 */
export async function warmUpRaftis(port: number, run: (port: number) => unknown): Promise<void> {
  let before = '';
  for (let i = 0; i < 10; i++) {
    run(port);
    const after = await leaderCounts(port);
    if (i >= 2 && after === before) break;
    before = after;
  }
}

/** What the benches use of a build's launcher (src/launcher.ts): this checkout's, or another's (ab-bench). */
export interface Launcher {
  planLocalCluster(opts: { nodes: number; basePort: number; peerBasePort: number; dataDir: string; extra: string[] }): { nodes: Array<{ nodeId: number; args: string[] }> };
  MAIN_JS: string;
  NODE_FLAGS: readonly string[];
}

/**
 * Spawns the three-node cluster `npm start` runs, on client ports basePort..basePort+2 and peer
 * ports basePort+100.., logging at warn; `extra`: more node flags, `nodeFlags`: more V8 flags.
 * Returns the node processes and their client ports (not waited for: see waitReady).
 */
export function spawnLocalCluster(o: { basePort: number; dataDir: string; extra?: string[]; nodeFlags?: string[]; launcher?: Launcher }): { procs: ChildProcess[]; ports: number[] } {
  const launcher = o.launcher ?? thisLauncher;
  const plan = launcher.planLocalCluster({ nodes: 3, basePort: o.basePort, peerBasePort: o.basePort + 100, dataDir: o.dataDir, extra: ['--log-level', 'warn', ...(o.extra ?? [])] });
  const procs = plan.nodes.map((n) => spawn(process.execPath, [...launcher.NODE_FLAGS, ...(o.nodeFlags ?? []), launcher.MAIN_JS, ...n.args], { stdio: ['ignore', 'ignore', 'inherit'] }));
  return { procs, ports: plan.nodes.map((n) => o.basePort + n.nodeId - 1) };
}
