/**
 * One node's simulated durable storage: the Raft log (snapshot point, entries, hard state) and
 * the state machine with its applied index. Only what a completed persist step wrote is here; a
 * crash loses everything else, which is how the simulator models unsynced writes.
 */
import type { ConfState, Entry, HardState, RaftPersistedState, SnapshotMeta } from '../raft/types.js';
import { KvStateMachine } from './kv.js';

export class SimStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: SnapshotMeta | null = null;
  /** Invariant: contiguous, and entries[0].index === snapshotIndex() + 1 when non-empty. */
  entries: Entry[] = [];
  /** The state machine is written in the same batch as its applied index (DESIGN.md, storage). */
  readonly kv = new KvStateMachine();

  snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  /** Term of the entry at `index`, or undefined when compacted away or absent. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snapshot?.term ?? 0;
    const entry = this.entries[index - this.snapshotIndex() - 1];
    return entry?.term;
  }

  /** Installs a snapshot: the whole log is replaced by the snapshot point (as etcd's ApplySnapshot). */
  applySnapshot(meta: SnapshotMeta): void {
    this.snapshot = { index: meta.index, term: meta.term, confState: copyConf(meta.confState) };
    this.entries = [];
  }

  /** Appends entries, first truncating any conflicting tail from entries[0].index on. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first <= this.snapshotIndex()) throw new Error(`storage: append at ${first} below snapshot ${this.snapshotIndex()}`);
    if (first > this.lastIndex() + 1) throw new Error(`storage: append at ${first} leaves a gap after ${this.lastIndex()}`);
    this.entries.length = first - this.snapshotIndex() - 1;
    for (const entry of entries) this.entries.push(entry);
  }

  /** Drops entries up to the compaction point (<= applied) and records the point. */
  compact(point: SnapshotMeta): void {
    if (point.index <= this.snapshotIndex()) return;
    const term = this.termAt(point.index);
    if (term !== point.term) throw new Error(`storage: compact to ${point.index}/${point.term} but the log has term ${term}`);
    this.entries = this.entries.slice(point.index - this.snapshotIndex());
    this.snapshot = { index: point.index, term: point.term, confState: copyConf(point.confState) };
  }

  /** What a restarting node hands to its new RawNode. */
  persistedState(): RaftPersistedState {
    return {
      hardState: { ...this.hardState },
      snapshot: this.snapshot === null ? null : { ...this.snapshot, confState: copyConf(this.snapshot.confState) },
      entries: this.entries.slice(),
    };
  }
}

export function copyConf(conf: ConfState): ConfState {
  return { voters: conf.voters.slice(), learners: conf.learners.slice() };
}
