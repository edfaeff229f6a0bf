// Proves snapshots are point-in-time images streamed in bounded chunks that install
// into another group (and another store) exactly, and that a damaged or truncated
// stream is refused leaving the group's old state whole, using real LevelDB stores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LevelStateMachineStore } from '../../src/storage/level-state-machine-store.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { SNAPSHOT_CHUNK_BYTES, ValueType, type StateMachineStore } from '../../src/storage/types.js';
import { collect, replay, tempDir } from './helpers.js';

async function fill(store: StateMachineStore, groupId: number, keys: number, tag: string, applied: number): Promise<void> {
  for (let k = 0; k < keys; k += 500) {
    const batch = store.batch();
    for (let j = k; j < Math.min(keys, k + 500); j++) {
      batch.put(groupId, Buffer.from(`key:${j}`), { type: ValueType.String, value: Buffer.alloc(300, `${tag}${j}`), expireAtMs: j, revision: applied });
    }
    batch.put(groupId, Buffer.from('hash'), { type: ValueType.Hash, value: Buffer.alloc(0), expireAtMs: 0, revision: applied });
    batch.putField(groupId, Buffer.from('hash'), Buffer.from(`f${k}`), Buffer.from(tag));
    batch.setApplied(groupId, applied);
    await batch.write();
  }
}

async function contents(store: StateMachineStore, groupId: number): Promise<string[]> {
  const out: string[] = [`applied=${store.applied(groupId)}`];
  for await (const [k, v] of store.scan(groupId)) out.push(`${Buffer.from(k)}=${Buffer.from(v.value).toString('hex')}/${v.expireAtMs}/${v.revision}/${v.type}`);
  for await (const [f, v] of store.fields(groupId, Buffer.from('hash'))) out.push(`hash.${Buffer.from(f)}=${Buffer.from(v)}`);
  return out;
}

test('snapshot round trip: bounded chunks, point in time, exact install into LevelDB and memory', async () => {
  const dir = tempDir('snap-rt');
  const store = new LevelStateMachineStore(dir.path);
  try {
    await store.open();
    await fill(store, 1, 3000, 'a', 40);
    await fill(store, 2, 100, 'other', 7);
    const expected = await contents(store, 1);
    const snapshot = store.createSnapshot(1);
    assert.equal(snapshot.applied, 40);
    // Writes after the snapshot was taken are not in it.
    await store.batch().put(1, Buffer.from('key:0'), { type: ValueType.String, value: Buffer.from('later'), expireAtMs: 0, revision: 41 })
      .del(1, Buffer.from('key:1')).setApplied(1, 41).write();
    const chunks = await collect(snapshot.chunks());
    assert.ok(chunks.length > 1, 'several chunks');
    for (const c of chunks) assert.ok(c.length <= SNAPSHOT_CHUNK_BYTES, `chunk of ${c.length} bytes`);

    await store.installSnapshot(2, replay(chunks));
    assert.deepEqual(await contents(store, 2), expected);
    const memory = new MemoryStateMachineStore();
    await memory.installSnapshot(9, replay(chunks));
    assert.deepEqual(await contents(memory, 9), expected);
    // Re-chunked differently, the stream still installs.
    const whole = Buffer.concat(chunks);
    const odd: Uint8Array[] = [];
    for (let at = 0; at < whole.length; at += 7777) odd.push(whole.subarray(at, at + 7777));
    await store.installSnapshot(3, replay(odd));
    assert.deepEqual(await contents(store, 3), expected);
    await store.close();
    const again = new LevelStateMachineStore(dir.path);
    await again.open();
    assert.deepEqual(await contents(again, 2), expected);
    assert.equal(again.applied(1), 41);
    await again.createSnapshot(1).close();
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('a damaged or truncated snapshot stream is refused and the old state stays', async () => {
  const dir = tempDir('snap-bad');
  const store = new LevelStateMachineStore(dir.path);
  try {
    await store.open();
    await fill(store, 1, 1000, 'new', 90);
    await fill(store, 2, 300, 'old', 12);
    const before = await contents(store, 2);
    const chunks = await collect(store.createSnapshot(1).chunks());
    const whole = Buffer.concat(chunks);
    const flipped = Buffer.from(whole);
    flipped[Math.floor(flipped.length / 2)] ^= 0x01;
    for (const bad of [flipped, whole.subarray(0, whole.length - 5), whole.subarray(0, whole.length / 3)]) {
      await assert.rejects(store.installSnapshot(2, replay([bad])), /snapshot stream/);
      assert.deepEqual(await contents(store, 2), before);
    }
    await store.close();
    const again = new LevelStateMachineStore(dir.path);
    await again.open();
    assert.deepEqual(await contents(again, 2), before);
    await again.close();
  } finally {
    dir.cleanup();
  }
});
