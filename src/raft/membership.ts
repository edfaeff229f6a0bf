import { applyConfChange, copyConf, decodeConfChange } from './conf-change.js';
import type { Raft } from './raft.js';
import { bcastAppend, maybeCommit } from './step-leader.js';
import { type ConfState, type Entry, EntryType, NONE, Role, type Snapshot } from './types.js';

// Membership and the log's lifecycle: conf changes take effect when applied
// (docs/decisions.md), snapshots restore membership, compaction keeps the
// membership history that the compaction point needs.

/** The host applied `entries` (a Ready's committed entries); conf changes take effect now. */
export function onApplied(r: Raft, entries: Entry[]): void {
  for (const e of entries) {
    if (e.index > r.log.applied) r.log.applied = e.index;
    if (e.type === EntryType.ConfChange && e.index > r.confIndex) {
      applyConfEntry(r, e, true);
      r.confIndex = e.index;
    }
  }
}

export function applyConfEntry(r: Raft, e: Entry, live: boolean): void {
  let cc;
  try {
    cc = decodeConfChange(e.data);
  } catch (err) {
    r.logger.warn(r.fields({ index: e.index, err: String(err) }), 'ignoring undecodable conf change entry');
    return;
  }
  const res = applyConfChange(r.conf, cc);
  if (!res.ok) {
    r.logger.info(r.fields({ index: e.index, type: cc.type, changed: cc.nodeId, reason: res.reason }), 'conf change has no effect');
    return;
  }
  r.conf = res.confState;
  r.confChanged = true;
  r.confHistory.push({ index: e.index, confState: copyConf(r.conf) });
  if (!live) return;
  r.logger.info(r.fields({ index: e.index, voters: r.conf.voters, learners: r.conf.learners }), 'applied conf change');
  if (r.role !== Role.Leader) return;
  if (!r.conf.voters.includes(r.id)) {
    r.logger.info(r.fields(), 'leader removed from the group: stepping down');
    r.becomeFollower(r.term, NONE);
    return;
  }
  // Bring progress in line with the new membership.
  for (const id of [...r.prs.keys()]) {
    if (!r.conf.voters.includes(id) && !r.conf.learners.includes(id)) r.prs.delete(id);
  }
  for (const id of [...r.conf.voters, ...r.conf.learners]) {
    const learner = r.conf.learners.includes(id);
    const pr = r.prs.get(id);
    if (pr === undefined) r.prs.set(id, r.newProgress(r.log.lastIndex() + 1, learner));
    else pr.learner = learner;
  }
  if (r.leadTransferee !== NONE && !r.conf.voters.includes(r.leadTransferee)) r.leadTransferee = NONE;
  // A smaller quorum may commit more now.
  if (maybeCommit(r)) bcastAppend(r);
}

/** A follower accepted a snapshot from the leader: the log restarts at its index. */
export function restoreSnapshot(r: Raft, s: Snapshot): void {
  r.log.restore(s.meta.index, s.meta.term);
  r.pendingSnapshot = s;
  r.conf = copyConf(s.meta.confState);
  r.confIndex = s.meta.index;
  r.confChanged = true;
  r.confHistory = [{ index: s.meta.index, confState: copyConf(r.conf) }];
  r.logger.info(r.fields({ index: s.meta.index, snapTerm: s.meta.term, voters: r.conf.voters }), 'restored snapshot');
}

/** Discards the log up to `index` (<= applied) and the membership history before it. */
export function compactLog(r: Raft, index: number): void {
  r.log.compact(index);
  const h = r.confHistory;
  let keep = 0;
  for (let i = 0; i < h.length; i++) if (h[i].index <= r.log.snapIndex) keep = i;
  r.confHistory = h.slice(keep);
}

/** Membership as of `index` (between the compaction point and applied). */
export function confStateAt(r: Raft, index: number): ConfState {
  let cs = r.confHistory[0].confState;
  for (const h of r.confHistory) if (h.index <= index) cs = h.confState;
  return copyConf(cs);
}
