// Proves the LevelDB and in-memory state-machine stores give the same results: seeded
// random batches (puts with expiry and revision, deletes, hash fields, tombstones and
// their floor, applied indexes — and the scan index in hash order they maintain,
// group deletions, snapshot transfers between groups) go to both, and every read,
// scan and snapshot byte stream must agree after every step, also across reopens;
// with LevelDB's record cache at its default size, tiny (constant eviction) and off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/env/random.js';
import { keyId } from '../../src/storage/key-layout.js';
import { LevelStateMachineStore } from '../../src/storage/level-state-machine-store.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { ValueType, type StateMachineBatch, type StateMachineStore } from '../../src/storage/types.js';
import { collect, replay, tempDir } from './helpers.js';
import type { TimerHandle } from '../../src/env/env.js';

const GROUPS = [1, 2, 3];
const STRING_KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', '', 'k\u00ff'].map((k) => Buffer.from(k, 'latin1'));
const HASH_KEYS = ['h0', 'h1', 'h2'].map((k) => Buffer.from(k));
const FIELDS = ['f0', 'f1', 'f2', 'f3'].map((k) => Buffer.from(k));

function bytes(rng: SeededRandom, max: number): Buffer {
  const out = Buffer.alloc(rng.int(0, max));
  for (let k = 0; k < out.length; k++) out[k] = rng.int(0, 255);
  return out;
}

async function dump(store: StateMachineStore): Promise<unknown> {
  const out: unknown[] = [];
  for (const g of store.groups()) {
    // Point reads and the snapshot first: with write-back they see batches still staged in
    // memory; the iterations below make LevelDB catch up first.
    const points = [...STRING_KEYS, ...HASH_KEYS].map((k) => {
      const v = store.getSync(g, k);
      return v === undefined ? null : [v.type, Buffer.from(v.value).toString('hex'), v.expireAtMs, v.revision];
    });
    const fieldPoints: unknown[] = [];
    for (const h of HASH_KEYS) {
      for (const f of FIELDS) {
        const v = store.getFieldSync(g, h, f);
        fieldPoints.push(v === undefined ? null : Buffer.from(v).toString('hex'));
      }
    }
    const applied = store.applied(g);
    const snapshot = store.createSnapshot(g);
    const image = Buffer.concat(await collect(snapshot.chunks())).toString('hex');
    const keys: unknown[] = [];
    for await (const [k, v] of store.scan(g, { batchSize: 3 })) {
      keys.push([Buffer.from(k).toString('hex'), v.type, Buffer.from(v.value).toString('hex'), v.expireAtMs, v.revision]);
    }
    const fields: unknown[] = [];
    for (const h of HASH_KEYS) {
      for await (const [f, v] of store.fields(g, h)) fields.push([h.toString(), Buffer.from(f).toString('hex'), Buffer.from(v).toString('hex')]);
    }
    const byHash: unknown[] = [];
    for (const from of [0, 0x80000000]) {
      for await (const [h, k, v] of store.scanByHash(g, from)) byHash.push([from, h, Buffer.from(k).toString('hex'), v.revision]);
    }
    const tombs = await store.tombstones(g);
    const tombstones = [tombs.floor, tombs.keys.map(([k, r]) => [Buffer.from(k).toString('hex'), r])];
    out.push({ g, applied, keys, byHash, fields, fieldPoints, points, tombstones, snapshotApplied: snapshot.applied, image });
  }
  return out;
}

/**
 * Timers for the write-back delay that fire only when the test says so, so that
 * batches stay staged in memory across several steps (and reads, snapshots and
 * reopens meet them there).
 */
class ManualTimers {
  private due: Array<() => void> = [];
  after(_ms: number, fn: () => void): TimerHandle {
    const entry = (): void => fn();
    this.due.push(entry);
    return { cancel: () => { this.due = this.due.filter((e) => e !== entry); } };
  }
  fire(): void {
    const due = this.due;
    this.due = [];
    for (const fn of due) fn();
  }
}

