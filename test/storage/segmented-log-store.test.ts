// Proves the segmented log store keeps every group's log across restarts, rolls and
// deletes segments, repairs only unsynced torn tails and stops with a clear error on
// damaged synced data, by writing real files in a temp dir and damaging them by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { SegmentedLogStore } from '../../src/storage/segmented-log-store.js';
import { StorageCorruptionError } from '../../src/storage/types.js';
import { SeededRandom } from '../../src/env/random.js';
import { entries, plain, tempDir } from './helpers.js';

function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort().map((n) => join(dir, n));
}

test('entries, hard state and snapshot meta survive a restart; reads serve ranges and terms', async () => {
  const dir = tempDir('log-basic');
  try {
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    await store.write([
      { groupId: 1, entries: entries(1, 5, 1), hardState: { term: 1, vote: 2, commit: 3 } },
      { groupId: 7, entries: entries(1, 3, 2) },
    ], { sync: true });
    // Group 1: a new leader overwrites the tail from 4 (§5.3); group 7 installs a snapshot.
    await store.write([
      { groupId: 1, entries: entries(4, 6, 3), hardState: { term: 3, vote: 1, commit: 5 } },
      { groupId: 7, snapshot: { index: 10, term: 4, confState: { voters: [1, 2, 3], learners: [9] } } },
    ], { sync: true });
    assert.equal(store.stats().fsyncs, 2);
    await store.close();

    const again = new SegmentedLogStore(dir.path);
    await again.open();
    assert.deepEqual(again.groups(), [1, 7]);
    assert.deepEqual(plain(again.entries(1, 1, 7)), plain([...entries(1, 3, 1), ...entries(4, 6, 3)]));
    assert.deepEqual(again.hardState(1), { term: 3, vote: 1, commit: 5 });
    assert.equal(again.term(1, 3), 1);
    assert.equal(again.term(1, 4), 3);
    assert.equal(again.term(1, 7), undefined);
    assert.equal(again.firstIndex(7), 11);
    assert.equal(again.lastIndex(7), 10);
    assert.equal(again.term(7, 10), 4);
    assert.deepEqual(again.snapshotMeta(7), { index: 10, term: 4, confState: { voters: [1, 2, 3], learners: [9] } });
    const loaded = again.load(1);
    assert.equal(loaded.entries.length, 6);
    assert.deepEqual(again.load(42), { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] });
    assert.throws(() => again.entries(1, 0, 3), /outside/);
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('one fdatasync per write whatever the number of groups', async () => {
  const dir = tempDir('log-fsync');
  try {
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    const updates = [];
    for (let g = 1; g <= 300; g++) updates.push({ groupId: g, entries: entries(1, 2, 1), hardState: { term: 1, vote: 1, commit: 0 } });
    await store.write(updates, { sync: true });
    await store.write(updates.map((u) => ({ groupId: u.groupId, hardState: { term: 1, vote: 1, commit: 2 } })), { sync: true });
    await store.write([{ groupId: 5, hardState: { term: 2, vote: 0, commit: 2 } }], { sync: false });
    assert.equal(store.stats().fsyncs, 2);
    assert.equal(store.stats().writes, 3);
    await store.close();
  } finally {
    dir.cleanup();
  }
});

test('concurrent writes are serialized in call order', async () => {
  const dir = tempDir('log-concurrent');
  try {
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    const pending = [];
    for (let i = 1; i <= 50; i++) pending.push(store.write([{ groupId: 1, entries: entries(i, i, 1) }], { sync: i % 10 === 0 }));
    await Promise.all(pending);
    assert.equal(store.lastIndex(1), 50);
    await store.close();
  } finally {
    dir.cleanup();
  }
});

test('segments roll at the size limit and are deleted once compaction leaves them no live entry', async () => {
  const dir = tempDir('log-segments');
  try {
    let store = new SegmentedLogStore(dir.path, { segmentBytes: 2048 });
    await store.open();
    for (let i = 1; i <= 60; i++) {
      await store.write([
        { groupId: 1, entries: entries(i, i, 1, 'x'.repeat(80)) },
        { groupId: 2, entries: entries(i, i, 1), compactTo: i > 5 ? i - 5 : undefined },
      ], { sync: true });
    }
    const many = store.segmentSeqs().length;
    assert.ok(many > 3, `rolled into ${many} segments`);
    // Group 1 pins every segment until it compacts too.
    await store.write([{ groupId: 1, compactTo: 58 }], { sync: true });
    assert.ok(store.segmentSeqs().length < many, 'dead segments deleted');
    assert.equal(segmentFiles(dir.path).length, store.segmentSeqs().length);
    await store.close();

    store = new SegmentedLogStore(dir.path, { segmentBytes: 2048 });
    await store.open();
    assert.equal(store.firstIndex(1), 59);
    assert.deepEqual(plain(store.entries(1, 59, 61)), plain(entries(59, 60, 1, 'x'.repeat(80))));
    assert.deepEqual(plain(store.entries(2, 56, 61)), plain(entries(56, 60, 1)));
    assert.equal(store.term(2, 55), 1);
    await store.close();
  } finally {
    dir.cleanup();
  }
});

test('a snapshot that disagrees with the log drops it all, even across deleted segments (§7)', async () => {
  const dir = tempDir('log-snap-drop');
  try {
    let store = new SegmentedLogStore(dir.path, { segmentBytes: 1024 });
    await store.open();
    await store.write([{ groupId: 1, entries: entries(1, 20, 1) }, { groupId: 2, entries: entries(1, 1, 1) }], { sync: true });
    for (let i = 2; i <= 30; i++) await store.write([{ groupId: 2, entries: entries(i, i, 1, 'y'.repeat(60)) }], { sync: true });
    // Term 5 at index 12 disagrees with the log (term 1): everything goes.
    await store.write([{ groupId: 1, snapshot: { index: 12, term: 5, confState: { voters: [1], learners: [] } } }], { sync: true });
    await store.write([{ groupId: 2, compactTo: 29 }], { sync: true });
    await store.close();
    store = new SegmentedLogStore(dir.path, { segmentBytes: 1024 });
    await store.open();
    assert.equal(store.firstIndex(1), 13);
    assert.equal(store.lastIndex(1), 12);
    assert.equal(store.term(1, 12), 5);
    assert.equal(store.load(1).entries.length, 0);
    await store.close();
  } finally {
    dir.cleanup();
  }
});

async function writeSynced(dir: string, count: number): Promise<void> {
  const store = new SegmentedLogStore(dir);
  await store.open();
  for (let i = 1; i <= count; i++) {
    await store.write([{ groupId: 1, entries: entries(i, i, 1, 'z'.repeat(50)), hardState: { term: 1, vote: 1, commit: i } }], { sync: true });
  }
  await store.close();
}

/** Writes `count` synced records, then one unsynced record, and leaves it as a crash would (no close). */
async function writeWithUnsyncedTail(dir: string, count: number): Promise<{ tailFile: string; tailStart: number; tailEnd: number }> {
  const store = new SegmentedLogStore(dir);
  await store.open();
  for (let i = 1; i <= count; i++) await store.write([{ groupId: 1, entries: entries(i, i, 1) }], { sync: true });
  const file = segmentFiles(dir).at(-1)!;
  const tailStart = fs.statSync(file).size;
  await store.write([{ groupId: 1, entries: entries(count + 1, count + 10, 1, 'tail'.repeat(20)) }], { sync: false });
  await store.crash();
  return { tailFile: file, tailStart, tailEnd: fs.statSync(file).size };
}

test('an unsynced torn tail (cut short) is truncated at open', async () => {
  const dir = tempDir('log-torn-cut');
  try {
    const { tailFile, tailStart, tailEnd } = await writeWithUnsyncedTail(dir.path, 20);
    fs.truncateSync(tailFile, tailStart + Math.floor((tailEnd - tailStart) / 2));
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    assert.equal(store.lastIndex(1), 20);
    assert.equal(fs.statSync(tailFile).size, tailStart, 'torn bytes removed');
    await store.write([{ groupId: 1, entries: entries(21, 21, 2) }], { sync: true });
    await store.close();
    const again = new SegmentedLogStore(dir.path);
    await again.open();
    assert.deepEqual(plain(again.entries(1, 19, 22)), plain([...entries(19, 20, 1), ...entries(21, 21, 2)]));
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('an unsynced torn tail (garbled last bytes, or garbage appended) is truncated at open', async () => {
  for (const damage of ['garble', 'append'] as const) {
    const dir = tempDir(`log-torn-${damage}`);
    try {
      const { tailFile, tailStart, tailEnd } = await writeWithUnsyncedTail(dir.path, 10);
      const fd = fs.openSync(tailFile, 'r+');
      if (damage === 'garble') fs.writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, tailEnd - 6);
      else fs.writeSync(fd, Buffer.alloc(37, 0x5a), 0, 37, tailEnd);
      fs.closeSync(fd);
      const store = new SegmentedLogStore(dir.path);
      await store.open();
      // Garbled: the unsynced record goes. Appended garbage: the record was whole, only the garbage goes.
      assert.equal(store.lastIndex(1), damage === 'garble' ? 10 : 20);
      assert.equal(fs.statSync(tailFile).size, damage === 'garble' ? tailStart : tailEnd);
      await store.close();
    } finally {
      dir.cleanup();
    }
  }
});

test('garbled synced data stops open() with an error naming the file and offset', async () => {
  for (const where of ['middle', 'last-record'] as const) {
    const dir = tempDir(`log-corrupt-${where}`);
    try {
      await writeSynced(dir.path, 30);
      // The close() above leaves the records in the next-to-last segment (open() rolls to a fresh one).
      const files = segmentFiles(dir.path);
      const file = files[0];
      const size = fs.statSync(file).size;
      const offset = where === 'middle' ? Math.floor(size / 2) : size - 3;
      const fd = fs.openSync(file, 'r+');
      const byte = Buffer.alloc(1);
      fs.readSync(fd, byte, 0, 1, offset);
      byte[0] ^= 0xff;
      fs.writeSync(fd, byte, 0, 1, offset);
      fs.closeSync(fd);
      const store = new SegmentedLogStore(dir.path);
      await assert.rejects(store.open(), (err: unknown) => {
        assert.ok(err instanceof StorageCorruptionError, String(err));
        assert.equal(err.file, file);
        assert.ok(err.offset <= offset && err.offset >= 0);
        assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at offset ${err.offset}`));
        return true;
      });
    } finally {
      dir.cleanup();
    }
  }
});

test('garbled synced data in the last segment, found by the synced checkpoint', async () => {
  const dir = tempDir('log-corrupt-ckpt');
  try {
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    for (let i = 1; i <= 5; i++) await store.write([{ groupId: 1, entries: entries(i, i, 1) }], { sync: true });
    await store.crash();
    // A crash: no close(). The last synced record is damaged; only the checkpoint tells it apart from a torn tail.
    const file = segmentFiles(dir.path).at(-1)!;
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0, 0]), 0, 2, size - 2);
    fs.closeSync(fd);
    const again = new SegmentedLogStore(dir.path);
    await assert.rejects(again.open(), (err: unknown) => err instanceof StorageCorruptionError && /inside synced data/.test(err.message) && err.file === file);
  } finally {
    dir.cleanup();
  }
});

test('a segment left empty or torn by a crash during a roll or open is removed at the next open', async () => {
  const dir = tempDir('log-empty-seg');
  try {
    await writeSynced(dir.path, 5);
    const files = segmentFiles(dir.path);
    const seq = Number(files.at(-1)!.split('/').at(-1)!.slice(0, 16));
    const torn = join(dir.path, `${String(seq + 1).padStart(16, '0')}.seg`);
    fs.writeFileSync(torn, Buffer.from([0x52, 0x46]));
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    assert.equal(store.lastIndex(1), 5);
    assert.deepEqual(store.hardState(1), { term: 1, vote: 1, commit: 5 });
    assert.ok(!fs.existsSync(torn));
    await store.close();
    // An empty segment with later ones after it never comes from a crash: it is damage.
    const gap = join(dir.path, `${String(seq + 1).padStart(16, '0')}.seg`);
    fs.writeFileSync(gap, Buffer.alloc(0));
    fs.writeFileSync(join(dir.path, `${String(seq + 5).padStart(16, '0')}.seg`), Buffer.alloc(0));
    await assert.rejects(new SegmentedLogStore(dir.path).open(), (err: unknown) => err instanceof StorageCorruptionError && err.file === gap);
  } finally {
    dir.cleanup();
  }
});

test('an update that cannot apply is refused before anything is written', async () => {
  const dir = tempDir('log-refuse');
  try {
    const store = new SegmentedLogStore(dir.path);
    await store.open();
    await store.write([{ groupId: 1, entries: entries(1, 3, 1) }], { sync: true });
    await assert.rejects(store.write([{ groupId: 1, entries: entries(5, 6, 1) }], { sync: true }), /gap/);
    await assert.rejects(store.write([{ groupId: 2, entries: entries(1, 1, 1) }, { groupId: 1, compactTo: 4 }], { sync: true }), /beyond last index/);
    await assert.rejects(store.write([{ groupId: 1, entries: [entries(4, 4, 1)[0], entries(6, 6, 1)[0]] }], { sync: true }), /contiguous/);
    await assert.rejects(store.write([{ groupId: 1 }, { groupId: 1 }], { sync: true }), /once per write/);
    // The store is still usable and nothing of the refused writes was persisted.
    await store.write([{ groupId: 1, entries: entries(4, 4, 1), compactTo: 2 }], { sync: true });
    await store.close();
    const again = new SegmentedLogStore(dir.path);
    await again.open();
    assert.deepEqual(again.groups(), [1]);
    assert.equal(again.firstIndex(1), 3);
    assert.equal(again.lastIndex(1), 4);
    await again.close();
  } finally {
    dir.cleanup();
  }
});

test('simulated power loss: any cut or zero-filled tail after the synced mark recovers every synced write', async () => {
  const rng = new SeededRandom(7);
  for (let round = 0; round < 12; round++) {
    const dir = tempDir(`log-power-${round}`);
    try {
      const store = new SegmentedLogStore(dir.path);
      await store.open();
      const synced = rng.int(1, 30);
      for (let i = 1; i <= synced; i++) await store.write([{ groupId: 1 + (i % 3), hardState: { term: 1, vote: 0, commit: i } }, { groupId: 9, entries: entries(i, i, 1, 'p'.repeat(rng.int(0, 3000))) }], { sync: true });
      const file = segmentFiles(dir.path).at(-1)!;
      const syncedSize = fs.statSync(file).size;
      for (let i = synced + 1; i <= synced + 5; i++) await store.write([{ groupId: 9, entries: entries(i, i, 1, 'q'.repeat(rng.int(0, 3000))) }], { sync: false });
      await store.crash();
      // Whatever the disk kept of the unsynced tail: a prefix, then maybe zeros (an extended but unwritten block).
      const size = fs.statSync(file).size;
      const keep = rng.int(syncedSize, size);
      fs.truncateSync(file, keep);
      if (rng.chance(0.5)) fs.appendFileSync(file, Buffer.alloc(rng.int(1, 4096)));
      const again = new SegmentedLogStore(dir.path);
      await again.open();
      assert.ok(again.lastIndex(9) >= synced, `round ${round}: synced entries kept`);
      assert.deepEqual(plain(again.entries(9, 1, synced + 1)).map((e) => e[0]), Array.from({ length: synced }, (_, k) => k + 1));
      await again.close();
    } finally {
      dir.cleanup();
    }
  }
});
