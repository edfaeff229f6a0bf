/**
 * The log of one group as the log stores keep it: hard state, snapshot meta, the
 * compaction point and one item per entry. Both log stores share these rules; the
 * in-memory store keeps whole entries as items, the segmented file keeps where each
 * entry lies on disk.
 */
import type { HardState, SnapshotMeta } from '../raft/types.js';
import { assert } from './assert.js';

/** Anything that knows its term: an Entry, or the location of one. */
export interface TermItem {
  term: number;
}

export class GroupLog<T extends TermItem> {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: SnapshotMeta | null = null;
  /** Entries <= compactIndex are gone; compactTerm is the term of entry compactIndex. */
  compactIndex = 0;
  compactTerm = 0;
  // Invariant: items[head + k] is the entry at index compactIndex + 1 + k.
  private items: T[] = [];
  private head = 0;

  /** Called for every item that leaves the log (truncated, compacted or replaced). */
  constructor(private readonly onDrop: (item: T) => void = () => {}) {}

  get firstIndex(): number {
    return this.compactIndex + 1;
  }

  get lastIndex(): number {
    return this.compactIndex + this.items.length - this.head;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  at(index: number): T | undefined {
    if (index <= this.compactIndex || index > this.lastIndex) return undefined;
    return this.items[this.head + index - this.compactIndex - 1];
  }

  term(index: number): number | undefined {
    if (index === this.compactIndex) return this.compactTerm;
    return this.at(index)?.term;
  }

  /** Items with lo <= index < hi; the range must lie within [firstIndex, lastIndex + 1]. */
  slice(lo: number, hi: number): T[] {
    assert(lo >= this.firstIndex && hi <= this.lastIndex + 1 && lo <= hi,
      `log range [${lo}, ${hi}) outside [${this.firstIndex}, ${this.lastIndex + 1})`);
    const base = this.head - this.compactIndex - 1;
    return this.items.slice(base + lo, base + hi);
  }

  /** Installs snapshot meta (Raft paper §7): keep the entries after it only if the log agrees at its index. */
  applySnapshot(meta: SnapshotMeta, keep = this.snapshotKeepsLog(meta)): void {
    if (meta.index <= this.compactIndex) return;
    if (keep && meta.index <= this.lastIndex) {
      this.dropPrefix(meta.index);
    } else {
      this.truncateFrom(this.firstIndex);
      this.compactIndex = meta.index;
      this.items = [];
      this.head = 0;
    }
    this.compactTerm = meta.term;
    this.snapshot = meta;
  }

  /** True when installing `meta` keeps the entries after it (the log agrees at its index). */
  snapshotKeepsLog(meta: SnapshotMeta): boolean {
    return meta.index > this.compactIndex && this.term(meta.index) === meta.term;
  }

  /** Appends `items`, the first being at `firstIndex`, replacing anything from there on (§5.3). */
  append(firstIndex: number, items: T[]): void {
    let skip = 0;
    if (firstIndex <= this.compactIndex) skip = this.compactIndex + 1 - firstIndex;
    if (skip >= items.length) return;
    const from = firstIndex + skip;
    assert(from <= this.lastIndex + 1, `append at ${from} leaves a gap after ${this.lastIndex}`);
    this.truncateFrom(from);
    for (let k = skip; k < items.length; k++) this.items.push(items[k]);
  }

  /** Drops entries <= index (log truncation after a snapshot). */
  compact(index: number, knownTerm?: number): void {
    if (index <= this.compactIndex) return;
    assert(index <= this.lastIndex, `compact to ${index} beyond last index ${this.lastIndex}`);
    const term = knownTerm ?? this.term(index);
    assert(term !== undefined, 'compact: term of the compaction point is known');
    this.dropPrefix(index);
    this.compactTerm = term;
  }

  /**
   * Sets bounds from a checkpoint: compaction point and last index (used by the
   * segmented log at replay). Entries the replay has not seen (their segment was
   * deleted because later records drop them) are filled with `placeholder`.
   */
  restoreBounds(compactIndex: number, compactTerm: number, lastIndex: number, placeholder: T): void {
    if (compactIndex > this.compactIndex) {
      if (compactIndex <= this.lastIndex) this.dropPrefix(compactIndex);
      else {
        this.truncateFrom(this.firstIndex);
        this.items = [];
        this.head = 0;
        this.compactIndex = compactIndex;
      }
    }
    this.compactTerm = compactTerm;
    if (lastIndex < this.lastIndex) this.truncateFrom(lastIndex + 1);
    while (this.lastIndex < lastIndex) this.items.push(placeholder);
    assert(this.lastIndex === lastIndex, `replay: log of group ends at ${this.lastIndex}, checkpoint says ${lastIndex}`);
  }

  /** The first index whose item satisfies `pred`, or undefined. */
  find(pred: (item: T) => boolean): number | undefined {
    for (let k = this.head; k < this.items.length; k++) {
      if (pred(this.items[k])) return this.compactIndex + 1 + k - this.head;
    }
    return undefined;
  }

  /** An independent copy (items are shared: they are never mutated). */
  clone(onDrop: (item: T) => void = () => {}): GroupLog<T> {
    const copy = new GroupLog<T>(onDrop);
    copy.hardState = { ...this.hardState };
    copy.snapshot = this.snapshot;
    copy.compactIndex = this.compactIndex;
    copy.compactTerm = this.compactTerm;
    copy.items = this.items.slice(this.head);
    return copy;
  }

  private truncateFrom(index: number): void {
    const keep = this.head + Math.max(0, index - this.compactIndex - 1);
    for (let k = keep; k < this.items.length; k++) this.onDrop(this.items[k]);
    this.items.length = keep;
  }

  private dropPrefix(index: number): void {
    const n = index - this.compactIndex;
    const end = Math.min(this.head + n, this.items.length);
    for (let k = this.head; k < end; k++) this.onDrop(this.items[k]);
    this.head = end;
    this.compactIndex = index;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
