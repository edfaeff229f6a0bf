/**
 * The simulated network between node processes, and each process's end of it: a `Transport`
 * (src/transport/transport.ts) that the real Host and Router use unchanged. Raft messages
 * queued in one turn leave as one packet per peer (as PeerTransport does), encoded with the
 * wire codec so no object is shared between nodes. Each packet is delayed at random (so
 * packets reorder), and may be lost, duplicated, or dropped by a partition. RPCs (request
 * forwarding) travel the same way, request and response alike.
 */
import type { SeededRandom } from '../../env/random.js';
import type { Env } from '../../env/env.js';
import { decodeMessages, encodeMessages } from '../../raft/codec.js';
import type { Message, NodeId } from '../../raft/types.js';
import {
  TransportError,
  type LinkFilter,
  type MessagesHandler,
  type RequestHandler,
  type Transport,
  type UnreachableHandler,
} from '../../transport/transport.js';
import type { Incarnation, SimWorld } from './world.js';

export interface NetworkOptions {
  delayMsMin: number;
  delayMsMax: number;
}

export interface NetworkStats {
  packetsSent: number;
  packetsDropped: number;
  packetsDuplicated: number;
  messagesSent: number;
  requestsSent: number;
  requestsFailed: number;
}

export class SimNetwork {
  /** Directed links that drop everything: `${from}>${to}`. */
  readonly blocked = new Set<string>();
  lossRate = 0;
  duplicateRate = 0;
  /** The live transport of each node process, if it is up. */
  private readonly endpoints = new Map<NodeId, SimTransport>();
  readonly stats: NetworkStats = {
    packetsSent: 0, packetsDropped: 0, packetsDuplicated: 0, messagesSent: 0, requestsSent: 0, requestsFailed: 0,
  };

  constructor(
    readonly world: SimWorld,
    private readonly random: SeededRandom,
    readonly options: NetworkOptions,
  ) {}

  attach(transport: SimTransport): void {
    this.endpoints.set(transport.nodeId, transport);
  }

  /** The process died: its transport is gone; requests waiting on it see the connection drop. */
  detach(nodeId: NodeId): void {
    const gone = this.endpoints.get(nodeId);
    if (gone === undefined) return;
    this.endpoints.delete(nodeId);
    gone.die();
    for (const t of this.endpoints.values()) {
      if (!this.blocked.has(`${nodeId}>${t.nodeId}`)) t.connectionLost(nodeId, this.delayMs());
    }
  }

  endpoint(nodeId: NodeId): SimTransport | undefined {
    return this.endpoints.get(nodeId);
  }

  isUp(nodeId: NodeId): boolean {
    return this.endpoints.has(nodeId);
  }

  delayMs(): number {
    const { delayMsMin, delayMsMax } = this.options;
    return delayMsMin + this.random.next() * (delayMsMax - delayMsMin);
  }

  /**
   * Sends one packet from `from` to `to`. It is delivered, after a random delay, to whatever
   * process is up at `to` then (a restarted node gets a late packet like any other). RPCs pass
   * `mayDuplicate = false`: a request runs a command, and TCP never delivers one twice (Raft
   * messages, by contrast, must survive duplicates, so they get them).
   */
  post(from: NodeId, to: NodeId, deliver: (dest: SimTransport) => void, mayDuplicate = true): void {
    this.stats.packetsSent++;
    if (this.blocked.has(`${from}>${to}`) || (this.lossRate > 0 && this.random.chance(this.lossRate))) {
      this.stats.packetsDropped++;
      return;
    }
    const copies = mayDuplicate && this.duplicateRate > 0 && this.random.chance(this.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.packetsDuplicated++;
    for (let i = 0; i < copies; i++) {
      this.world.after(this.delayMs(), () => {
        // A partition that started while the packet was in flight drops it too.
        if (this.blocked.has(`${from}>${to}`)) {
          this.stats.packetsDropped++;
          return;
        }
        const dest = this.endpoints.get(to);
        if (dest === undefined) {
          this.stats.packetsDropped++;
          return;
        }
        deliver(dest);
      });
    }
  }
}

interface PendingRequest {
  to: NodeId;
  resolve: (bytes: Uint8Array) => void;
  reject: (err: TransportError) => void;
  settled: boolean;
}

/** One node process's end of the network. */
export class SimTransport implements Transport {
  private messagesHandler: MessagesHandler | null = null;
  private requestHandler: RequestHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private readonly queued = new Map<NodeId, Message[]>();
  private flushScheduled = false;
  private readonly pending = new Map<number, PendingRequest>();
  private requestSeq = 1;

