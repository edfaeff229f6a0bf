/**
 * The simulator's command line (`npm run sim -- ...`). One seed: `--seed N`; a sweep:
 * `--seeds A..B`, which stops at the first failing seed and exits non-zero. See docs/simulator.md.
 */
import { fileURLToPath } from 'node:url';
import { RawNode } from '../raft/raw-node.js';
import { defaultSimOptions, runSimulation, type SimOptions } from './run.js';
import { defaultSweepArgs, intFlag as int, parseSweepFlag, runSweep, type SeedReport, type SweepArgs } from './sweep.js';

interface CliArgs extends SweepArgs {
  options: Omit<SimOptions, 'seed' | 'createRawNode' | 'trace'>;
}

const USAGE = `usage: npm run sim -- [--seed N | --seeds A..B] [--nodes 3..7] [--duration MS] [--steps EVENTS]
                      [--clients N] [--keys N] [--drift PCT] [--break-drift] [--workers N] [--verbose] [--trace]`;

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { ...defaultSweepArgs(), options: { ...defaultSimOptions } };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    if (parseSweepFlag(flag, next, args)) continue;
    switch (flag) {
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
      case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return args;
}

/** Runs one seed with the CLI's options. */
function runSeed(args: CliArgs, seed: number): SeedReport {
  const r = runSimulation({
    ...args.options,
    seed,
    createRawNode: (config) => new RawNode(config),
    trace: args.trace ? (line) => console.log(line) : null,
  });
  return { seed: r.seed, ok: r.ok, params: r.params, summary: r.summary, failure: r.failure };
}

/** The command that reproduces one run of this sweep. */
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

function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const o = args.options;
  return runSweep({
    args,
    script: fileURLToPath(import.meta.url),
    workerEnv: 'RAFTIS_SIM_WORKER',
    header: `raftis sim: seeds ${args.seedFirst}..${args.seedLast} (${args.seedLast - args.seedFirst + 1})`
      + ` nodes=${o.nodes === 0 ? 'by seed (3..7)' : o.nodes} duration=${o.durationMs}ms`
      + ` steps<=${o.eventsMax} clients=${o.clients} keys=${o.keys}`
      + ` drift=±${o.driftPct}%${o.breakDrift ? ' break-drift' : ''} workers=${args.workers}`,
    progressEvery: 100,
    runSeed: (seed) => runSeed(args, seed),
    reproduce: (seed) => reproduce(args, seed),
  });
}

void main();
