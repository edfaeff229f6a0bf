/**
 * A whole Raft group in one process on a virtual clock: RawNodes hosted the way DESIGN.md's
 * Ready cycle describes (send, persist asynchronously, send after-persist messages, apply,
 * serve reads, advance), each ticking on its own drifting schedule, over a faulty network, with
 * crashes that lose whatever was not yet persisted. Everything is driven by one seed.
 */
import type { SeededRandom } from '../env/random.js';
import type {
  ConfState, Message, NodeId, RaftLogger, RawNodeApi, RawNodeConfig, Ready, ReadMode,
} from '../raft/types.js';
import { MessageType, Role } from '../raft/types.js';
import type { ClientOp, SubmitOutcome } from './client.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker, violation } from './invariants.js';
import { decodeCommand, encodeCommand } from './kv.js';
import { LogView } from './log-view.js';
import { SimNetwork } from './network.js';
import { SimStorage, copyConf } from './storage.js';

export interface ClusterConfig {
  /** Initial voters are 1..voters. */
  voters: number;
  /** Highest node id ever started (learners join with fresh ids). */
  nodeIdsMax: number;
  tickMs: number;
  /** Per-node tick period multiplier, e.g. [1, 0.97, 1.04]; index = nodeId - 1. */
  clockRates: (nodeId: NodeId) => number;
  electionTicks: number;
  heartbeatTicks: number;
  leaseDriftTicks: number;
  /** Follower read leases in the core (lease reads sent to a follower are then served there). */
  followerLeases: boolean;
  netDelayMsMin: number;
  netDelayMsMax: number;
  persistDelayMsMax: number;
  /** Flow control of the core (small values split appends, which uncovers more interleavings). */
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  createRawNode: (config: RawNodeConfig) => RawNodeApi;
  /** Called on each trace line when tracing. */
  trace: ((line: string) => void) | null;
}

/** Callbacks into the clients that own operations. */
export interface OpSink {
  complete(op: ClientOp, value: string | null): void;
  indeterminate(op: ClientOp): void;
  failed(op: ClientOp): void;
}

interface PendingWrite {
  op: ClientOp;
  term: number;
}

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {} };
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** One simulated process hosting one RawNode. */
export class SimNode {
  alive = false;
  /** Bumped on crash and restart: events of an older incarnation are ignored. */
  epoch = 0;
  raw: RawNodeApi | null = null;
  readonly storage = new SimStorage();
  log = new LogView();
  readyInFlight = false;
  /** Permanently stopped after its removal from the group was applied. */
  removed = false;
  /** Highest commit index this incarnation has reported. */
  commitSeen = 0;
  role: Role = Role.Follower;
  /** Membership as this node last applied it. */
  conf: ConfState = { voters: [], learners: [] };
  readonly pendingWrites = new Map<number, PendingWrite>();
  readonly pendingReads = new Map<string, ClientOp>();
  readonly waitingReads: Array<{ index: number; op: ClientOp }> = [];
  /** Virtual milliseconds between this node's ticks (its clock rate); a clock fault may change it. */
  constructor(readonly nodeId: NodeId, public periodMs: number) {}
}

export interface ClusterStats {
  events: number;
  messagesSent: number;
  messagesDropped: number;
  crashes: number;
  restarts: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
  confChangesApplied: number;
}

export class SimCluster {
  readonly queue = new EventQueue();
  nowMs = 0;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly invariants = new InvariantChecker();
  readonly network: SimNetwork;
  readonly bootstrapVoters: NodeId[];
  stats: ClusterStats = {
    events: 0, messagesSent: 0, messagesDropped: 0, crashes: 0, restarts: 0, snapshotsSent: 0,
    snapshotsInstalled: 0, compactions: 0, confChangesApplied: 0,
  };
  opSink: OpSink | null = null;
  private readonly diskRandom: SeededRandom;

  constructor(readonly config: ClusterConfig, private readonly random: SeededRandom) {
    this.network = new SimNetwork(this, random.fork('network'), config);
    this.diskRandom = random.fork('disk');
    this.bootstrapVoters = [];
    for (let nodeId = 1; nodeId <= config.voters; nodeId++) this.bootstrapVoters.push(nodeId);
    for (const nodeId of this.bootstrapVoters) this.spawn(nodeId);
  }

  trace(line: string): void {
    this.config.trace?.(`${this.nowMs.toFixed(2).padStart(10)} ${line}`);
  }

  after(delayMs: number, fn: () => void): void {
    this.queue.push(this.nowMs + delayMs, fn);
  }

