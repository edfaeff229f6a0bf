import type { RaftLogger } from '../raft/types.js';
import type { SeededRandom } from './random.js';

/** Wall and monotonic time. Production reads the real clock; the simulator a virtual one. */
export interface Clock {
  /** Milliseconds since the Unix epoch (may jump; used only to stamp entries). */
  nowMs(): number;
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  monotonicMs(): number;
}

export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  after(ms: number, fn: () => void): TimerHandle;
  every(ms: number, fn: () => void): TimerHandle;
  /** Runs `fn` after the current turn of the event loop (setImmediate in production). */
  soon(fn: () => void): void;
}

/** The one seam through which the outside world reaches the node (DESIGN.md, rule 2). */
export interface Env {
  clock: Clock;
  timers: Timers;
  random: SeededRandom;
  logger: EnvLogger;
}

export interface EnvLogger extends RaftLogger {
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): EnvLogger;
}
