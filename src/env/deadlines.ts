import type { Clock, TimerHandle, Timers } from './env.js';

/** One deadline in a DeadlineQueue; `cancel` is idempotent and O(1). */
export class Deadline implements TimerHandle {
  /** False once fired or cancelled. */
  live = true;
  constructor(
    readonly dueMs: number,
    readonly fire: () => void,
    private readonly queue: DeadlineQueue,
  ) {}

  cancel(): void {
    if (!this.live) return;
    this.live = false;
    this.queue.dropDeadHead();
  }
}

/**
 * Many deadlines on one Env timer (docs/decisions.md, "Entry node CPU"): request timeouts are
 * nearly always cancelled long before they fall due, and one `setTimeout`/`clearTimeout` pair per
 * request cost the entry node several percent of its CPU. Deadlines are kept sorted by due time
 * (requests of one kind share one timeout, so an insert is nearly always an append); a single
 * timer is armed for the earliest live one and, when it fires, fires every deadline that is due
 * by the clock and re-arms for the next. Cancelling only marks the entry (and drops dead entries
 * from the front), so in steady state the timer fires about once per timeout period.
 * Precision is that of the clock: a deadline fires when the timer for it (or an earlier one)
 * fires and the clock says it is due, exactly as `timers.after` would.
 */
export class DeadlineQueue {
  private items: Deadline[] = [];
  private head = 0;
  private timer: TimerHandle | null = null;
  private timerDueMs = Infinity;

  constructor(private readonly clock: Clock, private readonly timers: Timers) {}

  /** Calls `fire` once `ms` have passed on the monotonic clock, unless cancelled first. */
  after(ms: number, fire: () => void): Deadline {
    return this.at(this.clock.monotonicMs() + ms, fire);
  }

  /** Calls `fire` once the monotonic clock reaches `dueMs`, unless cancelled first. */
  at(dueMs: number, fire: () => void): Deadline {
    const d = new Deadline(dueMs, fire, this);
    const items = this.items;
    let i = items.length;
    while (i > this.head && items[i - 1]!.dueMs > dueMs) i--;
    if (i === items.length) items.push(d);
    else items.splice(i, 0, d);
    if (dueMs < this.timerDueMs) this.arm(dueMs);
    return d;
  }

  /** Live deadlines (for tests). */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.live) n++;
    return n;
  }

  /** Drops every deadline (they never fire) and cancels the timer; later deadlines re-arm it. */
  clear(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerDueMs = Infinity;
    this.items = [];
    this.head = 0;
  }

  /** @internal Drops cancelled entries at the front so they can be collected young. */
  dropDeadHead(): void {
    const items = this.items;
    let h = this.head;
    while (h < items.length && !items[h]!.live) h++;
    if (h === items.length) {
      this.items = [];
      this.head = 0;
    } else {
      this.head = h;
      if (h > 1024 && h * 2 > items.length) {
        this.items = items.slice(h);
        this.head = 0;
      }
    }
  }

  private arm(dueMs: number): void {
    this.timer?.cancel();
    this.timerDueMs = dueMs;
    this.timer = this.timers.after(Math.max(0, dueMs - this.clock.monotonicMs()), () => this.sweep());
  }

  private sweep(): void {
    this.timer = null;
    this.timerDueMs = Infinity;
    const now = this.clock.monotonicMs();
    while (this.head < this.items.length) {
      const d = this.items[this.head]!;
      if (d.live && d.dueMs > now) break;
      this.head++;
      if (!d.live) continue;
      d.live = false;
      d.fire();
    }
    this.dropDeadHead();
    // A deadline added by a fired callback may have armed the timer for a later time than the head.
    if (this.head < this.items.length && this.items[this.head]!.dueMs < this.timerDueMs) this.arm(this.items[this.head]!.dueMs);
  }
}
