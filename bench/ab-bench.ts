/**
 * `npm run bench:ab -- --a DIR --b DIR`: two builds of raftis against each other, for a change
 * whose effect is a few percent (docs/decisions.md, "One record lookup per write").
 *
 * Each round starts a fresh three-node cluster per build, on the same ports, one build after the
 * other, the order alternating from round to round; warms it up as `npm run bench` does; runs
 * redis-benchmark through node 1; and reads the CPU the three nodes spent per request from /proc,
 * which the machine's noise distorts far less than throughput. (Two clusters side by side, run in
 * turns, favoured the one started second by ~5% whichever build it ran.)
 *
 * DIR holds a built `dist/` that resolves `node_modules`: a git worktree after `npm ci && npm run
 * build`, or a copy of `dist/` beside a symlink to this checkout's `node_modules`.
 *
 * Options: --rounds N (default 4)
 *          --tests set:16:400000,set:1:100000 (redis-benchmark -t test : pipeline : requests; the
 *          tests mset, hset and hget are npm run bench's custom commands)
 *          --warmup N (SETs at -P 16 per warm-up run; default 100000)
 *          --base-port P (client ports P..P+2, peer ports P+100..; default 27301)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CUSTOM, arg, processCpuMs, redisBenchmark, sleep, spawnLocalCluster, waitReady, warmUpRaftis, type Launcher } from './common.js';

interface Spec {
  test: string;
  pipeline: number;
  requests: number;
}

interface Sample {
  rps: number;
  cpuUs: number;
}

const rounds = Number(arg('rounds', '4'));
const warmup = Number(arg('warmup', '100000'));
const basePort = Number(arg('base-port', '27301'));
const specs: Spec[] = arg('tests', 'set:16:400000,set:1:100000').split(',').map((s) => {
  const [test, pipeline, requests] = s.split(':');
  return { test: test!, pipeline: Number(pipeline), requests: Number(requests) };
});

function run(port: number, spec: Spec): ReturnType<typeof redisBenchmark> {
  return redisBenchmark({ port, test: spec.test, custom: CUSTOM[spec.test], pipeline: spec.pipeline, requests: spec.requests, keyspace: 100000, timeoutMs: 600_000 });
}

/** One fresh cluster of the build in `dir`: warm-up, then every spec once. */
async function measure(dir: string, label: string): Promise<Sample[]> {
  const launcher = (await import(pathToFileURL(join(dir, 'dist/src/launcher.js')).href)) as Launcher;
  const dataDir = mkdtempSync(join(tmpdir(), 'raftis-ab-'));
  const procs: ChildProcess[] = [];
  try {
    const cluster = spawnLocalCluster({ basePort, dataDir, launcher });
    procs.push(...cluster.procs);
    for (const p of cluster.ports) await waitReady(p, 30_000);
    await warmUpRaftis(basePort, (p) => run(p, { test: 'set', pipeline: 16, requests: warmup }));
    const pids = procs.map((p) => p.pid!);
    return specs.map((spec) => {
      const before = pids.map(processCpuMs);
      const r = run(basePort, spec);
      const cpuUs = pids.reduce((sum, pid, i) => sum + processCpuMs(pid) - before[i]!, 0) * 1000 / spec.requests;
      process.stderr.write(`${label} ${spec.test.toUpperCase()} -P${spec.pipeline}: ${Math.round(r.rps)} ops/s, ${cpuUs.toFixed(1)} CPU µs/op\n`);
      return { rps: r.rps, cpuUs };
    });
  } finally {
    await Promise.all(procs.map((p) => new Promise<void>((done) => {
      if (p.exitCode !== null) return done();
      p.once('exit', () => done());
      p.kill('SIGTERM');
    })));
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dirs = { A: resolve(arg('a', '')), B: resolve(arg('b', '')) };
  if (!arg('a', '') || !arg('b', '')) throw new Error('usage: ab-bench --a DIR --b DIR [--rounds N] [--tests test:P:N,...]');
  const samples = { A: [] as Sample[][], B: [] as Sample[][] };
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      samples[which].push(await measure(dirs[which], `round ${r + 1} ${which}`));
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\nA: ${dirs.A}\nB: ${dirs.B}\n${rounds} rounds, a fresh cluster per build per round, order alternating\n`);
  console.log('| test | A CPU µs/op by round | B CPU µs/op by round | B against A (mean CPU) | rounds B cheaper | A ops/s (mean) | B ops/s (mean) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  specs.forEach((spec, i) => {
    const a = samples.A.map((round) => round[i]!);
    const b = samples.B.map((round) => round[i]!);
    const change = (mean(b.map((s) => s.cpuUs)) / mean(a.map((s) => s.cpuUs)) - 1) * 100;
    const cheaper = b.filter((s, k) => s.cpuUs < a[k]!.cpuUs).length;
    console.log(`| ${spec.test.toUpperCase()} -P${spec.pipeline} | ${a.map((s) => s.cpuUs.toFixed(1)).join(', ')} | ${b.map((s) => s.cpuUs.toFixed(1)).join(', ')} | ` +
      `${change >= 0 ? '+' : ''}${change.toFixed(1)}% | ${cheaper} of ${rounds} | ${Math.round(mean(a.map((s) => s.rps))).toLocaleString('en-US')} | ${Math.round(mean(b.map((s) => s.rps))).toLocaleString('en-US')} |`);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
