// Proves the simulator's building blocks behave as the harness assumes: storage appends truncate
// a conflicting tail and compaction keeps the point, the KV image round-trips, and the event
// queue runs events by time and then by insertion order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type Entry } from '../../src/raft/types.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { KvStateMachine, encodeCommand } from '../../src/sim/kv.js';
import { SimStorage } from '../../src/sim/storage.js';

const entry = (index: number, term: number, data: Uint8Array = new Uint8Array(0)): Entry =>
  ({ index, term, type: EntryType.Normal, data });

test('storage: an append overwrites the tail from its first index', () => {
  const storage = new SimStorage();
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  storage.append([entry(2, 2)]);
  assert.deepEqual(storage.entries.map((e) => `${e.index}/${e.term}`), ['1/1', '2/2']);
  assert.throws(() => storage.append([entry(5, 2)]), /gap/);
});

test('storage: compaction drops entries up to the point and restart sees the point', () => {
  const storage = new SimStorage();
  storage.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
  storage.compact({ index: 2, term: 1, confState: { voters: [1, 2, 3], learners: [] } });
  const persisted = storage.persistedState();
  assert.equal(persisted.snapshot?.index, 2);
  assert.deepEqual(persisted.entries.map((e) => e.index), [3]);
  assert.equal(storage.termAt(2), 1);
  assert.throws(() => storage.compact({ index: 3, term: 1, confState: { voters: [], learners: [] } }), /term/);
});

test('kv: applying is in order and the image round-trips', () => {
  const kv = new KvStateMachine();
  kv.apply(entry(1, 1));
  kv.apply(entry(2, 1, encodeCommand({ clientId: 1, opId: 1, key: 'a', value: 'x' })));
  assert.throws(() => kv.apply(entry(4, 1)), /gap/);
  const copy = new KvStateMachine();
  copy.restore(kv.image());
  assert.equal(copy.applied, 2);
  assert.equal(copy.get('a'), 'x');
  assert.equal(copy.digest(), kv.digest());
});

test('event queue: by time, then by insertion order', () => {
  const queue = new EventQueue();
  const seen: string[] = [];
  queue.push(5, () => seen.push('b'));
  queue.push(1, () => seen.push('a'));
  queue.push(5, () => seen.push('c'));
  queue.push(9, () => seen.push('d'));
  for (let event = queue.pop(); event !== undefined; event = queue.pop()) event.run();
  assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
});
