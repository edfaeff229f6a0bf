import { EntryType, type GroupId, type SnapshotMeta } from '../raft/types.js';
import type { ApplyWork, HostStateMachine } from '../host/host.js';
import { decodeEntryBatch } from '../host/entry-batch.js';
import { ValueType, type StateMachineStore, type StoredValue } from '../storage/types.js';
import { errorReply, type Reply } from '../resp/encoder.js';
import { errUnknownCommand } from '../resp/replies.js';
import { OverlayKeyspace, type KeyspaceReader, type ReadContext, type WriteContext } from './keyspace.js';
import { decodeOp } from './op-codec.js';
import type { KeyedCommand } from './spec.js';
import { ExpiryIndex } from './expiry-index.js';
import { TombstoneIndex } from './tombstones.js';
import { GroupKeyStats, touchStat } from './key-stats.js';
import { SeededRandom } from '../env/random.js';
import { keyId } from '../storage/key-layout.js';

/** Whether two short byte strings are equal (a command name: cheaper than a native compare). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs one write command, turning a thrown bug into the same error reply on every replica. */
export function applyCommand(cmd: KeyedCommand | undefined, ctx: WriteContext, args: Buffer[]): Reply | Promise<Reply> {
  if (cmd === undefined || cmd.kind !== 'write') return errUnknownCommand(args);
  // A command bug must not split replicas: every replica throws the same way.
  const failed = (err: unknown): Reply => errorReply(`ERR internal error applying '${cmd.name}': ${(err as Error).message}`);
  try {
    const r = cmd.apply(ctx, args);
    return r instanceof Promise ? r.catch(failed) : r;
  } catch (err) {
    return failed(err);
  }
}

/**
 * The replicated key-value state machine of every group on a node: applies
 * committed entries deterministically (time = the entry's stamp, revision =
 * the entry's index) into one LevelDB batch per cycle, with each group's
 * applied index in the same batch.
 */
export class KvStateMachine implements HostStateMachine {
  private readonly keyCounts = new Map<GroupId, number>();
  private readonly expiries = new Map<GroupId, ExpiryIndex>();
  private readonly tombstones = new Map<GroupId, TombstoneIndex>();
  private readonly sizes = new Map<GroupId, GroupKeyStats>();

  /** `random` drives only the in-memory LFU counters (key-stats.ts), never applied data. */
  constructor(
    private readonly store: StateMachineStore,
    private readonly commands: ReadonlyMap<string, KeyedCommand>,
    private readonly random: () => number = ((r) => () => r.next())(new SeededRandom(1)),
    private readonly clockMs: () => number = () => 0,
  ) {}

  /** Keys deleted by evictions this node applied (INFO stats evicted_keys). */
  readonly counters = { evictedKeys: 0 };

  /** Counts each group's keys (DBSIZE is then O(1)) and indexes their TTLs; call once after open. */
  async init(groupIds: GroupId[]): Promise<void> {
    for (const g of groupIds) await this.recount(g);
  }

  private async recount(groupId: GroupId): Promise<void> {
    let n = 0;
    const idx = this.expiryIndex(groupId);
    idx.clear();
    const stats = this.keyStats(groupId);
    stats.clear();
    for await (const [key, v] of this.store.scan(groupId)) {
      n++;
      const k = Buffer.from(key).toString('latin1');
      if (v.expireAtMs !== 0) idx.set(k, v.expireAtMs);
      // Access statistics are not persisted: every key starts as just accessed.
      stats.put(k, key.length, v.value.length, v.expireAtMs, this.clockMs(), true);
      if (v.type === ValueType.Hash) {
        for await (const [f, fv] of this.store.fields(groupId, key)) stats.putField(k, key.length, f.length, fv.length, undefined, 0);
      }
    }
    this.keyCounts.set(groupId, n);
    this.tombstoneIndex(groupId).load(await this.store.tombstones(groupId));
  }

  /** The deletion records of a group (WATCH on absent keys). */
  tombstoneIndex(groupId: GroupId): TombstoneIndex {
    let t = this.tombstones.get(groupId);
    if (!t) this.tombstones.set(groupId, (t = new TombstoneIndex()));
    return t;
  }

  /** Sizes and access statistics of a group's keys (used bytes, eviction, OBJECT, MEMORY USAGE). */
  keyStats(groupId: GroupId): GroupKeyStats {
    let s = this.sizes.get(groupId);
    if (!s) this.sizes.set(groupId, (s = new GroupKeyStats(this.random)));
    return s;
  }

  /** Bytes of the group's stored keys, as stored: the same on every replica at the same applied index. */
  usedBytes(groupId: GroupId): number {
    return this.sizes.get(groupId)?.usedBytes ?? 0;
  }

