// Proves the segmented log store and the in-memory log store behave the same: random
// sequences of writes (appends, tail overwrites, snapshots that keep or drop the log,
// compactions, hard states) from seeded generators go to both, with small segments
// and reopens of the file store (after close or a simulated kill), and every read must
// agree after every step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/env/random.js';
import type { Entry } from '../../src/raft/types.js';
import type { LogStore, LogUpdate } from '../../src/storage/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { SegmentedLogStore } from '../../src/storage/segmented-log-store.js';
import { plain, tempDir } from './helpers.js';

function randomEntries(rng: SeededRandom, from: number, count: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let k = 0; k < count; k++) {
    const data = Buffer.alloc(rng.int(0, 300));
    for (let j = 0; j < data.length; j++) data[j] = rng.int(0, 255);
    out.push({ index: from + k, term, type: rng.chance(0.1) ? 1 : 0, data });
  }
  return out;
}

/** One random update for `groupId`, valid against the model's current log. */
function randomUpdate(rng: SeededRandom, model: LogStore, groupId: number, maxTerm: Map<number, number>): LogUpdate {
  const first = model.firstIndex(groupId);
  const last = model.lastIndex(groupId);
  let term = maxTerm.get(groupId) ?? 1;
  const u: LogUpdate = { groupId };
  let newLast = last;
  const pick = rng.int(0, 9);
  if (pick <= 5) {
    let from = last + 1;
    if (rng.chance(0.3) && last >= first) {
      from = rng.int(first, last + 1);
      term++;
    }
    u.entries = randomEntries(rng, from, rng.int(1, 20), term);
    newLast = from + u.entries.length - 1;
  } else if (pick === 6) {
    if (rng.chance(0.5) && last >= first) {
      const index = rng.int(first, last);
      u.snapshot = { index, term: model.term(groupId, index)!, confState: { voters: [1, 2, 3], learners: [] } };
    } else {
      term++;
      const index = rng.int(first, last + 10);
      u.snapshot = { index, term, confState: { voters: [1, 2], learners: [rng.int(4, 9)] } };
      newLast = Math.max(index, last);
      if (model.term(groupId, index) !== term) newLast = index;
      if (rng.chance(0.5)) {
        u.entries = randomEntries(rng, index + 1, rng.int(1, 5), term);
        newLast = index + u.entries.length;
      }
    }
  }
  maxTerm.set(groupId, term);
  if (rng.chance(0.4)) u.hardState = { term, vote: rng.int(0, 3), commit: rng.int(0, 1000) };
  if (rng.chance(0.25) && newLast >= first) u.compactTo = rng.int(first - 1, newLast);
  return u;
}

function compare(a: LogStore, b: LogStore, step: string): void {
  assert.deepEqual(a.groups(), b.groups(), `${step}: groups`);
  for (const groupId of a.groups()) {
    const at = `${step}, group ${groupId}`;
    assert.equal(a.firstIndex(groupId), b.firstIndex(groupId), `${at}: firstIndex`);
    assert.equal(a.lastIndex(groupId), b.lastIndex(groupId), `${at}: lastIndex`);
    assert.deepEqual(a.hardState(groupId), b.hardState(groupId), `${at}: hardState`);
    assert.deepEqual(a.snapshotMeta(groupId), b.snapshotMeta(groupId), `${at}: snapshot`);
    for (let i = a.firstIndex(groupId) - 2; i <= a.lastIndex(groupId) + 1; i++) {
      assert.equal(a.term(groupId, i), b.term(groupId, i), `${at}: term(${i})`);
    }
    const la = a.load(groupId);
    const lb = b.load(groupId);
    assert.deepEqual(plain(la.entries), plain(lb.entries), `${at}: entries`);
    assert.deepEqual(la.hardState, lb.hardState);
    assert.deepEqual(la.snapshot, lb.snapshot);
  }
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`segmented and memory log stores agree on random writes (seed ${seed})`, async () => {
    const rng = new SeededRandom(seed);
    const dir = tempDir(`log-eq-${seed}`);
    const options = { segmentBytes: rng.int(2, 16) * 1024 };
    try {
      const memory = new MemoryLogStore();
      let file = new SegmentedLogStore(dir.path, options);
      await file.open();
      const maxTerm = new Map<number, number>();
      for (let step = 0; step < 150; step++) {
        const groups = [1, 2, 3, 4, 5].filter(() => rng.chance(0.5));
        const updates = groups.map((g) => randomUpdate(rng, memory, g, maxTerm));
        const sync = rng.chance(0.7);
        await memory.write(updates, { sync });
        await file.write(updates, { sync });
        compare(memory, file, `seed ${seed} step ${step}`);
        if (rng.chance(0.08)) {
          // A kill -9 keeps every completed write (page cache), so crash() must recover the same log as close().
          if (rng.chance(0.5)) await file.crash();
          else await file.close();
          file = new SegmentedLogStore(dir.path, options);
          await file.open();
          compare(memory, file, `seed ${seed} step ${step} after reopen`);
        }
      }
      await file.close();
    } finally {
      dir.cleanup();
    }
  });
}

test('the memory log store loses unsynced and in-flight writes on crash, keeps synced ones', async () => {
  let release: () => void = () => {};
  let hold = false;
  const store = new MemoryLogStore({ delay: () => (hold ? new Promise<void>((r) => { release = r; }) : Promise.resolve()) });
  const e = (i: number): Entry => ({ index: i, term: 1, type: 0, data: Buffer.from([i]) });
  await store.write([{ groupId: 1, entries: [e(1), e(2)] }], { sync: true });
  await store.write([{ groupId: 1, entries: [e(3)] }], { sync: false });
  assert.equal(store.lastIndex(1), 3);
  store.crash();
  assert.equal(store.lastIndex(1), 2, 'unsynced write lost');
  await store.write([{ groupId: 1, entries: [e(3)] }], { sync: false });
  await store.write([{ groupId: 1, entries: [e(4)], hardState: { term: 1, vote: 1, commit: 4 } }], { sync: true });
  hold = true;
  let settled = false;
  void store.write([{ groupId: 1, entries: [e(5)] }], { sync: true }).then(() => { settled = true; });
  await new Promise((r) => setImmediate(r));
  store.crash();
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'an in-flight write never completes');
  assert.equal(store.lastIndex(1), 4, 'sync write covers the unsynced one before it');
  assert.deepEqual(store.hardState(1), { term: 1, vote: 1, commit: 4 });
  assert.equal(store.stats().fsyncs, 2);
});
