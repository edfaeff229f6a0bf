/**
 * A linearizability checker for a history of register operations (write, read), in the style
 * of Wing & Gong as refined by Lowe ("Testing for linearizability", 2017): a depth-first search
 * over the order in which operations take effect, memoized on (set of linearized operations,
 * register state), and split by key (P-compositionality: a history is linearizable iff its
 * restriction to every key is, Herlihy & Wing 1990, §3.3).
 *
 * An operation whose outcome is unknown (timed out, or its node crashed) has completion
 * `Infinity`: it may take effect at any time after its invocation, or never. A read with an
 * unknown outcome tells nothing and should simply be left out of the history.
 */

/** One client operation on one key. `value` is the written value, or the value a read returned (null = absent). */
export interface RegisterOp {
  key: string;
  kind: 'write' | 'read';
  value: string | null;
  /** Virtual time the client invoked the operation. */
  invokeMs: number;
  /** Virtual time the client saw the reply; Infinity when the outcome is unknown. */
  completeMs: number;
  /** Free-form label for reports (client and op number). */
  label?: string;
}

export type CheckResult =
  | { kind: 'ok'; keys: number; ops: number }
  | { kind: 'violation'; key: string; ops: RegisterOp[] }
  | { kind: 'unknown'; key: string; reason: string };

export interface CheckOptions {
  /** Most search steps per key before giving up with "unknown". */
  stepsMax?: number;
}

/** Checks every key's sub-history; the first violation (or unknown) is reported. */
export function checkLinearizable(history: readonly RegisterOp[], options: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys = [...byKey.keys()].sort();
  let unknown: CheckResult | null = null;
  for (const key of keys) {
    const ops = byKey.get(key)!;
    const verdict = checkKey(ops, options.stepsMax ?? 2_000_000);
    if (verdict === 'violation') return { kind: 'violation', key, ops };
    if (verdict === 'unknown' && unknown === null) unknown = { kind: 'unknown', key, reason: 'search bound reached' };
  }
  return unknown ?? { kind: 'ok', keys: keys.length, ops: history.length };
}

/**
 * Checks one key's history against a register that starts absent (null).
 * Lowe's observation: an operation may be linearized next only if it was invoked before every
 * not-yet-linearized operation completed (otherwise some completed operation must precede it).
 */
export function checkKey(ops: readonly RegisterOp[], stepsMax: number): 'ok' | 'violation' | 'unknown' {
  for (const op of ops) {
    if (!(op.completeMs >= op.invokeMs)) throw new Error(`history: op completes before it is invoked (${op.label ?? op.key})`);
  }
  // An indeterminate write whose value nobody read may be taken never to have happened: in any
  // valid order, no read can follow it before the next write, so dropping it keeps the order
  // valid. This prunes most of the search, as timed-out writes stay candidates forever.
  const readValues = new Set<string | null>();
  for (const op of ops) if (op.kind === 'read') readValues.add(op.value);
  const kept = ops.filter((op) => !(op.kind === 'write' && op.completeMs === Infinity && !readValues.has(op.value)));
  // Sort by invocation, so candidates can be scanned in order and the scan stopped early.
  const sorted = [...kept].sort((a, b) => a.invokeMs - b.invokeMs || a.completeMs - b.completeMs);
  const n = sorted.length;
  const words = Math.max(1, Math.ceil(n / 32));
  const done = new Uint32Array(words);
  const seen = new Set<string>();
  let remaining = n;
  let steps = 0;
  let bounded = false;

  const isDone = (i: number): boolean => (done[i >>> 5] & (1 << (i & 31))) !== 0;
  const flip = (i: number): void => {
    done[i >>> 5] ^= 1 << (i & 31);
  };
  const memoKey = (state: string | null): string => {
    let s = state === null ? '\u0000' : 'v' + state;
    for (let w = 0; w < words; w++) s += ',' + done[w].toString(36);
    return s;
  };

  const minRemainingComplete = (): number => {
    let min = Infinity;
    for (let i = 0; i < n; i++) if (!isDone(i) && sorted[i].completeMs < min) min = sorted[i].completeMs;
    return min;
  };

  // Recursion depth is at most the number of ops; per-key histories in the simulator stay small.
  const search = (state: string | null): boolean => {
    // A read that may go next and sees the current state is linearized at once without
    // branching: moving it to the front of any valid completion keeps that completion valid,
    // because reads do not change the state and everything that must precede it already has.
    const greedy: number[] = [];
    let minComplete = minRemainingComplete();
    for (let i = 0; i < n; i++) {
      const op = sorted[i];
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

  const branch = (state: string | null, minComplete: number): boolean => {
    if (remaining === 0 || minComplete === Infinity) {
      // Left are only indeterminate writes (reads of unknown outcome are not in histories):
      // leaving them out, as never having taken effect, is a valid ending.
      return true;
    }
    if (++steps > stepsMax) {
      bounded = true;
      return false;
    }
    const key = memoKey(state);
    if (seen.has(key)) return false;
    seen.add(key);
    for (let i = 0; i < n; i++) {
      const op = sorted[i];
      if (op.invokeMs > minComplete) break;
      if (isDone(i) || op.kind !== 'write') continue;
      flip(i);
      remaining--;
      const ok = search(op.value);
      flip(i);
      remaining++;
      if (ok) return true;
      if (bounded) return false;
    }
    return false;
  };

  const ok = search(null);
  if (ok) return 'ok';
  return bounded ? 'unknown' : 'violation';
}

/** Renders a key's history as lines for a failure report, ordered by invocation. */
export function describeHistory(ops: readonly RegisterOp[], linesMax = 60): string {
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs);
  const lines = sorted.slice(0, linesMax).map((op) => {
    const end = op.completeMs === Infinity ? '?' : op.completeMs.toFixed(1);
    const what = op.kind === 'write' ? `write ${op.value}` : `read -> ${op.value ?? '(nil)'}`;
    return `  [${op.invokeMs.toFixed(1)} .. ${end}] ${op.label ?? ''} ${what}`;
  });
  if (sorted.length > linesMax) lines.push(`  ... ${sorted.length - linesMax} more`);
  return lines.join('\n');
}

/**
 * Narrows a violation down to its first bad read: with all writes kept, dropping reads keeps a
 * history linearizable, so a binary search over the reads (by invocation) finds the first one
 * that cannot be explained. Returns that read and the operations overlapping a window before it.
 */
export function explainViolation(ops: readonly RegisterOp[], windowMs = 300): { read: RegisterOp; nearby: RegisterOp[] } | null {
  const writes = ops.filter((op) => op.kind === 'write');
  const reads = ops.filter((op) => op.kind === 'read').sort((a, b) => a.invokeMs - b.invokeMs);
  const bad = (k: number): boolean => checkKey([...writes, ...reads.slice(0, k)], 200_000) === 'violation';
  if (!bad(reads.length)) return null;
  let lo = 0;
  let hi = reads.length;
  // Invariant: bad(hi) and !bad(lo) (no reads at all is not a violation unless writes alone are).
  if (bad(0)) return null;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bad(mid)) hi = mid;
    else lo = mid;
  }
  const read = reads[hi - 1];
  const from = read.invokeMs - windowMs;
  const nearby = ops.filter((op) => op.completeMs >= from && op.invokeMs <= read.completeMs);
  return { read, nearby };
}
