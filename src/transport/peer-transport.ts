/**
 * `PeerTransport`: the TCP links between one node and its peers.
 *
 * Each node listens on its peer port and dials every peer lazily, keeping one
 * outbound connection per peer. Raft messages and RPC requests go out on the
 * outbound connection; RPC responses come back on it. Inbound connections
 * carry the peer's Raft messages and requests, and our responses. Every
 * connection opens with a handshake frame from each side (protocol version,
 * cluster id, sender and intended receiver); a mismatch closes it.
 *
 * All Raft messages queued for one peer during one turn of the event loop
 * leave as one frame (flushed on `timers.soon`). Raft messages are dropped,
 * never queued without bound, when the peer is unreachable or its socket's
 * write buffer is over `writeBufferBytesMax`; Raft retransmits, and
 * `onUnreachable` tells the host so it can call `reportUnreachable`. RPC
 * requests are never dropped for back-pressure.
 *
 * Timers and time come only through `Env`. See docs/transport.md.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import type { SeededRandom } from '../env/random.js';
import { CodecError, decodeMessages, encodeMessage, encodeMessages } from '../raft/codec.js';
import type { Message, NodeId } from '../raft/types.js';
import { encodeFrame, encodeFrameHeader, FrameDecoder, FrameError, FrameKind, FRAME_HEADER_BYTES } from './frame.js';
import {
  TransportError,
  type LinkFilter,
  type MessagesHandler,
  type RequestHandler,
  type Transport,
  type UnreachableHandler,
} from './transport.js';
import {
  decodeHandshake,
  decodeRequest,
  decodeResponse,
  encodeHandshake,
  encodeRequest,
  encodeResponse,
  fromUtf8,
  PROTOCOL_VERSION,
  ResponseStatus,
  utf8,
  WireError,
} from './wire.js';

export interface PeerTransportOptions {
  env: Env;
  nodeId: NodeId;
  /** Connections from another cluster are refused. */
  clusterId: string;
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** Default 0 (an ephemeral port; read it back from `listen()`). */
  listenPort?: number;
  /** Largest frame payload sent or accepted. Default 64 MiB. */
  frameBytesMax?: number;
  /** Raft messages for a peer are dropped while its socket buffers more than this. Default 16 MiB. */
  writeBufferBytesMax?: number;
  /** First reconnect delay; doubles per failed attempt up to `backoffMaxMs`. Default 50. */
  backoffBaseMs?: number;
  /** Default 2000. */
  backoffMaxMs?: number;
  /** A dial not connected by then is abandoned. Default 3000. */
  connectTimeoutMs?: number;
  /** An inbound connection that sends no handshake by then is closed. Default 5000. */
  handshakeTimeoutMs?: number;
  /** `close()` destroys connections still open after this long. Default 1000. */
  closeGraceMs?: number;
}

export interface PeerTransportStats {
  raftFramesSent: number;
  raftMessagesSent: number;
  /** Dropped on send: unreachable peer, unknown peer, back-pressure, link filter, oversize. */
  raftMessagesDropped: number;
  raftFramesReceived: number;
  raftMessagesReceived: number;
  requestsSent: number;
  requestsServed: number;
  /** Inbound or outbound handshakes refused (wrong cluster, wrong node). */
  handshakesRefused: number;
  /** Connections closed because the peer sent bytes we could not accept. */
  protocolErrors: number;
}

interface PendingRequest {
  resolve: (reply: Uint8Array) => void;
  reject: (error: TransportError) => void;
  timer: TimerHandle;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff';

/** The outbound connection to one peer and what rides on it. */
class Link {
  state: LinkState = 'idle';
  socket: net.Socket | null = null;
  decoder: FrameDecoder | null = null;
  /** TCP connected (a failure before this makes requests fail as 'unreachable'). */
  connected = false;
  /** The peer's handshake reply arrived and matched. */
  acked = false;
  /** Failed attempts since the last accepted handshake. */
  attempts = 0;
  /** The connect timeout while connecting, the reconnect timer in back-off. */
  timer: TimerHandle | null = null;
  queue: Message[] = [];
  readonly pending = new Map<number, PendingRequest>();

