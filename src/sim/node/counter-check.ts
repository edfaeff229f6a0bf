/**
 * Linearizability of counter histories (INCR, GET, DEL on keys that only ever hold counters),
 * the companion of the register checker in ../linearizability.ts and built the same way: a
 * Wing & Gong / Lowe depth-first search over linearization orders, memoized on (linearized
 * set, counter value), split per key.
 *
 * The model: an absent key is 0; `INCR` adds one and returns the new value; `GET` returns the
 * value (absent = null = 0); `DEL` sets 0 and returns 1 if the key existed. An operation of
 * unknown outcome (completion +∞, no result) may take effect at any time after its invocation,
 * or never. Such operations of one kind are interchangeable, so the search only ever tries the
 * earliest-invoked one of each kind (exchanging two of them keeps any order valid), which keeps
 * a history with many timed-out INCRs tractable.
 */

export interface CounterOp {
  key: string;
  kind: 'incr' | 'read' | 'del';
  /** INCR: the returned value; GET: the value read (0 = absent); DEL: the count. null = unknown outcome. */
  value: number | null;
  invokeMs: number;
  /** Infinity when the outcome is unknown. */
  completeMs: number;
  label?: string;
}

export type CounterCheckResult =
  | { kind: 'ok'; keys: number; ops: number }
  | { kind: 'violation'; key: string; ops: CounterOp[] }
  | { kind: 'unknown'; key: string; reason: string };

export function checkCounters(history: readonly CounterOp[], stepsMax = 2_000_000): CounterCheckResult {
  const byKey = new Map<string, CounterOp[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey.keys()].sort();
  let unknown: CounterCheckResult | null = null;
  for (const key of keys) {
    const ops = byKey.get(key)!;
    const verdict = checkCounterKey(ops, stepsMax);
    if (verdict === 'violation') return { kind: 'violation', key, ops };
    if (verdict === 'unknown' && unknown === null) unknown = { kind: 'unknown', key, reason: 'search bound reached' };
  }
  return unknown ?? { kind: 'ok', keys: keys.length, ops: history.length };
}

/** The state after `op` from `state`, or null when `op` cannot take effect there. */
function stepCounter(state: number, op: CounterOp): number | null {
  switch (op.kind) {
    case 'incr':
      return op.value === null || op.value === state + 1 ? state + 1 : null;
    case 'read':
      return op.value === state ? state : null;
    case 'del':
      return op.value === null || op.value === (state > 0 ? 1 : 0) ? 0 : null;
  }
}

export function checkCounterKey(ops: readonly CounterOp[], stepsMax: number): 'ok' | 'violation' | 'unknown' {
  for (const op of ops) {
    if (!(op.completeMs >= op.invokeMs)) throw new Error(`history: op completes before it is invoked (${op.label ?? op.key})`);
    if (op.kind === 'read' && op.value === null) throw new Error(`history: a read of unknown outcome belongs nowhere (${op.label ?? op.key})`);
  }
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs || a.completeMs - b.completeMs);
  const n = sorted.length;
  const words = Math.max(1, Math.ceil(n / 32));
  const done = new Uint32Array(words);
  const seen = new Set<string>();
  let determinateLeft = sorted.filter((op) => op.completeMs !== Infinity).length;
  let steps = 0;
  let bounded = false;

  const isDone = (i: number): boolean => (done[i >>> 5] & (1 << (i & 31))) !== 0;
  const flip = (i: number): void => {
    done[i >>> 5] ^= 1 << (i & 31);
  };
  const memoKey = (state: number): string => {
    let s = String(state);
    for (let w = 0; w < words; w++) s += ',' + done[w].toString(36);
    return s;
  };
  const minRemainingComplete = (): number => {
    let min = Infinity;
    for (let i = 0; i < n; i++) if (!isDone(i) && sorted[i].completeMs < min) min = sorted[i].completeMs;
    return min;
  };
  const take = (i: number): void => {
    flip(i);
    if (sorted[i].completeMs !== Infinity) determinateLeft--;
  };
  const untake = (i: number): void => {
    flip(i);
    if (sorted[i].completeMs !== Infinity) determinateLeft++;
  };

  const search = (state: number): boolean => {
    // Reads that may go next and see the current value are taken at once (as in the register checker).
    const greedy: number[] = [];
    let minComplete = minRemainingComplete();
    for (let i = 0; i < n; i++) {
      const op = sorted[i];
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.kind !== 'read' || op.value !== state) continue;
      take(i);
      greedy.push(i);
      minComplete = minRemainingComplete();
      i = -1;
    }
    const ok = branch(state, minComplete);
    for (const i of greedy) untake(i);
    return ok;
  };

  const branch = (state: number, minComplete: number): boolean => {
    // Only operations of unknown outcome are left: they may never have taken effect.
    if (determinateLeft === 0) return true;
    if (++steps > stepsMax) {
      bounded = true;
      return false;
    }
    const key = memoKey(state);
    if (seen.has(key)) return false;
    seen.add(key);
    let triedUnknownIncr = false;
    let triedUnknownDel = false;
    for (let i = 0; i < n; i++) {
      const op = sorted[i];
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.kind === 'read') continue;
      if (op.completeMs === Infinity) {
        if (op.kind === 'incr') {
          if (triedUnknownIncr) continue;
          triedUnknownIncr = true;
        } else {
          if (triedUnknownDel) continue;
          triedUnknownDel = true;
        }
      }
      const next = stepCounter(state, op);
      if (next === null) continue;
      take(i);
      const ok = search(next);
      untake(i);
      if (ok) return true;
      if (bounded) return false;
    }
    return false;
  };

  if (search(0)) return 'ok';
  return bounded ? 'unknown' : 'violation';
}

/** Renders a key's counter history for a failure report, ordered by invocation. */
export function describeCounterHistory(ops: readonly CounterOp[], linesMax = 60): string {
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs);
  const lines = sorted.slice(0, linesMax).map((op) => {
    const end = op.completeMs === Infinity ? '?' : op.completeMs.toFixed(1);
    const result = op.value === null ? '?' : String(op.value);
    const what = op.kind === 'read' ? `get -> ${result}` : `${op.kind} -> ${result}`;
    return `  [${op.invokeMs.toFixed(1)} .. ${end}] ${op.label ?? ''} ${what}`;
  });
  if (sorted.length > linesMax) lines.push(`  ... ${sorted.length - linesMax} more`);
  return lines.join('\n');
}
