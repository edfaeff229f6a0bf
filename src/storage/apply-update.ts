/** The order in which one LogUpdate changes a group's log, shared by both log stores. */
import type { Entry } from '../raft/types.js';
import type { LogUpdate } from './types.js';
import type { GroupLog, TermItem } from './group-log.js';
import { assert } from './assert.js';

/**
 * Throws if `update` cannot apply to `log` (gap after the log, non-contiguous entries,
 * compaction past the end). Called before anything is written: a durable record that
 * cannot be replayed would keep the node from starting.
 */
export function checkUpdate<T extends TermItem>(log: GroupLog<T>, update: LogUpdate): void {
  let compactIndex = log.compactIndex;
  let lastIndex = log.lastIndex;
  if (update.snapshot && update.snapshot.index > compactIndex) {
    if (!log.snapshotKeepsLog(update.snapshot)) lastIndex = update.snapshot.index;
    compactIndex = update.snapshot.index;
  }
  const entries = update.entries;
  if (entries && entries.length > 0) {
    for (let k = 1; k < entries.length; k++) {
      assert(entries[k].index === entries[0].index + k, `log update of group ${update.groupId}: entries must be contiguous`);
    }
    const from = Math.max(entries[0].index, compactIndex + 1);
    const to = entries[entries.length - 1].index;
    if (from <= to) {
      assert(from <= lastIndex + 1, `log update of group ${update.groupId}: append at ${from} leaves a gap after ${lastIndex}`);
      lastIndex = to;
    }
  }
  if (update.compactTo !== undefined && update.compactTo > compactIndex) {
    assert(update.compactTo <= lastIndex, `log update of group ${update.groupId}: compact to ${update.compactTo} beyond last index ${lastIndex}`);
  }
}

/** Applies snapshot, then entries, then hard state, then compaction (the order of types.ts Ready). */
export function applyUpdate<T extends TermItem>(log: GroupLog<T>, update: LogUpdate, items: (entries: Entry[]) => T[]): void {
  if (update.snapshot) log.applySnapshot(update.snapshot);
  const entries = update.entries;
  if (entries && entries.length > 0) log.append(entries[0].index, items(entries));
  if (update.hardState) log.hardState = { ...update.hardState };
  if (update.compactTo !== undefined) log.compact(update.compactTo);
}

/** Checks one write: each group at most once, and every update applicable. */
export function checkWrite<T extends TermItem>(updates: LogUpdate[], logOf: (groupId: number) => GroupLog<T>): void {
  const seen = new Set<number>();
  for (const u of updates) {
    assert(!seen.has(u.groupId), `log write: group ${u.groupId} appears once per write`);
    seen.add(u.groupId);
    checkUpdate(logOf(u.groupId), u);
  }
}
