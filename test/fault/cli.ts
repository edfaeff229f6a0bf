/**
 * The long fault runner: `npm run fault -- --seed N --duration 60 [--nodes 5] [--runs K]
 * [--faults kill-one,pause,...] [--stale-reads]`. --stale-reads makes the clients read with CLIENT
 * CONSISTENCY STALE, which is not linearizable: a check that the checkers catch it. Each run prints its seed; a failing run keeps its folder
 * and the process exits non-zero.
 */
import { FAULTS } from './faults.js';
import { describeFailure, runFaultRun } from './run.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const seed0 = Number(flag('seed') ?? Math.floor(Math.random() * 2 ** 31));
  const durationS = Number(flag('duration') ?? 60);
  const nodes = Number(flag('nodes') ?? 3);
  const runs = Number(flag('runs') ?? 1);
  const faults = flag('faults')?.split(',');
  for (const f of faults ?? []) if (!FAULTS[f]) throw new Error(`unknown fault ${f}; known: ${Object.keys(FAULTS).join(', ')}`);
  let totals = { cycles: 0, ops: 0, failed: 0 };
  for (let r = 0; r < runs; r++) {
    const seed = seed0 + r;
    console.log(`== fault run seed ${seed}, ${durationS} s, ${nodes} nodes`);
    const res = await runFaultRun({
      seed, durationMs: durationS * 1000, nodes, groups: nodes === 3 ? 4 : 6, faults, staleReads: process.argv.includes('--stale-reads'),
      log: (l) => console.log(`  ${l}`),
    });
    totals = { cycles: totals.cycles + res.cycles, ops: totals.ops + res.checkedOps, failed: totals.failed + (res.failures.length > 0 ? 1 : 0) };
    console.log(`seed ${seed}: ${res.cycles} fault cycles, ${res.checkedOps} ops checked (${res.stats.ok} ok, ${res.stats.indeterminate} indeterminate, ` +
      `${res.stats.txCommitted} transactions committed, ${res.stats.txAborted} aborted), ${res.ledgerChecked} ledger writes, ${res.groupsCompared} groups compared: ` +
      (res.failures.length === 0 ? 'ok' : 'FAILED'));
    if (res.failures.length > 0) console.log(describeFailure(res));
  }
  console.log(`total: ${runs} runs, ${totals.cycles} fault cycles, ${totals.ops} ops checked, ${totals.failed} failed`);
  process.exit(totals.failed > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
