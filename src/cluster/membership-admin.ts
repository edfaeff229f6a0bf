import type { Env } from '../env/env.js';
import type { Host } from '../host/host.js';
import type { NodeId } from '../raft/types.js';
import { array, bulk, encodeReply, integer, map, type Reply } from '../resp/encoder.js';
import { errClusterDownReason, errGeneric, errNotInteger } from '../resp/replies.js';
import { encodeOp, decodeOp } from '../commands/op-codec.js';
import { lower, parseInt64 } from '../commands/spec.js';
import { parseMembers } from '../config.js';
import { META_GROUP, type Placement, type PlacementState } from './placement.js';
import { planAddNode, planMoveReplica, planRemoveNode, type PlanResult } from './membership-plan.js';
import { PLACEMENT_OP, readPlacement } from './meta.js';
import type { Topology } from './topology.js';
import type { KeyspaceReader } from '../commands/keyspace.js';
import type { RawReply } from './router.js';

/** First byte of an admin RPC on the peer link: a RAFTIS membership command for group 0's leader. */
export const ADMIN_REQUEST = 3;

export interface AdminChannel {
  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

/**
 * RAFTIS ADD-NODE / REMOVE-NODE / MOVE-REPLICA: planned and proposed to
 * group 0 on its leader (a node that does not lead group 0 forwards the
 * command there). The reply comes once the new placement is committed; the
 * replicas then move in the background (src/cluster/reconciler.ts) and
 * RAFTIS GROUPS shows when every group has settled.
 */
export class MembershipAdmin {
  /** Set by the node: adopts a placement this node just committed. */
  adopt: (state: PlacementState) => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly opts: { nodeId: NodeId; requestTimeoutMs: number },
    private readonly host: Host,
    private readonly placement: Placement,
    private readonly topology: Topology,
    private readonly channel: AdminChannel,
    private readonly metaReader: () => KeyspaceReader | undefined,
  ) {}

  /** Runs a membership command here if this node leads group 0, else on group 0's leader. */
  async handle(args: Buffer[]): Promise<Reply | RawReply> {
    const deadline = this.env.clock.monotonicMs() + this.opts.requestTimeoutMs;
    for (;;) {
      if (this.host.isLeader(META_GROUP)) return this.run(args);
      const leader = this.topology.leaderOf(META_GROUP);
      if (leader !== 0 && leader !== this.opts.nodeId) {
        try {
          const res = await this.channel.request(leader, Buffer.concat([Buffer.from([ADMIN_REQUEST]), encodeOp(args)]),
            Math.max(1, deadline - this.env.clock.monotonicMs()));
          const buf = Buffer.from(res.buffer, res.byteOffset, res.byteLength);
          if (buf[0] === 0) return { kind: 'raw', bytes: buf.subarray(1) };
        } catch {
          // Retry below with fresh leadership.
        }
      }
      if (this.env.clock.monotonicMs() >= deadline) return errClusterDownReason('The metadata group has no leader');
      await new Promise<void>((resolve) => this.env.timers.after(50, resolve));
    }
  }

  /** Serves an admin command forwarded by another node: status 0 + RESP2 reply, or 1 when not leader. */
  async serve(payload: Uint8Array): Promise<Uint8Array> {
    if (!this.host.isLeader(META_GROUP)) return Buffer.from([1]);
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const reply = await this.run(decodeOp(buf.subarray(1)));
    return Buffer.concat([Buffer.from([0]), encodeReply(reply, 2)]);
  }

  private current(): PlacementState {
    const reader = this.metaReader();
    const committed = reader ? readPlacement(reader) : undefined;
    const mine = this.placement.snapshot();
    return committed && committed.version > mine.version ? committed : mine;
  }

  private async run(args: Buffer[]): Promise<Reply> {
    const sub = lower(args[1]);
    const alive = (n: NodeId) => this.topology.alive(n);
    let plan: PlanResult;
    const cur = this.current();
    switch (sub) {
      case 'add-node': {
        const nodeId = parseInt64(args[2]);
        const port = parseInt64(args[4]);
        const peerPort = parseInt64(args[5]);
        if (nodeId === undefined || port === undefined || peerPort === undefined) return errNotInteger();
        let member;
        try {
          member = parseMembers(`${nodeId}@${args[3].toString()}:${port}:${peerPort}`)[0];
        } catch (err) {
          return errGeneric((err as Error).message);
        }
        if (member.nodeId < 1) return errGeneric('node ids start at 1');
        plan = planAddNode(cur, member);
        break;
      }
      case 'remove-node': {
        const nodeId = parseInt64(args[2]);
        if (nodeId === undefined) return errNotInteger();
        plan = planRemoveNode(cur, Number(nodeId), alive);
        break;
      }
      case 'move-replica': {
        const [groupId, from, to] = [parseInt64(args[2]), parseInt64(args[3]), parseInt64(args[4])];
        if (groupId === undefined || from === undefined || to === undefined) return errNotInteger();
        plan = planMoveReplica(cur, Number(groupId), Number(from), Number(to), alive);
        break;
      }
      default:
        return errGeneric(`unknown membership command '${sub}'`);
    }
    if (!plan.ok) return errGeneric(plan.error);
    const outcome = await this.host.propose(META_GROUP, encodeOp([
      Buffer.from(PLACEMENT_OP), Buffer.from(String(cur.version)), Buffer.from(JSON.stringify(plan.state)),
    ]));
    if (outcome.kind !== 'ok') return errClusterDownReason(`placement not committed (${outcome.kind}); retry`);
    const reply = outcome.value as Reply;
    if (reply.kind === 'error') return reply;
    this.adopt(plan.state);
    return map([
      [bulk('version'), integer(plan.state.version)],
      [bulk('moves'), array(plan.moves.map((m) => bulk(`group ${m.groupId}: ${m.from || '-'} -> ${m.to || '-'}`)))],
    ]);
  }

  /** Proposes a placement computed elsewhere (the reconciler forgetting removed nodes); group 0's leader only. */
  async propose(next: PlacementState): Promise<void> {
    const cur = this.current();
    if (next.version !== cur.version + 1) throw new Error('stale placement');
    const outcome = await this.host.propose(META_GROUP, encodeOp([
      Buffer.from(PLACEMENT_OP), Buffer.from(String(cur.version)), Buffer.from(JSON.stringify(next)),
    ]));
    if (outcome.kind !== 'ok' || (outcome.value as Reply).kind === 'error') throw new Error('placement not committed');
    this.adopt(next);
  }
}

/** RAFTIS PLACEMENT: the placement in force on this node. */
export function placementReply(p: Placement): Reply {
  return map([
    [bulk('version'), integer(p.version)],
    [bulk('members'), array(p.members.map((m) => bulk(`${m.nodeId}@${m.host}:${m.port}:${m.peerPort}`)))],
    [bulk('leaving'), array(p.leaving.map((n) => integer(n)))],
    [bulk('groups'), array(p.groups.map((g) => array([integer(g.groupId), ...g.replicas.map((r) => integer(r))])))],
  ]);
}