/** A cheap view of a store for the write-back cases: point reads and snapshot, without iterating (which writes out). */
async function pointDump(store: StateMachineStore): Promise<unknown> {
  const out: unknown[] = [];
  for (const g of GROUPS) {
    const points = [...STRING_KEYS, ...HASH_KEYS].map((k) => {
      const v = store.getSync(g, k);
      return v === undefined ? null : [v.type, Buffer.from(v.value).toString('hex'), v.expireAtMs, v.revision];
    });
    const fieldPoints = HASH_KEYS.flatMap((h) => FIELDS.map((f) => {
      const v = store.getFieldSync(g, h, f);
      return v === undefined ? null : Buffer.from(v).toString('hex');
    }));
    const snapshot = store.createSnapshot(g);
    const image = Buffer.concat(await collect(snapshot.chunks())).toString('hex');
    out.push({ g, applied: store.applied(g), points, fieldPoints, image });
  }
  return out;
}

/**
 * `stores[i]` is the store `batches[i]` writes to. Most puts and deletions of a key are built as
 * a command's apply builds them: the key is read first and the write names its key id, so the
 * LevelDB store stages into the record the read found (when that record is still cached).
 */
function randomBatch(rng: SeededRandom, batches: StateMachineBatch[], stores: StateMachineStore[], revision: number): void {
  const ops = rng.int(1, 12);
  for (let k = 0; k < ops; k++) {
    const g = rng.pick(GROUPS);
    const r = rng.int(0, 12);
    const apply = (f: (b: StateMachineBatch) => void): void => batches.forEach(f);
    const readFirst = (key: Buffer): string | undefined => {
      if (!rng.chance(0.7)) return undefined;
      for (const store of stores) store.getSync(g, key);
      return keyId(key);
    };
    if (r <= 3) {
      const key = rng.pick(STRING_KEYS);
      const value = { type: ValueType.String, value: bytes(rng, 40), expireAtMs: rng.chance(0.3) ? 1_700_000_000_000 + rng.int(0, 1e6) : 0, revision };
      const id = readFirst(key);
      apply((b) => b.put(g, key, value, false, id));
    } else if (r <= 5) {
      // HSET: the key's record (type, revision) and one field; the record always precedes fields.
      const key = rng.pick(HASH_KEYS);
      const field = rng.pick(FIELDS);
      const value = bytes(rng, 20);
      apply((b) => b.put(g, key, { type: ValueType.Hash, value: new Uint8Array(0), expireAtMs: 0, revision }).putField(g, key, field, value));
    } else if (r === 6) {
      const key = rng.pick(HASH_KEYS);
      const field = rng.pick(FIELDS);
      apply((b) => b.delField(g, key, field));
    } else if (r <= 8) {
      const key = rng.chance(0.5) ? rng.pick(STRING_KEYS) : rng.pick(HASH_KEYS);
      const id = readFirst(key);
      apply((b) => b.del(g, key, id));
    } else if (r === 9) {
      apply((b) => b.setApplied(g, revision));
    } else if (r === 10) {
      const key = rng.pick(STRING_KEYS);
      apply((b) => b.putTombstone(g, key, revision));
    } else if (r === 11) {
      const key = rng.pick(STRING_KEYS);
      apply((b) => b.delTombstone(g, key));
    } else {
      apply((b) => b.setTombstoneFloor(g, revision));
    }
  }
}

/** One random group deleted in both stores. */
async function deleteGroupInBoth(rng: SeededRandom, level: LevelStateMachineStore, memory: MemoryStateMachineStore): Promise<void> {
  const g = rng.pick(GROUPS);
  await level.deleteGroup(g);
  await memory.deleteGroup(g);
}

/** A snapshot of one group (taken from either store) installed into another, in both stores. */
async function copyGroupInBoth(rng: SeededRandom, level: LevelStateMachineStore, memory: MemoryStateMachineStore): Promise<void> {
  const from = rng.pick(GROUPS);
  const to = rng.pick(GROUPS);
  const source = rng.chance(0.5) ? level : memory;
  const chunks = await collect(source.createSnapshot(from).chunks());
  await level.installSnapshot(to, replay(chunks));
  await memory.installSnapshot(to, replay(chunks));
}

