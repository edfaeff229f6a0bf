/**
 * The whole-node simulator's command line: `node dist/src/sim/node-cli.js --seed N` runs one
 * seed, `--seeds A..B` a sweep that stops at the first failing seed and exits 1 with it.
 * See docs/simulator.md ("Whole-node simulation").
 */
import { fileURLToPath } from 'node:url';
import { defaultNodeSimOptions, reproduceFlags, runNodeSim, type NodeSimOptions } from './node/run.js';
import { defaultSweepArgs, intFlag as int, parseSweepFlag, runSweep, type SeedReport, type SweepArgs } from './sweep.js';

interface CliArgs extends SweepArgs {
  options: Omit<NodeSimOptions, 'seed' | 'trace'>;
}

const USAGE = `usage: node dist/src/sim/node-cli.js [--seed N | --seeds A..B] [--nodes N] [--groups N] [--duration MS]
                 [--clients N] [--counters N] [--drift PCT] [--no-crashes] [--steps EVENTS] [--workers N] [--verbose] [--trace]`;

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { ...defaultSweepArgs(), options: { ...defaultNodeSimOptions } };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    if (parseSweepFlag(flag, next, args)) continue;
    switch (flag) {
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
      case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return args;
}

async function runSeed(args: CliArgs, seed: number): Promise<SeedReport> {
  const t0 = performance.now();
  const r = await runNodeSim({ ...args.options, seed, trace: args.trace ? (line) => console.log(line) : null });
  const elapsedS = ((performance.now() - t0) / 1000).toFixed(1);
  return { seed: r.seed, ok: r.ok, params: r.params, summary: r.summary, failure: r.failure, detail: `hash=${r.hash} (${elapsedS}s)` };
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
    workerEnv: 'RAFTIS_NODE_SIM_WORKER',
    header: `raftis node sim: seeds ${args.seedFirst}..${args.seedLast} (${args.seedLast - args.seedFirst + 1})`
      + ` nodes=${o.nodes === 0 ? 'by seed (3 or 5)' : o.nodes} groups=${o.groups}+1 duration=${o.durationMs}ms`
      + ` clients=${o.clients} counters=${o.counterKeys} drift=±${o.driftPct}% crashes=${o.crashes ? 'on' : 'off'}`
      + ` steps<=${o.eventsMax} workers=${args.workers}`,
    progressEvery: 10,
    runSeed: (seed) => runSeed(args, seed),
    reproduce: (seed) => `node dist/src/sim/node-cli.js ${reproduceFlags({ ...args.options, seed, trace: null })}`,
  });
}

void main();
