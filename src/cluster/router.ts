import type { Env } from '../env/env.js';
import { DeadlineQueue } from '../env/deadlines.js';
import type { Host, HostError } from '../host/host.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { encodeReplyAfterByte, type ProtocolVersion, type Reply } from '../resp/encoder.js';
import { errClusterDown, errClusterDownReason, errMoved } from '../resp/replies.js';
import type { KeyedCommand } from '../commands/spec.js';
import { encodeOp, decodeOp } from '../commands/op-codec.js';
import type { ReadContext } from '../commands/keyspace.js';
import type { Placement } from './placement.js';
import type { LeaderLoad } from './balancer.js';
import { TransportError } from '../transport/transport.js';

/**
 * Returned by a forwarded request's server when it did not run the command
 * (it does not lead the group): the sender may safely try again.
 */
const NOT_SERVED_HERE: Reply = { kind: 'error', message: 'CLUSTERDOWN The cluster is down' };

/** Transport failures after which the request surely never reached the other node. */
const NEVER_SENT = new Set(['unreachable', 'unknownPeer', 'closed', 'tooLarge']);

/** What the router needs of the peer transport: an RPC to another node. */
export interface ForwardChannel {
  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

export interface RouterOptions {
  nodeId: NodeId;
  redirect: 'forward' | 'moved';
  requestTimeoutMs: number;
  /** How long to wait before retrying when a group has no known leader. */
  retryMs: number;
  /** Leader of any group, hosted here or not (the topology's view); defaults to the host's. */
  leaderOf?: (groupId: GroupId) => NodeId;
  /**
   * Asked on the leader just before it proposes a write (maxmemory,
   * commands/eviction.ts): refuse it with a reply, or let it go and be told
   * when it is settled.
   */
  admitWrite?: (groupId: GroupId, args: Buffer[]) => { ok: false; reply: Reply } | { ok: true; settle: () => void };
  /** Whether followers holding a read lease may serve reads now (asked per read; default yes). */
  followerReads?: () => boolean;
  /** Counts, on the leader, where requests that needed it came from (the balancer moves leadership toward the load). */
  load?: LeaderLoad;
}

/**
 * How one connection reads (docs/cluster.md): `consistency` from CLIENT
 * CONSISTENCY (default: the node's read mode), `readonly` from READONLY.
 */
export interface ReadPolicy {
  consistency: 'default' | 'linearizable' | 'lease' | 'stale';
  readonly: boolean;
}

export const DEFAULT_READ_POLICY: ReadPolicy = Object.freeze({ consistency: 'default', readonly: false });

const CONSISTENCY_CODES: ReadonlyArray<ReadPolicy['consistency']> = ['default', 'linearizable', 'lease', 'stale'];

/** A reply already encoded in the client's protocol by the node that served it. */
export type RawReply = Extract<Reply, { kind: 'raw' }>;

const FORWARD_COMMAND = 1;
/** The request may have taken effect, but its result did not come back in time. */
const OUTCOME_UNKNOWN = 'The request timed out';
/** The host stopped (or no longer hosts the group) before the request ran. */
const SHUTTING_DOWN = 'The node is shutting down';

/**
 * Routes a keyed command to its group: served here when this node leads the
 * group (propose for writes, lease/ReadIndex for reads), forwarded to the
 * leader's node over the peer link otherwise, or answered with -MOVED when
 * configured. A group without a leader is retried until the request timeout,
 * then answered with -CLUSTERDOWN rather than hanging.
 */
export class Router {
  /** The node that last served a group this node does not replicate. */
  private readonly remoteLeaders = new Map<GroupId, NodeId>();
  /** Every request's deadline on one timer, not one timer per request (docs/decisions.md). */
  private readonly deadlines: DeadlineQueue;

  constructor(
    private readonly env: Env,
    private readonly opts: RouterOptions,
    private readonly host: Host,
    private readonly placement: Placement,
    private readonly channel: ForwardChannel,
    private readonly readView: (groupId: GroupId, nowMs: number) => ReadContext,
  ) {
    this.deadlines = new DeadlineQueue(env.clock, env.timers);
  }

  /** Cancels the deadline timer (node shutdown); requests still waiting then wait for their work alone. */
  stop(): void {
    this.deadlines.clear();
  }

  /** True when keys led elsewhere get -MOVED: clients then expect Redis Cluster's rules (CROSSSLOT). */
  get redirectsMoved(): boolean {
    return this.opts.redirect === 'moved';
  }

