/**
 * Safety checks that watch every node while the run goes on:
 * - election safety: at most one leader per group and term (Raft paper, Figure 3);
 * - state-machine safety: every replica applies the same entry at each index of a group, and
 *   gets the same result for each of its operations (apply is deterministic, STYLE.md §5) —
 *   also when a node re-applies entries after a power loss took its state machine back.
 */
import type { ApplyWork, HostStateMachine } from '../../host/host.js';
import { decodeEntryBatch } from '../../host/entry-batch.js';
import type { KvStateMachine } from '../../commands/apply.js';
import { EntryType, Role, type GroupId, type NodeId, type SnapshotMeta } from '../../raft/types.js';
import { encodeReply, type Reply } from '../../resp/encoder.js';
import type { SimWorld } from './world.js';

interface AppliedEntry {
  term: number;
  data: Buffer;
  results: string;
  nodeId: NodeId;
}

export interface LedgerStats {
  leaderships: number;
  entriesApplied: number;
  /** Most client ops in one entry (the host batches the proposals of one turn). */
  opsPerEntryMax: number;
}

export class ApplyLedger {
  private readonly leaders = new Map<string, NodeId>();
  private readonly applied = new Map<string, AppliedEntry>();
  /** Highest term with a leader, per group. */
  readonly termsMax = new Map<GroupId, number>();
  readonly stats: LedgerStats = { leaderships: 0, entriesApplied: 0, opsPerEntryMax: 0 };

  constructor(private readonly world: SimWorld) {}

  watch(nodeId: NodeId, sm: KvStateMachine): HostStateMachine {
    return watchedStateMachine(nodeId, sm, (n, work, results) => this.noteApplied(n, work, results));
  }

  noteRole(groupId: GroupId, nodeId: NodeId, term: number, role: Role, leader: NodeId): void {
    this.world.trace(`group ${groupId} node ${nodeId}: ${Object.keys(Role)[role]} term=${term} leader=${leader}`);
    if (role !== Role.Leader) return;
    const key = `${groupId}:${term}`;
    const other = this.leaders.get(key);
    if (other !== undefined && other !== nodeId) {
      this.world.fail(`election safety: group ${groupId} has two leaders in term ${term}: nodes ${other} and ${nodeId}`);
      return;
    }
    if (other === undefined) {
      this.leaders.set(key, nodeId);
      this.stats.leaderships++;
      this.termsMax.set(groupId, Math.max(this.termsMax.get(groupId) ?? 0, term));
    }
  }

  private noteApplied(nodeId: NodeId, work: ApplyWork[], results: Map<GroupId, unknown[][]>): void {
    for (const { groupId, entries } of work) {
      const perEntry = results.get(groupId) ?? [];
      entries.forEach((e, i) => {
        this.stats.entriesApplied++;
        const key = `${groupId}:${e.index}`;
        const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        const resultText = (perEntry[i] ?? []).map((r) => encodeReply(r as Reply, 2).toString('latin1')).join('');
        const seen = this.applied.get(key);
        if (seen === undefined) {
          if (e.type === EntryType.Normal && e.data.length > 0) {
            this.stats.opsPerEntryMax = Math.max(this.stats.opsPerEntryMax, decodeEntryBatch(e.data).ops.length);
          }
          this.applied.set(key, { term: e.term, data: Buffer.from(data), results: resultText, nodeId });
          return;
        }
        if (seen.term !== e.term || !seen.data.equals(data)) {
          this.world.fail(`state-machine safety: group ${groupId} index ${e.index}: node ${seen.nodeId} applied term ${seen.term}, node ${nodeId} applied term ${e.term}${seen.term === e.term ? ' with other data' : ''}`);
        } else if (seen.results !== resultText) {
          this.world.fail(`deterministic apply: group ${groupId} index ${e.index}: node ${seen.nodeId} got ${JSON.stringify(seen.results)}, node ${nodeId} got ${JSON.stringify(resultText)}`);
        }
      });
    }
  }
}

/** The host's view of the state machine, with every apply reported to the ledger. */
export function watchedStateMachine(
  nodeId: NodeId,
  sm: KvStateMachine,
  onApply: (nodeId: NodeId, work: ApplyWork[], results: Map<GroupId, unknown[][]>) => void,
): HostStateMachine {
  return {
    applied: (groupId: GroupId) => sm.applied(groupId),
    async apply(work: ApplyWork[]) {
      const results = await sm.apply(work);
      onApply(nodeId, work, results);
      return results;
    },
    snapshot: (groupId: GroupId) => sm.snapshot(groupId),
    installSnapshot: (groupId: GroupId, meta: SnapshotMeta, data: Uint8Array) => sm.installSnapshot(groupId, meta, data),
    sync: () => sm.sync(),
  };
}
