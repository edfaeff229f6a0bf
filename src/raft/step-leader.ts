import { entrySize } from './log.js';
import { EMPTY_BYTES, newMessage } from './message.js';
import { hasQuorum, majorityIndex } from './quorum.js';
import type { Raft } from './raft.js';
import { type PendingRead, decodeRoundId, encodeRoundId } from './read-only.js';
import { type Message, MessageType, NONE, type NodeId } from './types.js';

/** Election timeouts after which an unreported snapshot is sent again. */
export const SNAPSHOT_TIMEOUT_ELECTIONS = 10;

/** Handles a message of the current term on the leader. */
export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.AppResp:
      handleAppendResponse(r, m);
      return;
    case MessageType.HeartbeatResp:
      handleHeartbeatResponse(r, m);
      return;
    case MessageType.ReadIndex:
      if (!r.prs.has(m.from)) return;
      registerRead(r, { index: 0, context: m.context, from: m.from });
      return;
    case MessageType.TransferLeader:
      transferLeadership(r, m.index);
      return;
    default:
      r.logger.debug(r.fields({ type: m.type, from: m.from }), 'leader ignoring message');
  }
}

/**
 * Sends the follower the entries it needs (or, when they are compacted away, a
 * snapshot). With `sendIfEmpty` false, sends only when there are entries.
 * Returns true when a message was sent.
 */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty = true): boolean {
  const pr = r.prs.get(to);
  if (pr === undefined || to === r.id || pr.isPaused()) return false;
  const last = r.log.lastIndex();
  if (pr.next > last + 1) pr.next = last + 1;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  // A follower with an empty log (a node joining the group) also gets a
  // snapshot once anything is applied: it carries the membership, which the
  // joiner could not rebuild by replaying the log from index 1.
  if (prevTerm === undefined || (prevIndex === 0 && pr.match === 0 && r.log.applied > 0)) {
    sendSnapshot(r, to);
    return true;
  }
  const entries = pr.next <= last ? r.log.slice(pr.next, last, r.maxSizePerMsg) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send(newMessage(MessageType.App, to, { index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed }));
  if (pr.state === 'replicate' && entries.length > 0) {
    // Optimistic pipelining: assume it arrives.
    const lastSent = entries[entries.length - 1].index;
    let bytes = 0;
    for (const e of entries) bytes += entrySize(e);
    pr.next = lastSent + 1;
    pr.inflights.add(lastSent, bytes);
  } else if (pr.state === 'probe') {
    pr.probeSent = true;
  }
  return true;
}

/**
 * The follower needs compacted entries. The snapshot's meta is filled in by
 * RawNode.ready() with the applied state at that moment (the host then attaches
 * the matching state-machine image).
 */
function sendSnapshot(r: Raft, to: NodeId): void {
  const pr = r.prs.get(to)!;
  pr.becomeSnapshot(r.log.applied);
  pr.snapshotSentTick = r.tickCount;
  r.logger.info(r.fields({ to, applied: r.log.applied, firstIndex: r.log.firstIndex() }), 'sending snapshot');
  r.send(newMessage(MessageType.Snap, to, {
    snapshot: { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY_BYTES },
  }));
}

export function bcastAppend(r: Raft): void {
  for (const id of r.prs.keys()) if (id !== r.id) sendAppend(r, id);
}

/** Sends a heartbeat to every member; the broadcast is a read/lease round. */
export function bcastHeartbeat(r: Raft): number {
  const roundId = r.readOnly.openRound(r.tickCount, r.id);
  const context = encodeRoundId(roundId);
  for (const [id, pr] of r.prs) {
    if (id === r.id) continue;
    r.send(newMessage(MessageType.Heartbeat, id, { commit: Math.min(pr.match, r.log.committed), context }));
  }
  // A group of one voter confirms its rounds by itself.
  ackRound(r, roundId, r.id);
  return roundId;
}

/**
 * Commits the highest index a quorum of voters has durably matched, if it is
 * of the current term (§5.4.2: never commit earlier terms' entries by counting).
 */
export function maybeCommit(r: Raft): boolean {
  const idx = majorityIndex(r.conf.voters, (id) => r.prs.get(id)?.match ?? 0);
  if (idx <= r.log.committed || r.log.term(idx) !== r.term) return false;
  const hadOwnTerm = r.committedOwnTerm();
  r.log.commitTo(idx);
  if (!hadOwnTerm) {
    const waiting = r.readOnly.waiting;
    r.readOnly.waiting = [];
    for (const read of waiting) registerRead(r, read);
  }
  return true;
}