  /** Records a read of `key` served by this node (LRU/LFU statistics of this process only). */
  touch(groupId: GroupId, key: Buffer, nowMs: number, id = keyId(key)): void {
    const s = this.sizes.get(groupId)?.get(id);
    if (s) touchStat(s, nowMs, this.random);
  }

  keyCount(groupId: GroupId): number {
    return this.keyCounts.get(groupId) ?? 0;
  }

  /** Keys of the group with a TTL (INFO keyspace `expires`). */
  expiresCount(groupId: GroupId): number {
    return this.expiries.get(groupId)?.size ?? 0;
  }

  /** The TTL index of a group (the leader's expiry sweeper reads it). */
  expiryIndex(groupId: GroupId): ExpiryIndex {
    let idx = this.expiries.get(groupId);
    if (!idx) this.expiries.set(groupId, (idx = new ExpiryIndex()));
    return idx;
  }

  private readonly readers = new Map<GroupId, KeyspaceReader>();

  /** Raw access to a group's keys (one object per group, kept). */
  reader(groupId: GroupId): KeyspaceReader {
    let r = this.readers.get(groupId);
    if (r === undefined) this.readers.set(groupId, (r = this.makeReader(groupId)));
    return r;
  }

  private makeReader(groupId: GroupId): KeyspaceReader {
    const store = this.store;
    const tombs = this.tombstoneIndex(groupId);
    return {
      keyCount: () => this.keyCount(groupId),
      tombstone: (key) => tombs.get(key.toString('latin1')),
      tombstoneFloor: () => tombs.floor,
      appliedIndex: () => store.applied(groupId),
      getRaw: (key, id) => store.getSync(groupId, key, id),
      getField: (key, field) => {
        const v = store.getFieldSync(groupId, key, field);
        return v === undefined ? undefined : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      },
      async fields(key) {
        const out: Array<[Buffer, Buffer]> = [];
        for await (const [f, v] of store.fields(groupId, key)) out.push([Buffer.from(f), Buffer.from(v)]);
        return out;
      },
      async scanHashed(fromHash, count) {
        const rows: Array<[Buffer, StoredValue]> = [];
        let last = -1;
        for await (const [h, k, v] of store.scanByHash(groupId, fromHash)) {
          if (rows.length >= count && h !== last) return { rows, nextHash: h };
          rows.push([Buffer.from(k), v]);
          last = h;
        }
        return { rows, nextHash: undefined };
      },
      async scan(after, limit, inclusive = false) {
        const out: Array<[Buffer, StoredValue]> = [];
        if (limit <= 0) return out;
        if (after !== undefined && inclusive) {
          const v = store.getSync(groupId, after);
          if (v !== undefined) out.push([Buffer.from(after), v]);
        }
        if (out.length >= limit) return out;
        for await (const [k, v] of store.scan(groupId, { after, batchSize: Math.min(limit, 1024) })) {
          out.push([Buffer.from(k), v]);
          if (out.length >= limit) break;
        }
        return out;
      },
    };
  }

  /**
   * What a read command served by this node sees: the group's keys, each key it looks up
   * counting as an access in this node's LRU/LFU statistics (key-stats.ts). One object per
   * read, its own `ks`, without the closures of reader() (docs/decisions.md, "Local GET path").
   */
  readView(groupId: GroupId, nowMs: number): ReadContext {
    return new TouchingReadView(this, this.store, groupId, nowMs);
  }

  applied(groupId: GroupId): number {
    return this.store.applied(groupId);
  }

  private lastName: Buffer = Buffer.alloc(0);
  private lastCommand: KeyedCommand | undefined;

  /** The command an op names; the last one is remembered by its exact bytes (a run of SETs). */
  private command(name: Buffer): KeyedCommand | undefined {
    if (this.lastCommand !== undefined && sameBytes(name, this.lastName)) return this.lastCommand;
    const cmd = this.commands.get(name.toString('latin1').toLowerCase());
    if (cmd !== undefined) {
      this.lastName = Buffer.from(name);
      this.lastCommand = cmd;
    }
    return cmd;
  }