  constructor(
    readonly nodeId: NodeId,
    readonly host: string,
    readonly port: number,
  ) {}
}

/** An accepted connection; `peer` is 0 until its handshake arrives. */
interface Inbound {
  socket: net.Socket;
  decoder: FrameDecoder;
  peer: NodeId;
  timer: TimerHandle | null;
}

/** Frames up to this size are written as one buffer; larger ones as header + payload. */
const COPY_FRAME_BYTES_MAX = 64 * 1024;

export class PeerTransport implements Transport {
  readonly nodeId: NodeId;
  private readonly env: Env;
  private readonly log: EnvLogger;
  /** Jitter for reconnect delays; a fork, so the transport does not shift other consumers' numbers. */
  private readonly random: SeededRandom;
  private readonly clusterId: string;
  private readonly listenHost: string;
  private readonly listenPort: number;
  private readonly frameBytesMax: number;
  private readonly writeBufferBytesMax: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly closeGraceMs: number;

  private server: net.Server | null = null;
  private boundPort = 0;
  private readonly links = new Map<NodeId, Link>();
  private readonly inbound = new Set<Inbound>();
  private readonly dirty = new Set<Link>();
  private readonly unreachable = new Set<NodeId>();
  private flushScheduled = false;
  private nextRequestId = 1;
  private closing: Promise<void> | null = null;

  private messagesHandler: MessagesHandler | null = null;
  private requestHandler: RequestHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private linkFilter: LinkFilter | null = null;
  private readonly counters: PeerTransportStats = {
    raftFramesSent: 0,
    raftMessagesSent: 0,
    raftMessagesDropped: 0,
    raftFramesReceived: 0,
    raftMessagesReceived: 0,
    requestsSent: 0,
    requestsServed: 0,
    handshakesRefused: 0,
    protocolErrors: 0,
  };

  constructor(options: PeerTransportOptions) {
    assert(options.nodeId > 0, 'transport: nodeId must be positive');
    this.env = options.env;
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.log = options.env.logger.child({ component: 'transport', node: options.nodeId });
    this.random = options.env.random.fork('transport');
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.listenPort = options.listenPort ?? 0;
    this.frameBytesMax = options.frameBytesMax ?? 64 * 1024 * 1024;
    this.writeBufferBytesMax = options.writeBufferBytesMax ?? 16 * 1024 * 1024;
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.closeGraceMs = options.closeGraceMs ?? 1000;
  }

