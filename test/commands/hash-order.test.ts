// Proves hashes list their fields in insertion order, as Redis does for small
// (listpack) hashes: a new field goes last, a field written again keeps its place,
// a deleted and re-added field goes last; RENAME keeps the order; and HSCAN over a
// large hash returns every field present for the whole scan exactly once even when
// fields are added and removed between calls (the cursor is a sequence number).
// Runs the commands through KvStateMachine over the in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine } from '../../src/commands/apply.js';
import { stateMachineCommands } from '../../src/node.js';
import { encodeEntryBatch } from '../../src/host/entry-batch.js';
import { encodeOp } from '../../src/commands/op-codec.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { EntryType } from '../../src/raft/types.js';
import type { Reply } from '../../src/resp/encoder.js';
import type { KeyedCommand } from '../../src/commands/spec.js';

const GROUP = 1;
const NOW = 1_700_000_000_000;

function plain(r: Reply): unknown {
  switch (r.kind) {
    case 'array': return r.items === null ? null : r.items.map(plain);
    case 'map': return r.entries.flatMap(([k, v]) => [plain(k), plain(v)]);
    case 'bulk': return r.value === null ? null : Buffer.from(r.value).toString('latin1');
    case 'integer': return Number(r.value);
    case 'simple': return r.value;
    case 'error': return `ERR:${r.message}`;
    default: return r.kind;
  }
}

function machine(store = new MemoryStateMachineStore()): (...args: string[]) => Promise<unknown> {
  const commands = stateMachineCommands().all;
  const sm = new KvStateMachine(store, commands);
  let index = 0;
  return async (...args: string[]) => {
    const cmd = commands.get(args[0].toLowerCase()) as KeyedCommand;
    const bufs = args.map((a) => Buffer.from(a, 'latin1'));
    if (cmd.kind === 'read') return plain(await cmd.read({ ks: sm.reader(GROUP), nowMs: NOW }, bufs));
    const data = encodeEntryBatch({ timeMs: NOW, ops: [encodeOp(bufs)] });
    const res = await sm.apply([{ groupId: GROUP, entries: [{ term: 1, index: ++index, type: EntryType.Normal, data }] }]);
    return plain((res.get(GROUP)![0] as Reply[])[0]);
  };
}

test('HGETALL/HKEYS/HVALS/HSCAN list fields in insertion order', async () => {
  const run = machine();
  await run('HSET', 'h', 'z', '1', 'a', '2', 'm', '3');
  assert.deepEqual(await run('HKEYS', 'h'), ['z', 'a', 'm']);
  await run('HSET', 'h', 'a', 'again', 'b', '4');
  await run('HINCRBY', 'h', 'n', '5');
  await run('HSETNX', 'h', 'z', 'no');
  await run('HINCRBYFLOAT', 'h', 'z', '1.5');
  assert.deepEqual(await run('HGETALL', 'h'), ['z', '2.5', 'a', 'again', 'm', '3', 'b', '4', 'n', '5']);
  await run('HDEL', 'h', 'z');
  await run('HSET', 'h', 'z', 'back');
  assert.deepEqual(await run('HKEYS', 'h'), ['a', 'm', 'b', 'n', 'z']);
  assert.deepEqual(await run('HVALS', 'h'), ['again', '3', '4', '5', 'back']);
  assert.deepEqual(await run('HSCAN', 'h', '0'), ['0', ['a', 'again', 'm', '3', 'b', '4', 'n', '5', 'z', 'back']]);
  assert.deepEqual([await run('HGET', 'h', 'a'), await run('HSTRLEN', 'h', 'a'), await run('HLEN', 'h')], ['again', 5, 5]);
  await run('RENAME', 'h', 'h2');
  assert.deepEqual(await run('HKEYS', 'h2'), ['a', 'm', 'b', 'n', 'z']);
  await run('HSET', 'h2', 'new', 'x');
  assert.deepEqual(await run('HKEYS', 'h2'), ['a', 'm', 'b', 'n', 'z', 'new']);
});