  /** Runs `args` (one group's share of a command) on `groupId`. */
  route(
    groupId: GroupId,
    slot: number,
    cmd: KeyedCommand,
    args: Buffer[],
    proto: ProtocolVersion,
    forwarded = false,
    policy: ReadPolicy = DEFAULT_READ_POLICY,
  ): Promise<Reply | RawReply> {
    const deadline = this.env.clock.monotonicMs() + this.opts.requestTimeoutMs;
    return this.routeWithin(deadline, forwarded, groupId, slot, cmd, args, proto, forwarded, policy);
  }

  /**
   * The fast path of a write on its group's leader (docs/decisions.md, "Write fast path"):
   * proposed at once, with one promise and the shared deadline queue, instead of route()'s
   * async frames and promise chain. Undefined when this node does not lead the group: call
   * route(). If leadership moves before the entry is applied, route() takes over with what is
   * left of the deadline. Same reply as route().
   */
  writeNow(
    groupId: GroupId, slot: number, cmd: KeyedCommand, args: Buffer[], proto: ProtocolVersion,
    forwarded = false, policy: ReadPolicy = DEFAULT_READ_POLICY,
  ): Reply | Promise<Reply | RawReply> | undefined {
    if (cmd.kind !== 'write' || !this.host.isLeader(groupId)) return undefined;
    if (!forwarded) this.opts.load?.record(groupId, this.opts.nodeId);
    const admission = this.opts.admitWrite?.(groupId, args);
    if (admission && !admission.ok) return admission.reply;
    const deadline = this.env.clock.monotonicMs() + this.opts.requestTimeoutMs;
    return new Promise((resolve) => {
      let done = false;
      const timer = this.deadlines.at(deadline, () => {
        done = true; // the outcome is unknown: the entry may still commit
        resolve(errClusterDownReason(OUTCOME_UNKNOWN));
      });
      this.host.proposeThen(groupId, encodeOp(args), (outcome) => {
        admission?.settle();
        if (done) return;
        done = true;
        timer.cancel();
        if (outcome.kind === 'ok') resolve(outcome.value as Reply);
        else if (outcome.kind === 'stopped' || outcome.kind === 'noGroup') resolve(errClusterDownReason(SHUTTING_DOWN));
        // notLeader / lost / dropped: leadership moved under us; route() retries.
        else resolve(this.routeWithin(deadline, true, groupId, slot, cmd, args, proto, forwarded, policy));
      });
    });
  }

  /** route() against a given deadline; `counted`: the request's load was already recorded. */
  private async routeWithin(
    deadline: number,
    counted: boolean,
    groupId: GroupId,
    slot: number,
    cmd: KeyedCommand,
    args: Buffer[],
    proto: ProtocolVersion,
    forwarded: boolean,
    policy: ReadPolicy,
  ): Promise<Reply | RawReply> {
    if (cmd.kind === 'read' && !forwarded && this.followerReads(policy) && this.host.followerReadable(groupId)) {
      // A follower read lease (docs/cluster.md): served from this replica's state machine. With
      // redirect=moved only READONLY connections read on replicas, as in Redis Cluster.
      const outcome = await this.withDeadline(this.runLocal(groupId, cmd, args, 'lease'), deadline);
      if (outcome === null) return errClusterDown();
      if (outcome.kind === 'ok') return outcome.value;
      // The lease is gone: the leader path below serves it.
    }
    if (cmd.kind === 'read' && !forwarded && this.host.raft(groupId) && !this.host.isLeader(groupId)
      && (policy.readonly || policy.consistency === 'stale')) {
      // A replica read: STALE reads the local state machine as it is; READONLY
      // asks the leader for a read index first, so the read stays linearizable.
      const outcome = await this.withDeadline(
        this.runLocal(groupId, cmd, args, policy.consistency === 'stale' ? 'stale' : 'readIndex'), deadline);
      // A read index that never came (the leader is gone) is dropped by the core, not failed.
      if (outcome === null) return errClusterDown();
      if (outcome.kind === 'ok') return outcome.value;
      // No leader to confirm the read index: fall through to the leader path and its retries.
    }
    for (let attempt = 0; ; attempt++) {
      const known = this.opts.leaderOf ? this.opts.leaderOf(groupId) : this.host.leaderOf(groupId);
      const leader = known || this.remoteLeaderGuess(groupId, attempt);
      if (this.host.isLeader(groupId)) {
        if (!counted) {
          this.opts.load?.record(groupId, this.opts.nodeId);
          counted = true;
        }
        // A proposal stays pending while its leader is cut off (it may still commit under the
        // next leader), so the wait is bounded here. Past the deadline the outcome is unknown,
        // and the reply says so: serveForwarded must not let the sender retry it.
        if (this.env.clock.monotonicMs() >= deadline) return errClusterDown();
        const outcome = await this.withDeadline(this.runLocal(groupId, cmd, args, this.modeOf(policy)), deadline);
        if (outcome === null) return errClusterDownReason(OUTCOME_UNKNOWN);
        if (outcome.kind === 'ok') return outcome.value;
        if (outcome.kind === 'stopped' || outcome.kind === 'noGroup') return errClusterDownReason(SHUTTING_DOWN);
        // notLeader / lost / dropped: leadership moved under us; retry below.
      } else if (leader !== 0 && leader !== this.opts.nodeId && !forwarded) {
        // Node-internal commands (whole-keyspace scans, EXEC's entry) are always forwarded.
        if (this.opts.redirect === 'moved' && !cmd.name.startsWith('raftis.')) {
          const addr = this.placement.address(leader);
          if (addr) return errMoved(slot, addr.host, addr.port);
        } else {
          const r = await this.forward(leader, groupId, cmd, args, proto, deadline, policy);
          if (r !== null) {
            this.remoteLeaders.set(groupId, leader);
            return r;
          }
          this.remoteLeaders.delete(groupId);
        }
      } else if (forwarded && leader !== 0 && leader !== this.opts.nodeId) {
        // Leadership moved before this node proposed anything; the sender will retry.
        return NOT_SERVED_HERE;
      }
      if (this.env.clock.monotonicMs() >= deadline) return errClusterDown();
      await this.sleep(this.opts.retryMs);
    }
  }

