// Proves that whole raftis nodes (Host, KvStateMachine, Router, Dispatcher over in-memory
// storage and a faulty simulated network) stay safe and live under one seed: the regression
// seeds and a short sweep pass every check (election and state-machine safety, bounded replies,
// liveness and agreement after healing, linearizable histories), one seed replays to the same
// history hash, and the counter checker accepts and rejects the histories it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultNodeSimOptions, runNodeSim, type NodeSimOptions } from '../../src/sim/node/run.js';
import { checkCounterKey, type CounterOp } from '../../src/sim/node/counter-check.js';

function options(seed: number, overrides: Partial<NodeSimOptions> = {}): NodeSimOptions {
  return { ...defaultNodeSimOptions, seed, trace: null, ...overrides };
}

/** Parses `seed [--flag value ...]  # comment` lines of node-seeds.txt. */
function regressionSeeds(): Array<{ line: string; options: NodeSimOptions }> {
  const out: Array<{ line: string; options: NodeSimOptions }> = [];
  for (const raw of readFileSync('test/sim/node-seeds.txt', 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [seedText, ...flags] = line.split(/\s+/);
    const overrides: Partial<NodeSimOptions> = {};
    for (let i = 0; i < flags.length; i++) {
      const value = Number(flags[i + 1]);
      switch (flags[i]) {
        case '--nodes': overrides.nodes = value; i++; break;
        case '--groups': overrides.groups = value; i++; break;
        case '--duration': overrides.durationMs = value; i++; break;
        case '--clients': overrides.clients = value; i++; break;
        case '--counters': overrides.counterKeys = value; i++; break;
        case '--drift': overrides.driftPct = value; i++; break;
        case '--no-crashes': overrides.crashes = false; break;
        default: throw new Error(`node-seeds.txt: unknown flag ${flags[i]} in "${line}"`);
      }
    }
    out.push({ line, options: options(Number(seedText), overrides) });
  }
  return out;
}

test('regression seeds pass', async () => {
  const seeds = regressionSeeds();
  assert.ok(seeds.length > 0);
  for (const { line, options: o } of seeds) {
    const result = await runNodeSim(o);
    assert.ok(result.ok, `node-seeds.txt "${line}": ${result.params}\n${result.summary}\n${result.failure}`);
  }
});

test('a short sweep of fresh seeds passes', async () => {
  for (let seed = 5000; seed < 5008; seed++) {
    const result = await runNodeSim(options(seed));
    assert.ok(result.ok, `${result.params}\n${result.summary}\n${result.failure}`);
    assert.ok(result.history.stats.writesOk > 0 && result.history.stats.readsOk > 0, `seed ${seed}: no client operation completed`);
  }
});

test('one seed replays to exactly the same run', async () => {
  const a = await runNodeSim(options(4242));
  const b = await runNodeSim(options(4242));
  assert.ok(a.ok, a.failure ?? '');
  assert.equal(a.summary, b.summary);
  assert.deepEqual(a.history.lines, b.history.lines);
  assert.equal(a.hash, b.hash);
});

const op = (kind: CounterOp['kind'], value: number | null, invokeMs: number, completeMs: number): CounterOp =>
  ({ key: 'k', kind, value, invokeMs, completeMs });

test('counter checker: accepts valid counter histories', () => {
  // Concurrent INCRs may take effect in either order; a timed-out INCR may explain a gap.
  assert.equal(checkCounterKey([op('incr', 2, 0, 10), op('incr', 1, 1, 9), op('read', 2, 11, 12)], 10_000), 'ok');
  assert.equal(checkCounterKey([op('incr', 1, 0, 1), op('incr', null, 2, Infinity), op('incr', 3, 5, 6)], 10_000), 'ok');
  // A timed-out INCR may also never have happened.
  assert.equal(checkCounterKey([op('incr', null, 0, Infinity), op('incr', 1, 5, 6), op('read', 1, 7, 8)], 10_000), 'ok');
  assert.equal(checkCounterKey([op('incr', 1, 0, 1), op('del', 1, 2, 3), op('read', 0, 4, 5), op('incr', 1, 6, 7)], 10_000), 'ok');
});

test('counter checker: rejects an INCR applied twice, a stale read and a lost DEL', () => {
  // 1, then 3 with no other INCR in flight: one INCR took effect twice.
  assert.equal(checkCounterKey([op('incr', 1, 0, 1), op('incr', 3, 2, 3)], 10_000), 'violation');
  // A read after an acknowledged INCR returns the old value.
  assert.equal(checkCounterKey([op('incr', 1, 0, 1), op('incr', 2, 2, 3), op('read', 1, 4, 5)], 10_000), 'violation');
  // DEL said the key existed, yet a later INCR continued the old count.
  assert.equal(checkCounterKey([op('incr', 1, 0, 1), op('del', 1, 2, 3), op('incr', 2, 4, 5)], 10_000), 'violation');
});
