// Proves the simulator runs the real Raft core safely: every regression seed in seeds.txt and a
// short sweep of fresh seeds pass all invariants, the liveness check and the linearizability
// check, and one seed replays to exactly the same run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RawNode } from '../../src/raft/raw-node.js';
import { defaultSimOptions, runSimulation, type SimOptions } from '../../src/sim/run.js';

function options(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return { ...defaultSimOptions, seed, createRawNode: (config) => new RawNode(config), trace: null, ...overrides };
}

/** Parses `seed [--flag value ...]` lines (the CLI's run-shaping flags). */
function regressionSeeds(): Array<{ line: string; options: SimOptions }> {
  const text = readFileSync('test/sim/seeds.txt', 'utf8');
  const out: Array<{ line: string; options: SimOptions }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [seedText, ...flags] = line.split(/\s+/);
    const overrides: Partial<SimOptions> = {};
    for (let i = 0; i < flags.length; i += 2) {
      const value = Number(flags[i + 1]);
      switch (flags[i]) {
        case '--nodes': overrides.nodes = value; break;
        case '--duration': overrides.durationMs = value; break;
        case '--clients': overrides.clients = value; break;
        case '--keys': overrides.keys = value; break;
        default: throw new Error(`seeds.txt: unknown flag ${flags[i]} in "${line}"`);
      }
    }
    out.push({ line, options: options(Number(seedText), overrides) });
  }
  return out;
}

test('regression seeds pass', () => {
  const seeds = regressionSeeds();
  assert.ok(seeds.length > 0);
  for (const { line, options: o } of seeds) {
    const result = runSimulation(o);
    assert.ok(result.ok, `seeds.txt "${line}": ${result.params}\n${result.failure}`);
  }
});

test('a short sweep of fresh seeds passes', () => {
  for (let seed = 1000; seed < 1200; seed++) {
    const result = runSimulation(options(seed));
    assert.ok(result.ok, `${result.params}\n${result.summary}\n${result.failure}`);
    assert.ok(result.history.length > 0, `seed ${seed}: no client operation completed`);
  }
});

test('one seed replays to exactly the same run', () => {
  const a = runSimulation(options(4242));
  const b = runSimulation(options(4242));
  assert.equal(a.summary, b.summary);
  assert.deepEqual(a.history, b.history);
});
