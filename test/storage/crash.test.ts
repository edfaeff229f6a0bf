// Proves crash safety under kill -9: child processes doing heavy log writes, state-machine
// applies or a snapshot install are killed with SIGKILL at random moments; on reopen
// every write reported synced (or flushed) is there, and no batch or install is partly
// visible (each group matches the deterministic plan replayed to one batch number).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SeededRandom } from '../../src/env/random.js';
import { SegmentedLogStore } from '../../src/storage/segmented-log-store.js';
import { LevelStateMachineStore } from '../../src/storage/level-state-machine-store.js';
import { ValueType, type StateMachineStore } from '../../src/storage/types.js';
import { LOG_GROUPS, LogModel, entryData } from './fixtures/crash-plan.js';
import { applyPlan } from './fixtures/apply-plan.js';
import { collect, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.js', import.meta.url));
const rng = new SeededRandom(Number(process.env.CRASH_SEED ?? 20261121));

/** Runs the child until it prints `start`, lets it work for `workMs`, then kills it with SIGKILL. */
function runAndKill(args: string[], start: string, workMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffered += text;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line === start) setTimeout(() => child.kill('SIGKILL'), workMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(lines);
      else reject(new Error(`crash child exited by itself (code ${code}); output: ${lines.slice(-5).join(' | ')}`));
    });
  });
}

function lastNumber(lines: string[], prefix: string): number {
  let n = 0;
  for (const line of lines) if (line.startsWith(prefix)) n = Number(line.slice(prefix.length));
  return n;
}

test('log store under kill -9: every synced batch survives, no batch is partly visible', async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = tempDir(`crash-log-${round}`);
    try {
      const workMs = rng.int(100, 900);
      const lines = await runAndKill(['log', dir.path], 'ready', workMs);
      const acked = lastNumber(lines, 'synced ');
      const store = new SegmentedLogStore(dir.path, { segmentBytes: 256 * 1024 });
      await store.open();
      // The batch number the store reached: every touched group's commit is the last batch that touched it.
      let reached = 0;
      for (const g of store.groups()) reached = Math.max(reached, store.hardState(g).commit);
      assert.ok(reached >= acked, `round ${round}: reached batch ${reached}, acknowledged ${acked}`);
      const model = new LogModel();
      for (let n = 1; n <= reached; n++) model.step(n);
      for (let g = 1; g <= LOG_GROUPS; g++) {
        const last = model.last.get(g) ?? 0;
        assert.equal(store.lastIndex(g), last, `round ${round}, group ${g}: last index at batch ${reached}`);
        assert.equal(store.hardState(g).commit, model.commit.get(g) ?? 0, `round ${round}, group ${g}: hard state`);
        const first = model.first.get(g) ?? 1;
        assert.equal(store.firstIndex(g), first, `round ${round}, group ${g}: first index`);
        const entries = store.entries(g, first, last + 1);
        for (const e of entries) {
          assert.deepEqual(Buffer.from(e.data), entryData(model.batchOf.get(g)!.get(e.index)!, g, e.index), `round ${round}, group ${g}, entry ${e.index}`);
        }
      }
      // The recovered log takes new writes.
      await store.write(model.step(reached + 1), { sync: true });
      await store.close();
      t.diagnostic(`round ${round}: killed after ${workMs} ms, ${acked} batches acknowledged, ${reached} recovered`);
    } finally {
      dir.cleanup();
    }
  }
});

async function contents(store: StateMachineStore, groupId: number): Promise<string[]> {
  const out = [`applied=${store.applied(groupId)}`];
  for await (const [k, v] of store.scan(groupId)) out.push(`${Buffer.from(k)}=${Buffer.from(v.value)}@${v.revision}`);
  return out;
}

test('state machine under kill -9 with write-back: applied index and data always match, nothing flushed is lost', async (t) => {
  const dir = tempDir('crash-apply');
  try {
    for (let round = 0; round < 3; round++) {
      const workMs = rng.int(100, 700);
      const lines = await runAndKill(['apply', dir.path], 'ready', workMs);
      const acked = lastNumber(lines, 'applied ');
      const store = new LevelStateMachineStore(dir.path);
      await store.open();
      const applied = store.applied(1);
      assert.ok(applied >= acked, `round ${round}: applied ${applied}, acknowledged ${acked}`);
      const expected = new Map<string, string>();
      for (let n = 1; n <= applied; n++) {
        for (const [key, value] of applyPlan(n)) {
          if (value === undefined) expected.delete(key);
          else expected.set(key, `${value}@${n}`);
        }
      }
      const want = [`applied=${applied}`, ...[...expected].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`)];
      assert.deepEqual(await contents(store, 1), want, `round ${round}: state is exactly batches 1..${applied}`);
      await store.close();
      t.diagnostic(`round ${round}: killed after ${workMs} ms, ${acked} acknowledged, applied ${applied}`);
    }
  } finally {
    dir.cleanup();
  }
});

async function fill(store: StateMachineStore, keys: number, tag: string, applied: number): Promise<void> {
  for (let k = 0; k < keys; k += 1000) {
    const batch = store.batch();
    for (let j = k; j < Math.min(keys, k + 1000); j++) {
      batch.put(1, Buffer.from(`key:${j}`), { type: ValueType.String, value: Buffer.from(`${tag}:${j}:${'x'.repeat(j % 150)}`), expireAtMs: 0, revision: applied });
    }
    await batch.setApplied(1, applied).write();
  }
}

test('snapshot install under kill -9: the group holds the old state or the new one, never a mix', async (t) => {
  const source = tempDir('crash-install-src');
  let image = '';
  let fresh: string[] = [];
  try {
    const src = new LevelStateMachineStore(source.path);
    await src.open();
    await fill(src, 8000, 'new', 500);
    fresh = await contents(src, 1);
    image = join(source.path, 'image.bin');
    writeFileSync(image, Buffer.concat(await collect(src.createSnapshot(1).chunks())));
    await src.close();
    const outcomes = { old: 0, new: 0, interrupted: 0 };
    // Kill points spread over the install's duration, measured in process by the previous round.
    let installMs = 500;
    for (let round = 0; round < 3; round++) {
      const dir = tempDir(`crash-install-${round}`);
      try {
        const before = new LevelStateMachineStore(dir.path);
        await before.open();
        await fill(before, 3000, 'old', 100);
        const old = await contents(before, 1);
        await before.close();
        const workMs = rng.int(0, Math.ceil(installMs * 3));
        await runAndKill(['install', dir.path, image], 'installing', workMs);
        const after = new LevelStateMachineStore(dir.path);
        await after.open();
        if (after.recoveredGenerations > 0) outcomes.interrupted++;
        const got = await contents(after, 1);
        if (got[0] === 'applied=100') {
          assert.deepEqual(got, old, `round ${round}: old state intact`);
          outcomes.old++;
        } else {
          assert.deepEqual(got, fresh, `round ${round}: new state complete`);
          outcomes.new++;
        }
        // A later install over the recovered state completes.
        const started = performance.now();
        await after.installSnapshot(1, collectFile(image));
        installMs = performance.now() - started;
        assert.deepEqual(await contents(after, 1), fresh);
        await after.close();
      } finally {
        dir.cleanup();
      }
    }
    t.diagnostic(`outcomes: ${outcomes.old} old, ${outcomes.new} new, ${outcomes.interrupted} killed mid-install or mid-cleanup`);
  } finally {
    source.cleanup();
  }
});

async function* collectFile(path: string): AsyncGenerator<Uint8Array> {
  const { readFileSync } = await import('node:fs');
  yield readFileSync(path);
}
