import type { Env } from '../env/env.js';
import type { Host, HostError } from '../host/host.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { encodeReply, type ProtocolVersion, type Reply } from '../resp/encoder.js';
import { errClusterDown, errClusterDownReason, errMoved } from '../resp/replies.js';
import type { KeyedCommand } from '../commands/spec.js';
import { encodeOp, decodeOp } from '../commands/op-codec.js';
import type { ReadContext } from '../commands/keyspace.js';
import type { Placement } from './placement.js';
import { TransportError } from '../transport/transport.js';

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
}

/** A reply already encoded in the client's protocol by the node that served it. */
export type RawReply = Extract<Reply, { kind: 'raw' }>;

const FORWARD_COMMAND = 1;
/** What `errClusterDown()` says: the request was not run (no leader, or it surely failed). */
const NOT_SERVED = 'CLUSTERDOWN The cluster is down';
/** The request may have taken effect, but its result did not come back in time. */
const OUTCOME_UNKNOWN = 'The request timed out';

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

  constructor(
    private readonly env: Env,
    private readonly opts: RouterOptions,
    private readonly host: Host,
    private readonly placement: Placement,
    private readonly channel: ForwardChannel,
    private readonly readView: (groupId: GroupId, nowMs: number) => ReadContext,
  ) {}

  /** Runs `args` (one group's share of a command) on `groupId`. */
  async route(
    groupId: GroupId,
    slot: number,
    cmd: KeyedCommand,
    args: Buffer[],
    proto: ProtocolVersion,
    forwarded = false,
  ): Promise<Reply | RawReply> {
    const deadline = this.env.clock.monotonicMs() + this.opts.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const leader = this.host.leaderOf(groupId) || this.remoteLeaderGuess(groupId, attempt);
      if (this.host.isLeader(groupId)) {
        // A proposal stays pending while its leader is cut off (it may still commit under the
        // next leader), so the wait is bounded here. Past the deadline the outcome is unknown,
        // and the reply says so: serveForwarded must not let the sender retry it.
        if (this.env.clock.monotonicMs() >= deadline) return errClusterDown();
        const outcome = await this.withDeadline(this.runLocal(groupId, cmd, args), deadline);
        if (outcome === null) return errClusterDownReason(OUTCOME_UNKNOWN);
        if (outcome.kind === 'ok') return outcome.value;
        if (outcome.kind === 'stopped' || outcome.kind === 'noGroup') return errClusterDownReason('The node is shutting down');
        // notLeader / lost / dropped: leadership moved under us; retry below.
      } else if (leader !== 0 && leader !== this.opts.nodeId && !forwarded) {
        if (this.opts.redirect === 'moved') {
          const addr = this.placement.address(leader);
          if (addr) return errMoved(slot, addr.host, addr.port);
        } else {
          const r = await this.forward(leader, groupId, args, proto, deadline);
          if (r !== null) {
            this.remoteLeaders.set(groupId, leader);
            return r;
          }
          this.remoteLeaders.delete(groupId);
        }
      } else if (forwarded && leader !== 0 && leader !== this.opts.nodeId) {
        // Leadership moved while the request was in flight; the sender will retry.
        return errClusterDownReason('The cluster is down');
      }
      if (this.env.clock.monotonicMs() >= deadline) return errClusterDown();
      await this.sleep(this.opts.retryMs);
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

  private async runLocal(groupId: GroupId, cmd: KeyedCommand, args: Buffer[]): Promise<{ kind: 'ok'; value: Reply } | HostError> {
    if (cmd.kind === 'write') {
      const outcome = await this.host.propose(groupId, encodeOp(args));
      if (outcome.kind !== 'ok') return outcome;
      return { kind: 'ok', value: outcome.value as Reply };
    }
    const outcome = await this.host.read(groupId);
    if (outcome.kind !== 'ok') return outcome;
    return { kind: 'ok', value: cmd.read(this.readView(groupId, this.env.clock.nowMs()), args) };
  }

  private async forward(to: NodeId, groupId: GroupId, args: Buffer[], proto: ProtocolVersion, deadline: number): Promise<RawReply | null> {
    const op = encodeOp(args);
    const payload = Buffer.allocUnsafe(6 + op.length);
    payload[0] = FORWARD_COMMAND;
    payload[1] = proto;
    payload.writeUInt32LE(groupId, 2);
    op.copy(payload, 6);
    const timeoutMs = Math.max(1, deadline - this.env.clock.monotonicMs());
    try {
      const res = await this.channel.request(to, payload, timeoutMs);
      const buf = Buffer.from(res.buffer, res.byteOffset, res.byteLength);
      if (buf[0] === 0) return { kind: 'raw', bytes: buf.subarray(1) };
      return null; // the other node could not serve it (not leader any more): retry
    } catch (err) {
      // Retry only when the request surely never ran: after a timeout or a broken connection
      // the leader may have proposed it, and running it twice would break linearizability.
      const code = err instanceof TransportError ? err.code : 'remote';
      if (code === 'unreachable' || code === 'unknownPeer' || code === 'closed' || code === 'tooLarge') return null;
      return { kind: 'raw', bytes: encodeReply(errClusterDownReason(OUTCOME_UNKNOWN), proto) };
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
  ): Promise<Uint8Array> {
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (buf.length < 6 || buf[0] !== FORWARD_COMMAND) return Buffer.from([1]);
    const proto = (buf[1] === 3 ? 3 : 2) as ProtocolVersion;
    const groupId = buf.readUInt32LE(2);
    const args = decodeOp(buf.subarray(6));
    const found = args.length > 0 ? lookup(args[0].toString('latin1').toLowerCase()) : undefined;
    if (!found) return Buffer.from([1]);
    if (!this.host.isLeader(groupId)) return Buffer.from([1]);
    const reply = await this.route(groupId, found.slot, found.cmd, args, proto, true);
    if (reply.kind === 'raw') return Buffer.concat([Buffer.from([0]), reply.bytes]);
    // Only a request that surely did not run may be retried by the sender (see `forward`).
    if (reply.kind === 'error' && reply.message === NOT_SERVED) return Buffer.from([1]);
    return Buffer.concat([Buffer.from([0]), encodeReply(reply, proto)]);
  }

  /** `work`'s result, or null if the deadline passes first (the work itself goes on). */
  private withDeadline<T>(work: Promise<T>, deadline: number): Promise<T | null> {
    const remaining = deadline - this.env.clock.monotonicMs();
    if (remaining <= 0) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = this.env.timers.after(remaining, () => resolve(null));
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

