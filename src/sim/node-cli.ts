/**
 * The whole-node simulator's command line: `node dist/src/sim/node-cli.js --seed N` runs one
 * seed, `--seeds A..B` a sweep that stops at the first failing seed and exits 1 with it.
 * See docs/simulator.md ("Whole-node simulation").
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defaultNodeSimOptions, reproduceFlags, runNodeSim, type NodeSimOptions, type NodeSimResult } from './node/run.js';

interface CliArgs {
  seedFirst: number;
  seedLast: number;
  workers: number;
  verbose: boolean;
  trace: boolean;
  options: Omit<NodeSimOptions, 'seed' | 'trace'>;
}

const USAGE = `usage: node dist/src/sim/node-cli.js [--seed N | --seeds A..B] [--nodes N] [--groups N] [--duration MS]
                 [--clients N] [--counters N] [--drift PCT] [--no-crashes] [--steps EVENTS] [--workers N] [--verbose] [--trace]`;

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { seedFirst: 1, seedLast: 1, workers: 1, verbose: false, trace: false, options: { ...defaultNodeSimOptions } };
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
        if (nodes < 1 || nodes > 9) throw new Error('--nodes must be 1..9');
        args.options.nodes = nodes;
        break;
      }
      case '--groups': args.options.groups = Math.max(1, int(flag, next())); break;
      case '--duration': args.options.durationMs = int(flag, next()); break;
      case '--clients': args.options.clients = Math.max(1, int(flag, next())); break;
      case '--counters': args.options.counterKeys = Math.max(1, int(flag, next())); break;
      case '--drift': args.options.driftPct = int(flag, next()); break;
      case '--no-crashes': args.options.crashes = false; break;
      case '--steps': args.options.eventsMax = int(flag, next()); break;
      case '--workers': args.workers = Math.max(1, int(flag, next())); break;
      case '--verbose': args.verbose = true; break;
      case '--trace': args.trace = true; break;
      case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return args;
}

function runSeed(args: CliArgs, seed: number): Promise<NodeSimResult> {
  return runNodeSim({ ...args.options, seed, trace: args.trace ? (line) => console.log(line) : null });
}

interface Report {
  seed: number;
  ok: boolean;
  params: string;
  summary: string;
  failure: string | null;
  hash: string;
  elapsedMs: number;
}

function toReport(result: NodeSimResult, elapsedMs: number): Report {
  return { seed: result.seed, ok: result.ok, params: result.params, summary: result.summary, failure: result.failure, hash: result.hash, elapsedMs };
}

function printFailure(args: CliArgs, r: Report): void {
  console.log(`FAIL ${r.params}`);
  console.log(`  ${r.summary}`);
  console.log(`  ${r.failure}`);
  console.log(`  failing seed: ${r.seed}`);
  console.log(`  reproduce: node dist/src/sim/node-cli.js ${reproduceFlags({ ...args.options, seed: r.seed, trace: null })}`);
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const workerIndex = process.env.RAFTIS_NODE_SIM_WORKER;
  if (workerIndex !== undefined) return workerMain(args, Number(workerIndex));
  const count = args.seedLast - args.seedFirst + 1;
  const startedMs = performance.now();
  const o = args.options;
  console.log(`raftis node sim: seeds ${args.seedFirst}..${args.seedLast} (${count}) nodes=${o.nodes === 0 ? 'by seed (3 or 5)' : o.nodes}`
    + ` groups=${o.groups}+1 duration=${o.durationMs}ms clients=${o.clients} counters=${o.counterKeys} drift=±${o.driftPct}%`
    + ` crashes=${o.crashes ? 'on' : 'off'} steps<=${o.eventsMax} workers=${args.workers}`);
  if (count === 1 || args.workers === 1) {
    for (let seed = args.seedFirst; seed <= args.seedLast; seed++) {
      const t0 = performance.now();
      const report = toReport(await runSeed(args, seed), performance.now() - t0);
      if (!report.ok) {
        printFailure(args, report);
        process.exit(1);
      }
      if (count === 1 || args.verbose) {
        console.log(`ok   ${report.params}\n  ${report.summary}\n  hash=${report.hash} (${(report.elapsedMs / 1000).toFixed(1)}s)`);
      } else if ((seed - args.seedFirst + 1) % 10 === 0) console.log(`  ${seed - args.seedFirst + 1}/${count} ok`);
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
      env: { ...process.env, RAFTIS_NODE_SIM_WORKER: String(w) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (report: Report | { done: true }) => {
      if (failed || 'done' in report) return;
      if (!report.ok) {
        failed = true;
        printFailure(args, report);
        for (const other of children) other.kill();
        process.exitCode = 1;
        return;
      }
      passed++;
      if (args.verbose) console.log(`ok   ${report.params}\n  ${report.summary}\n  hash=${report.hash} (${(report.elapsedMs / 1000).toFixed(1)}s)`);
      else if (passed % 10 === 0) console.log(`  ${passed}/${count} ok`);
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

async function workerMain(args: CliArgs, workerIndex: number): Promise<void> {
  for (let seed = args.seedFirst + workerIndex; seed <= args.seedLast; seed += args.workers) {
    const t0 = performance.now();
    const report = toReport(await runSeed(args, seed), performance.now() - t0);
    process.send!(report);
    if (!report.ok) break;
  }
  process.send!({ done: true }, () => process.disconnect());
}

void main();
