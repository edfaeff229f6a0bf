/**
 * Runs the fault tests' linearizability check in a worker thread with a large stack. The
 * search (checker.ts) recurses once per operation of a key, and a long fault run puts
 * thousands of operations on one key: at ~6,000 the main thread's stack (about 1 MB)
 * overflowed and the run was reported as failed although its history was linearizable.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { checkHistory, explainViolation, type CheckResult, type HistoryOp } from './checker.js';

export interface Judgement {
  verdict: CheckResult;
  /** For a violation: its first unexplainable read and the operations around it. */
  why: ReturnType<typeof explainViolation>;
}

/** Stack of the checking thread (the 6,000-operation key needed about 2 MB). */
const STACK_MB = 256;

function judge(history: readonly HistoryOp[]): Judgement {
  const verdict = checkHistory(history);
  return { verdict, why: verdict.kind === 'violation' ? explainViolation(verdict.ops) : null };
}

/** checkHistory (and explainViolation on a violation) on a thread of its own. */
export function judgeInWorker(history: readonly HistoryOp[]): Promise<Judgement> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { judge: history }, resourceLimits: { stackSizeMb: STACK_MB } });
    worker.once('message', (j: Judgement) => resolve(j));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`checker worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && parentPort !== null && (workerData as { judge?: HistoryOp[] } | null)?.judge !== undefined) {
  parentPort.postMessage(judge((workerData as { judge: HistoryOp[] }).judge));
}
