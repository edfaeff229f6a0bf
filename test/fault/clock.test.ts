// The test-only jumpable clock (createFaultableRealEnv): a forward jump advances both clocks
// and fires the timers that fall due within it (interval timers keep their rhythm; the host
// catches its ticks up from the monotonic clock); a backward jump moves only the wall clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFaultableRealEnv } from '../../src/env/real.js';
import type { EnvLogger } from '../../src/env/env.js';

const quiet: EnvLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as EnvLogger;
const turn = () => new Promise((r) => setImmediate(r));

test('a forward jump fires due timers; a backward one moves the wall clock only', async () => {
  const { env, clock } = createFaultableRealEnv(quiet, 1);
  let ticks = 0;
  let fired = 0;
  const every = env.timers.every(10_000, () => ticks++);
  env.timers.after(60_000, () => fired++);
  const notDue = env.timers.after(600_000, () => fired++);
  const wall = env.clock.nowMs();
  const mono = env.clock.monotonicMs();
  clock.jump(65_000);
  await turn();
  assert.equal(ticks, 0);
  assert.equal(fired, 1);
  assert.ok(env.clock.nowMs() - wall >= 65_000 && env.clock.monotonicMs() - mono >= 65_000);
  clock.jump(-30_000);
  await turn();
  assert.equal(clock.wallOffsetMs(), 35_000);
  assert.ok(env.clock.monotonicMs() - mono >= 65_000, 'the monotonic clock never goes back');
  every.cancel();
  notDue.cancel();
  clock.jump(1_000_000);
  await turn();
  assert.equal(ticks, 0);
  assert.equal(fired, 1);
});