  /** Runs events until `untilMs` (or until `eventsMax` events ran); returns false if capped. */
  runUntil(untilMs: number, eventsMax: number): boolean {
    for (;;) {
      const event = this.queue.pop();
      if (event === undefined) return true;
      if (event.timeMs > untilMs) {
        this.queue.push(event.timeMs, event.run);
        this.nowMs = untilMs;
        return true;
      }
      if (this.stats.events >= eventsMax) return false;
      this.nowMs = event.timeMs;
      this.stats.events++;
      event.run();
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  /** Starts a brand-new node (no state on disk). */
  spawn(nodeId: NodeId): SimNode {
    violation(!this.nodes.has(nodeId), `spawn: node ${nodeId} exists`);
    const node = new SimNode(nodeId, this.config.tickMs * this.config.clockRates(nodeId));
    this.nodes.set(nodeId, node);
    this.start(node, false);
    return node;
  }

  private start(node: SimNode, restart: boolean): void {
    node.alive = true;
    node.epoch++;
    node.readyInFlight = false;
    node.role = Role.Follower;
    const config: RawNodeConfig = {
      nodeId: node.nodeId,
      groupId: 1,
      // Every start, first or not, passes the same lists (types.ts, RawNodeConfig.voters): the
      // bootstrap membership for founders, none for a node joining later, which learns the
      // membership from the snapshot the leader sends it (docs/raft-core.md).
      voters: this.bootstrapVoters.includes(node.nodeId) ? this.bootstrapVoters.slice() : [],
      learners: [],
      electionTicks: this.config.electionTicks,
      heartbeatTicks: this.config.heartbeatTicks,
      random: this.random.fork(`raft-${node.nodeId}-${node.epoch}`),
      logger: silentLogger,
      preVote: true,
      checkQuorum: true,
      leaseDriftTicks: this.config.leaseDriftTicks,
      followerLeases: this.config.followerLeases,
      maxSizePerMsg: this.config.maxSizePerMsg,
      maxInflightMsgs: this.config.maxInflightMsgs,
    };
    if (restart) {
      config.persisted = node.storage.persistedState();
      config.applied = node.storage.kv.applied;
    }
    node.raw = this.config.createRawNode(config);
    node.conf = copyConf(node.raw.status().confState);
    node.log = LogView.fromStorage(node.storage.snapshot, node.storage.entries);
    node.commitSeen = node.storage.hardState.commit;
    const epoch = node.epoch;
    // A random phase, so nodes do not tick in lockstep.
    this.after(this.random.next() * node.periodMs, () => this.tick(node, epoch));
    this.trace(`node ${node.nodeId} ${restart ? 'restarts' : 'starts'} (applied=${node.storage.kv.applied})`);
  }

  private tick(node: SimNode, epoch: number): void {
    if (node.epoch !== epoch || !node.alive) return;
    node.raw!.tick();
    this.afterInput(node);
    this.after(node.periodMs, () => this.tick(node, epoch));
  }

  crash(node: SimNode): void {
    if (!node.alive) return;
    node.alive = false;
    node.epoch++;
    node.raw = null;
    node.readyInFlight = false;
    this.stats.crashes++;
    this.trace(`node ${node.nodeId} crashes`);
    this.failPending(node);
  }

  restart(node: SimNode): void {
    if (node.alive || node.removed) return;
    this.stats.restarts++;
    this.start(node, true);
  }

  /** The client ops waiting on `node` lose their answer. */
  private failPending(node: SimNode): void {
    const sink = this.opSink!;
    for (const pending of node.pendingWrites.values()) sink.indeterminate(pending.op);
    node.pendingWrites.clear();
    for (const op of node.pendingReads.values()) sink.indeterminate(op);
    node.pendingReads.clear();
    for (const waiting of node.waitingReads) sink.indeterminate(waiting.op);
    node.waitingReads.length = 0;
  }

  /** The alive node with the highest term among those that believe they lead. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (!node.alive) continue;
      const status = node.raw!.status();
      if (status.role === Role.Leader && status.term > bestTerm) {
        best = node;
        bestTerm = status.term;
      }
    }
    return best;
  }

  // ---- the Ready cycle ---------------------------------------------------------------------

  /** After any input to a node: start its next Ready cycle if none is in flight. */
  afterInput(node: SimNode): void {
    if (!node.alive || node.readyInFlight || !node.raw!.hasReady()) return;
    const raw = node.raw!;
    const ready = raw.ready();
    node.readyInFlight = true;
    // The log as the core sees it (the entries are handed out, not yet persisted).
    if (ready.snapshot !== null) node.log.installSnapshot(ready.snapshot.meta);
    for (const entry of ready.entries) {
      const prevTerm = node.log.append(entry);
      this.invariants.onEntry(node.nodeId, entry, prevTerm);
    }
    if (ready.softState !== null) {
      node.role = ready.softState.role;
      if (ready.softState.role === Role.Leader) {
        const term = raw.status().term;
        this.trace(`node ${node.nodeId} leads term ${term}`);
        this.invariants.onLeader(node.nodeId, term, node.log);
      }
    }
    if (ready.hardState !== null && ready.hardState.commit > node.commitSeen) {
      this.invariants.onCommit(node.nodeId, ready.hardState.commit, node.log, node.commitSeen);
      node.commitSeen = ready.hardState.commit;
    }
    // 1. Messages may go out at once. Snap messages get the state-machine image now: the state
    //    machine is exactly at the leader's applied index until this Ready's entries are applied.
    for (const message of ready.messages) this.network.send(node, this.fillSnapshot(node, message));
    // 2. Persist, asynchronously. A crash before this completes loses the whole Ready.
    const work = ready.snapshot !== null || ready.entries.length > 0 || ready.hardState !== null;
    const delayMs = work ? this.diskRandom.next() * this.config.persistDelayMsMax : 0;
    const epoch = node.epoch;
    this.after(delayMs, () => this.persisted(node, epoch, ready));
  }

  private fillSnapshot(node: SimNode, message: Message): Message {
    if (message.type !== MessageType.Snap || message.snapshot === null) return message;
    const kv = node.storage.kv;
    violation(message.snapshot.meta.index === kv.applied,
      `snapshot: node ${node.nodeId} sends a snapshot at ${message.snapshot.meta.index} but has applied ${kv.applied}`);
    this.stats.snapshotsSent++;
    return { ...message, snapshot: { meta: message.snapshot.meta, data: kv.image() } };
  }

  private persisted(node: SimNode, epoch: number, ready: Ready): void {
    if (node.epoch !== epoch) return;
    const raw = node.raw!;
    const storage = node.storage;
    const kv = storage.kv;
    const sink = this.opSink!;
    if (ready.snapshot !== null) {
      const meta = ready.snapshot.meta;
      violation(meta.index > kv.applied,
        `snapshot: node ${node.nodeId} asked to install ${meta.index} with ${kv.applied} already applied`);
      storage.applySnapshot(meta);
      kv.restore(ready.snapshot.data);
      violation(kv.applied === meta.index, `snapshot: image at ${kv.applied} does not match meta index ${meta.index}`);
      this.invariants.onDigest(node.nodeId, meta.index, kv.digest());
      this.stats.snapshotsInstalled++;
      this.trace(`node ${node.nodeId} installs snapshot ${meta.index}/${meta.term}`);
      // Proposals below the snapshot: whether they committed is not known here.
      for (const [index, pending] of node.pendingWrites) {
        if (index <= meta.index) {
          sink.indeterminate(pending.op);
          node.pendingWrites.delete(index);
        }
      }
    }
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.hardState = { ...ready.hardState };
    // 3. Acknowledgements only once durable.
    for (const message of ready.messagesAfterPersist) this.network.send(node, this.fillSnapshot(node, message));
    // 4. Apply, then serve the reads whose index is applied.
    for (const entry of ready.committedEntries) {
      const command = kv.apply(entry);
      this.invariants.onApply(node.nodeId, entry, kv.digest());
      const pending = node.pendingWrites.get(entry.index);
      if (pending !== undefined) {
        node.pendingWrites.delete(entry.index);
        if (pending.term !== entry.term) {
          // Another entry committed where ours was: ours can never commit (§5.3).
          sink.failed(pending.op);
        } else {
          violation(command !== null && command.clientId === pending.op.clientId && command.opId === pending.op.opId,
            `node ${node.nodeId}: proposal accepted at ${entry.index}/${entry.term} but another entry committed there`);
          sink.complete(pending.op, null);
        }
      }
    }
    for (const readState of ready.readStates) {
      const context = textDecoder.decode(readState.context);
      const op = node.pendingReads.get(context);
      if (op === undefined) continue;
      node.pendingReads.delete(context);
      node.waitingReads.push({ index: readState.index, op });
    }
    this.serveReads(node);
    raw.advance(ready.number);
    node.readyInFlight = false;
    if (ready.confState !== null) this.onConfState(node, ready.confState);
    this.afterInput(node);
  }

  private serveReads(node: SimNode): void {
    const kv = node.storage.kv;
    let kept = 0;
    for (const waiting of node.waitingReads) {
      if (waiting.index <= kv.applied) this.opSink!.complete(waiting.op, kv.get(waiting.op.key));
      else node.waitingReads[kept++] = waiting;
    }
    node.waitingReads.length = kept;
  }

  /** A node applied a membership change: a member that it drops was removed for good. */
  private onConfState(node: SimNode, conf: ConfState): void {
    this.stats.confChangesApplied++;
    this.trace(`node ${node.nodeId} conf voters=[${conf.voters}] learners=[${conf.learners}]`);
    const before = node.conf;
    node.conf = copyConf(conf);
    const members = new Set([...conf.voters, ...conf.learners]);
    // Compare with this node's own previous membership: another node's may lag behind.
    for (const nodeId of [...before.voters, ...before.learners]) {
      if (members.has(nodeId)) continue;
      const gone = this.nodes.get(nodeId);
      if (gone === undefined || gone.removed) continue;
      this.crash(gone);
      gone.removed = true;
      this.trace(`node ${nodeId} removed`);
    }
  }

  // ---- clients ------------------------------------------------------------------------------

  /** Alive, not removed nodes that are (or are about to be) members. */
  candidates(): NodeId[] {
    const out: NodeId[] = [];
    for (const node of this.nodes.values()) if (node.alive && !node.removed) out.push(node.nodeId);
    return out;
  }

  submit(nodeId: NodeId, op: ClientOp): SubmitOutcome {
    const node = this.nodes.get(nodeId);
    if (node === undefined || !node.alive) return { kind: 'retry' };
    const raw = node.raw!;
    let outcome: SubmitOutcome;
    if (op.kind === 'write') {
      const data = encodeCommand({ clientId: op.clientId, opId: op.opId, key: op.key, value: op.value ?? '' });
      const result = raw.propose(data);
      if (result.kind === 'ok') {
        const earlier = node.pendingWrites.get(result.index);
        if (earlier !== undefined) {
          // This node lost that index's earlier entry (a newer leader overwrote it) and now leads
          // again. The earlier entry may survive in another log and still commit: unknown.
          violation(earlier.term < result.term, `node ${nodeId}: two proposals accepted at ${result.index}/${result.term}`);
          this.opSink!.indeterminate(earlier.op);
        }
        node.pendingWrites.set(result.index, { op, term: result.term });
        outcome = { kind: 'accepted' };
      } else if (result.kind === 'notLeader') {
        outcome = { kind: 'notLeader', leaderHint: result.leaderHint };
      } else {
        outcome = { kind: 'retry' };
      }
    } else {
      const context = `${op.clientId}:${op.opId}`;
      const result = raw.readIndex(textEncoder.encode(context), op.mode as ReadMode);
      if (result.kind === 'ok') {
        node.pendingReads.set(context, op);
        outcome = { kind: 'accepted' };
      } else if (result.kind === 'notLeader') {
        outcome = { kind: 'notLeader', leaderHint: result.leaderHint };
      } else {
        outcome = { kind: 'retry' };
      }
    }
    this.afterInput(node);
    return outcome;
  }

  // ---- maintenance ----------------------------------------------------------------------------

  /** Compacts a node's log up to its applied index (keeping `keep` entries), in the core and on disk. */
  compact(node: SimNode, keep: number): void {
    // Between Ready cycles only, as a host would: a Ready in flight may carry a snapshot the
    // core has already installed while storage has not.
    if (!node.alive || node.readyInFlight) return;
    const raw = node.raw!;
    const index = Math.min(raw.status().applied, node.storage.kv.applied, node.storage.lastIndex()) - keep;
    if (index <= node.storage.snapshotIndex()) return;
    raw.compact(index);
    // The core knows the membership as of `index`, even with a conf change applied after it.
    const point = raw.compactionPoint();
    violation(point.index === index && point.term === node.storage.termAt(index),
      `compaction: node ${node.nodeId} compacted to ${index}/${node.storage.termAt(index)} but reports ${point.index}/${point.term}`);
    node.storage.compact(point);
    node.log.compact(index);
    this.stats.compactions++;
    this.afterInput(node);
  }

  /** Decodes a command for traces. */
  static describe(data: Uint8Array): string {
    if (data.length === 0) return 'noop';
    const command = decodeCommand(data);
    return `set ${command.key}=${command.value}`;
  }
}
