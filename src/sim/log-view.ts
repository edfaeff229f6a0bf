/**
 * A node's log as the core has handed it out in Readys (persisted or not): what the invariant
 * checks compare. It is rebuilt from storage when the node restarts.
 */
import type { Entry, SnapshotMeta } from '../raft/types.js';

export class LogView {
  snapshotIndex = 0;
  snapshotTerm = 0;
  entries: Entry[] = [];

  static fromStorage(snapshot: SnapshotMeta | null, entries: readonly Entry[]): LogView {
    const view = new LogView();
    view.snapshotIndex = snapshot?.index ?? 0;
    view.snapshotTerm = snapshot?.term ?? 0;
    view.entries = entries.slice();
    return view;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1];
  }

  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entryAt(index)?.term;
  }

  installSnapshot(meta: SnapshotMeta): void {
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    this.entries = [];
  }

  /** Appends one entry (after truncating the tail at its index); returns the previous entry's term if known. */
  append(entry: Entry): number | undefined {
    if (entry.index <= this.snapshotIndex) throw new Error(`log: entry ${entry.index} at or below snapshot ${this.snapshotIndex}`);
    if (entry.index > this.lastIndex() + 1) throw new Error(`log: entry ${entry.index} leaves a gap after ${this.lastIndex()}`);
    this.entries.length = entry.index - this.snapshotIndex - 1;
    const prevTerm = this.termAt(entry.index - 1);
    this.entries.push(entry);
    return prevTerm;
  }

  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    const term = this.termAt(index);
    if (term === undefined) return;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }
}
