import { EMPTY_BYTES, TRANSFER_CONTEXT, newMessage } from './message.js';
import { voteResult } from './quorum.js';
import type { Raft } from './raft.js';
import { bcastAppend } from './step-leader.js';
import { type Message, MessageType, NONE, type NodeId, Role } from './types.js';

// Elections (Raft §5.2) with PreVote (thesis §9.6).

export function campaign(r: Raft, kind: 'pre' | 'election' | 'transfer'): void {
  if (!r.promotable()) {
    r.logger.debug(r.fields(), 'not a voter: cannot campaign');
    return;
  }
  if (r.role === Role.Leader) return;
  let type: MessageType;
  let term: number;
  if (kind === 'pre') {
    r.becomePreCandidate();
    type = MessageType.PreVote;
    term = r.term + 1;
    // A pre-vote promises nothing, so our own counts at once.
    if (poll(r, r.id, true) === 'won') {
      campaign(r, 'election');
      return;
    }
  } else {
    r.becomeCandidate();
    type = MessageType.Vote;
    term = r.term;
  }
  r.logger.info(r.fields({ kind, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm() }), 'starting election');
  for (const id of r.conf.voters) {
    if (id === r.id) continue;
    r.send(newMessage(type, id, {
      term,
      index: r.log.lastIndex(),
      logTerm: r.log.lastTerm(),
      context: kind === 'transfer' ? TRANSFER_CONTEXT : EMPTY_BYTES,
    }));
  }
}

export function poll(r: Raft, id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
  if (!r.votes.has(id)) r.votes.set(id, granted);
  return voteResult(r.conf.voters, r.votes);
}

/** Handles the outcome of a (pre-)vote tally. */
export function afterPoll(r: Raft, result: 'won' | 'lost' | 'pending'): void {
  if (result === 'won') {
    if (r.role === Role.PreCandidate) campaign(r, 'election');
    else {
      r.becomeLeader();
      bcastAppend(r);
    }
  } else if (result === 'lost') {
    r.becomeFollower(r.term, NONE);
  }
}

export function handleVote(r: Raft, m: Message): void {
  const pre = m.type === MessageType.PreVote;
  const canVote = r.vote === m.from || (r.vote === NONE && r.lead === NONE) || (pre && m.term > r.term);
  const respType = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
  if (canVote && r.log.isUpToDate(m.index, m.logTerm)) {
    r.logger.info(r.fields({ candidate: m.from, pre, candidateTerm: m.term }), 'granting vote');
    if (pre) {
      r.send(newMessage(respType, m.from, { term: m.term }));
    } else {
      r.electionElapsed = 0;
      r.vote = m.from;
      // Persist before you speak: the grant leaves once the vote is durable.
      r.sendAfterPersist(newMessage(respType, m.from, { term: m.term }));
    }
  } else {
    r.logger.debug(r.fields({ candidate: m.from, pre, candidateTerm: m.term }), 'rejecting vote');
    r.send(newMessage(respType, m.from, { term: r.term, reject: true }));
  }
}
