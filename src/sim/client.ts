/**
 * A simulated client: one operation at a time, writes through `propose` and reads through
 * `readIndex` on whichever node it believes leads, retrying elsewhere on `notLeader`. It records
 * invocation and completion times; an operation whose outcome it cannot know (timed out, or its
 * node crashed) goes into the history as indeterminate (completion = Infinity) if it is a write,
 * and is left out if it is a read (a read with no answer has no effect).
 */
import type { NodeId, ReadMode } from '../raft/types.js';
import type { SeededRandom } from '../env/random.js';
import type { RegisterOp } from './linearizability.js';

export interface ClientOp {
  clientId: number;
  opId: number;
  kind: 'write' | 'read';
  key: string;
  /** Value written, or value read once completed. */
  value: string | null;
  mode: ReadMode;
  invokeMs: number;
  deadlineMs: number;
  /** True once a node accepted it (after that the client must not resubmit it). */
  accepted: boolean;
  done: boolean;
  /** Part of the final round after faults heal; it must complete. */
  final: boolean;
}

export type SubmitOutcome =
  | { kind: 'accepted' }
  | { kind: 'notLeader'; leaderHint: NodeId }
  | { kind: 'retry' };

/** What a client needs from the cluster. */
export interface ClientHost {
  nowMs(): number;
  after(delayMs: number, fn: () => void): void;
  /** Current member nodes that are up (the client's idea of where to go next). */
  candidates(): NodeId[];
  submit(nodeId: NodeId, op: ClientOp): SubmitOutcome;
}

export interface ClientConfig {
  keys: readonly string[];
  opTimeoutMs: number;
  thinkMsMax: number;
  /** Chance that a read uses the lease mode rather than ReadIndex. */
  leaseReadChance: number;
  /** Chance that a lease read is first tried on a random node (a follower may serve it under a follower lease). */
  followerReadChance?: number;
}

export class SimClient {
  target: NodeId;
  private opIdNext = 1;
  current: ClientOp | null = null;
  stopped = false;
  /** Final-round operations still to issue. */
  finalPending = 0;
  finalDone = 0;
  readonly history: RegisterOp[] = [];
  stats = { writes: 0, reads: 0, indeterminate: 0, failed: 0 };
  /** Its own stream, so runs without follower reads draw exactly as before. */
  private readonly spread: SeededRandom;

  constructor(
    readonly clientId: number,
    private readonly host: ClientHost,
    private readonly random: SeededRandom,
    private readonly config: ClientConfig,
  ) {
    this.target = random.pick(host.candidates());
    this.spread = random.fork('spread');
  }

  start(): void {
    this.host.after(this.random.int(0, this.config.thinkMsMax), () => this.next());
  }

  /** Starts the final round: `count` operations that must complete once faults have healed. */
  startFinal(count: number): void {
    this.finalPending = count;
    if (this.current === null) this.next();
  }

  private next(): void {
    if (this.current !== null) return;
    let final = false;
    if (this.finalPending > 0) {
      this.finalPending--;
      final = true;
    } else if (this.stopped) {
      return;
    }
    const now = this.host.nowMs();
    const write = final ? this.finalPending % 2 === 1 : this.random.chance(0.5);
    const opId = this.opIdNext++;
    this.current = {
      clientId: this.clientId,
      opId,
      kind: write ? 'write' : 'read',
      key: this.random.pick(this.config.keys),
      value: write ? `c${this.clientId}.${opId}` : null,
      mode: this.random.chance(this.config.leaseReadChance) ? 'lease' : 'readIndex',
      invokeMs: now,
      deadlineMs: now + this.config.opTimeoutMs,
      accepted: false,
      done: false,
      final,
    };
    const op = this.current;
    // Clients do not share one view of who leads: now and then one goes to a random node.
    if (this.random.chance(0.2)) this.target = this.random.pick(this.host.candidates().concat(this.target));
    this.host.after(this.config.opTimeoutMs, () => this.timeout(op));
    const followerRead = this.config.followerReadChance ?? 0;
    if (followerRead > 0 && op.kind === 'read' && op.mode === 'lease' && this.spread.chance(followerRead)) {
      const candidates = this.host.candidates();
      if (candidates.length > 0) {
        const outcome = this.host.submit(this.spread.pick(candidates), op);
        if (outcome.kind === 'accepted') {
          op.accepted = true;
          return;
        }
      }
    }
    this.attempt(op);
  }

  private attempt(op: ClientOp): void {
    if (op.done || op.accepted) return;
    const candidates = this.host.candidates();
    if (!candidates.includes(this.target)) {
      if (candidates.length === 0) {
        this.host.after(10, () => this.attempt(op));
        return;
      }
      this.target = this.random.pick(candidates);
    }
    const outcome = this.host.submit(this.target, op);
    if (outcome.kind === 'accepted') {
      op.accepted = true;
      return;
    }
    if (outcome.kind === 'notLeader' && outcome.leaderHint !== 0 && outcome.leaderHint !== this.target
      && candidates.includes(outcome.leaderHint)) {
      this.target = outcome.leaderHint;
      this.host.after(1, () => this.attempt(op));
      return;
    }
    this.target = this.random.pick(candidates);
    this.host.after(this.random.int(5, 30), () => this.attempt(op));
  }

  private timeout(op: ClientOp): void {
    if (op.done) return;
    if (op.accepted) this.indeterminate(op);
    else this.failed(op);
  }

  /** The node replied: the write took effect, or the read returned `value`. */
  complete(op: ClientOp, value: string | null): void {
    if (op.done) return;
    if (op.kind === 'read') op.value = value;
    this.history.push(this.record(op, this.host.nowMs()));
    if (op.kind === 'write') this.stats.writes++;
    else this.stats.reads++;
    if (op.final) this.finalDone++;
    this.finish(op);
  }

  /** The outcome is unknown: a write may or may not take effect, a read is forgotten. */
  indeterminate(op: ClientOp): void {
    if (op.done) return;
    if (op.final) {
      // A final-round op must complete: resubmit it (a read safely; a write as a fresh op).
      this.resubmitFinal(op);
      return;
    }
    if (op.kind === 'write') this.history.push(this.record(op, Infinity));
    this.stats.indeterminate++;
    this.finish(op);
  }

  /** The operation certainly did not take effect (never accepted, or overwritten in the log). */
  failed(op: ClientOp): void {
    if (op.done) return;
    if (op.final) {
      this.resubmitFinal(op);
      return;
    }
    this.stats.failed++;
    this.finish(op);
  }

  private resubmitFinal(op: ClientOp): void {
    if (op.kind === 'write' && op.accepted) this.history.push(this.record(op, Infinity));
    op.done = true;
    this.current = null;
    this.finalPending++;
    this.host.after(this.random.int(5, 30), () => this.next());
  }

  private finish(op: ClientOp): void {
    op.done = true;
    this.current = null;
    this.host.after(this.random.int(0, this.config.thinkMsMax), () => this.next());
  }

  private record(op: ClientOp, completeMs: number): RegisterOp {
    return {
      key: op.key,
      kind: op.kind,
      value: op.value,
      invokeMs: op.invokeMs,
      completeMs,
      label: `c${op.clientId}#${op.opId}${op.kind === 'read' ? ` ${op.mode}` : ''}`,
    };
  }
}
