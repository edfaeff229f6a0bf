/**
 * What both simulator command lines share: the seed flags, and running a seed
 * range in this process or split over worker processes, stopping at the first
 * failing seed with the flags that reproduce it.
 */
import { fork } from 'node:child_process';

export interface SweepArgs {
  seedFirst: number;
  seedLast: number;
  workers: number;
  verbose: boolean;
  trace: boolean;
}

/** One seed's outcome, as a worker reports it to the parent. */
export interface SeedReport {
  seed: number;
  ok: boolean;
  params: string;
  summary: string;
  failure: string | null;
  /** Extra line printed for a passing seed in verbose mode. */
  detail?: string;
}

export function defaultSweepArgs(): SweepArgs {
  return { seedFirst: 1, seedLast: 1, workers: 1, verbose: false, trace: false };
}

/** A non-negative integer flag value, or an error naming the flag. */
export function intFlag(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a non-negative integer`);
  return value;
}

/** Applies a flag common to both CLIs; false when `flag` is not one of them. */
export function parseSweepFlag(flag: string, next: () => string | undefined, args: SweepArgs): boolean {
  switch (flag) {
    case '--seed': args.seedFirst = args.seedLast = intFlag(flag, next()); return true;
    case '--seeds': {
      const match = /^(\d+)\.\.(\d+)$/.exec(next() ?? '');
      if (match === null) throw new Error('--seeds needs A..B');
      args.seedFirst = Number(match[1]);
      args.seedLast = Number(match[2]);
      if (args.seedLast < args.seedFirst) throw new Error('--seeds A..B needs A <= B');
      return true;
    }
    case '--workers': args.workers = Math.max(1, intFlag(flag, next())); return true;
    case '--verbose': args.verbose = true; return true;
    case '--trace': args.trace = true; return true;
    default: return false;
  }
}

export interface SweepPlan {
  args: SweepArgs;
  /** The CLI script, forked for workers with the same argv. */
  script: string;
  /** Environment variable that marks a worker process and carries its index. */
  workerEnv: string;
  /** First line printed: the parameters of the sweep. */
  header: string;
  /** A progress line every this many passing seeds. */
  progressEvery: number;
  runSeed(seed: number): SeedReport | Promise<SeedReport>;
  /** The command line that reruns one seed with the same options. */
  reproduce(seed: number): string;
}

function printFailure(plan: SweepPlan, r: SeedReport): void {
  console.log(`FAIL ${r.params}\n  ${r.summary}\n  ${r.failure}`);
  console.log(`  failing seed: ${r.seed}\n  reproduce: ${plan.reproduce(r.seed)}`);
}

function printPass(r: SeedReport): void {
  console.log(`ok   ${r.params}\n  ${r.summary}${r.detail ? `\n  ${r.detail}` : ''}`);
}

/** Runs the sweep (or, in a worker process, this worker's share of it). */
export async function runSweep(plan: SweepPlan): Promise<void> {
  const { args } = plan;
  const workerIndex = process.env[plan.workerEnv];
  if (workerIndex !== undefined) return workerMain(plan, Number(workerIndex));
  const count = args.seedLast - args.seedFirst + 1;
  const startedMs = performance.now();
  const done = () => console.log(`all ${count} seeds passed in ${((performance.now() - startedMs) / 1000).toFixed(1)}s`);
  console.log(plan.header);
  if (count > 1 && args.workers > 1) return sweepWithWorkers(plan, count, done);
  for (let seed = args.seedFirst; seed <= args.seedLast; seed++) {
    const report = await plan.runSeed(seed);
    if (!report.ok) {
      printFailure(plan, report);
      process.exit(1);
    }
    if (count === 1 || args.verbose) printPass(report);
    else if ((seed - args.seedFirst + 1) % plan.progressEvery === 0) console.log(`  ${seed - args.seedFirst + 1}/${count} ok`);
  }
  done();
}

/** Splits the seed range over child processes (seed i goes to worker i mod W). */
function sweepWithWorkers(plan: SweepPlan, count: number, done: () => void): void {
  const { args } = plan;
  let passed = 0;
  let finished = 0;
  let failed = false;
  const children = Array.from({ length: args.workers }, (_, w) => {
    const child = fork(plan.script, process.argv.slice(2), {
      env: { ...process.env, [plan.workerEnv]: String(w) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (report: SeedReport | { done: true }) => {
      if (failed || 'done' in report) return;
      if (!report.ok) {
        failed = true;
        printFailure(plan, report);
        for (const other of children) other.kill();
        process.exitCode = 1;
        return;
      }
      passed++;
      if (args.verbose) printPass(report);
      else if (passed % plan.progressEvery === 0) console.log(`  ${passed}/${count} ok`);
    });
    child.on('exit', (code) => {
      finished++;
      if (!failed && code !== 0) {
        failed = true;
        console.log(`worker ${w} exited with ${code}`);
        process.exitCode = 1;
      }
      if (finished === args.workers && !failed) done();
    });
    return child;
  });
}

async function workerMain(plan: SweepPlan, workerIndex: number): Promise<void> {
  const { args } = plan;
  for (let seed = args.seedFirst + workerIndex; seed <= args.seedLast; seed += args.workers) {
    const report = await plan.runSeed(seed);
    process.send!(report);
    if (!report.ok) break;
  }
  // Messages go out in order: once this last one is flushed, so are the reports before it.
  process.send!({ done: true }, () => process.disconnect());
}
