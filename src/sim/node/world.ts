/**
 * The virtual world of the whole-node simulator: one seeded event queue that every node's
 * clock, timers and `soon` callbacks, the network and the clients share. Nodes run real
 * Promise-based code (Host, Router, stores), so after each event the loop lets the microtask
 * queue drain before the next event: everything a callback sets off at one virtual instant
 * happens at that instant, in the same order on every run of a seed.
 */
import type { Clock, Env, EnvLogger, TimerHandle, Timers } from '../../env/env.js';
import type { SeededRandom } from '../../env/random.js';
import { EventQueue } from '../event-queue.js';

/** Thrown (or recorded) when the run breaks a promise of the system or of the harness. */
export class NodeSimFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeSimFailure';
  }
}

/** Lets the microtask queue run dry: setImmediate callbacks run only after it is empty. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class SimWorld {
  readonly queue = new EventQueue();
  nowMs = 0;
  events = 0;
  /** The first failure seen; the run stops at the next event boundary. */
  failure: string | null = null;
  /** How often each info/warn message was logged by any node (e.g. 'sent snapshot'). */
  readonly logCounts = new Map<string, number>();
  /** Called on every info line a node logs (the fault injector strikes at chosen moments). */
  onInfo: (msg: string, fields: Record<string, unknown>) => void = () => {};

  constructor(readonly eventsMax: number, private readonly traceSink: ((line: string) => void) | null) {}

  /** Schedules `fn` at virtual time `timeMs` (never in the past). */
  at(timeMs: number, fn: () => void): void {
    this.queue.push(Math.max(timeMs, this.nowMs), fn);
  }

  after(delayMs: number, fn: () => void): void {
    this.at(this.nowMs + Math.max(0, delayMs), fn);
  }

  fail(message: string): void {
    if (this.failure === null) this.failure = `${message} (t=${this.nowMs.toFixed(2)}ms, event ${this.events})`;
  }

  get tracing(): boolean {
    return this.traceSink !== null;
  }

  trace(line: string): void {
    this.traceSink?.(`${this.nowMs.toFixed(2).padStart(10)} ${line}`);
  }

  /**
   * Runs events up to virtual time `untilMs`, or until `done()` holds (checked after each event)
   * or a failure is recorded. A marker event at `untilMs` ends the run without disturbing the
   * order of events at equal times. Returns true if `done()` held.
   */
  async runUntil(untilMs: number, done: () => boolean = () => false): Promise<boolean> {
    let reached = false;
    this.at(untilMs, () => {
      reached = true;
    });
    for (;;) {
      if (this.failure !== null) return false;
      if (done()) return true;
      if (reached) return false;
      const event = this.queue.pop();
      if (event === undefined) return false;
      this.nowMs = event.timeMs;
      if (++this.events > this.eventsMax) {
        this.fail(`event budget of ${this.eventsMax} exhausted`);
        return false;
      }
      try {
        event.run();
      } catch (err) {
        this.fail(`uncaught error in an event: ${errorText(err)}`);
        return false;
      }
      await drainMicrotasks();
    }
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** One life of a node process: its timers, `soon` callbacks and sockets die with it. */
export class Incarnation {
  alive = true;
  constructor(readonly nodeId: number, readonly number: number) {}
}

/** A node's clock: rate within the drift bound, wall-clock offset, both fixed per seed. */
export interface NodeClockParams {
  /** Node seconds per virtual second, e.g. 1.03. */
  rate: number;
  /** Added to the node's wall clock (ms). */
  wallOffsetMs: number;
  /** Most extra lateness of an `after` timer (ms of virtual time). */
  timerJitterMs: number;
}

/** The wall clock every node's offset applies to: 2026-01-01T00:00:00Z. */
const WALL_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * The Env of one node incarnation: its clock runs at `rate` with an offset, its timers are
 * events on the shared queue that do nothing once the incarnation has died.
 */
export function createNodeEnv(
  world: SimWorld,
  inc: Incarnation,
  clockParams: NodeClockParams,
  random: SeededRandom,
  logger: EnvLogger,
): Env {
  const { rate, wallOffsetMs, timerJitterMs } = clockParams;
  const jitter = random.fork('timer-jitter');
  const clock: Clock = {
    nowMs: () => WALL_EPOCH_MS + wallOffsetMs + world.nowMs * rate,
    monotonicMs: () => world.nowMs * rate,
  };
  const timers: Timers = {
    after(ms: number, fn: () => void): TimerHandle {
      let cancelled = false;
      const lateMs = timerJitterMs > 0 ? jitter.next() * timerJitterMs : 0;
      world.after(ms / rate + lateMs, () => {
        if (!cancelled && inc.alive) fn();
      });
      return { cancel: () => { cancelled = true; } };
    },
    every(ms: number, fn: () => void): TimerHandle {
      let cancelled = false;
      const periodMs = ms / rate;
      const fire = (): void => {
        if (cancelled || !inc.alive) return;
        world.after(periodMs, fire);
        fn();
      };
      world.after(periodMs, fire);
      return { cancel: () => { cancelled = true; } };
    },
    soon(fn: () => void): void {
      world.after(0, () => {
        if (inc.alive) fn();
      });
    },
  };
  return { clock, timers, random, logger };
}

/**
 * The logger handed to a simulated node: silent, except that errors fail the run (a host
 * that logs an error has stopped keeping its promises) and, when tracing, info and warn
 * lines are printed with the virtual time.
 */
export function createSimLogger(world: SimWorld, bindings: Record<string, unknown>): EnvLogger {
  const fields = (obj: object): string => {
    const all = { ...bindings, ...obj };
    return Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
  };
  return {
    debug() {},
    info(obj: object, msg: string) {
      world.logCounts.set(msg, (world.logCounts.get(msg) ?? 0) + 1);
      world.onInfo(msg, { ...bindings, ...obj });
      if (world.tracing) world.trace(`${msg} ${fields(obj)}`);
    },
    warn(obj: object, msg: string) {
      world.logCounts.set(msg, (world.logCounts.get(msg) ?? 0) + 1);
      if (world.tracing) world.trace(`WARN ${msg} ${fields(obj)}`);
    },
    error(obj: object, msg: string) {
      world.trace(`ERROR ${msg} ${fields(obj)}`);
      world.fail(`node logged an error: ${msg} ${fields(obj)}`);
    },
    child(more: Record<string, unknown>): EnvLogger {
      return createSimLogger(world, { ...bindings, ...more });
    },
  };
}
