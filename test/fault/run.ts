/**
 * One fault run: a cluster of real nodes under concurrent clients while faults chosen from a
 * seed come and go; then everything heals and the checkers run: per-key linearizability of the
 * whole history, no acknowledged ledger write lost, every replica of every group with the same
 * digest, and every client's final operations completing. A failing run keeps its folder
 * (node logs, data, history.json, faults.log, report.txt) and names its seed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { SeededRandom } from '../../src/env/random.js';
import { describeOps, type HistoryOp } from './checker.js';
import { judgeInWorker } from './check-worker.js';
import { FAULTS, shuffle } from './faults.js';
import { FaultCluster, sleep } from './harness.js';
import { Client, COUNTER_KEYS, REGISTER_KEYS, type WorkloadStats } from './workload.js';

export interface RunOptions {
  seed: number;
  durationMs: number;
  nodes?: number;
  groups?: number;
  clients?: number;
  /** Fault names to draw from (default: all of FAULTS). */
  faults?: string[];
  /** Run each of `faults` exactly once, in an order shuffled by the seed, instead of drawing until `durationMs`. */
  eachOnce?: boolean;
  /** Harness self-check: clients read with CLIENT CONSISTENCY STALE (not linearizable), so the run should fail. */
  staleReads?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  cycles: number;
  /** Operations in the history (completed and indeterminate). */
  ops: number;
  /** Operations the linearizability checker was given (same as ops). */
  checkedOps: number;
  stats: WorkloadStats;
  ledgerChecked: number;
  groupsCompared: number;
  faultLog: string[];
  failures: string[];
  /** The kept folder of a failing run. */
  dir?: string;
}

