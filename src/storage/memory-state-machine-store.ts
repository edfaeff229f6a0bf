/**
 * The state-machine store of the simulator: the same interface and the same snapshot
 * byte stream as the LevelDB store, kept in maps. A batch is applied whole or not at
 * all, and installSnapshot swaps a group's maps in one step.
 */
import type { GroupId } from '../raft/types.js';
import type { ScanOptions, StateMachineBatch, StateMachineStore, StateSnapshot, StoredValue, Tombstones } from './types.js';
import {
  decodeRevision, decodeValue, encodeRevision, encodeValue, fieldSuffix, FLOOR_SUFFIX, KIND_FIELD, KIND_FLOOR, KIND_MAIN,
  KIND_SCAN, KIND_TOMB, keyId as id, mainSuffix, parseSuffix, scanHash, scanSuffix, tombSuffix,
} from './key-layout.js';
import { decodeSnapshotStream, encodeSnapshotStream } from './snapshot-stream.js';

/** Latin-1 strings of bytes sort exactly as the bytes do. */
function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

interface GroupState {
  applied: number;
  keys: Map<string, StoredValue>;
  fields: Map<string, Map<string, Uint8Array>>;
  tombs: Map<string, number>;
  /** undefined until set: LevelDB holds no floor record then, and the snapshot has none. */
  floor: number | undefined;
}

function emptyGroup(): GroupState {
  return { applied: 0, keys: new Map(), fields: new Map(), tombs: new Map(), floor: undefined };
}

function copyValue(v: StoredValue): StoredValue {
  return { type: v.type, value: Buffer.from(v.value), expireAtMs: v.expireAtMs, revision: v.revision };
}

