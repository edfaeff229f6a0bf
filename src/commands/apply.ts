import { EntryType, type GroupId, type SnapshotMeta } from '../raft/types.js';
import type { ApplyWork, HostStateMachine } from '../host/host.js';
import { decodeEntryBatch } from '../host/entry-batch.js';
import type { StateMachineStore, StoredValue } from '../storage/types.js';
import { errorReply, type Reply } from '../resp/encoder.js';
import { errUnknownCommand } from '../resp/replies.js';
import { OverlayKeyspace, type KeyspaceReader } from './keyspace.js';
import { decodeOp } from './op-codec.js';
import type { KeyedCommand } from './spec.js';

/**
 * The replicated key-value state machine of every group on a node: applies
 * committed entries deterministically (time = the entry's stamp, revision =
 * the entry's index) into one LevelDB batch per cycle, with each group's
 * applied index in the same batch.
 */
export class KvStateMachine implements HostStateMachine {
  private readonly keyCounts = new Map<GroupId, number>();

  constructor(
    private readonly store: StateMachineStore,
    private readonly commands: ReadonlyMap<string, KeyedCommand>,
  ) {}

  /** Counts each group's keys (DBSIZE is then O(1)); call once after open. */
  async init(groupIds: GroupId[]): Promise<void> {
    for (const g of groupIds) await this.recount(g);
  }

  private async recount(groupId: GroupId): Promise<void> {
    let n = 0;
    for await (const _ of this.store.scan(groupId)) n++;
    this.keyCounts.set(groupId, n);
  }

  keyCount(groupId: GroupId): number {
    return this.keyCounts.get(groupId) ?? 0;
  }

  reader(groupId: GroupId): KeyspaceReader {
    return { getRaw: (key) => this.store.getSync(groupId, key) };
  }

  applied(groupId: GroupId): number {
    return this.store.applied(groupId);
  }

  async apply(work: ApplyWork[]): Promise<Map<GroupId, unknown[][]>> {
    const batch = this.store.batch();
    const results = new Map<GroupId, unknown[][]>();
    for (const { groupId, entries } of work) {
      let count = this.keyCount(groupId);
      const base = this.reader(groupId);
      const ks = new OverlayKeyspace(
        base,
        (key, value: StoredValue, existed) => {
          if (!existed) count++;
          batch.put(groupId, key, value);
        },
        (key, existed) => {
          if (existed) count--;
          batch.del(groupId, key);
        },
      );
      const perEntry: unknown[][] = [];
      for (const e of entries) {
        if (e.type !== EntryType.Normal || e.data.length === 0) {
          perEntry.push([]);
          continue;
        }
        const { timeMs, ops } = decodeEntryBatch(e.data);
        perEntry.push(ops.map((op) => this.applyOp({ ks, nowMs: timeMs, revision: e.index }, op)));
      }
      batch.setApplied(groupId, entries[entries.length - 1].index);
      results.set(groupId, perEntry);
      this.keyCounts.set(groupId, count);
    }
    await batch.write();
    return results;
  }

  private applyOp(ctx: { ks: OverlayKeyspace; nowMs: number; revision: number }, op: Uint8Array): Reply {
    const args = decodeOp(op);
    const cmd = this.commands.get(args[0].toString('latin1').toLowerCase());
    if (cmd === undefined || cmd.kind !== 'write') return errUnknownCommand(args);
    try {
      return cmd.apply(ctx, args);
    } catch (err) {
      // A command bug must not split replicas: every replica throws the same way.
      return errorReply(`ERR internal error applying '${cmd.name}': ${(err as Error).message}`);
    }
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
