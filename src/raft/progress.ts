import { assert } from './log.js';

/**
 * A ring of App messages in flight to one follower (etcd's Inflights), bounded
 * by count and by entry bytes. Each element is the last index the message carried.
 */
export class Inflights {
  private readonly items: Array<{ index: number; bytes: number }> = [];
  bytes = 0;

  constructor(readonly maxMsgs: number, readonly maxBytes: number) {}

  get count(): number {
    return this.items.length;
  }

  add(index: number, bytes: number): void {
    assert(!this.full(), 'inflights: add while full');
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  full(): boolean {
    return this.items.length >= this.maxMsgs || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n].index <= index) {
      this.bytes -= this.items[n].bytes;
      n++;
    }
    this.items.splice(0, n);
  }

  freeFirstOne(): void {
    if (this.items.length > 0) this.freeLE(this.items[0].index);
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * The leader's view of one follower (etcd's Progress).
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an App was sent and we wait for its answer (or a heartbeat reply). */
  probeSent = false;
  /** Index of the snapshot in flight in snapshot state. */
  pendingSnapshot = 0;
  /** Leader tick when the snapshot in flight was sent. */
  snapshotSentTick = 0;
  recentActive = false;
  learner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, learner: boolean, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it.
    const after = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
    this.next = after;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** An acknowledgement up to `index` arrived. Returns false when it was stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the App with prevLogIndex `rejected` arrived, with the
   * follower's hint `matchHint`. Returns false when it was stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
