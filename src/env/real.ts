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
