import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Clock, Env, EnvLogger, Timers } from './env.js';
import { SeededRandom } from './random.js';

/** The production clock: the only place that reads real time. */
export const realClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

/** The production timers: the only place that schedules real callbacks. */
export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return { cancel: () => clearInterval(t) };
  },
  soon(fn) {
    setImmediate(fn);
  },
};

/** A production Env; the seed comes from real randomness unless given. */
export function createRealEnv(logger: EnvLogger, seed?: number): Env {
  return {
    clock: realClock,
    timers: realTimers,
    random: new SeededRandom(seed ?? randomInt(0, 2 ** 32 - 1)),
    logger,
  };
}

/**
 * Test-only control of a node's clock (docs/fault-injection.md): a forward jump advances the
 * wall and monotonic clocks at once and fires every `after` timer that falls due within the
 * jump; `every` timers keep their rhythm, as a late setInterval does, and their users that
 * count elapsed time (the host's ticks) catch up from the monotonic clock. A backward jump
 * moves only the wall clock, since the monotonic clock never goes back. Exists only in an Env
 * made by `createFaultableRealEnv`.
 */
export interface ClockControl {
  /** Jumps the clock by `ms` (positive: forward). */
  jump(ms: number): void;
  /** The total wall-clock offset from real time, in ms. */
  wallOffsetMs(): number;
}

/** A real Env whose clock tests can jump (RAFTIS_FAULT_INJECTION=1 only; see src/fault/). */
export function createFaultableRealEnv(logger: EnvLogger, seed?: number): { env: Env; clock: ClockControl } {
  let wallOffsetMs = 0;
  let monoOffsetMs = 0;
  const clock: Clock = {
    nowMs: () => Date.now() + wallOffsetMs,
    monotonicMs: () => performance.now() + monoOffsetMs,
  };
  const pendingAfter = new Set<{ dueMs: number; fire: () => void }>();
  const timers: Timers = {
    after(ms, fn) {
      let fired = false;
      const entry = {
        dueMs: clock.monotonicMs() + ms,
        fire: () => {
          if (fired) return;
          fired = true;
          pendingAfter.delete(entry);
          clearTimeout(t);
          fn();
        },
      };
      const t = setTimeout(entry.fire, ms);
      pendingAfter.add(entry);
      return { cancel: () => { fired = true; clearTimeout(t); pendingAfter.delete(entry); } };
    },
    every: realTimers.every,
    soon: realTimers.soon,
  };
  const control: ClockControl = {
    jump(ms) {
      wallOffsetMs += ms;
      if (ms <= 0) return;
      monoOffsetMs += ms;
      const now = clock.monotonicMs();
      for (const entry of [...pendingAfter]) if (entry.dueMs <= now) setImmediate(entry.fire);
    },
    wallOffsetMs: () => wallOffsetMs,
  };
  return {
    env: { clock, timers, random: new SeededRandom(seed ?? randomInt(0, 2 ** 32 - 1)), logger },
    clock: control,
  };
}
