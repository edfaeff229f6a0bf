// Test helper (no tests here): an in-memory network of RawNodes with a toy
// log store and state machine, delivering messages FIFO with optional drops.
import { SeededRandom } from '../../src/env/random.js';
import { RawNode } from '../../src/raft/raw-node.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type RaftLogger,
  type RawNodeConfig,
  type ReadState,
  type Ready,
  type SnapshotMeta,
} from '../../src/raft/types.js';

export const GROUP = 7;

export interface LogLine {
  level: string;
  obj: object;
  msg: string;
}

export function captureLogger(lines: LogLine[] = []): RaftLogger & { lines: LogLine[] } {
  return {
    lines,
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

/** What one simulated member keeps across restarts: its log store and state machine. */
export interface Member {
  nodeId: NodeId;
  node: RawNode;
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
  /** The state machine: applied Normal entry payloads as text. */
  sm: string[];
  applied: number;
  confState: ConfState | null;
  readStates: ReadState[];
  readies: Ready[];
  config: RawNodeConfig;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

export interface NetworkOptions extends Partial<RawNodeConfig> {
  seed?: number;
  learnerIds?: NodeId[];
}

export class Network {
  readonly members = new Map<NodeId, Member>();
  /** Every message handed to the network, in order (after Ready processing). */
  readonly sent: Message[] = [];
  readonly logLines: LogLine[] = [];
  private queue: Message[] = [];
  /** Return true to drop a message. */
  drop: (m: Message) => boolean = () => false;
  /** Whether delivering (or dropping) a Snap reports it to the sender, as a transport would. */
  reportSnapshots = true;
  private readonly random: SeededRandom;
  /** Set false to hold Readies (the node does not persist or advance). */
  readonly autoReady = new Map<NodeId, boolean>();

  constructor(readonly voterIds: NodeId[], readonly options: NetworkOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 1);
    for (const id of [...voterIds, ...(options.learnerIds ?? [])]) this.addMember(id, voterIds, options.learnerIds ?? []);
  }

  config(nodeId: NodeId, voters: NodeId[], learners: NodeId[]): RawNodeConfig {
    return {
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.options,
      nodeId,
      groupId: GROUP,
      voters,
      learners,
      random: this.random.fork(`node-${nodeId}`),
      logger: captureLogger(this.logLines),
    };
  }

  addMember(nodeId: NodeId, voters: NodeId[], learners: NodeId[] = []): Member {
    const config = this.config(nodeId, voters, learners);
    const m: Member = {
      nodeId, node: new RawNode(config), hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null,
      entries: [], sm: [], applied: 0, confState: null, readStates: [], readies: [], config,
    };
    this.members.set(nodeId, m);
    return m;
  }

  get(nodeId: NodeId): Member {
    const m = this.members.get(nodeId);
    if (m === undefined) throw new Error(`no member ${nodeId}`);
    return m;
  }

  node(nodeId: NodeId): RawNode {
    return this.get(nodeId).node;
  }

  /** Compacts `nodeId`'s core and log store up to `index`, as a host would. */
  compact(nodeId: NodeId, index: number): void {
    const m = this.get(nodeId);
    m.node.compact(index);
    m.snapshot = m.node.compactionPoint();
    m.entries = m.entries.filter((e) => e.index > m.snapshot!.index);
  }

  /** Crash and restart `nodeId` from its durable state (unsent messages are lost). */
  restart(nodeId: NodeId): RawNode {
    const m = this.get(nodeId);
    const config: RawNodeConfig = {
      ...m.config,
      random: this.random.fork(`node-${nodeId}-restart`),
      persisted: { hardState: { ...m.hardState }, snapshot: m.snapshot, entries: m.entries.slice() },
      applied: m.applied,
    };
    m.config = config;
    m.node = new RawNode(config);
    this.held.delete(nodeId);
    this.queue = this.queue.filter((q) => q.to !== nodeId && q.from !== nodeId);
    return m.node;
  }

  /** Persists, sends and applies one Ready of `nodeId`, then advances. */
  handleReady(nodeId: NodeId): Ready | null {
    const m = this.get(nodeId);
    if (this.held.has(nodeId)) this.finishReady(nodeId);
    if (!m.node.hasReady()) return null;
    const rd = m.node.ready();
    this.persistAndApply(m, rd);
    return rd;
  }

  /** Readies taken but not yet persisted/advanced, to test input between ready() and advance(). */
  private readonly held = new Map<NodeId, Ready>();

  /** Takes `nodeId`'s Ready but leaves persisting and advancing for finishReady. */
  beginReady(nodeId: NodeId): boolean {
    const m = this.get(nodeId);
    if (this.held.has(nodeId) || !m.node.hasReady()) return false;
    this.held.set(nodeId, m.node.ready());
    return true;
  }

  finishReady(nodeId: NodeId): void {
    const rd = this.held.get(nodeId);
    if (rd === undefined) return;
    this.held.delete(nodeId);
    this.persistAndApply(this.get(nodeId), rd);
  }

  private persistAndApply(m: Member, rd: Ready): void {
    m.readies.push(rd);
    for (const msg of rd.messages) {
      if (msg.type === MessageType.Snap && msg.snapshot !== null && msg.snapshot.data.byteLength === 0) {
        // The host attaches its state-machine image as of the snapshot's index,
        // which is exactly its applied state right now.
        if (msg.snapshot.meta.index !== m.applied) throw new Error(`snapshot index ${msg.snapshot.meta.index} != applied ${m.applied}`);
        msg.snapshot = { ...msg.snapshot, data: bytes(JSON.stringify(m.sm)) };
      }
      this.post(msg);
    }
    if (rd.snapshot !== null) {
      m.snapshot = rd.snapshot.meta;
      m.entries = [];
      m.sm = JSON.parse(text(rd.snapshot.data)) as string[];
      m.applied = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      m.entries = m.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState !== null) m.hardState = { ...rd.hardState };
    for (const msg of rd.messagesAfterPersist) this.post(msg);
    for (const e of rd.committedEntries) {
      if (e.index <= m.applied) throw new Error(`node ${m.nodeId}: re-applying ${e.index}`);
      if (e.type === EntryType.Normal && e.data.byteLength > 0) m.sm.push(text(e.data));
      m.applied = e.index;
    }
    if (rd.confState !== null) m.confState = rd.confState;
    m.readStates.push(...rd.readStates);
    m.node.advance(rd.number);
  }

  private post(msg: Message): void {
    this.sent.push(msg);
    this.queue.push(msg);
  }

  /** Processes every Ready of every (auto) member once. Returns true if any. */
  readyAll(): boolean {
    let any = false;
    for (const id of this.members.keys()) {
      if (this.autoReady.get(id) === false) continue;
      if (this.held.has(id)) {
        this.finishReady(id);
        any = true;
        continue;
      }
      if (this.handleReady(id) !== null) any = true;
    }
    return any;
  }

  /** Delivers the queued messages once (new ones queue up behind). Returns how many. */
  deliverOnce(): number {
    const batch = this.queue;
    this.queue = [];
    for (const msg of batch) {
      const dropped = this.drop(msg);
      // The transport reports how a snapshot stream ended.
      if (msg.type === MessageType.Snap && this.reportSnapshots) this.members.get(msg.from)?.node.reportSnapshot(msg.to, !dropped);
      if (dropped) continue;
      const to = this.members.get(msg.to);
      if (to !== undefined) to.node.step(msg);
    }
    return batch.length;
  }

  /** Runs Readies and deliveries until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      const any = this.readyAll();
      if (this.deliverOnce() === 0 && !any) return;
    }
    throw new Error('network did not stabilize');
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.stabilize();
    }
  }

  /** Elects `nodeId` by campaigning and stabilizing. */
  elect(nodeId: NodeId): void {
    this.node(nodeId).campaign();
    this.stabilize();
    const st = this.node(nodeId).status();
    if (st.leader !== nodeId || st.role !== 3) throw new Error(`node ${nodeId} failed to become leader`);
  }

  isolate(nodeId: NodeId): void {
    const prev = this.drop;
    this.drop = (m) => m.from === nodeId || m.to === nodeId || prev(m);
  }

  heal(): void {
    this.drop = () => false;
  }

  leaders(): NodeId[] {
    return [...this.members.values()].filter((m) => m.node.status().role === 3).map((m) => m.nodeId);
  }

  clearSent(): void {
    this.sent.length = 0;
  }
}

export function propose(net: Network, leader: NodeId, data: string): number {
  const res = net.node(leader).propose(bytes(data));
  if (res.kind !== 'ok') throw new Error(`proposal refused: ${JSON.stringify(res)}`);
  return res.index;
}

/** An entry for hand-built logs; `data` defaults to 10 bytes naming the slot. */
export function ent(index: number, term: number, data = `e${index}t${term}`.padEnd(10, '.')): Entry {
  return { index, term, type: EntryType.Normal, data: bytes(data) };
}

/** Replaces `nodeId`'s durable log and hard state, and restarts it from them. */
export function load(net: Network, nodeId: NodeId, entries: Entry[], hardState: HardState): RawNode {
  const m = net.get(nodeId);
  m.entries = entries.slice();
  m.hardState = { ...hardState };
  m.applied = 0;
  m.sm = [];
  return net.restart(nodeId);
}

/** The durable log of a member as "index/term" strings. */
export function logOf(net: Network, nodeId: NodeId): string[] {
  return net.get(nodeId).entries.map((e) => `${e.index}/${e.term}`);
}