  /** True when reads of this connection may be served under a lease (not ReadIndex, not stale). */
  private leaseReads(policy: ReadPolicy): boolean {
    if (policy.consistency === 'default') return this.host.readMode === 'lease';
    return policy.consistency === 'lease';
  }

  /**
   * True when this connection's reads may be served on a follower holding a read lease: lease
   * reads; with redirect=moved only on READONLY connections (as in Redis Cluster); and not while
   * the node says otherwise (an LRU/LFU maxmemory policy, whose access times live on leaders).
   */
  private followerReads(policy: ReadPolicy): boolean {
    return (this.opts.redirect === 'forward' || policy.readonly) && this.leaseReads(policy)
      && (this.opts.followerReads?.() ?? true);
  }

  /**
   * The fast path of a client's read (docs/decisions.md, "Local GET path"): when route() would
   * serve it here at once — this node leads the group and its lease holds (or the client reads
   * STALE) — the read runs now, synchronously, without the promises, deadline and microtask
   * turns of route(). Undefined: not servable at once, call route(). Same reply as route().
   */
  readNow(groupId: GroupId, cmd: KeyedCommand, args: Buffer[], policy: ReadPolicy = DEFAULT_READ_POLICY): Reply | Promise<Reply> | undefined {
    if (cmd.kind !== 'read') return undefined;
    if (!this.host.isLeader(groupId)) {
      if (!this.followerReads(policy) || !this.host.canReadNow(groupId, 'lease')) return undefined;
    } else {
      const mode = this.modeOf(policy);
      if (mode !== 'stale' && !this.host.canReadNow(groupId, mode)) return undefined;
    }
    const nowMs = this.env.clock.nowMs();
    const result = cmd.read(this.readView(groupId, nowMs), args);
    if (!(result instanceof Promise)) return result;
    // An asynchronous read keeps route()'s bound on how long the client waits.
    const deadline = this.env.clock.monotonicMs() + this.opts.requestTimeoutMs;
    return this.withDeadline(result, deadline).then((r) => r ?? errClusterDownReason(OUTCOME_UNKNOWN));
  }

  private modeOf(policy: ReadPolicy): 'lease' | 'readIndex' | 'stale' | undefined {
    switch (policy.consistency) {
      case 'linearizable': return 'readIndex';
      case 'lease': return 'lease';
      case 'stale': return 'stale';
      default: return undefined;
    }
  }

  /**
   * Where to forward a command for a group this node does not replicate (its host knows no
   * leader for it): the node that last served it, else each replica in turn — a replica
   * that is not the leader answers "not served" and the next one is tried.
   */
  private remoteLeaderGuess(groupId: GroupId, attempt: number): NodeId {
    if (this.opts.redirect !== 'forward' || this.host.raft(groupId) !== undefined) return 0;
    const known = this.remoteLeaders.get(groupId);
    if (known !== undefined) return known;
    const replicas = (this.placement.group(groupId)?.replicas ?? []).filter((n) => n !== this.opts.nodeId);
    return replicas.length === 0 ? 0 : replicas[(groupId + attempt) % replicas.length];
  }

