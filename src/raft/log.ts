import type { Entry } from './types.js';

/** Bytes an entry counts for in size limits (payload only). */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength;
}

/**
 * The in-memory Raft log: every entry after the compaction point
 * (`snapIndex`/`snapTerm`), plus what has been handed to storage and what is
 * known to be durable.
 *
 * Invariants:
 *   snapIndex <= applied <= committed <= lastIndex,
 *   stableIndex <= lastIndex, unstableFrom <= lastIndex + 1.
 */
export class RaftLog {
  /** Index and term of the last entry covered by the snapshot / compaction point. */
  snapIndex: number;
  snapTerm: number;
  /** entries[i] has index snapIndex + 1 + i. */
  entries: Entry[];
  committed: number;
  /** Highest index the host has applied (acknowledged by advance). */
  applied: number;
  /** Highest index known to be durable in this node's log store. */
  stableIndex: number;
  /** First index not yet handed to the host in a Ready. */
  unstableFrom: number;

  constructor(snapIndex: number, snapTerm: number, entries: Entry[], committed: number, applied: number) {
    this.snapIndex = snapIndex;
    this.snapTerm = snapTerm;
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      assert(this.entries[i].index === snapIndex + 1 + i, 'log: persisted entries must be contiguous after the snapshot');
    }
    this.committed = Math.min(Math.max(committed, snapIndex), this.lastIndex());
    this.applied = Math.min(Math.max(applied, snapIndex), this.committed);
    this.stableIndex = this.lastIndex();
    this.unstableFrom = this.lastIndex() + 1;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snapTerm : this.entries[this.entries.length - 1].term;
  }

  /** Term of the entry at `index`, or undefined when compacted away or past the end. */
  term(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapIndex - 1].term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  entry(index: number): Entry {
    assert(index > this.snapIndex && index <= this.lastIndex(), 'log: entry index out of range');
    return this.entries[index - this.snapIndex - 1];
  }

  /** Raft paper §5.4.1: is a log ending at (lastTerm, lastIndex) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi] (inclusive), stopping once `maxBytes` is exceeded but always at least one. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    assert(lo > this.snapIndex, 'log: slice below the compaction point');
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()); i++) {
      const e = this.entry(i);
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries, truncating any conflicting tail from entries[0].index on. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const from = entries[0].index;
    assert(from > this.committed, 'log: must never truncate committed entries');
    assert(from <= this.lastIndex() + 1, 'log: append leaves a gap');
    // NB: a follower may truncate here when a new leader overwrites its tail (§5.3);
    // anything past `committed` is still allowed to change.
    this.entries.length = from - this.snapIndex - 1;
    for (const e of entries) this.entries.push(e);
    this.unstableFrom = Math.min(this.unstableFrom, from);
    this.stableIndex = Math.min(this.stableIndex, from - 1);
  }

  /**
   * The index of the first entry in `entries` that conflicts with (or extends)
   * our log, or 0 when all of them are already present (§5.3).
   */
  findConflict(entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term
   * (etcd's findConflictByTerm). Used for fast backtracking: all entries after
   * the returned index can be skipped by the probing leader.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i >= this.snapIndex; i--) {
      const t = this.term(i);
      if (t === undefined) break;
      if (t <= term) return { index: i, term: t };
    }
    return { index: Math.max(i, 0), term: 0 };
  }

  /**
   * Follower side of AppendEntries: appends when (index, logTerm) matches.
   * Returns the index of the last new entry, or null on a mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, entries: Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, 'log: conflict with a committed entry');
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  commitTo(index: number): boolean {
    const to = Math.min(index, this.lastIndex());
    if (to <= this.committed) return false;
    this.committed = to;
    return true;
  }

  /** Entries not yet handed to the host for persistence. */
  unstableEntries(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    return this.entries.slice(this.unstableFrom - this.snapIndex - 1);
  }

  /** The host persisted entries up to (index, term); ignored when the log has since changed there. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stableIndex) this.stableIndex = index;
  }

  /** Resets the log to a snapshot point: everything before is gone, nothing after is kept. */
  restore(index: number, term: number): void {
    this.snapIndex = index;
    this.snapTerm = term;
    this.entries = [];
    this.committed = index;
    this.applied = index;
    this.unstableFrom = index + 1;
    // The snapshot itself becomes stable when the Ready carrying it is advanced.
    this.stableIndex = Math.min(this.stableIndex, index);
  }

  /** Discards entries up to `index` (<= applied), remembering it as the new start. */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    assert(index <= this.applied, 'log: compact beyond applied');
    const term = this.term(index);
    assert(term !== undefined, 'log: compact index has no term');
    this.entries = this.entries.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = term;
  }
}

/** Throws on a broken invariant (a bug), in production too. */
export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`raft invariant: ${msg}`);
}
