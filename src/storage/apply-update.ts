/** The order in which one LogUpdate changes a group's log, shared by both log stores. */
import type { Entry } from '../raft/types.js';
import type { LogUpdate } from './types.js';
import type { GroupLog, TermItem } from './group-log.js';
import { assert } from './assert.js';

/** Applies snapshot, then entries, then hard state, then compaction (the order of types.ts Ready). */
export function applyUpdate<T extends TermItem>(log: GroupLog<T>, update: LogUpdate, items: (entries: Entry[]) => T[]): void {
  if (update.snapshot) log.applySnapshot(update.snapshot);
  const entries = update.entries;
  if (entries && entries.length > 0) {
    for (let k = 1; k < entries.length; k++) {
      assert(entries[k].index === entries[0].index + k, 'log update: entries must be contiguous');
    }
    log.append(entries[0].index, items(entries));
  }
  if (update.hardState) log.hardState = { ...update.hardState };
  if (update.compactTo !== undefined) log.compact(update.compactTo);
}
