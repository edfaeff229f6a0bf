// Proves the LevelDB state-machine store keeps typed values with expiry and revision,
// hash fields apart from their key, per-group key spaces and the applied index across
// a restart, by driving a real LevelDB in a temp dir (and the memory store alongside).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LevelStateMachineStore } from '../../src/storage/level-state-machine-store.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { ValueType, type StateMachineStore } from '../../src/storage/types.js';
import { keyId } from '../../src/storage/key-layout.js';
import { tempDir } from './helpers.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (u: Uint8Array | undefined): string | undefined => (u === undefined ? undefined : Buffer.from(u).toString());

async function keysOf(store: StateMachineStore, groupId: number, after?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of store.scan(groupId, { after: after === undefined ? undefined : b(after) })) out.push(str(k)!);
  return out;
}

async function fieldsOf(store: StateMachineStore, groupId: number, key: string): Promise<string[]> {
  const out: string[] = [];
  for await (const [f, v] of store.fields(groupId, b(key))) out.push(`${str(f)}=${str(v)}`);
  return out;
}

async function exercise(store: StateMachineStore): Promise<void> {
  await store.batch()
    .put(1, b('a'), { type: ValueType.String, value: b('1'), expireAtMs: 1_700_000_000_123, revision: 7 })
    .put(1, b('b'), { type: ValueType.String, value: b('2'), expireAtMs: 0, revision: 8 })
    .put(2, b('a'), { type: ValueType.String, value: b('other group'), expireAtMs: 0, revision: 3 })
    .put(1, b('h'), { type: ValueType.Hash, value: new Uint8Array(0), expireAtMs: 0, revision: 9 })
    .putField(1, b('h'), b('f1'), b('v1'))
    .putField(1, b('h'), b('f2'), b('v2'))
    .putField(1, b('hh'), b('x'), b('not a field of h'))
    .put(1, b('hh'), { type: ValueType.Hash, value: new Uint8Array(0), expireAtMs: 0, revision: 9 })
    .setApplied(1, 9)
    .setApplied(2, 3)
    .write();
  assert.deepEqual(store.getSync(1, b('a')), { type: ValueType.String, value: b('1'), expireAtMs: 1_700_000_000_123, revision: 7 });
  assert.equal(str(store.getSync(2, b('a'))?.value), 'other group');
  assert.equal(store.getSync(3, b('a')), undefined);
  assert.equal(str(store.getFieldSync(1, b('h'), b('f2'))), 'v2');
  assert.equal(store.getFieldSync(1, b('h'), b('x')), undefined);
  assert.deepEqual(await fieldsOf(store, 1, 'h'), ['f1=v1', 'f2=v2']);
  assert.deepEqual(await keysOf(store, 1), ['a', 'b', 'h', 'hh']);
  assert.deepEqual(await keysOf(store, 1, 'b'), ['h', 'hh']);
  assert.equal(store.applied(1), 9);
  assert.deepEqual(store.groups(), [1, 2]);
  // HSET of one field, then DEL of the hash removes every field; a field put after the del stays.
  await store.batch().putField(1, b('h'), b('f1'), b('v1b')).delField(1, b('h'), b('f2')).setApplied(1, 10).write();
  assert.deepEqual(await fieldsOf(store, 1, 'h'), ['f1=v1b']);
  await store.batch().putField(1, b('h'), b('f3'), b('v3')).del(1, b('h')).del(1, b('hh'))
    .put(1, b('hh'), { type: ValueType.Hash, value: new Uint8Array(0), expireAtMs: 0, revision: 11 })
    .putField(1, b('hh'), b('y'), b('new')).setApplied(1, 11).write();
  assert.deepEqual(await fieldsOf(store, 1, 'h'), []);
  assert.deepEqual(await fieldsOf(store, 1, 'hh'), ['y=new']);
  assert.equal(store.getSync(1, b('h')), undefined);
  await store.flush();
  await store.deleteGroup(2);
  assert.deepEqual(store.groups(), [1]);
  assert.equal(store.getSync(2, b('a')), undefined);
  assert.equal(store.applied(2), 0);
}

test('values, hash fields, scans, applied index and group deletion (LevelDB, then memory)', async () => {
  const dir = tempDir('sm-basic');
  try {
    const level = new LevelStateMachineStore(dir.path);
    await level.open();
    await exercise(level);
    await level.close();
    const again = new LevelStateMachineStore(dir.path);
    await again.open();
    assert.equal(again.applied(1), 11, 'restart resumes from the applied index');
    assert.deepEqual(again.groups(), [1]);
    assert.deepEqual(await keysOf(again, 1), ['a', 'b', 'hh']);
    assert.deepEqual(await fieldsOf(again, 1, 'hh'), ['y=new']);
    await again.close();
  } finally {
    dir.cleanup();
  }
  await exercise(new MemoryStateMachineStore());
});