function sortedKeys<T>(m: Map<string, T>): string[] {
  return [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The state of a group, created empty on first write. */
type GroupOf = (groupId: GroupId) => GroupState;
type Op = (group: GroupOf) => void;

class MemoryBatch implements StateMachineBatch {
  private readonly ops: Op[] = [];
  constructor(private readonly groupOf: GroupOf) {}
  get length(): number {
    return this.ops.length;
  }
  /** `existed` is a hint for LevelDB's scan index; the index is derived here. */
  put(groupId: GroupId, key: Uint8Array, value: StoredValue, _existed?: boolean): this {
    const k = id(key);
    const v = copyValue(value);
    this.ops.push((s) => s(groupId).keys.set(k, v));
    return this;
  }
  del(groupId: GroupId, key: Uint8Array): this {
    const k = id(key);
    this.ops.push((s) => {
      const g = s(groupId);
      g.keys.delete(k);
      g.fields.delete(k);
    });
    return this;
  }
  putField(groupId: GroupId, key: Uint8Array, field: Uint8Array, value: Uint8Array): this {
    const k = id(key);
    const f = id(field);
    const v = Buffer.from(value);
    this.ops.push((s) => {
      const g = s(groupId);
      let m = g.fields.get(k);
      if (!m) g.fields.set(k, (m = new Map()));
      m.set(f, v);
    });
    return this;
  }
  delField(groupId: GroupId, key: Uint8Array, field: Uint8Array): this {
    const k = id(key);
    const f = id(field);
    this.ops.push((s) => {
      const g = s(groupId);
      const m = g.fields.get(k);
      if (m) {
        m.delete(f);
        if (m.size === 0) g.fields.delete(k);
      }
    });
    return this;
  }
  putTombstone(groupId: GroupId, key: Uint8Array, revision: number): this {
    const k = id(key);
    this.ops.push((s) => s(groupId).tombs.set(k, revision));
    return this;
  }
  delTombstone(groupId: GroupId, key: Uint8Array): this {
    const k = id(key);
    this.ops.push((s) => s(groupId).tombs.delete(k));
    return this;
  }
  setTombstoneFloor(groupId: GroupId, revision: number): this {
    this.ops.push((s) => {
      s(groupId).floor = revision;
    });
    return this;
  }
  setApplied(groupId: GroupId, index: number): this {
    this.ops.push((s) => {
      s(groupId).applied = index;
    });
    return this;
  }
  async write(): Promise<void> {
    await Promise.resolve();
    for (const op of this.ops) op(this.groupOf);
  }
}

export class MemoryStateMachineStore implements StateMachineStore {
  private readonly state = new Map<GroupId, GroupState>();

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  groups(): GroupId[] {
    return [...this.state.keys()].sort((a, b) => a - b);
  }

  private group(groupId: GroupId): GroupState {
    let g = this.state.get(groupId);
    if (!g) this.state.set(groupId, (g = emptyGroup()));
    return g;
  }

  getSync(groupId: GroupId, key: Uint8Array): StoredValue | undefined {
    const v = this.state.get(groupId)?.keys.get(id(key));
    return v && copyValue(v);
  }

  getFieldSync(groupId: GroupId, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    const v = this.state.get(groupId)?.fields.get(id(key))?.get(id(field));
    return v && Buffer.from(v);
  }

  async *fields(groupId: GroupId, key: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const m = this.state.get(groupId)?.fields.get(id(key));
    if (!m) return;
    for (const f of sortedKeys(m)) yield [bytesOf(f), Buffer.from(m.get(f)!)];
  }

  async *scan(groupId: GroupId, opts: ScanOptions = {}): AsyncIterable<[Uint8Array, StoredValue]> {
    const g = this.state.get(groupId);
    if (!g) return;
    const after = opts.after ? id(opts.after) : undefined;
    for (const k of sortedKeys(g.keys)) {
      if (after !== undefined && k <= after) continue;
      const v = g.keys.get(k);
      if (v) yield [bytesOf(k), copyValue(v)];
    }
  }

  /** The keys of a group in scan-index order: (hash, key bytes). Derived from the keys, as LevelDB's index is. */
  private scanOrder(g: GroupState): Array<[number, string]> {
    const out = [...g.keys.keys()].map((k) => [scanHash(bytesOf(k)), k] as [number, string]);
    return out.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  }

  async *scanByHash(groupId: GroupId, fromHash: number): AsyncIterable<[number, Uint8Array, StoredValue]> {
    const g = this.state.get(groupId);
    if (!g) return;
    for (const [h, k] of this.scanOrder(g)) {
      if (h < fromHash) continue;
      const v = g.keys.get(k);
      if (v) yield [h, bytesOf(k), copyValue(v)];
    }
  }

  async tombstones(groupId: GroupId): Promise<Tombstones> {
    const g = this.state.get(groupId);
    if (!g) return { floor: 0, keys: [] };
    return { floor: g.floor ?? 0, keys: sortedKeys(g.tombs).map((k) => [bytesOf(k), g.tombs.get(k)!]) };
  }

  applied(groupId: GroupId): number {
    return this.state.get(groupId)?.applied ?? 0;
  }

  batch(): StateMachineBatch {
    return new MemoryBatch((groupId) => this.group(groupId));
  }

  /** Nothing to do: memory batches never go missing (see docs/storage.md). */
  async flush(): Promise<void> {}

  async deleteGroup(groupId: GroupId): Promise<void> {
    this.state.delete(groupId);
  }

  createSnapshot(groupId: GroupId): StateSnapshot {
    const g = this.state.get(groupId) ?? emptyGroup();
    // Point in time: copy the records now, in LevelDB key order (main records, then fields).
    const records: [Buffer, Buffer][] = [];
    for (const k of sortedKeys(g.keys)) records.push([mainSuffix(bytesOf(k)), encodeValue(g.keys.get(k)!)]);
    const fieldRecords: [Buffer, Buffer][] = [];
    for (const [k, m] of g.fields) {
      for (const [f, v] of m) fieldRecords.push([fieldSuffix(bytesOf(k), bytesOf(f)), Buffer.from(v)]);
    }
    fieldRecords.sort((a, b) => Buffer.compare(a[0], b[0]));
    for (const k of sortedKeys(g.tombs)) fieldRecords.push([tombSuffix(bytesOf(k)), encodeRevision(g.tombs.get(k)!)]);
    if (g.floor !== undefined) fieldRecords.push([FLOOR_SUFFIX, encodeRevision(g.floor)]);
    for (const [h, k] of this.scanOrder(g)) fieldRecords.push([scanSuffix(h, bytesOf(k)), Buffer.alloc(0)]);
    const applied = g.applied;
    return {
      applied,
      chunks: () => encodeSnapshotStream(applied, [...records, ...fieldRecords]),
      close: async () => {},
    };
  }

  async installSnapshot(groupId: GroupId, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const next = emptyGroup();
    for await (const item of decodeSnapshotStream(chunks)) {
      if (item.kind === 'header') {
        next.applied = item.applied;
        continue;
      }
      const parsed = parseSuffix(item.suffix);
      if (parsed.kind === KIND_MAIN) {
        next.keys.set(id(parsed.key), decodeValue(Buffer.from(item.value)));
      } else if (parsed.kind === KIND_TOMB) {
        next.tombs.set(id(parsed.key), decodeRevision(item.value));
      } else if (parsed.kind === KIND_FLOOR) {
        next.floor = decodeRevision(item.value);
      } else if (parsed.kind === KIND_SCAN) {
        // Derived from the keys here.
      } else if (parsed.kind === KIND_FIELD) {
        const k = id(parsed.key);
        let m = next.fields.get(k);
        if (!m) next.fields.set(k, (m = new Map()));
        m.set(id(parsed.field), Buffer.from(item.value));
      }
    }
    this.state.set(groupId, next);
  }
}