test('HSCAN over a large hash misses no field present throughout, despite changes between calls', async () => {
  const run = machine();
  const fields = Array.from({ length: 700 }, (_, i) => `f${i}`);
  await run('HSET', 'big', ...fields.flatMap((f) => [f, 'v']));
  const seen = new Map<string, number>();
  let cursor = '0';
  let step = 0;
  do {
    const [next, items] = await run('HSCAN', 'big', cursor, 'COUNT', '25') as [string, string[]];
    for (let i = 0; i < items.length; i += 2) seen.set(items[i], (seen.get(items[i]) ?? 0) + 1);
    cursor = next;
    // Between calls: delete an early field and add a new one.
    await run('HDEL', 'big', `f${step}`);
    await run('HSET', 'big', `new${step}`, 'v');
    step++;
  } while (cursor !== '0');
  for (let i = step; i < fields.length; i++) assert.equal(seen.get(`f${i}`), 1, `f${i} returned once`);
  assert.ok(step > 20, `the scan took many calls (${step})`);
  assert.deepEqual(await run('HSCAN', 'big', '18446744073709551616'), 'ERR:ERR invalid cursor');
});

/** Counts the field reads commands make (each is a LevelDB lookup when the field is not cached). */
class FieldReadCountingStore extends MemoryStateMachineStore {
  fieldReads = 0;
  override getFieldSync(groupId: number, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    this.fieldReads++;
    return super.getFieldSync(groupId, key, field);
  }
}

test('HSET into a new hash reads no field, a field given twice counts once, and HSET/HDEL read a field once', async () => {
  const store = new FieldReadCountingStore();
  const run = machine(store);
  assert.equal(await run('HSET', 'n', 'a', '1', 'b', '2'), 2);
  // 'a' needs no read (the hash has no fields yet); 'b' is read, as 'a' is now in the hash.
  assert.equal(store.fieldReads, 1);
  // The second 'f' is found among this command's own writes, without a read of the store.
  assert.equal(await run('HSET', 'd', 'f', '1', 'f', '2'), 1);
  assert.equal(store.fieldReads, 1);
  assert.equal(await run('HLEN', 'd'), 1);
  assert.equal(await run('HGET', 'd', 'f'), '2');
  // An existing hash reads each field it sets, once.
  const before = store.fieldReads;
  assert.equal(await run('HSET', 'n', 'a', 'x', 'c', '3'), 1);
  assert.equal(store.fieldReads - before, 2);
  assert.deepEqual(await run('HGETALL', 'n'), ['a', 'x', 'b', '2', 'c', '3']);
  // HSETNX, HINCRBY and HINCRBYFLOAT read the field once, to decide, and write with that read.
  for (const [cmd, expected] of [[['HSETNX', 'n', 'q', 'v'], 1], [['HINCRBY', 'n', 'b', '5'], 7], [['HINCRBYFLOAT', 'n', 'b', '0.5'], '7.5']] as const) {
    const at: number = store.fieldReads;
    assert.equal(await run(...cmd), expected);
    assert.equal(store.fieldReads - at, 1, cmd.join(' '));
  }
  await run('HDEL', 'n', 'q');
  await run('HSET', 'n', 'b', '2');
  // HDEL reads each field once; emptied, the key is gone with its last field, and a refill is
  // a new hash.
  const beforeDel = store.fieldReads;
  assert.equal(await run('HDEL', 'n', 'a', 'b', 'c', 'nope'), 3);
  assert.equal(store.fieldReads - beforeDel, 4);
  assert.equal(await run('EXISTS', 'n'), 0);
  assert.equal(await run('HSET', 'n', 'a', 'again'), 1);
  assert.deepEqual(await run('HGETALL', 'n'), ['a', 'again']);
});
