import type { NodeId } from './types.js';

/** A linearizable read waiting for its leadership confirmation. */
export interface PendingRead {
  /** The leader's commit index when the read was registered. */
  index: number;
  context: Uint8Array;
  /** The node that asked: the leader itself, or a follower that forwarded it. */
  from: NodeId;
}

/** One heartbeat broadcast; every read registered before it was sent rides on it. */
interface Round {
  id: number;
  /** Leader tick at which the round was created (before it was sent). */
  sentTick: number;
  acks: Set<NodeId>;
  reads: PendingRead[];
  /** True once the round's heartbeats left in a Ready: later reads must wait for a later round. */
  sealed: boolean;
  /** Follower leases: each follower's last heartbeat ack received before this round was sent. */
  anchors: LeaseAnchor[];
}

/** A follower's ack of a heartbeat round, as the leader received it. */
export interface LeaseAnchor {
  node: NodeId;
  round: number;
  /** Leader tick at which the ack arrived. */
  tick: number;
  /** The follower is granted only if its match has reached this (the quorum's match when the round was sent). */
  needMatch: number;
}

/** Most outstanding rounds kept; older ones hand their reads to the next round. */
const MAX_ROUNDS = 64;

/**
 * Heartbeat rounds (etcd's readOnly, batched): each heartbeat broadcast is a
 * round, named by a context carried in the Heartbeat and echoed back. When a
 * quorum acks a round, it and every earlier round are confirmed: their reads
 * are served, and the lease is extended from the round's send tick.
 *
 * Why reads only join an unsealed round: a reply to heartbeats sent before a
 * read arrived may predate the read, so it cannot prove leadership at a
 * moment after the read started (thesis §6.4).
 */
export class ReadOnly {
  private rounds: Round[] = [];
  private nextId = 1;
  /** Reads that arrived before the leader committed an entry of its term (thesis §6.4 step 1). */
  waiting: PendingRead[] = [];

  reset(): void {
    this.rounds = [];
    this.waiting = [];
  }

  /** Starts a new round; the leader acks it itself. */
  openRound(sentTick: number, self: NodeId, anchors: LeaseAnchor[] = []): number {
    const round: Round = { id: this.nextId++, sentTick, acks: new Set([self]), reads: [], sealed: false, anchors };
    this.rounds.push(round);
    if (this.rounds.length > MAX_ROUNDS) {
      const old = this.rounds.shift()!;
      this.rounds[0].reads.unshift(...old.reads);
    }
    return round.id;
  }

  /** The round reads may still join (created since the last Ready), if any. */
  openRoundId(): number | null {
    const last = this.rounds[this.rounds.length - 1];
    return last !== undefined && !last.sealed ? last.id : null;
  }

  addRead(roundId: number, read: PendingRead): void {
    const round = this.rounds.find((r) => r.id === roundId);
    if (round === undefined) throw new Error('raft invariant: read-only: no such round');
    round.reads.push(read);
  }

  /** Called at ready(): the rounds' heartbeats are now on their way. */
  sealAll(): void {
    for (const r of this.rounds) r.sealed = true;
  }

  /**
   * Records `from`'s ack of round `roundId`. When that gives the round a quorum,
   * returns the confirmed reads (of it and all earlier rounds) and the round's send tick.
   */
  ack(roundId: number, from: NodeId, isQuorum: (acks: Set<NodeId>) => boolean): { reads: PendingRead[]; sentTick: number; anchors: LeaseAnchor[] } | null {
    const pos = this.rounds.findIndex((r) => r.id === roundId);
    if (pos < 0) return null;
    const round = this.rounds[pos];
    round.acks.add(from);
    if (!isQuorum(round.acks)) return null;
    const done = this.rounds.splice(0, pos + 1);
    const reads: PendingRead[] = [];
    for (const r of done) reads.push(...r.reads);
    return { reads, sentTick: round.sentTick, anchors: round.anchors };
  }

  pendingReadCount(): number {
    let n = this.waiting.length;
    for (const r of this.rounds) n += r.reads.length;
    return n;
  }
}

/** Round ids travel in Heartbeat.context as 8 bytes (two big-endian u32). */
export function encodeRoundId(id: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(id / 0x100000000));
  view.setUint32(4, id >>> 0);
  return out;
}

/** Returns the round id in a heartbeat context, or null when it is not one. */
export function decodeRoundId(ctx: Uint8Array): number | null {
  if (ctx.byteLength !== 8) return null;
  const view = new DataView(ctx.buffer, ctx.byteOffset, 8);
  return view.getUint32(0) * 0x100000000 + view.getUint32(4);
}