export async function runFaultRun(opts: RunOptions): Promise<RunResult> {
  const random = new SeededRandom(opts.seed);
  const log = opts.log ?? (() => {});
  const nodes = opts.nodes ?? 3;
  const cluster = new FaultCluster({ nodes, groups: opts.groups ?? 4 });
  const faultNames = opts.faults ?? Object.keys(FAULTS);
  const faultLog: string[] = [];
  const t0 = performance.now();
  const note = (line: string) => {
    const l = `${((performance.now() - t0) / 1000).toFixed(2)}s ${line}`;
    faultLog.push(l);
    log(l);
  };
  const history: HistoryOp[] = [];
  const stats: WorkloadStats = { ok: 0, indeterminate: 0, notSent: 0, readErrors: 0, txCommitted: 0, txAborted: 0 };
  const failures: string[] = [];
  let cycles = 0;
  let ledgerChecked = 0;
  let groupsCompared = 0;
  const clients: Client[] = [];
  try {
    await cluster.start();
    note(`cluster of ${nodes} nodes up in ${cluster.dataDir}`);
    const clientRandom = random.fork('clients');
    for (let i = 0; i < (opts.clients ?? 6); i++) {
      clients.push(new Client(i + 1, clientRandom.fork(`client-${i}`), () => cluster.nodeIds(), (id) => cluster.port(id), history, stats, opts.staleReads));
    }
    let stopLoad = false;
    const loops = clients.map((c) => c.run(() => stopLoad));
    const faultRandom = random.fork('faults');
    const probe = async (nodeId: number) => {
      const conn = new Redis({
        port: cluster.port(nodeId), host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false, commandTimeout: 5000, retryStrategy: () => null, lazyConnect: true,
      });
      conn.on('error', () => {});
      const ready = await conn.connect().then(() => true, () => false);
      return {
        read: () => {
          if (!ready) return;
          for (const key of [...REGISTER_KEYS, ...COUNTER_KEYS]) {
            const invokeMs = performance.now();
            conn.get(key).then((value) => {
              stats.ok++;
              history.push({ key, kind: 'read', value, invokeMs, completeMs: performance.now(), label: `probe n${nodeId} GET` });
            }, () => { stats.readErrors++; });
          }
        },
        close: () => conn.disconnect(),
      };
    };
    const ctx = { cluster, random: faultRandom, note, probe };
    const end = performance.now() + opts.durationMs;
    const queue = opts.eachOnce ? shuffle(faultRandom, faultNames) : null;
    while (queue ? queue.length > 0 : performance.now() < end) {
      await sleep(faultRandom.int(200, 800));
      const name = queue ? queue.shift()! : faultRandom.pick(faultNames);
      await FAULTS[name]!(ctx);
      cycles++;
    }
    note(`${cycles} fault cycles done; healing`);
    await cluster.healAll();
    stopLoad = true;
    await Promise.all(loops);
    await cluster.waitAllReady();
    note('all nodes ready; final reads');

    // Every client operation completes once the faults heal.
    const keys = [...REGISTER_KEYS, ...COUNTER_KEYS];
    const finals = await Promise.all(clients.map((c) => c.finalReads(keys, 30000)));
    finals.forEach((done, i) => {
      if (!done) failures.push(`client ${i + 1}: final reads did not complete within 30 s of the heal`);
    });

    // No acknowledged write lost. A read that fails is retried (any node) for up to 60 s; only a
    // read that answers and lacks the value is a lost write.
    const ledger = clients.flatMap((c) => c.ledgerAcked);
    let pending = ledger;
    const ledgerDeadline = performance.now() + 60000;
    let lastError = '';
    while (pending.length > 0 && performance.now() < ledgerDeadline) {
      const retry: string[] = [];
      for (let i = 0; i < pending.length; i += 200) {
        const batch = pending.slice(i, i + 200);
        const reader = cluster.admin(random.pick(cluster.responsive()));
        const res = await reader.pipeline(batch.map((k) => ['get', k])).exec().catch(() => null);
        batch.forEach((k, j) => {
          const [err, value] = res?.[j] ?? [new Error('pipeline failed'), null];
          if (err) {
            lastError = String(err);
            retry.push(k);
          } else if (value !== '1') failures.push(`acknowledged SET ${k} lost: GET returned ${String(value)}`);
        });
      }
      pending = retry;
      if (pending.length > 0) await sleep(200);
    }
    if (pending.length > 0) failures.push(`${pending.length} acknowledged ledger keys could not be read within 60 s of the heal (${lastError})`);
    ledgerChecked = ledger.length;

    // Linearizability, per key.
    const { verdict, why } = await judgeInWorker(history);
    if (verdict.kind === 'violation') {
      failures.push(`history of ${verdict.key} (${verdict.ops.length} ops) is not linearizable` + (why
        ? `: no order explains the read at ${why.read.invokeMs.toFixed(1)} (${why.read.label}); the operations around it:\n${describeOps(why.nearby, 200)}`
        : `:\n${describeOps(verdict.ops, 400)}`));
    } else if (verdict.kind === 'unknown') {
      failures.push(`history of ${verdict.key}: checker search bound reached (${verdict.ops.length} ops)`);
    }

    // No node died by itself.
    for (const c of cluster.crashes) failures.push(c);

    // Replicas agree.
    const digests = await cluster.compareDigests();
    groupsCompared = digests.groups;
    for (const m of digests.mismatches) failures.push(`replicas differ: ${m}`);
    note(`checked ${history.length} ops (${stats.indeterminate} indeterminate), ${ledgerChecked} ledger keys, ${groupsCompared} groups; ${failures.length} failures`);
  } catch (err) {
    failures.push(...cluster.crashes);
    failures.push(`run aborted: ${(err as Error)?.stack ?? String(err)}`);
  } finally {
    for (const c of clients) c.close();
    const keep = failures.length > 0;
    if (keep) {
      writeFileSync(join(cluster.dataDir, 'history.json'), JSON.stringify(history.map((op) => ({ ...op, completeMs: op.completeMs === Infinity ? null : op.completeMs }))));
      writeFileSync(join(cluster.dataDir, 'faults.log'), faultLog.join('\n') + '\n');
      writeFileSync(join(cluster.dataDir, 'report.txt'), `seed ${opts.seed}\n\n${failures.join('\n\n')}\n`);
    }
    await cluster.stop(keep);
  }
  return {
    seed: opts.seed, cycles, ops: history.length, checkedOps: history.length, stats, ledgerChecked, groupsCompared,
    faultLog, failures, ...(failures.length > 0 ? { dir: cluster.dataDir } : {}),
  };
}

/** One line for a failing run: seed, folder and the first failure. */
export function describeFailure(r: RunResult): string {
  return `fault run failed: seed ${r.seed}; histories and node logs kept in ${r.dir}\n` +
    `rerun: npm run fault -- --seed ${r.seed}\n${r.failures.slice(0, 5).join('\n\n')}`;
}
