// Pieces shared by the benchmark scripts that drive redis-benchmark and redis-cli.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