  async apply(work: ApplyWork[]): Promise<Map<GroupId, unknown[][]>> {
    const batch = this.store.batch();
    const results = new Map<GroupId, unknown[][]>();
    for (const { groupId, entries } of work) {
      let count = this.keyCount(groupId);
      const idx = this.expiryIndex(groupId);
      const tombs = this.tombstoneIndex(groupId);
      const stats = this.keyStats(groupId);
      let stampMs = 0;
      const ks = new OverlayKeyspace(this.reader(groupId), {
        put: (key, value: StoredValue, existed, k) => {
          if (!existed) count++;
          idx.set(k, value.expireAtMs);
          stats.put(k, key.length, value.value.length, value.expireAtMs, stampMs, !existed);
          tombs.drop(batch, groupId, key, k);
          batch.put(groupId, key, value, existed, k);
        },
        del: (key, existed, tombstone, k) => {
          if (existed) count--;
          idx.delete(k);
          stats.del(k);
          batch.del(groupId, key, k);
          if (tombstone !== undefined) tombs.put(batch, groupId, key, tombstone);
        },
        putField: (key, field, value, old) => {
          stats.putField(key.toString('latin1'), key.length, field.length, value.length, old?.length, stampMs);
          batch.putField(groupId, key, field, value);
        },
        delField: (key, field, old) => {
          stats.delField(key.toString('latin1'), key.length, field.length, old?.length);
          batch.delField(groupId, key, field);
        },
      });
      const perEntry: unknown[][] = [];
      for (const e of entries) {
        if (e.type !== EntryType.Normal || e.data.length === 0) {
          perEntry.push([]);
          continue;
        }
        const { timeMs, ops } = decodeEntryBatch(e.data);
        ks.at(e.index, timeMs);
        stampMs = timeMs;
        const replies: Reply[] = [];
        for (const op of ops) {
          const args = decodeOp(op);
          const cmd = this.command(args[0]);
          const r = applyCommand(cmd, { ks, nowMs: timeMs, revision: e.index, counters: this.counters }, args);
          // Most commands are synchronous; only those that list fields or keys wait on storage.
          replies.push(r instanceof Promise ? await r : r);
        }
        perEntry.push(replies);
        tombs.maybePrune(batch, groupId);
      }
      batch.setApplied(groupId, entries[entries.length - 1].index);
      results.set(groupId, perEntry);
      this.keyCounts.set(groupId, count);
    }
    await batch.write();
    return results;
  }

  async snapshot(groupId: GroupId): Promise<Uint8Array> {
    const snap = this.store.createSnapshot(groupId);
    const parts: Uint8Array[] = [];
    for await (const chunk of snap.chunks()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  async installSnapshot(groupId: GroupId, meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    async function* one(): AsyncIterable<Uint8Array> {
      yield data;
    }
    await this.store.installSnapshot(groupId, one());
    const applied = this.store.applied(groupId);
    if (applied !== meta.index) {
      throw new Error(`snapshot of group ${groupId} installed at applied ${applied}, expected ${meta.index}`);
    }
    await this.recount(groupId);
  }

  async sync(): Promise<void> {
    await this.store.flush();
  }
}

/**
 * A read served by this node (KvStateMachine.readView): point lookups go straight to the store
 * and count as accesses in the LRU/LFU statistics; the rarer whole-key operations use reader().
 * One allocation per read, methods on the prototype (the per-request cost of a GET).
 */
class TouchingReadView implements ReadContext, KeyspaceReader {
  constructor(
    private readonly sm: KvStateMachine,
    private readonly store: StateMachineStore,
    readonly groupId: GroupId,
    readonly nowMs: number,
  ) {}

  get ks(): KeyspaceReader {
    return this;
  }

  getRaw(key: Buffer): StoredValue | undefined {
    const id = keyId(key);
    const v = this.store.getSync(this.groupId, key, id);
    if (v !== undefined) this.sm.touch(this.groupId, key, this.nowMs, id);
    return v;
  }

  getField(key: Buffer, field: Buffer): Buffer | undefined {
    const v = this.store.getFieldSync(this.groupId, key, field);
    return v === undefined ? undefined : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }

  fields(key: Buffer): Promise<Array<[Buffer, Buffer]>> {
    return this.sm.reader(this.groupId).fields(key);
  }

  scan(after: Buffer | undefined, limit: number, inclusive?: boolean): Promise<Array<[Buffer, StoredValue]>> {
    return this.sm.reader(this.groupId).scan(after, limit, inclusive);
  }

  keyCount(): number {
    return this.sm.keyCount(this.groupId);
  }

  scanHashed(fromHash: number, count: number): Promise<{ rows: Array<[Buffer, StoredValue]>; nextHash: number | undefined }> {
    return this.sm.reader(this.groupId).scanHashed!(fromHash, count);
  }

  tombstone(key: Buffer): number | undefined {
    return this.sm.tombstoneIndex(this.groupId).get(key.toString('latin1'));
  }

  tombstoneFloor(): number {
    return this.sm.tombstoneIndex(this.groupId).floor;
  }

  appliedIndex(): number {
    return this.store.applied(this.groupId);
  }
}
