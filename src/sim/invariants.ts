/**
 * Safety invariants of Raft (paper Figure 3), checked incrementally as the simulation runs:
 * - election safety: at most one leader per term;
 * - log matching: two logs holding an entry with the same index and term hold the same entry,
 *   preceded by the same term (which, by induction, makes the prefixes equal);
 * - leader completeness: a leader's log holds every entry committed before it was elected;
 * - state-machine safety: every replica applies the same entry at each index, so each applied
 *   sequence is a prefix of the longest, and reaches the same state (checked by digest);
 * - no committed entry is lost: an index once committed never changes its entry.
 * A violation throws a SimViolation; the runner adds the seed and event number.
 */
import type { Entry, NodeId } from '../raft/types.js';
import type { LogView } from './log-view.js';

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

export function violation(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SimViolation(message);
}

interface EntryFact {
  content: string;
  /** Term of the entry before it, when the observing log knew it. */
  prevTerm: number | undefined;
}

/** Identity of an entry's content (type and bytes). */
export function entryContent(entry: Entry): string {
  return entry.type + ':' + Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).toString('latin1');
}

export class InvariantChecker {
  /** term -> the leader seen in it. */
  readonly leaders = new Map<number, NodeId>();
  /** `${index}/${term}` -> what the entry is. */
  private readonly entries = new Map<string, EntryFact>();
  /** index -> the committed entry at it. */
  private readonly committed = new Map<number, { term: number; content: string }>();
  /** index -> the state-machine digest after applying it. */
  private readonly digests = new Map<number, string>();
  committedMax = 0;
  appliedMax = 0;

  onLeader(nodeId: NodeId, term: number, log: LogView): void {
    const other = this.leaders.get(term);
    violation(other === undefined || other === nodeId, `election safety: nodes ${other} and ${nodeId} both lead term ${term}`);
    if (other !== undefined) return;
    this.leaders.set(term, nodeId);
    // Leader completeness (§5.4): everything committed so far is in the new leader's log.
    for (let index = log.snapshotIndex + 1; index <= this.committedMax; index++) {
      const fact = this.committed.get(index);
      if (fact === undefined) continue;
      const entry = log.entryAt(index);
      violation(entry !== undefined && entry.term === fact.term && entryContent(entry) === fact.content,
        `leader completeness: leader ${nodeId} of term ${term} lacks committed entry ${index}/${fact.term}`
        + ` (has ${entry === undefined ? 'nothing' : `${entry.index}/${entry.term}`})`);
    }
  }

  /** A node's log now holds `entry`, preceded by an entry of `prevTerm` (log matching, §5.3). */
  onEntry(nodeId: NodeId, entry: Entry, prevTerm: number | undefined): void {
    const key = `${entry.index}/${entry.term}`;
    const content = entryContent(entry);
    const fact = this.entries.get(key);
    if (fact === undefined) {
      this.entries.set(key, { content, prevTerm });
      return;
    }
    violation(fact.content === content, `log matching: node ${nodeId} holds a different entry at ${key}`);
    if (prevTerm === undefined) return;
    if (fact.prevTerm === undefined) fact.prevTerm = prevTerm;
    else violation(fact.prevTerm === prevTerm,
      `log matching: node ${nodeId} holds ${key} after term ${prevTerm}, another log after term ${fact.prevTerm}`);
  }

  /** A node reports commit index `commit`; its log view must hold the entries up to it. */
  onCommit(nodeId: NodeId, commit: number, log: LogView, from: number): void {
    violation(commit <= log.lastIndex(), `node ${nodeId} commits ${commit} beyond its last index ${log.lastIndex()}`);
    for (let index = Math.max(from + 1, log.snapshotIndex + 1); index <= commit; index++) {
      this.markCommitted(nodeId, log.entryAt(index)!);
    }
  }

  private markCommitted(nodeId: NodeId, entry: Entry): void {
    const content = entryContent(entry);
    const fact = this.committed.get(entry.index);
    if (fact === undefined) {
      this.committed.set(entry.index, { term: entry.term, content });
      if (entry.index > this.committedMax) this.committedMax = entry.index;
      return;
    }
    violation(fact.term === entry.term && fact.content === content,
      `committed entry lost: index ${entry.index} was committed as term ${fact.term}, node ${nodeId} now has term ${entry.term}`);
  }

  /** A node applied `entry` and its state machine now has `digest` (state-machine safety, §5.4.3). */
  onApply(nodeId: NodeId, entry: Entry, digest: string): void {
    this.markCommitted(nodeId, entry);
    if (entry.index > this.appliedMax) this.appliedMax = entry.index;
    this.onDigest(nodeId, entry.index, digest);
  }

  onDigest(nodeId: NodeId, index: number, digest: string): void {
    const known = this.digests.get(index);
    if (known === undefined) this.digests.set(index, digest);
    else violation(known === digest, `state-machine safety: node ${nodeId} state at ${index} differs from another replica's`);
  }
}
