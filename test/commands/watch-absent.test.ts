// Proves WATCH on a key absent at WATCH time aborts EXEC when the key was created and
// deleted again, or set and expired, before EXEC — as Redis does — and only then: the
// state machine (KvStateMachine over the in-memory store) applies entries built as the
// host builds them, WATCH's token is read with the internal revision read, and EXEC's
// entry is checked against tombstones, which survive a snapshot and are pruned in a
// bounded, conservative way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine } from '../../src/commands/apply.js';
import { stateMachineCommands } from '../../src/node.js';
import { encodeEntryBatch } from '../../src/host/entry-batch.js';
import { encodeOp } from '../../src/commands/op-codec.js';
import { encodeExec, INTERNAL } from '../../src/commands/internal.js';
import { MemoryStateMachineStore } from '../../src/storage/memory-state-machine-store.js';
import { EntryType } from '../../src/raft/types.js';
import { encodeReply, type Reply } from '../../src/resp/encoder.js';
import { TOMBSTONES_MAX } from '../../src/commands/tombstones.js';

const GROUP = 1;
const T0 = 1_700_000_000_000;

class Machine {
  readonly store = new MemoryStateMachineStore();
  readonly commands = stateMachineCommands().all;
  readonly sm = new KvStateMachine(this.store, this.commands);
  index = 0;

  /** Applies one entry holding `ops`, stamped `timeMs`; returns the replies as RESP2 text. */
  async apply(timeMs: number, ...ops: string[][]): Promise<string[]> {
    const data = encodeEntryBatch({ timeMs, ops: ops.map((o) => encodeOp(o.map((a) => Buffer.from(a)))) });
    const results = await this.sm.apply([{ groupId: GROUP, entries: [{ term: 1, index: ++this.index, type: EntryType.Normal, data }] }]);
    return (results.get(GROUP)![0] as Reply[]).map((r) => encodeReply(r).toString('latin1'));
  }

  /** WATCH's read: the token of `key`. */
  async watch(key: string, nowMs: number): Promise<number> {
    const cmd = this.commands.get(INTERNAL.rev)!;
    assert.equal(cmd.kind, 'read');
    const r = await (cmd as { read: Function }).read({ ks: this.sm.reader(GROUP), nowMs }, [Buffer.from(INTERNAL.rev), Buffer.from(key)]) as Reply;
    assert.equal(r.kind, 'array');
    const item = (r as unknown as { items: Reply[] }).items[0];
    return Number((item as { value: number }).value);
  }

  /** EXEC of `SET key tx` watching `key` at `token`: its reply as RESP2 text. */
  async exec(timeMs: number, key: string, token: number): Promise<string> {
    const op = encodeExec([[Buffer.from(key), token]], [[Buffer.from('SET'), Buffer.from(key), Buffer.from('tx')]]);
    return (await this.apply(timeMs, op.map((b) => b.toString('latin1'))))[0];
  }
}

const NIL = '*-1\r\n';
const DONE = '*1\r\n+OK\r\n';

test('absent at WATCH, created and deleted before EXEC: EXEC aborts', async () => {
  const m = new Machine();
  await m.apply(T0, ['SET', 'other', 'x']);
  const token = await m.watch('k', T0);
  await m.apply(T0, ['SET', 'k', 'v']);
  await m.apply(T0, ['DEL', 'k']);
  assert.equal(await m.exec(T0, 'k', token), NIL);
});

test('absent at WATCH, set with a TTL that expires before EXEC: EXEC aborts (swept or not)', async () => {
  const m = new Machine();
  const token = await m.watch('k', T0);
  await m.apply(T0, ['SET', 'k', 'v', 'PX', '10']);
  assert.equal(await m.exec(T0 + 100, 'k', token), NIL, 'expired, not yet deleted');
  const m2 = new Machine();
  const token2 = await m2.watch('k', T0);
  await m2.apply(T0, ['SET', 'k', 'v', 'PX', '10']);
  assert.deepEqual(await m2.apply(T0 + 50, [INTERNAL.expire, 'k']), [':1\r\n']);
  assert.equal(await m2.exec(T0 + 100, 'k', token2), NIL, 'deleted by the expiry sweep');
});

test('absent and untouched: EXEC runs, whatever happens to other keys', async () => {
  const m = new Machine();
  await m.apply(T0, ['SET', 'k', 'old']);
  await m.apply(T0, ['DEL', 'k']);
  const token = await m.watch('k', T0);
  await m.apply(T0, ['SET', 'a', '1']);
  await m.apply(T0, ['DEL', 'a']);
  assert.equal(await m.exec(T0, 'k', token), DONE);
});

test('expired before WATCH and then removed by the sweep: not a change (as Redis 7.0)', async () => {
  const m = new Machine();
  await m.apply(T0, ['SET', 'k', 'v', 'PX', '10']);
  const token = await m.watch('k', T0 + 20);
  await m.apply(T0 + 30, [INTERNAL.expire, 'k']);
  assert.equal(await m.exec(T0 + 40, 'k', token), DONE);
});

test('present at WATCH: a write, a delete or an expiry aborts; nothing aborts nothing', async () => {
  const m = new Machine();
  await m.apply(T0, ['SET', 'k', 'v', 'PX', '100']);
  let token = await m.watch('k', T0);
  assert.equal(await m.exec(T0 + 200, 'k', token), NIL, 'expired');
  token = await m.watch('k', T0 + 200);
  await m.apply(T0 + 200, ['DEL', 'k']);
  assert.equal(await m.exec(T0 + 200, 'k', token), DONE, 'absent at WATCH and at EXEC, deleted while already absent');
  token = await m.watch('k', T0 + 200);
  await m.apply(T0 + 200, ['DEL', 'k']);
  assert.equal(await m.exec(T0 + 200, 'k', token), NIL, 'present (tx) then deleted');
});

test('tombstones survive a snapshot: the installed replica aborts the same EXEC', async () => {
  const m = new Machine();
  const token = await m.watch('k', T0);
  await m.apply(T0, ['SET', 'k', 'v']);
  await m.apply(T0, ['DEL', 'k']);
  const image = await m.sm.snapshot(GROUP);
  const copy = new Machine();
  await copy.sm.installSnapshot(GROUP, { index: m.index, term: 1, voters: [1], learners: [] } as never, image);
  copy.index = m.index;
  assert.equal(await copy.exec(T0, 'k', token), NIL);
  assert.equal(await m.exec(T0, 'k', token), NIL);
});

test('tombstones are bounded; a pruned tombstone makes EXEC abort rather than miss the change', async () => {
  const m = new Machine();
  const token = await m.watch('k', T0);
  await m.apply(T0, ['SET', 'k', 'v']);
  await m.apply(T0, ['DEL', 'k']);
  const keys = Array.from({ length: TOMBSTONES_MAX + 10 }, (_, i) => `o${i}`);
  await m.apply(T0, ['MSET', ...keys.flatMap((k) => [k, 'x'])]);
  await m.apply(T0, ['DEL', ...keys]);
  const t = m.sm.tombstoneIndex(GROUP);
  assert.ok(t.size <= TOMBSTONES_MAX, `tombstones bounded (${t.size})`);
  assert.ok(t.floor > 0, 'the floor rose');
  assert.equal((await m.store.tombstones(GROUP)).keys.length, t.size, 'storage holds what memory holds');
  assert.equal(await m.exec(T0, 'k', token), NIL);
});