/** The same random batch written to both stores. */
async function batchInBoth(rng: SeededRandom, level: LevelStateMachineStore, memory: MemoryStateMachineStore, step: number): Promise<void> {
  const lb = level.batch();
  const mb = memory.batch();
  randomBatch(rng, [lb, mb], [level, memory], step);
  assert.equal(lb.length, mb.length);
  await Promise.all([lb.write(), mb.write()]);
}

const CASES: Array<[number, number | undefined]> = [[11, undefined], [12, undefined], [13, undefined], [14, undefined], [15, 600], [16, 600], [17, 0]];
for (const [seed, cacheBytesMax] of CASES) {
  test(`LevelDB and memory state-machine stores agree on random batches (seed ${seed}, cache ${cacheBytesMax ?? 'default'})`, async () => {
    const rng = new SeededRandom(seed);
    const dir = tempDir(`sm-eq-${seed}`);
    let level = new LevelStateMachineStore(dir.path, { cacheBytesMax });
    try {
      await level.open();
      const memory = new MemoryStateMachineStore();
      for (let step = 1; step <= 120; step++) {
        const r = rng.int(0, 19);
        if (r === 0) {
          await deleteGroupInBoth(rng, level, memory);
        } else if (r === 1) {
          await copyGroupInBoth(rng, level, memory);
        } else if (r === 2) {
          await level.close();
          level = new LevelStateMachineStore(dir.path, { cacheBytesMax });
          await level.open();
        } else {
          await batchInBoth(rng, level, memory, step);
        }
        assert.deepEqual(await dump(level), await dump(memory), `seed ${seed} step ${step}`);
      }
    } finally {
      await level.close();
      dir.cleanup();
    }
  });
}

// Write-back: batches stay staged (timers fire only now and then), so most reads, snapshots
// and reopens meet staged batches; a write in flight is met too (fired without awaiting).
// A small cache (600 bytes) evicts clean records while others are staged; 0 holds staged ones only.
const WRITE_BACK_CASES: Array<[number, number | undefined]> = [[21, undefined], [22, undefined], [26, undefined], [24, 600], [25, 0]];
for (const [seed, cacheBytesMax] of WRITE_BACK_CASES) {
  test(`LevelDB with write-back and memory state-machine stores agree while batches are staged (seed ${seed}, cache ${cacheBytesMax ?? 'default'})`, async () => {
    const rng = new SeededRandom(seed);
    const dir = tempDir(`sm-wb-${seed}`);
    const timers = new ManualTimers();
    const open = async (): Promise<LevelStateMachineStore> => {
      const store = new LevelStateMachineStore(dir.path, { timers, writeDelayMs: 1000, writeOpsMin: rng.int(8, 200), pendingOpsMax: 400, cacheBytesMax });
      await store.open();
      return store;
    };
    let level = await open();
    try {
      const memory = new MemoryStateMachineStore();
      for (let step = 1; step <= 200; step++) {
        const r = rng.int(0, 39);
        if (r === 0) {
          await deleteGroupInBoth(rng, level, memory);
        } else if (r === 1) {
          await copyGroupInBoth(rng, level, memory);
        } else if (r === 2) {
          // close() writes out what is staged: nothing applied is lost by a clean stop.
          await level.close();
          level = await open();
        } else if (r === 3) {
          await level.flush();
        } else if (r === 4) {
          assert.deepEqual(await dump(level), await dump(memory), `seed ${seed} step ${step} (full)`);
        } else {
          if (rng.chance(0.3)) timers.fire();
          await batchInBoth(rng, level, memory, step);
        }
        assert.deepEqual(await pointDump(level), await pointDump(memory), `seed ${seed} step ${step}`);
      }
      assert.deepEqual(await dump(level), await dump(memory), `seed ${seed} end`);
      assert.ok(level.writeStats.engineWrites < level.writeStats.batchesStaged, 'batches were coalesced');
    } finally {
      await level.close();
      dir.cleanup();
    }
  });
}
