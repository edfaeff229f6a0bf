/**
 * The log store of the simulator: same interface and rules as the segmented file,
 * kept in memory. It keeps two images: what the process sees, and what a disk would
 * still hold after a crash (everything up to the last completed sync write).
 */
import type { Entry, GroupId, HardState, RaftPersistedState, SnapshotMeta } from '../raft/types.js';
import type { LogStore, LogStoreStats, LogUpdate, LogWriteOptions } from './types.js';
import { GroupLog } from './group-log.js';
import { applyUpdate, checkWrite } from './apply-update.js';

function copyEntries(entries: Entry[]): Entry[] {
  return entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: Uint8Array.from(e.data) }));
}

function copyUpdate(update: LogUpdate): LogUpdate {
  return { ...update, entries: update.entries ? copyEntries(update.entries) : undefined };
}

export interface MemoryLogStoreOptions {
  /** How long a write takes; resolves when the write completes. Default: the next microtask. */
  delay?: () => Promise<void>;
}

export class MemoryLogStore implements LogStore {
  private visible = new Map<GroupId, GroupLog<Entry>>();
  private durable = new Map<GroupId, GroupLog<Entry>>();
  /** Writes since the last completed sync write, in order; lost on crash. */
  private unsynced: LogUpdate[][] = [];
  private epoch = 0;
  private tail: Promise<void> = Promise.resolve();
  private counters: LogStoreStats = { fsyncs: 0, dirSyncs: 0, writes: 0, bytesWritten: 0 };

  constructor(private readonly options: MemoryLogStoreOptions = {}) {}

  async open(): Promise<void> {}

  async close(): Promise<void> {
    await this.tail;
  }

  groups(): GroupId[] {
    return [...this.visible.keys()].sort((a, b) => a - b);
  }

  load(groupId: GroupId): RaftPersistedState {
    const log = this.visible.get(groupId);
    if (!log) return { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
    return { hardState: { ...log.hardState }, snapshot: log.snapshot, entries: log.slice(log.firstIndex, log.lastIndex + 1) };
  }

  entries(groupId: GroupId, lo: number, hi: number): Entry[] {
    return this.log(groupId).slice(lo, hi);
  }

  term(groupId: GroupId, index: number): number | undefined {
    return this.log(groupId).term(index);
  }

  firstIndex(groupId: GroupId): number {
    return this.log(groupId).firstIndex;
  }

  lastIndex(groupId: GroupId): number {
    return this.log(groupId).lastIndex;
  }

  hardState(groupId: GroupId): HardState {
    return { ...this.log(groupId).hardState };
  }

  snapshotMeta(groupId: GroupId): SnapshotMeta | null {
    return this.log(groupId).snapshot;
  }

  write(updates: LogUpdate[], opts: LogWriteOptions): Promise<void> {
    const copies = updates.map(copyUpdate);
    const epoch = this.epoch;
    const run = this.tail.then(async () => {
      await (this.options.delay ? this.options.delay() : Promise.resolve());
      if (epoch !== this.epoch) return new Promise<void>(() => {}); // the process "died": never resolves
      checkWrite(copies, (groupId) => this.log(groupId));
      for (const u of copies) applyUpdate(this.logFor(this.visible, u.groupId), u, (e) => e);
      this.counters.writes++;
      this.unsynced.push(copies);
      if (opts.sync) {
        this.counters.fsyncs++;
        for (const batch of this.unsynced) {
          for (const u of batch) applyUpdate(this.logFor(this.durable, u.groupId), u, (e) => e);
        }
        this.unsynced = [];
      }
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /**
   * Simulates a crash: writes not covered by a completed sync write are lost, and
   * writes still in flight never complete. The store is usable again at once (as after open()).
   */
  crash(): void {
    this.epoch++;
    this.unsynced = [];
    this.tail = Promise.resolve();
    this.visible = new Map([...this.durable].map(([g, log]) => [g, log.clone()]));
  }

  stats(): LogStoreStats {
    return { ...this.counters };
  }

  private log(groupId: GroupId): GroupLog<Entry> {
    return this.visible.get(groupId) ?? new GroupLog<Entry>();
  }

  private logFor(map: Map<GroupId, GroupLog<Entry>>, groupId: GroupId): GroupLog<Entry> {
    let log = map.get(groupId);
    if (!log) {
      log = new GroupLog<Entry>();
      map.set(groupId, log);
    }
    return log;
  }
}