function handleAppendResponse(r: Raft, m: Message): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking (etcd's findConflictByTerm): skip every entry the
    // follower's hint proves cannot match.
    let nextProbe = m.rejectHint;
    if (m.logTerm > 0) nextProbe = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, nextProbe)) {
      r.logger.debug(r.fields({ from: m.from, rejected: m.index, hint: m.rejectHint, next: pr.next }), 'append rejected: backing off');
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= r.log.firstIndex())) {
      r.logger.info(r.fields({ from: m.from, match: pr.match }), 'snapshot caught the follower up');
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (maybeCommit(r)) bcastAppend(r);
    else if (pr.match < r.log.committed) sendAppend(r, m.from);
    // Pipelining: fill the window.
    while (sendAppend(r, m.from, false)) { /* keep sending */ }
    if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
      sendTimeoutNow(r, m.from);
    }
  }
}

function handleHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.state === 'snapshot' && r.tickCount - pr.snapshotSentTick >= SNAPSHOT_TIMEOUT_ELECTIONS * r.electionTicks) {
    // The host should report every snapshot (reportSnapshot); should a report
    // never come, a follower that is alive but still lacks it gets another.
    r.logger.warn(r.fields({ to: m.from, pendingSnapshot: pr.pendingSnapshot }), 'snapshot never reported: retrying');
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
  }
  if (pr.match < r.log.lastIndex() || pr.match < r.log.committed) sendAppend(r, m.from);
  const roundId = decodeRoundId(m.context);
  if (roundId !== null && !pr.learner) ackRound(r, roundId, m.from);
}

function ackRound(r: Raft, roundId: number, from: NodeId): void {
  const done = r.readOnly.ack(roundId, from, (acks) => hasQuorum(r.conf.voters, (id) => acks.has(id)));
  if (done === null) return;
  if (!r.leaseBlocked) {
    // Thesis §6.4.1: voters that acked at or after sentTick will not elect
    // anyone else for a minimum election timeout; minus a clock-drift margin.
    r.leaseUntil = Math.max(r.leaseUntil, done.sentTick + r.electionTicks - r.leaseDriftTicks);
  }
  for (const read of done.reads) respondRead(r, read);
}

function respondRead(r: Raft, read: PendingRead): void {
  if (read.from === r.id) r.addReadState({ index: read.index, context: read.context });
  else r.send(newMessage(MessageType.ReadIndexResp, read.from, { index: read.index, context: read.context }));
}

/**
 * Registers a linearizable read on the leader (thesis §6.4): it waits for an
 * own-term commit, records the commit index, and rides on the next heartbeat round.
 */
export function registerRead(r: Raft, read: PendingRead): void {
  if (!r.committedOwnTerm()) {
    r.readOnly.waiting.push(read);
    return;
  }
  const withIndex = { ...read, index: r.log.committed };
  if (r.conf.voters.length === 1 && r.conf.voters[0] === r.id) {
    respondRead(r, withIndex);
    return;
  }
  const open = r.readOnly.openRoundId();
  const roundId = open ?? bcastHeartbeat(r);
  r.readOnly.addRead(roundId, withIndex);
}

/** Leadership transfer (thesis §3.10). */
export function transferLeadership(r: Raft, to: NodeId): void {
  if (to === r.id || !r.conf.voters.includes(to) || !r.prs.has(to)) {
    r.logger.debug(r.fields({ to }), 'ignoring leadership transfer to an unsuitable node');
    return;
  }
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === to) return;
    r.logger.info(r.fields({ transferee: r.leadTransferee }), 'abandoning leadership transfer for a new one');
  }
  r.leadTransferee = to;
  // The transfer is abandoned after one election timeout (see tickHeartbeat).
  r.electionElapsed = 0;
  r.logger.info(r.fields({ transferee: to }), 'starting leadership transfer');
  const pr = r.prs.get(to)!;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to);
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  // The target's vote requests override voters' leases, so ours is void from now on.
  r.leaseBlocked = true;
  r.leaseUntil = 0;
  r.send(newMessage(MessageType.TimeoutNow, to));
}
