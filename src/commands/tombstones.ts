/**
 * The deletion records of one group, kept so that WATCH on an absent key can tell
 * "still absent, untouched" from "created and deleted again" (or "set and expired").
 *
 * A tombstone is written when a stored key is deleted: its revision is the deleting
 * entry's index, or the key's own last revision when the key had already expired
 * (expiry is the deletion, at the expiry instant, and the sweeper's later removal is
 * not a change). Writing the key again removes its tombstone (the live record
 * carries the revision). Tombstones are replicated state: every replica writes the
 * same ones in the same entries, they are in snapshots, and this in-memory mirror is
 * loaded from storage at start and after a snapshot install.
 *
 * Bounded: after any entry that leaves more than TOMBSTONES_MAX tombstones, the
 * oldest (by revision, then key bytes — the same choice on every replica) are pruned
 * down to TOMBSTONES_KEEP and the floor rises to the highest pruned revision. A key
 * with no tombstone is then taken as changed at the floor, so a pruned tombstone
 * makes EXEC abort rather than miss a change.
 */
import type { StateMachineBatch, Tombstones } from '../storage/types.js';
import type { GroupId } from '../raft/types.js';
import { keyId } from '../storage/key-layout.js';

export const TOMBSTONES_MAX = 4096;
export const TOMBSTONES_KEEP = 3072;

export class TombstoneIndex {
  floor = 0;
  private readonly revs = new Map<string, number>();

  get size(): number {
    return this.revs.size;
  }

  load(t: Tombstones): void {
    this.revs.clear();
    this.floor = t.floor;
    for (const [k, r] of t.keys) this.revs.set(Buffer.from(k).toString('latin1'), r);
  }

  get(key: string): number | undefined {
    return this.revs.get(key);
  }

  /** Records a deletion, in memory and in the batch. */
  put(batch: StateMachineBatch, groupId: GroupId, key: Buffer, revision: number): void {
    this.revs.set(key.toString('latin1'), revision);
    batch.putTombstone(groupId, key, revision);
  }

  /** Forgets the tombstone of a key written again. */
  drop(batch: StateMachineBatch, groupId: GroupId, key: Buffer, id = keyId(key)): void {
    if (this.revs.size > 0 && this.revs.delete(id)) batch.delTombstone(groupId, key);
  }

  /** Prunes the oldest tombstones when over the bound; call after every entry (deterministic). */
  maybePrune(batch: StateMachineBatch, groupId: GroupId): void {
    if (this.revs.size <= TOMBSTONES_MAX) return;
    const all = [...this.revs].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let floor = this.floor;
    for (const [k, r] of all.slice(0, all.length - TOMBSTONES_KEEP)) {
      this.revs.delete(k);
      batch.delTombstone(groupId, Buffer.from(k, 'latin1'));
      if (r > floor) floor = r;
    }
    if (floor !== this.floor) {
      this.floor = floor;
      batch.setTombstoneFloor(groupId, floor);
    }
  }
}