  constructor(
    readonly nodeId: NodeId,
    private readonly net: SimNetwork,
    private readonly env: Env,
    private readonly inc: Incarnation,
  ) {}

  send(to: NodeId, messages: Message[]): void {
    if (!this.inc.alive || messages.length === 0) return;
    let list = this.queued.get(to);
    if (list === undefined) this.queued.set(to, (list = []));
    for (const m of messages) list.push(m);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.env.timers.soon(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const unreachable: NodeId[] = [];
    for (const [to, messages] of this.queued) {
      // A dead peer refuses the connection at once; the host hears of it (reportUnreachable).
      if (!this.net.isUp(to)) {
        unreachable.push(to);
        this.net.stats.packetsDropped++;
        continue;
      }
      const bytes = encodeMessages(messages);
      this.net.stats.messagesSent += messages.length;
      this.net.post(this.nodeId, to, (dest) => dest.receiveMessages(this.nodeId, bytes));
    }
    this.queued.clear();
    for (const to of unreachable) this.unreachableHandler?.(to);
  }

  receiveMessages(from: NodeId, bytes: Uint8Array): void {
    if (!this.inc.alive) return;
    this.messagesHandler?.(from, decodeMessages(bytes));
  }

  onMessages(handler: MessagesHandler): void {
    this.messagesHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (!this.inc.alive) return Promise.reject(new TransportError('closed', 'transport closed'));
    this.net.stats.requestsSent++;
    const requestId = this.requestSeq++;
    if (this.net.world.tracing) this.net.world.trace(`rpc ${this.nodeId}->${to} #${requestId} sent (timeout ${timeoutMs.toFixed(0)}ms)`);
    const copy = Uint8Array.from(payload);
    return new Promise<Uint8Array>((resolve, reject) => {
      const entry: PendingRequest = { to, resolve, reject, settled: false };
      this.pending.set(requestId, entry);
      this.env.timers.after(timeoutMs, () => this.settle(requestId, new TransportError('timeout', `request to ${to} timed out`)));
      if (!this.net.isUp(to)) {
        // Connection refused: known after a round trip.
        this.net.world.after(this.net.delayMs(), () => this.settle(requestId, new TransportError('unreachable', `node ${to} is down`)));
        return;
      }
      this.net.post(this.nodeId, to, (dest) => dest.serveRequest(this.nodeId, this, requestId, copy), false);
    });
  }

  private settle(requestId: number, outcome: Uint8Array | TransportError): void {
    const entry = this.pending.get(requestId);
    if (entry === undefined || entry.settled || !this.inc.alive) return;
    entry.settled = true;
    this.pending.delete(requestId);
    if (this.net.world.tracing) {
      const what = outcome instanceof TransportError ? outcome.code : `status ${outcome[0]}`;
      this.net.world.trace(`rpc ${this.nodeId}->${entry.to} #${requestId} ${what}`);
    }
    if (outcome instanceof TransportError) {
      this.net.stats.requestsFailed++;
      entry.reject(outcome);
    } else {
      entry.resolve(outcome);
    }
  }

  /** Runs a request from `requester` (one process incarnation) and posts the response back to it. */
  serveRequest(from: NodeId, requester: SimTransport, requestId: number, payload: Uint8Array): void {
    if (!this.inc.alive) return;
    const handler = this.requestHandler;
    const respond = (outcome: Uint8Array | TransportError): void => {
      if (!this.inc.alive) return;
      this.net.post(this.nodeId, from, (dest) => {
        if (dest === requester) requester.settle(requestId, outcome);
      }, false);
    };
    if (handler === null) {
      respond(new TransportError('remote', 'no request handler'));
      return;
    }
    handler(from, payload).then(
      (bytes) => respond(Uint8Array.from(bytes)),
      (err: unknown) => respond(new TransportError('remote', String(err))),
    );
  }

  /** The process at `nodeId` died: requests in flight to it fail as a broken connection would. */
  connectionLost(nodeId: NodeId, delayMs: number): void {
    for (const [requestId, entry] of this.pending) {
      if (entry.to !== nodeId) continue;
      this.net.world.after(delayMs, () => this.settle(requestId, new TransportError('connectionLost', `connection to ${nodeId} lost`)));
    }
  }

  /** This process died: nothing more goes out or comes in; its waiters are never answered. */
  die(): void {
    this.inc.alive = false;
    this.queued.clear();
    this.pending.clear();
  }

  addPeer(): void {}

  removePeer(): void {}

  setLinkFilter(_filter: LinkFilter | null): void {}

  async close(): Promise<void> {
    for (const [requestId] of this.pending) this.settle(requestId, new TransportError('closed', 'transport closed'));
  }
}
