import { afterPoll, campaign, poll } from './election.js';
import { restoreSnapshot } from './membership.js';
import { newMessage } from './message.js';
import { decodeRoundId } from './read-only.js';
import type { Raft } from './raft.js';
import { type Message, MessageType, Role } from './types.js';

/** Handles a message of the current term on a follower. */
export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.TimeoutNow:
      r.logger.info(r.fields({ from: m.from }), 'received TimeoutNow: campaigning for leadership transfer');
      campaign(r, 'transfer');
      return;
    case MessageType.ReadIndexResp:
      r.addReadState({ index: m.index, context: m.context });
      return;
    case MessageType.TransferLeader:
      // Not the leader (any more): the requester will retry.
      return;
    default:
      r.logger.debug(r.fields({ type: m.type, from: m.from }), 'follower ignoring message');
  }
}

/** Handles a message of the current term on a (pre-)candidate. */
export function stepCandidate(r: Raft, m: Message): void {
  const respType = r.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // A leader of our term exists (§5.2): step down and handle it.
      r.becomeFollower(m.term, m.from);
      stepFollower(r, m);
      return;
    case respType:
      afterPoll(r, poll(r, m.from, !m.reject));
      return;
    default:
      r.logger.debug(r.fields({ type: m.type, from: m.from }), 'candidate ignoring message');
  }
}

/** AppendEntries receiver (Raft paper Figure 2, §5.3). Acks wait for persistence. */
function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.log.committed) {
    r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, { index: r.log.committed }));
    return;
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== null) {
    r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, { index: lastNew }));
    return;
  }
  // Consistency check failed: hint the leader at the last entry that may match.
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm);
  r.logger.debug(r.fields({ from: m.from, index: m.index, logTerm: m.logTerm, hint: hint.index }), 'rejecting append');
  r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, {
    index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term,
  }));
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(m.commit);
  const round = decodeRoundId(m.context);
  if (r.followerLeases && round !== null) {
    if (m.reject) {
      // A leadership transfer: drop the lease before acking, and take no grant made before this.
      r.followerLeaseUntil = 0;
      r.revokedRound = Math.max(r.revokedRound, round);
    } else if (m.index > r.revokedRound) {
      // A grant anchored at our ack of round m.index: the leader's confirmed round was sent
      // after that ack reached it, so a lease counted from the ack ends before the leader's.
      const at = r.ackTicks.get(m.index);
      if (at !== undefined) r.followerLeaseUntil = Math.max(r.followerLeaseUntil, at + r.electionTicks - r.leaseDriftTicks);
    }
    r.ackTicks.set(round, r.tickCount);
    if (r.ackTicks.size > ACK_TICKS_KEPT) r.ackTicks.delete(r.ackTicks.keys().next().value as number);
  }
  r.send(newMessage(MessageType.HeartbeatResp, m.from, { context: m.context }));
}

/** Heartbeat acks remembered as lease anchors (a grant names one from a few rounds back). */
const ACK_TICKS_KEPT = 32;

/** InstallSnapshot receiver: accepted only when it is ahead of our commit. */
function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (s === null) return;
  const { index, term } = s.meta;
  if (index <= r.log.committed) {
    r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, { index: r.log.committed }));
    return;
  }
  if (r.log.matchTerm(index, term)) {
    // We already hold the snapshot's last entry: just commit up to it.
    r.log.commitTo(index);
    r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, { index: r.log.committed }));
    return;
  }
  restoreSnapshot(r, s);
  r.sendAfterPersist(newMessage(MessageType.AppResp, m.from, { index: r.log.lastIndex() }));
}
