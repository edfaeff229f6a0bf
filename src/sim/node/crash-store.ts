/**
 * A state-machine store that can lose power. It wraps `MemoryStateMachineStore` (what the
 * process sees) and keeps a second one as the disk image: batches, snapshot installs and
 * group deletions since the last `flush()` are recorded in order, and a crash keeps only a
 * prefix of them, as LevelDB replays a prefix of its unsynced write-ahead log. A process
 * crash (kill -9) keeps them all; a power loss keeps any prefix.
 */
import type { GroupId } from '../../raft/types.js';
import { MemoryStateMachineStore } from '../../storage/memory-state-machine-store.js';
import type {
  ScanOptions, StateMachineBatch, StateMachineStore, StateSnapshot, StoredValue, Tombstones,
} from '../../storage/types.js';

type DiskOp = (disk: MemoryStateMachineStore) => Promise<void>;

function copyValue(v: StoredValue): StoredValue {
  return { type: v.type, value: Uint8Array.from(v.value), expireAtMs: v.expireAtMs, revision: v.revision };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function imageOf(store: MemoryStateMachineStore, groupId: GroupId): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of store.createSnapshot(groupId).chunks()) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Records the calls of one batch so they can be replayed on the disk image. */
class RecordingBatch implements StateMachineBatch {
  private readonly calls: Array<(b: StateMachineBatch) => void> = [];

  constructor(private readonly inner: StateMachineBatch, private readonly onWrite: (op: DiskOp) => void) {}

  get length(): number {
    return this.inner.length;
  }

  put(groupId: GroupId, key: Uint8Array, value: StoredValue, existed?: boolean): this {
    const k = Uint8Array.from(key);
    const v = copyValue(value);
    this.calls.push((b) => b.put(groupId, k, v, existed));
    this.inner.put(groupId, key, value, existed);
    return this;
  }

  del(groupId: GroupId, key: Uint8Array): this {
    const k = Uint8Array.from(key);
    this.calls.push((b) => b.del(groupId, k));
    this.inner.del(groupId, key);
    return this;
  }

  putField(groupId: GroupId, key: Uint8Array, field: Uint8Array, value: Uint8Array): this {
    const [k, f, v] = [Uint8Array.from(key), Uint8Array.from(field), Uint8Array.from(value)];
    this.calls.push((b) => b.putField(groupId, k, f, v));
    this.inner.putField(groupId, key, field, value);
    return this;
  }

  delField(groupId: GroupId, key: Uint8Array, field: Uint8Array): this {
    const [k, f] = [Uint8Array.from(key), Uint8Array.from(field)];
    this.calls.push((b) => b.delField(groupId, k, f));
    this.inner.delField(groupId, key, field);
    return this;
  }

  putTombstone(groupId: GroupId, key: Uint8Array, revision: number): this {
    const k = Uint8Array.from(key);
    this.calls.push((b) => b.putTombstone(groupId, k, revision));
    this.inner.putTombstone(groupId, key, revision);
    return this;
  }

  delTombstone(groupId: GroupId, key: Uint8Array): this {
    const k = Uint8Array.from(key);
    this.calls.push((b) => b.delTombstone(groupId, k));
    this.inner.delTombstone(groupId, key);
    return this;
  }

  setTombstoneFloor(groupId: GroupId, revision: number): this {
    this.calls.push((b) => b.setTombstoneFloor(groupId, revision));
    this.inner.setTombstoneFloor(groupId, revision);
    return this;
  }

  setApplied(groupId: GroupId, index: number): this {
    this.calls.push((b) => b.setApplied(groupId, index));
    this.inner.setApplied(groupId, index);
    return this;
  }

  async write(): Promise<void> {
    await this.inner.write();
    const calls = this.calls.slice();
    this.onWrite(async (disk) => {
      const b = disk.batch();
      for (const call of calls) call(b);
      await b.write();
    });
  }
}

export class CrashableStateMachineStore implements StateMachineStore {
  private live = new MemoryStateMachineStore();
  private readonly disk = new MemoryStateMachineStore();
  /** Writes since the last flush, oldest first: what a power loss may take away. */
  private unflushed: DiskOp[] = [];
  flushes = 0;

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  groups(): GroupId[] {
    return this.live.groups();
  }

  getSync(groupId: GroupId, key: Uint8Array): StoredValue | undefined {
    return this.live.getSync(groupId, key);
  }

  getFieldSync(groupId: GroupId, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    return this.live.getFieldSync(groupId, key, field);
  }

  fields(groupId: GroupId, key: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.live.fields(groupId, key);
  }

  scan(groupId: GroupId, opts?: ScanOptions): AsyncIterable<[Uint8Array, StoredValue]> {
    return this.live.scan(groupId, opts);
  }

  scanByHash(groupId: GroupId, fromHash: number): AsyncIterable<[number, Uint8Array, StoredValue]> {
    return this.live.scanByHash(groupId, fromHash);
  }

  tombstones(groupId: GroupId): Promise<Tombstones> {
    return this.live.tombstones(groupId);
  }

  applied(groupId: GroupId): number {
    return this.live.applied(groupId);
  }

  batch(): StateMachineBatch {
    return new RecordingBatch(this.live.batch(), (op) => this.unflushed.push(op));
  }

  async flush(): Promise<void> {
    const ops = this.unflushed;
    this.unflushed = [];
    for (const op of ops) await op(this.disk);
    this.flushes++;
  }

  async deleteGroup(groupId: GroupId): Promise<void> {
    await this.live.deleteGroup(groupId);
    this.unflushed.push((disk) => disk.deleteGroup(groupId));
  }

  createSnapshot(groupId: GroupId): StateSnapshot {
    return this.live.createSnapshot(groupId);
  }

  async installSnapshot(groupId: GroupId, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(Uint8Array.from(chunk));
    const bytes = Buffer.concat(parts);
    await this.live.installSnapshot(groupId, once(bytes));
    this.unflushed.push((disk) => disk.installSnapshot(groupId, once(bytes)));
  }

  /** Writes not yet flushed (a power loss keeps a prefix of them). */
  unflushedCount(): number {
    return this.unflushed.length;
  }

  /**
   * The process dies. The disk keeps the first `keep` unflushed writes (all of them for a
   * process crash); what the restarted process sees is rebuilt from the disk.
   */
  async crash(keep: number): Promise<void> {
    const ops = this.unflushed.slice(0, keep);
    this.unflushed = [];
    for (const op of ops) await op(this.disk);
    const next = new MemoryStateMachineStore();
    for (const groupId of this.disk.groups()) await next.installSnapshot(groupId, once(await imageOf(this.disk, groupId)));
    this.live = next;
  }

  /** The group's image as the snapshot stream encodes it (applied index included). */
  image(groupId: GroupId): Promise<Uint8Array> {
    return imageOf(this.live, groupId);
  }
}