test('hash fields are read from LevelDB once, then from the field cache, which follows every write', async () => {
  const dir = tempDir('sm-field-cache');
  try {
    const store = new LevelStateMachineStore(dir.path);
    await store.open();
    // Count LevelDB point reads (the engine is the store's own; this is the only way to see them).
    const engine = (store as unknown as { engine: { getSync(k: Uint8Array): Uint8Array | undefined } }).engine;
    const realGet = engine.getSync.bind(engine);
    let reads = 0;
    engine.getSync = (k) => { reads++; return realGet(k); };
    const hash = { type: ValueType.Hash, value: new Uint8Array(0), expireAtMs: 0, revision: 1 };
    await store.batch().put(1, b('h'), hash).putField(1, b('h'), b('f'), b('v1')).setApplied(1, 1).write();
    await store.flush();
    reads = 0;
    assert.equal(str(store.getFieldSync(1, b('h'), b('f'))), 'v1');
    assert.equal(reads, 0, 'a field staged since open is held');
    assert.equal(store.getFieldSync(1, b('h'), b('absent')), undefined);
    assert.equal(store.getFieldSync(1, b('h'), b('absent')), undefined);
    assert.equal(reads, 1, 'an absent field is read once, then held as absent');
    // A restart starts cold: one read each, then none.
    await store.close();
    const again = new LevelStateMachineStore(dir.path);
    await again.open();
    const engine2 = (again as unknown as { engine: { getSync(k: Uint8Array): Uint8Array | undefined } }).engine;
    const realGet2 = engine2.getSync.bind(engine2);
    reads = 0;
    engine2.getSync = (k) => { reads++; return realGet2(k); };
    for (let i = 0; i < 3; i++) {
      assert.equal(str(again.getFieldSync(1, b('h'), b('f'))), 'v1');
      assert.equal(again.getFieldSync(1, b('h'), b('absent')), undefined);
    }
    assert.equal(reads, 2, 'one LevelDB read per field, the rest from the cache');
    // Writes, once written, are read back from the cache too; deleting the hash drops its fields.
    await again.batch().putField(1, b('h'), b('f'), b('v2')).putField(1, b('h'), b('absent'), b('now here')).setApplied(1, 2).write();
    await again.flush();
    assert.equal(str(again.getFieldSync(1, b('h'), b('f'))), 'v2');
    assert.equal(str(again.getFieldSync(1, b('h'), b('absent'))), 'now here');
    await again.batch().del(1, b('h')).setApplied(1, 3).write();
    await again.flush();
    assert.equal(again.getFieldSync(1, b('h'), b('f')), undefined);
    assert.equal(again.getFieldSync(1, b('h'), b('absent')), undefined);
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('a write stages into the record its read found, and not into one evicted or dropped since', async () => {
  const dir = tempDir('sm-record-hint');
  const value = (v: string, revision: number) => ({ type: ValueType.String, value: b(v), expireAtMs: 0, revision });
  try {
    const seed = new LevelStateMachineStore(dir.path);
    await seed.open();
    await seed.batch().put(1, b('k'), value('v1', 1)).setApplied(1, 1).write();
    await seed.close();
    // Room for a handful of records: reads after a restart fill the cache from LevelDB, and
    // writes make it evict the oldest clean records.
    const store = new LevelStateMachineStore(dir.path, { cacheBytesMax: 1200 });
    await store.open();
    const k = b('k');
    // The common case: read, then write the same key; the write is visible at once.
    assert.equal(str(store.getSync(1, k)?.value), 'v1');
    await store.batch().put(1, k, value('v2', 2), true, keyId(k)).setApplied(1, 2).write();
    assert.equal(str(store.getSync(1, k)?.value), 'v2');
    await store.flush();
    // Read k (its record is the last one found), then let a write of other keys evict it.
    assert.equal(str(store.getSync(1, k)?.value), 'v2');
    const others = store.batch();
    for (let i = 0; i < 20; i++) others.put(1, b(`other-${i}`), value('x'.repeat(20), 3));
    await others.setApplied(1, 3).write();
    await store.flush();
    // The batch carries the evicted record as its hint; staging must not write into it, or
    // the read below (before LevelDB has the write) would miss the cache and find v2 on disk.
    const pending = store.batch().put(1, k, value('v3', 4), true, keyId(k)).setApplied(1, 4).write();
    assert.equal(str(store.getSync(1, k)?.value), 'v3');
    await pending;
    await store.flush();
    assert.equal(str(store.getSync(1, k)?.value), 'v3');
    // The same when the record's group was dropped after the read (deleted, or replaced by a snapshot).
    await store.deleteGroup(1);
    const recreated = store.batch().put(1, k, value('v4', 5), false, keyId(k)).setApplied(1, 5).write();
    assert.equal(str(store.getSync(1, k)?.value), 'v4');
    await recreated;
    await store.close();
  } finally {
    dir.cleanup();
  }
});
