// Proves the shared deadline queue behaves as one `timers.after` per deadline would: each
// deadline fires once its time has come and never before, cancelled ones never fire, deadlines
// added out of order still fire in time order, and one timer serves many deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle, Timers } from '../../src/env/env.js';
import { DeadlineQueue } from '../../src/env/deadlines.js';

/** A manual clock with `after` timers that fire when the clock is advanced past them. */
function fakeEnv(): { clock: Clock; timers: Timers; advance(ms: number): void; armed(): number; created(): number } {
  let now = 0;
  let created = 0;
  const pending = new Set<{ due: number; fn: () => void }>();
  const clock: Clock = { nowMs: () => now, monotonicMs: () => now };
  const timers: Timers = {
    after(ms, fn): TimerHandle {
      created++;
      const t = { due: now + ms, fn };
      pending.add(t);
      return { cancel: () => pending.delete(t) };
    },
    every: () => { throw new Error('unused'); },
    soon: (fn) => fn(),
  };
  return {
    clock, timers,
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const next = [...pending].filter((t) => t.due <= target).sort((a, b) => a.due - b.due)[0];
        if (!next) break;
        now = Math.max(now, next.due);
        pending.delete(next);
        next.fn();
      }
      now = target;
    },
    armed: () => pending.size,
    created: () => created,
  };
}

test('deadlines fire at their time, in order, and not before', () => {
  const env = fakeEnv();
  const q = new DeadlineQueue(env.clock, env.timers);
  const fired: string[] = [];
  q.after(100, () => fired.push('a'));
  q.after(50, () => fired.push('b')); // out of order: due before 'a'
  q.after(100, () => fired.push('c'));
  env.advance(49);
  assert.deepEqual(fired, []);
  env.advance(1);
  assert.deepEqual(fired, ['b']);
  env.advance(49);
  assert.deepEqual(fired, ['b']);
  env.advance(1);
  assert.deepEqual(fired, ['b', 'a', 'c']);
  assert.equal(q.size, 0);
  assert.equal(env.armed(), 0);
});

test('cancelled deadlines never fire, and many deadlines share one timer', () => {
  const env = fakeEnv();
  const q = new DeadlineQueue(env.clock, env.timers);
  let fired = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = q.after(1000, () => fired++);
    env.advance(0.01);
    d.cancel();
    d.cancel(); // idempotent
  }
  const late = q.after(1000, () => fired++);
  assert.equal(q.size, 1);
  assert.ok(env.created() <= 2, `timers created: ${env.created()}`);
  env.advance(2000);
  assert.equal(fired, 1);
  assert.equal(late.live, false);
});

test('a deadline added by a firing callback is served, and clear drops everything', () => {
  const env = fakeEnv();
  const q = new DeadlineQueue(env.clock, env.timers);
  const fired: number[] = [];
  q.after(10, () => {
    fired.push(1);
    q.after(5, () => fired.push(2));
  });
  q.after(30, () => fired.push(3));
  env.advance(15);
  assert.deepEqual(fired, [1, 2]);
  q.clear();
  assert.equal(env.armed(), 0);
  env.advance(100);
  assert.deepEqual(fired, [1, 2]);
  q.after(1, () => fired.push(4));
  env.advance(1);
  assert.deepEqual(fired, [1, 2, 4]);
});
