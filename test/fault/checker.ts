/**
 * The fault tests' linearizability checker: per key, a register model (SET, GET, DEL) and a
 * counter model (INCR), and a WATCH/MULTI/EXEC read-modify-write that committed counts as one
 * compare-and-set. The search is Wing & Gong's as refined by Lowe ("Testing for
 * linearizability", 2017), the algorithm of src/sim/linearizability.ts: a depth-first search over
 * the order in which operations take effect, memoized on (linearized set, state), split by key
 * (P-compositionality, Herlihy & Wing 1990, §3.3).
 *
 * An indeterminate operation (timeout, dropped connection, error reply of a write) has
 * `completeMs = Infinity`: it may take effect at any time after its invocation, or never.
 */

/** What an operation did to one key. Values are strings as Redis returns them; null is "absent". */
export type OpKind =
  /** SET k value: state := value. */
  | { kind: 'write'; value: string | null }
  /** GET k returned value (DEL is a write of null). */
  | { kind: 'read'; value: string | null }
  /** INCR k: state := int(state ?? 0) + 1; `result` is the reply, undefined when unknown. */
  | { kind: 'incr'; result?: number }
  /** A committed WATCH k / GET k / MULTI / SET k value / EXEC: state must be `expect`, then := value. */
  | { kind: 'cas'; expect: string | null; value: string | null };

export type HistoryOp = OpKind & {
  key: string;
  /** Client time (ms, performance.now) the operation was invoked. */
  invokeMs: number;
  /** Client time the reply came; Infinity when the outcome is unknown. */
  completeMs: number;
  /** Client and command, for reports. */
  label?: string;
};

export type KeyVerdict = 'ok' | 'violation' | 'unknown';

export type CheckResult =
  | { kind: 'ok'; keys: number; ops: number }
  | { kind: 'violation'; key: string; ops: HistoryOp[] }
  | { kind: 'unknown'; key: string; ops: HistoryOp[] };

/** Checks every key's sub-history; reports the first violation, else the first key the search could not settle. */
export function checkHistory(history: readonly HistoryOp[], stepsMax = 2_000_000): CheckResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let unknown: CheckResult | null = null;
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    const verdict = checkKey(ops, stepsMax);
    if (verdict === 'violation') return { kind: 'violation', key, ops };
    if (verdict === 'unknown' && unknown === null) unknown = { kind: 'unknown', key, ops };
  }
  return unknown ?? { kind: 'ok', keys: byKey.size, ops: history.length };
}

type State = string | null;

/** The state after `op` from `state`, or undefined when `op` cannot take effect there. */
function apply(op: HistoryOp, state: State): State | undefined {
  switch (op.kind) {
    case 'write': return op.value;
    case 'read': return op.value === state ? state : undefined;
    case 'cas': return op.expect === state ? op.value : undefined;
    case 'incr': {
      const n = state === null ? 0 : /^-?\d+$/.test(state) ? Number(state) : NaN;
      if (Number.isNaN(n)) return undefined;
      if (op.result !== undefined && op.result !== n + 1) return undefined;
      return String(n + 1);
    }
  }
}

/** Operations with the same effect, for the dominance rule below. */
function effectOf(op: HistoryOp): string {
  switch (op.kind) {
    case 'write': return `w${op.value === null ? '\u0000' : ':' + op.value}`;
    case 'cas': return `c${op.expect ?? '\u0000'}>${op.value ?? '\u0000'}`;
    case 'incr': return op.result === undefined ? 'i' : `i${op.result}`;
    case 'read': return `r${op.value ?? '\u0000'}`;
  }
}