  /** Starts listening for peers; resolves with the bound port. */
  listen(): Promise<number> {
    assert(this.server === null, 'transport: listen called twice');
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.listenHost, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'peer listener error'));
        const address = server.address();
        this.boundPort = typeof address === 'object' && address !== null ? address.port : this.listenPort;
        this.log.info({ host: this.listenHost, port: this.boundPort }, 'listening for peers');
        resolve(this.boundPort);
      });
    });
  }

  /** The bound peer port (0 before `listen` resolves). */
  port(): number {
    return this.boundPort;
  }

  addPeer(nodeId: NodeId, host: string, port: number): void {
    assert(nodeId > 0 && nodeId !== this.nodeId, 'transport: a peer is another node with a positive id');
    const old = this.links.get(nodeId);
    if (old !== undefined && old.host === host && old.port === port) return;
    if (old !== undefined) this.removePeer(nodeId);
    this.links.set(nodeId, new Link(nodeId, host, port));
  }

  removePeer(nodeId: NodeId): void {
    const link = this.links.get(nodeId);
    if (link === undefined) return;
    this.links.delete(nodeId);
    this.dirty.delete(link);
    this.shutLink(link, 'closed', `peer ${nodeId} removed`);
    link.socket?.destroy();
  }

  onMessages(handler: MessagesHandler): void {
    this.messagesHandler = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = handler;
  }

  /** Test-only fault hook: Raft messages on links where `filter(from, to)` is false are dropped (RPC is not filtered). */
  setLinkFilter(filter: LinkFilter | null): void {
    this.linkFilter = filter;
  }

  stats(): PeerTransportStats {
    return { ...this.counters };
  }

  send(to: NodeId, messages: Message[]): void {
    if (this.closing !== null || messages.length === 0) return;
    const link = this.links.get(to);
    if (link === undefined || (this.linkFilter !== null && !this.linkFilter(this.nodeId, to))) {
      this.counters.raftMessagesDropped += messages.length;
      if (link === undefined) {
        this.log.debug({ to, messages: messages.length }, 'dropped messages to unknown peer');
        this.unreachable.add(to);
        this.scheduleFlush();
      }
      return;
    }
    for (const m of messages) link.queue.push(m);
    this.dirty.add(link);
    this.scheduleFlush();
  }

  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.closing !== null) return reject(new TransportError('closed', 'transport closed'));
      const link = this.links.get(to);
      if (link === undefined) return reject(new TransportError('unknownPeer', `node ${to} is not a peer`));
      if (payload.length + 9 > this.frameBytesMax) {
        return reject(new TransportError('tooLarge', `request of ${payload.length} bytes exceeds the frame limit`));
      }
      if (link.state === 'backoff') return reject(new TransportError('unreachable', `node ${to} is unreachable`));
      if (link.state === 'idle') this.dial(link);
      const requestId = this.nextRequestId++;
      const timer = this.env.timers.after(timeoutMs, () => {
        if (link.pending.delete(requestId)) {
          reject(new TransportError('timeout', `request ${requestId} to node ${to} timed out after ${timeoutMs} ms`));
        }
      });
      link.pending.set(requestId, { resolve, reject, timer });
      this.counters.requestsSent++;
      this.writeFrame(link.socket!, FrameKind.Request, encodeRequest({ requestId, payload }));
    });
  }

  /** Stops listening, rejects pending requests, ends every connection; resolves when all are closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const sockets: net.Socket[] = [];
    for (const link of this.links.values()) {
      this.shutLink(link, 'closed', 'transport closed');
      if (link.socket !== null) sockets.push(link.socket);
    }
    for (const conn of this.inbound) {
      conn.timer?.cancel();
      sockets.push(conn.socket);
    }
    this.dirty.clear();
    const serverClosed = new Promise<void>((resolve) => {
      if (this.server === null) resolve();
      else this.server.close(() => resolve());
    });
    const socketsClosed = sockets.map(
      (socket) => new Promise<void>((resolve) => {
        if (socket.closed) resolve();
        else socket.once('close', () => resolve());
        socket.end();
      }),
    );
    const grace = this.env.timers.after(this.closeGraceMs, () => {
      for (const socket of sockets) socket.destroy();
    });
    this.closing = Promise.all([serverClosed, ...socketsClosed]).then(() => {
      grace.cancel();
      this.log.info({}, 'transport closed');
    });
    return this.closing;
  }

  // -------------------------------------------------------------------------
  // Sending Raft messages

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.env.timers.soon(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closing !== null) return;
    for (const link of this.dirty) {
      const messages = link.queue;
      link.queue = [];
      this.sendBatch(link, messages);
    }
    this.dirty.clear();
    const unreachable = [...this.unreachable];
    this.unreachable.clear();
    for (const nodeId of unreachable) this.unreachableHandler?.(nodeId);
  }

  private sendBatch(link: Link, messages: Message[]): void {
    if (link.state === 'backoff') return this.drop(link, messages.length, 'peer unreachable');
    if (link.state === 'idle') this.dial(link);
    const socket = link.socket!;
    if (socket.writableLength > this.writeBufferBytesMax) {
      return this.drop(link, messages.length, 'write buffer full');
    }
    for (const payload of this.encodeBatches(messages)) {
      this.writeFrame(socket, FrameKind.Raft, payload);
      this.counters.raftFramesSent++;
    }
  }

  private drop(link: Link, count: number, reason: string): void {
    this.counters.raftMessagesDropped += count;
    this.unreachable.add(link.nodeId);
    this.log.debug({ to: link.nodeId, messages: count, reason }, 'dropped raft messages');
  }

  /** One payload for the batch, or several when it exceeds the frame limit. */
  private encodeBatches(messages: Message[]): Uint8Array[] {
    const whole = encodeMessages(messages);
    if (whole.length <= this.frameBytesMax) {
      this.counters.raftMessagesSent += messages.length;
      return [whole];
    }
    // Rare: split greedily. The batch header (version, count) fits in 10 bytes.
    const out: Uint8Array[] = [];
    let group: Message[] = [];
    let groupBytes = 10;
    for (const m of messages) {
      const size = encodeMessage(m).length;
      if (size + 10 > this.frameBytesMax) {
        this.counters.raftMessagesDropped++;
        this.log.warn({ to: m.to, group: m.groupId, type: m.type, bytes: size, limit: this.frameBytesMax },
          'dropped a raft message larger than the frame limit');
        continue;
      }
      if (groupBytes + size > this.frameBytesMax) {
        out.push(encodeMessages(group));
        group = [];
        groupBytes = 10;
      }
      group.push(m);
      groupBytes += size;
      this.counters.raftMessagesSent++;
    }
    if (group.length > 0) out.push(encodeMessages(group));
    return out;
  }

  private writeFrame(socket: net.Socket, kind: FrameKind, payload: Uint8Array): void {
    if (socket.destroyed) return;
    if (payload.length + FRAME_HEADER_BYTES <= COPY_FRAME_BYTES_MAX) {
      socket.write(encodeFrame(kind, payload));
      return;
    }
    socket.cork();
    socket.write(encodeFrameHeader(kind, payload));
    socket.write(payload);
    socket.uncork();
  }

  // -------------------------------------------------------------------------
  // Outbound connections

  private dial(link: Link): void {
    link.state = 'connecting';
    link.connected = false;
    link.acked = false;
    link.decoder = new FrameDecoder(this.frameBytesMax);
    const socket = net.connect({ host: link.host, port: link.port });
    link.socket = socket;
    socket.setNoDelay(true);
    // Node buffers writes until the connection opens, so frames may follow at once.
    this.writeFrame(socket, FrameKind.Handshake,
      encodeHandshake({ version: PROTOCOL_VERSION, clusterId: this.clusterId, from: this.nodeId, to: link.nodeId }));
    link.timer = this.env.timers.after(this.connectTimeoutMs, () => {
      if (link.socket === socket && !link.connected) socket.destroy(new Error('connect timeout'));
    });
    socket.on('connect', () => {
      if (link.socket !== socket) return;
      link.connected = true;
      link.state = 'open';
      link.timer?.cancel();
      link.timer = null;
    });
    socket.on('data', (chunk: Buffer) => this.onOutboundData(link, socket, chunk));
    socket.on('error', (err) => this.log.debug({ peer: link.nodeId, err: err.message }, 'peer connection error'));
    socket.on('close', () => this.onOutboundClose(link, socket));
  }

  private onOutboundData(link: Link, socket: net.Socket, chunk: Buffer): void {
    if (link.socket !== socket || link.decoder === null) return;
    let frames;
    try {
      frames = link.decoder.push(chunk);
    } catch (e) {
      return this.protocolError(socket, link.nodeId, e);
    }
    for (const frame of frames) {
      if (socket.destroyed) return;
      try {
        if (!link.acked) {
          if (frame.kind !== FrameKind.Handshake) throw new WireError(`expected a handshake, got frame kind ${frame.kind}`);
          const h = decodeHandshake(frame.payload);
          if (h.version !== PROTOCOL_VERSION || h.clusterId !== this.clusterId || h.from !== link.nodeId || h.to !== this.nodeId) {
            this.counters.handshakesRefused++;
            this.log.warn({ peer: link.nodeId, theirCluster: h.clusterId, cluster: this.clusterId, theirNode: h.from, version: h.version },
              'peer handshake refused: wrong cluster, node or protocol version');
            socket.destroy();
            return;
          }
          link.acked = true;
          link.attempts = 0;
        } else if (frame.kind === FrameKind.Response) {
          const r = decodeResponse(frame.payload);
          const pending = link.pending.get(r.requestId);
          if (pending === undefined) continue; // Timed out already.
          link.pending.delete(r.requestId);
          pending.timer.cancel();
          if (r.status === ResponseStatus.Ok) pending.resolve(r.payload.slice());
          else pending.reject(new TransportError('remote', fromUtf8(r.payload)));
        } else {
          throw new WireError(`unexpected frame kind ${frame.kind} on an outbound connection`);
        }
      } catch (e) {
        return this.protocolError(socket, link.nodeId, e);
      }
    }
  }

  private onOutboundClose(link: Link, socket: net.Socket): void {
    if (link.socket !== socket) return;
    const wasConnected = link.connected;
    link.socket = null;
    link.decoder = null;
    link.timer?.cancel();
    link.timer = null;
    this.rejectPending(link, wasConnected ? 'connectionLost' : 'unreachable',
      wasConnected ? `connection to node ${link.nodeId} lost` : `node ${link.nodeId} is unreachable`);
    if (this.closing !== null || this.links.get(link.nodeId) !== link) {
      link.state = 'idle';
      return;
    }
    link.state = 'backoff';
    link.attempts++;
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(link.attempts - 1, 30));
    // Jitter in [ceiling/2, ceiling) keeps peers that lost each other together from redialing in lockstep.
    const delayMs = Math.max(1, Math.floor(ceiling / 2 + this.random.next() * (ceiling / 2)));
    this.log.debug({ peer: link.nodeId, attempts: link.attempts, delayMs }, 'peer link down; will redial');
    link.timer = this.env.timers.after(delayMs, () => {
      link.timer = null;
      if (this.closing === null && this.links.get(link.nodeId) === link && link.state === 'backoff') this.dial(link);
    });
    this.unreachableHandler?.(link.nodeId);
  }

  /** Rejects the link's pending requests, cancels its timers and queue (removal or close). */
  private shutLink(link: Link, code: 'closed', message: string): void {
    link.timer?.cancel();
    link.timer = null;
    link.queue = [];
    this.rejectPending(link, code, message);
  }

  private rejectPending(link: Link, code: 'closed' | 'connectionLost' | 'unreachable', message: string): void {
    const pending = [...link.pending.values()];
    link.pending.clear();
    for (const p of pending) {
      p.timer.cancel();
      p.reject(new TransportError(code, message));
    }
  }

  // -------------------------------------------------------------------------
  // Inbound connections

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: Inbound = { socket, decoder: new FrameDecoder(this.frameBytesMax), peer: 0, timer: null };
    this.inbound.add(conn);
    conn.timer = this.env.timers.after(this.handshakeTimeoutMs, () => {
      conn.timer = null;
      if (conn.peer === 0 && !socket.destroyed) {
        this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'inbound connection sent no handshake; closing');
        socket.destroy();
      }
    });
    socket.on('data', (chunk: Buffer) => this.onInboundData(conn, chunk));
    socket.on('error', (err) => this.log.debug({ peer: conn.peer, err: err.message }, 'inbound connection error'));
    socket.on('close', () => {
      conn.timer?.cancel();
      this.inbound.delete(conn);
    });
  }

  private onInboundData(conn: Inbound, chunk: Buffer): void {
    const socket = conn.socket;
    let frames;
    try {
      frames = conn.decoder.push(chunk);
    } catch (e) {
      return this.protocolError(socket, conn.peer, e);
    }
    for (const frame of frames) {
      if (socket.destroyed) return;
      let messages: Message[] | null = null;
      try {
        if (conn.peer === 0) {
          if (frame.kind !== FrameKind.Handshake) throw new WireError(`expected a handshake, got frame kind ${frame.kind}`);
          this.acceptHandshake(conn, frame.payload);
          continue;
        }
        if (frame.kind === FrameKind.Raft) {
          messages = decodeMessages(frame.payload);
          for (const m of messages) {
            if (m.from !== conn.peer || m.to !== this.nodeId) {
              throw new WireError(`message from ${m.from} to ${m.to} on the link from node ${conn.peer}`);
            }
          }
        } else if (frame.kind === FrameKind.Request) {
          const request = decodeRequest(frame.payload);
          this.serve(conn, request.requestId, request.payload.slice());
          continue;
        } else {
          throw new WireError(`unexpected frame kind ${frame.kind} on an inbound connection`);
        }
      } catch (e) {
        return this.protocolError(socket, conn.peer, e);
      }
      this.counters.raftFramesReceived++;
      this.counters.raftMessagesReceived += messages.length;
      if (this.closing !== null || (this.linkFilter !== null && !this.linkFilter(conn.peer, this.nodeId))) continue;
      // Outside the try: a throwing handler is a bug in the host, not garbage from the peer.
      this.messagesHandler?.(conn.peer, messages);
    }
  }

  private acceptHandshake(conn: Inbound, payload: Uint8Array): void {
    const h = decodeHandshake(payload);
    if (h.version !== PROTOCOL_VERSION || h.clusterId !== this.clusterId || h.to !== this.nodeId || h.from === 0 || h.from === this.nodeId) {
      this.counters.handshakesRefused++;
      this.log.warn({ theirCluster: h.clusterId, cluster: this.clusterId, from: h.from, to: h.to, version: h.version,
        remote: `${conn.socket.remoteAddress}:${conn.socket.remotePort}` },
      'inbound handshake refused: wrong cluster, node or protocol version');
      conn.socket.destroy();
      return;
    }
    conn.peer = h.from;
    conn.timer?.cancel();
    conn.timer = null;
    this.writeFrame(conn.socket, FrameKind.Handshake,
      encodeHandshake({ version: PROTOCOL_VERSION, clusterId: this.clusterId, from: this.nodeId, to: h.from }));
  }

  private serve(conn: Inbound, requestId: number, payload: Uint8Array): void {
    this.counters.requestsServed++;
    const handler = this.requestHandler;
    let reply: Promise<Uint8Array>;
    try {
      reply = handler === null ? Promise.reject(new Error('no request handler')) : handler(conn.peer, payload);
    } catch (e) {
      reply = Promise.reject(e);
    }
    const respond = (status: ResponseStatus, body: Uint8Array): void => {
      if (conn.socket.destroyed || !conn.socket.writable) return;
      this.writeFrame(conn.socket, FrameKind.Response, encodeResponse({ requestId, status, payload: body }));
    };
    reply.then(
      (body) => {
        if (body.length + 16 > this.frameBytesMax) respond(ResponseStatus.Error, utf8('response exceeds the frame limit'));
        else respond(ResponseStatus.Ok, body);
      },
      (err: unknown) => respond(ResponseStatus.Error, utf8(err instanceof Error ? err.message : String(err))),
    );
  }

  private protocolError(socket: net.Socket, peer: NodeId, e: unknown): void {
    if (!(e instanceof FrameError || e instanceof CodecError || e instanceof WireError)) throw e;
    this.counters.protocolErrors++;
    this.log.warn({ peer, remote: `${socket.remoteAddress}:${socket.remotePort}`, err: e.message },
      'peer sent bytes we cannot accept; disconnecting');
    socket.destroy();
  }
}
