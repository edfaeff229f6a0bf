import { entrySize } from './log.js';
import { EMPTY_BYTES, newMessage } from './message.js';
import { hasQuorum, majorityIndex } from './quorum.js';
import type { Raft } from './raft.js';
import { type LeaseAnchor, type PendingRead, decodeRoundId, encodeRoundId } from './read-only.js';
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

/**
 * Sends a heartbeat to every member; the broadcast is a read/lease round. With
 * follower leases it also carries the grants of the last confirmed round, or,
 * during a leadership transfer, revokes every lease.
 */
export function bcastHeartbeat(r: Raft): number {
  const anchors: LeaseAnchor[] = [];
  if (r.followerLeases) {
    // A follower is granted only if, by the time the round is confirmed, it has
    // everything a quorum had when the round was sent: one stuck behind (its
    // appends lost) stops being renewed, so it cannot hold back commits for long.
    const quorumIndex = majorityIndex(r.conf.voters, (id) => r.prs.get(id)?.match ?? 0);
    for (const [node, a] of r.lastAcks) anchors.push({ node, round: a.round, tick: a.tick, needMatch: quorumIndex });
  }
  const roundId = r.readOnly.openRound(r.tickCount, r.id, anchors);
  const context = encodeRoundId(roundId);
  const revoke = r.followerLeases && r.leadTransferee !== NONE;
  if (revoke && r.revokeFromRound === 0) r.revokeFromRound = roundId;
  for (const [id, pr] of r.prs) {
    if (id === r.id) continue;
    const grant = revoke ? 0 : r.pendingGrants.get(id) ?? 0;
    r.send(newMessage(MessageType.Heartbeat, id, { commit: Math.min(pr.match, r.log.committed), context, index: grant, reject: revoke }));
  }
  r.pendingGrants.clear();
  // A group of one voter confirms its rounds by itself.
  ackRound(r, roundId, r.id);
  return roundId;
}

/**
 * Commits the highest index a quorum of voters has durably matched, if it is
 * of the current term (§5.4.2: never commit earlier terms' entries by counting).
 */
export function maybeCommit(r: Raft): boolean {
  let idx = majorityIndex(r.conf.voters, (id) => r.prs.get(id)?.match ?? 0);
  // Follower leases: a lease holder serves reads from its own log, so nothing
  // commits (and nothing is applied or acknowledged) before every holder has it.
  if (r.leaseHolders.size > 0) {
    for (const id of r.liveLeaseHolders().keys()) idx = Math.min(idx, r.prs.get(id)?.match ?? 0);
  }
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
    if (m.from === r.leadTransferee) maybeSendTimeoutNow(r);
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
  if (roundId === null) return;
  if (r.followerLeases && !pr.learner) {
    const last = r.lastAcks.get(m.from);
    if (last === undefined || roundId > last.round) r.lastAcks.set(m.from, { round: roundId, tick: r.tickCount });
    if (r.revokeFromRound !== 0 && roundId >= r.revokeFromRound && r.leaseHolders.delete(m.from)) {
      // It has dropped its lease (and takes no grant anchored before the revocation).
      if (maybeCommit(r)) bcastAppend(r);
      maybeSendTimeoutNow(r);
    }
  }
  if (!pr.learner) ackRound(r, roundId, m.from);
}

function ackRound(r: Raft, roundId: number, from: NodeId): void {
  const done = r.readOnly.ack(roundId, from, (acks) => hasQuorum(r.conf.voters, (id) => acks.has(id)));
  if (done === null) return;
  if (!r.leaseBlocked) {
    // Thesis §6.4.1: voters that acked at or after sentTick will not elect
    // anyone else for a minimum election timeout; minus a clock-drift margin.
    r.leaseUntil = Math.max(r.leaseUntil, done.sentTick + r.electionTicks - r.leaseDriftTicks);
    if (r.followerLeases && r.leadTransferee === NONE && r.committedOwnTerm()) grantLeases(r, done.anchors);
  }
  for (const read of done.reads) respondRead(r, read);
}

/**
 * Follower leases: the confirmed round was sent after the leader received each
 * anchor (a follower's ack of an earlier round), so a lease counted by the
 * follower from the moment it made that ack ends before ours does. The holder
 * is recorded here, before the grant leaves, with a bound on when its lease
 * ends in our ticks: its ack came before it reached us, and its ticks may run
 * slower than ours by the drift margin, hence a whole election timeout (+1 for
 * tick granularity) from the ack's arrival.
 */
function grantLeases(r: Raft, anchors: LeaseAnchor[]): void {
  for (const a of anchors) {
    const pr = r.prs.get(a.node);
    // Only caught-up voters. Safety: a new holder must already have every committed entry (from
    // now on commits wait for it, but nothing made it have the earlier ones). Liveness: it must
    // have what a quorum had when the round was sent, or one stuck behind would be renewed
    // forever while holding back commits.
    if (pr === undefined || pr.learner || pr.state !== 'replicate') continue;
    if (pr.match < r.log.committed || pr.match < a.needMatch) continue;
    // An old ack (the follower has gone quiet) would give a lease about to end: not worth holding commits for.
    if (a.tick + r.electionTicks - r.leaseDriftTicks <= r.tickCount) continue;
    const until = a.tick + r.electionTicks + 1;
    r.leaseHolders.set(a.node, Math.max(r.leaseHolders.get(a.node) ?? 0, until));
    r.pendingGrants.set(a.node, a.round);
  }
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
  r.revokeFromRound = 0;
  const pr = r.prs.get(to)!;
  if (pr.match === r.log.lastIndex()) maybeSendTimeoutNow(r);
  else sendAppend(r, to);
  // Follower leases: the next heartbeat revokes them (see maybeSendTimeoutNow).
  if (r.followerLeases && r.liveLeaseHolders().size > 0) bcastHeartbeat(r);
}

/**
 * Sends TimeoutNow to the transfer target once it has our whole log and no
 * other follower may still hold a read lease: the target's forced campaign
 * overrides the voters' stickiness that leases rest on.
 */
export function maybeSendTimeoutNow(r: Raft): void {
  const to = r.leadTransferee;
  if (to === NONE) return;
  const pr = r.prs.get(to);
  if (pr === undefined || pr.match !== r.log.lastIndex()) return;
  if (r.transferWaitsOnLeases()) return;
  sendTimeoutNow(r, to);
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  // The target's vote requests override voters' leases, so ours is void from now on.
  r.leaseBlocked = true;
  r.leaseUntil = 0;
  r.send(newMessage(MessageType.TimeoutNow, to));
}
