/**
 * The simulator's command line (`npm run sim -- ...`). One seed: `--seed N`; a sweep:
 * `--seeds A..B`, which stops at the first failing seed and exits non-zero. See docs/simulator.md.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RawNode } from '../raft/raw-node.js';
import { defaultSimOptions, runSimulation, type SimOptions, type SimResult } from './run.js';

interface CliArgs {
  seedFirst: number;
  seedLast: number;
  workers: number;
  verbose: boolean;
  trace: boolean;
  options: Omit<SimOptions, 'seed' | 'createRawNode' | 'trace'>;
}

const USAGE = `usage: npm run sim -- [--seed N | --seeds A..B] [--nodes 3..7] [--duration MS] [--steps EVENTS]
                      [--clients N] [--keys N] [--drift PCT] [--break-drift] [--workers N] [--verbose] [--trace]`;

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = {
    seedFirst: 1, seedLast: 1, workers: 1, verbose: false, trace: false, options: { ...defaultSimOptions },
  };
  const int = (flag: string, text: string | undefined): number => {
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a non-negative integer`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--seed': args.seedFirst = args.seedLast = int(flag, next()); break;
      case '--seeds': {
        const match = /^(\d+)\.\.(\d+)$/.exec(next() ?? '');
        if (match === null) throw new Error('--seeds needs A..B');
        args.seedFirst = Number(match[1]);
        args.seedLast = Number(match[2]);
        if (args.seedLast < args.seedFirst) throw new Error('--seeds A..B needs A <= B');
        break;
      }
      case '--nodes': {
        const nodes = int(flag, next());
        if (nodes < 3 || nodes > 7) throw new Error('--nodes must be 3..7');
        args.options.nodes = nodes;
        break;
      }
      case '--duration': args.options.durationMs = int(flag, next()); break;
      case '--steps': args.options.eventsMax = int(flag, next()); break;
      case '--clients': args.options.clients = Math.max(1, int(flag, next())); break;
      case '--keys': args.options.keys = Math.max(1, int(flag, next())); break;
      case '--drift': args.options.driftPct = int(flag, next()); break;
      case '--break-drift': args.options.breakDrift = true; break;
      case '--workers': args.workers = Math.max(1, int(flag, next())); break;
      case '--verbose': args.verbose = true; break;
      case '--trace': args.trace = true; break;
      case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return args;
}

/** Runs one seed with the CLI's options. */
function runSeed(args: CliArgs, seed: number): SimResult {
  return runSimulation({
    ...args.options,
    seed,
    createRawNode: (config) => new RawNode(config),
    trace: args.trace ? (line) => console.log(line) : null,
  });
}

/** The flags that reproduce one run of this sweep. */
function reproduce(args: CliArgs, seed: number): string {
  const o = args.options;
  const d = defaultSimOptions;
  let flags = `--seed ${seed}`;
  if (o.nodes !== d.nodes) flags += ` --nodes ${o.nodes}`;
  if (o.durationMs !== d.durationMs) flags += ` --duration ${o.durationMs}`;
  if (o.eventsMax !== d.eventsMax) flags += ` --steps ${o.eventsMax}`;
  if (o.clients !== d.clients) flags += ` --clients ${o.clients}`;
  if (o.keys !== d.keys) flags += ` --keys ${o.keys}`;
  if (o.driftPct !== d.driftPct) flags += ` --drift ${o.driftPct}`;
  if (o.breakDrift) flags += ' --break-drift';
  return `npm run sim -- ${flags}`;
}

function printFailure(args: CliArgs, result: SimResult): void {
  console.log(`FAIL ${result.params}`);
  console.log(`  ${result.summary}`);
  console.log(`  ${result.failure}`);
  console.log(`  failing seed: ${result.seed}`);
  console.log(`  reproduce: ${reproduce(args, result.seed)}`);
}

interface WorkerReport {
  seed: number;
  ok: boolean;
  params: string;
  summary: string;
  failure: string | null;
}

function main(): void {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const workerIndex = process.env.RAFTIS_SIM_WORKER;
  if (workerIndex !== undefined) return workerMain(args, Number(workerIndex));
  const count = args.seedLast - args.seedFirst + 1;
  const startedMs = performance.now();
  console.log(`raftis sim: seeds ${args.seedFirst}..${args.seedLast} (${count})`
    + ` nodes=${args.options.nodes === 0 ? 'by seed (3..7)' : args.options.nodes} duration=${args.options.durationMs}ms`
    + ` steps<=${args.options.eventsMax} clients=${args.options.clients} keys=${args.options.keys}`
    + ` drift=±${args.options.driftPct}%${args.options.breakDrift ? ' break-drift' : ''} workers=${args.workers}`);
  if (count === 1 || args.workers === 1) {
    for (let seed = args.seedFirst; seed <= args.seedLast; seed++) {
      const result = runSeed(args, seed);
      if (!result.ok) {
        printFailure(args, result);
        process.exit(1);
      }
      if (count === 1 || args.verbose) console.log(`ok   ${result.params}\n  ${result.summary}`);
      else if ((seed - args.seedFirst + 1) % 100 === 0) console.log(`  ${seed - args.seedFirst + 1}/${count} ok`);
    }
    console.log(`all ${count} seeds passed in ${((performance.now() - startedMs) / 1000).toFixed(1)}s`);
    return;
  }
  sweepWithWorkers(args, count, startedMs);
}

/** Splits the seed range over child processes (seed i goes to worker i mod W). */
function sweepWithWorkers(args: CliArgs, count: number, startedMs: number): void {
  const script = fileURLToPath(import.meta.url);
  let passed = 0;
  let finished = 0;
  let failed = false;
  const children = Array.from({ length: args.workers }, (_, w) => {
    const child = fork(script, process.argv.slice(2), {
      env: { ...process.env, RAFTIS_SIM_WORKER: String(w) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (report: WorkerReport | { done: true }) => {
      if (failed || 'done' in report) return;
      if (!report.ok) {
        failed = true;
        console.log(`FAIL ${report.params}\n  ${report.summary}\n  ${report.failure}`);
        console.log(`  failing seed: ${report.seed}\n  reproduce: ${reproduce(args, report.seed)}`);
        for (const other of children) other.kill();
        process.exitCode = 1;
        return;
      }
      passed++;
      if (args.verbose) console.log(`ok   ${report.params}\n  ${report.summary}`);
      else if (passed % 100 === 0) console.log(`  ${passed}/${count} ok`);
    });
    child.on('exit', (code) => {
      finished++;
      if (!failed && code !== 0) {
        failed = true;
        console.log(`worker ${w} exited with ${code}`);
        process.exitCode = 1;
      }
      if (finished === args.workers && !failed) {
        console.log(`all ${count} seeds passed in ${((performance.now() - startedMs) / 1000).toFixed(1)}s`);
      }
    });
    return child;
  });
}

function workerMain(args: CliArgs, workerIndex: number): void {
  for (let seed = args.seedFirst + workerIndex; seed <= args.seedLast; seed += args.workers) {
    const result = runSeed(args, seed);
    const report: WorkerReport = {
      seed, ok: result.ok, params: result.params, summary: result.summary, failure: result.failure,
    };
    process.send!(report);
    if (!result.ok) break;
  }
  // Messages go out in order: once this last one is flushed, so are the reports before it.
  process.send!({ done: true }, () => process.disconnect());
}

main();