  private async runLocal(
    groupId: GroupId, cmd: KeyedCommand, args: Buffer[], mode?: 'lease' | 'readIndex' | 'stale',
  ): Promise<{ kind: 'ok'; value: Reply } | HostError> {
    if (cmd.kind === 'write') {
      const admission = this.host.isLeader(groupId) ? this.opts.admitWrite?.(groupId, args) : undefined;
      if (admission && !admission.ok) return { kind: 'ok', value: admission.reply };
      const outcome = await this.host.propose(groupId, encodeOp(args)).finally(() => admission?.settle());
      if (outcome.kind !== 'ok') return outcome;
      return { kind: 'ok', value: outcome.value as Reply };
    }
    if (mode !== 'stale') {
      const outcome = await this.host.read(groupId, mode);
      if (outcome.kind !== 'ok') return outcome;
    }
    return { kind: 'ok', value: await cmd.read(this.readView(groupId, this.env.clock.nowMs()), args) };
  }

  /**
   * Sends the command to the leader's node. Null means it surely did not run
   * there (retry); a write whose request may have arrived is never resent, as
   * it may have been applied: the client gets an error and must treat the
   * outcome as unknown.
   */
  private async forward(
    to: NodeId, groupId: GroupId, cmd: KeyedCommand, args: Buffer[], proto: ProtocolVersion, deadline: number, policy: ReadPolicy,
  ): Promise<Reply | null> {
    // The op is encoded after the 6-byte forward header, in one buffer.
    const payload = encodeOp(args, 6);
    payload[0] = FORWARD_COMMAND;
    // Low nibble: the client's protocol; high nibble: its read consistency.
    payload[1] = proto | (CONSISTENCY_CODES.indexOf(policy.consistency) << 4);
    payload.writeUInt32LE(groupId, 2);
    const timeoutMs = Math.max(1, deadline - this.env.clock.monotonicMs());
    try {
      const res = await this.channel.request(to, payload, timeoutMs);
      const buf = Buffer.from(res.buffer, res.byteOffset, res.byteLength);
      if (buf[0] === 0) return { kind: 'raw', bytes: buf.subarray(1) };
      return null; // the other node did not run it (not leader any more): retry
    } catch (err) {
      // Retry only when the request surely never ran (or is a read): after a timeout or a
      // broken connection the leader may have proposed it, and running it twice would break
      // linearizability.
      const code = err instanceof TransportError ? err.code : 'remote';
      if (cmd.kind === 'read' || NEVER_SENT.has(code)) return null;
      return errClusterDownReason(OUTCOME_UNKNOWN);
    }
  }

  /**
   * Serves a request forwarded by another node. Replies with status 0 and the
   * reply encoded for the original client, or status 1 when this node should
   * not serve it (the sender then retries with fresh leadership).
   */
  async serveForwarded(
    payload: Uint8Array,
    lookup: (name: string) => { cmd: KeyedCommand; slot: number } | undefined,
    from?: NodeId,
  ): Promise<Uint8Array> {
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (buf.length < 6 || buf[0] !== FORWARD_COMMAND) return Buffer.from([1]);
    const proto = ((buf[1] & 0x0f) === 3 ? 3 : 2) as ProtocolVersion;
    const consistency = CONSISTENCY_CODES[buf[1] >> 4] ?? 'default';
    const groupId = buf.readUInt32LE(2);
    const args = decodeOp(buf.subarray(6));
    const found = args.length > 0 ? lookup(args[0].toString('latin1').toLowerCase()) : undefined;
    if (!found) return Buffer.from([1]);
    if (!this.host.isLeader(groupId)) return Buffer.from([1]);
    if (from !== undefined) this.opts.load?.record(groupId, from);
    const policy: ReadPolicy = consistency === 'default' ? DEFAULT_READ_POLICY : { consistency, readonly: false };
    // A read servable at once is served as route() would, without its promises (readNow).
    const reply = await (this.readNow(groupId, found.cmd, args, policy)
      ?? this.writeNow(groupId, found.slot, found.cmd, args, proto, true, policy)
      ?? this.route(groupId, found.slot, found.cmd, args, proto, true, policy));
    if (reply.kind === 'raw') return Buffer.concat([Buffer.from([0]), reply.bytes]);
    if (reply === NOT_SERVED_HERE) return Buffer.from([1]);
    return encodeReplyAfterByte(0, reply, proto);
  }

  /** `work`'s result, or null if the deadline passes first (the work itself goes on). */
  private withDeadline<T>(work: Promise<T>, deadline: number): Promise<T | null> {
    const remaining = deadline - this.env.clock.monotonicMs();
    if (remaining <= 0) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = this.deadlines.at(deadline, () => resolve(null));
      work.then((v) => {
        timer.cancel();
        resolve(v);
      }, (err: unknown) => {
        timer.cancel();
        reject(err);
      });
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.env.timers.after(ms, resolve));
  }
}