/** Checks one key's history from an absent key. */
export function checkKey(ops: readonly HistoryOp[], stepsMax: number): KeyVerdict {
  for (const op of ops) {
    if (!(op.completeMs >= op.invokeMs)) throw new Error(`history: op completes before it is invoked (${op.label ?? op.key})`);
  }
  // Reads of unknown outcome tell nothing. An indeterminate SET whose value nobody observed may
  // be taken never to have happened: in a valid order only state-blind writes can follow it
  // before the next write, so leaving it out keeps the order valid.
  const observed = new Set<State>();
  for (const op of ops) {
    if (op.kind === 'read') observed.add(op.value);
    if (op.kind === 'cas') observed.add(op.expect);
  }
  const kept = ops.filter((op) => !(op.completeMs === Infinity && (op.kind === 'read' || (op.kind === 'write' && !observed.has(op.value)))));
  const sorted = [...kept].sort((a, b) => a.invokeMs - b.invokeMs || a.completeMs - b.completeMs);
  const n = sorted.length;
  const words = Math.max(1, Math.ceil(n / 32));
  const done = new Uint32Array(words);
  const seen = new Set<string>();
  let remaining = n;
  let steps = 0;
  let bounded = false;
  const isDone = (i: number): boolean => (done[i >>> 5]! & (1 << (i & 31))) !== 0;
  const flip = (i: number): void => {
    done[i >>> 5]! ^= 1 << (i & 31);
  };
  const memoKey = (state: State): string => {
    let s = state === null ? '\u0000' : 'v' + state;
    for (let w = 0; w < words; w++) s += ',' + done[w]!.toString(36);
    return s;
  };
  const minRemainingComplete = (): number => {
    let min = Infinity;
    for (let i = 0; i < n; i++) if (!isDone(i) && sorted[i]!.completeMs < min) min = sorted[i]!.completeMs;
    return min;
  };

  const search = (state: State): boolean => {
    // A read that may go next and sees the current state goes next without branching: moving
    // it to the front of any valid completion keeps that completion valid.
    const greedy: number[] = [];
    let minComplete = minRemainingComplete();
    for (let i = 0; i < n; i++) {
      const op = sorted[i]!;
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.kind !== 'read' || op.value !== state) continue;
      flip(i);
      remaining--;
      greedy.push(i);
      minComplete = minRemainingComplete();
      i = -1;
    }
    const ok = branch(state, minComplete);
    for (const i of greedy) flip(i);
    remaining += greedy.length;
    return ok;
  };

  const tryOp = (i: number, state: State): boolean => {
    const next = apply(sorted[i]!, state);
    if (next === undefined) return false;
    flip(i);
    remaining--;
    const ok = search(next);
    flip(i);
    remaining++;
    return ok;
  };

  const branch = (state: State, minComplete: number): boolean => {
    // Only indeterminate operations left: leaving them out (never took effect) is a valid end.
    if (remaining === 0 || minComplete === Infinity) return true;
    if (++steps > stepsMax) {
      bounded = true;
      return false;
    }
    const key = memoKey(state);
    if (seen.has(key)) return false;
    seen.add(key);
    // Completed operations first: a valid history is then usually found without detours.
    for (let i = 0; i < n; i++) {
      const op = sorted[i]!;
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.completeMs === Infinity || op.kind === 'read') continue;
      if (tryOp(i, state)) return true;
      if (bounded) return false;
    }
    // Dominance: of indeterminate operations with the same effect, the earliest invoked may go
    // wherever a later one may, so only it is tried.
    const tried = new Set<string>();
    for (let i = 0; i < n; i++) {
      const op = sorted[i]!;
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.completeMs !== Infinity) continue;
      const effect = effectOf(op);
      if (tried.has(effect)) continue;
      tried.add(effect);
      if (tryOp(i, state)) return true;
      if (bounded) return false;
    }
    return false;
  };

  if (search(null)) return 'ok';
  return bounded ? 'unknown' : 'violation';
}

/** A key's history as lines for a failure report, by invocation. */
export function describeOps(ops: readonly HistoryOp[], linesMax = 80): string {
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs);
  const show = (v: string | null): string => (v === null ? '(nil)' : v);
  const lines = sorted.slice(0, linesMax).map((op) => {
    const end = op.completeMs === Infinity ? '?' : op.completeMs.toFixed(1);
    const what = op.kind === 'write' ? `write ${show(op.value)}`
      : op.kind === 'read' ? `read -> ${show(op.value)}`
        : op.kind === 'incr' ? `incr -> ${op.result ?? '?'}`
          : `cas ${show(op.expect)} -> ${show(op.value)}`;
    return `  [${op.invokeMs.toFixed(1)} .. ${end}] ${op.label ?? ''} ${what}`;
  });
  if (sorted.length > linesMax) lines.push(`  ... ${sorted.length - linesMax} more`);
  return lines.join('\n');
}

/**
 * Narrows a violation down to its first unexplainable read: with every other operation kept,
 * leaving reads out keeps a history linearizable, so a binary search over the reads (by
 * invocation) finds the first that cannot be explained. Returns it and the operations that
 * overlap a window before it; null when the violation needs no read.
 */
export function explainViolation(ops: readonly HistoryOp[], windowMs = 500): { read: HistoryOp; nearby: HistoryOp[] } | null {
  const others = ops.filter((op) => op.kind !== 'read');
  const reads = ops.filter((op) => op.kind === 'read').sort((a, b) => a.invokeMs - b.invokeMs);
  const bad = (k: number): boolean => checkKey([...others, ...reads.slice(0, k)], 500_000) === 'violation';
  if (bad(0) || !bad(reads.length)) return null;
  let lo = 0;
  let hi = reads.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bad(mid)) hi = mid;
    else lo = mid;
  }
  const read = reads[hi - 1]!;
  const from = read.invokeMs - windowMs;
  return { read, nearby: ops.filter((op) => op.completeMs >= from && op.invokeMs <= read.completeMs) };
}
