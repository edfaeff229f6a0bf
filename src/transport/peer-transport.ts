/**
 * `PeerTransport`: the TCP links between one node and its peers.
 *
 * Each node listens on its peer port and dials every peer lazily, keeping one
 * outbound connection per peer (`PeerLink`): our Raft messages and RPC
 * requests go out on it, RPC responses come back on it. Connections peers
 * dial to us (`InboundConnection`) carry their Raft messages and requests,
 * and our responses. Every connection opens with a handshake from each side
 * (protocol version, cluster id, sender and intended receiver, nonces) and,
 * with a cluster secret, an HMAC proof from each side; a mismatch closes it.
 * With TLS material, both the listener and the dials use mutual TLS: only a
 * holder of a certificate from the cluster's CA gets to the handshake.
 *
 * All Raft messages queued for one peer during one turn of the event loop
 * leave as one frame (flushed on `timers.soon`). Raft messages are dropped,
 * never queued without bound, when the peer is unreachable or its socket's
 * write buffer is over `writeBufferBytesMax`; Raft retransmits, and
 * `onUnreachable` tells the host so it can call `reportUnreachable`. RPC
 * requests are never dropped for back-pressure.
 *
 * Timers, time and randomness come only through `Env`. See docs/transport.md.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { Env, EnvLogger } from '../env/env.js';
import { encodeMessage, encodeMessages } from '../raft/codec.js';
import type { Message, NodeId } from '../raft/types.js';
import { InboundConnection, type InboundContext } from './inbound-connection.js';
import { PeerLink, type LinkContext } from './peer-link.js';
import { RefusalLog } from './peer-auth.js';
import type { TlsCredentials } from './tls.js';
import { newStats, type PeerTransportStats } from './stats.js';
import {
  TransportError,
  type LinkFilter,
  type MessagesHandler,
  type RequestHandler,
  type Transport,
  type UnreachableHandler,
} from './transport.js';

export type { PeerTransportStats } from './stats.js';

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
  /** Peers must prove knowledge of this secret in the handshake (HMAC challenge/response). Default '' (none). */
  clusterSecret?: string;
  /** Mutual TLS on every peer connection with this material. Default null (plain TCP). */
  tls?: TlsCredentials | null;
}

/** Room for the batch header (version byte and a count varint). */
const BATCH_HEADER_BYTES_MAX = 10;

export class PeerTransport implements Transport {
  readonly nodeId: NodeId;
  private readonly env: Env;
  private readonly log: EnvLogger;
  private readonly counters: PeerTransportStats = newStats();
  private readonly frameBytesMax: number;
  /** What links and inbound connections see of the transport. */
  private readonly linkContext: LinkContext;
  private readonly inboundContext: InboundContext;
  private readonly listenHost: string;
  private readonly listenPort: number;
  private readonly closeGraceMs: number;

  private server: net.Server | null = null;
  private readonly tls: TlsCredentials | null;
  private readonly refusals: RefusalLog;
  private readonly handshakeTimeoutMs: number;
  private boundPort = 0;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<InboundConnection>();
  /** Raw sockets of the TLS listener (including those still in their TLS handshake), until they close. */
  private readonly handshaking = new Set<net.Socket>();
  /** Links with messages queued this turn. */
  private readonly dirty = new Set<PeerLink>();
  /** Peers to report through `onUnreachable` at the end of this turn's flush. */
  private readonly unreachable = new Set<NodeId>();
  private flushScheduled = false;
  private nextRequestId = 1;
  private closing: Promise<void> | null = null;

  private messagesHandler: MessagesHandler | null = null;
  private requestHandler: RequestHandler | null = null;
  private unreachableHandler: UnreachableHandler | null = null;
  private linkFilter: LinkFilter | null = null;

  constructor(options: PeerTransportOptions) {
    assert(options.nodeId > 0, 'transport: nodeId must be positive');
    this.env = options.env;
    this.nodeId = options.nodeId;
    this.log = options.env.logger.child({ component: 'transport', node: options.nodeId });
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.listenPort = options.listenPort ?? 0;
    this.frameBytesMax = options.frameBytesMax ?? 64 * 1024 * 1024;
    this.closeGraceMs = options.closeGraceMs ?? 1000;
    this.tls = options.tls ?? null;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.refusals = new RefusalLog(this.log, () => options.env.clock.monotonicMs());
    const shared = {
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      log: this.log,
      counters: this.counters,
      frameBytesMax: this.frameBytesMax,
      clusterSecret: options.clusterSecret ?? '',
      refused: (source: string, reason: string, fields: object) =>
        this.refusals.refused(source, reason, fields, 'peer refused'),
    };
    this.linkContext = {
      ...shared,
      env: options.env,
      // A fork, so reconnect jitter does not shift the numbers other consumers see.
      random: options.env.random.fork('transport'),
      writeBufferBytesMax: options.writeBufferBytesMax ?? 16 * 1024 * 1024,
      backoffBaseMs: options.backoffBaseMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 2000,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      tls: this.tls,
      isLive: (link) => this.closing === null && this.links.get(link.nodeId) === link,
      onDown: (link) => this.unreachableHandler?.(link.nodeId),
    };
    this.inboundContext = {
      ...shared,
      timers: options.env.timers,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      deliver: (from, messages) => {
        if (this.closing !== null || (this.linkFilter !== null && !this.linkFilter(from, this.nodeId))) return;
        this.messagesHandler?.(from, messages);
      },
      serve: (from, payload) => {
        if (this.requestHandler === null) return Promise.reject(new Error('no request handler'));
        return this.requestHandler(from, payload);
      },
    };
  }

  /** Starts listening for peers; resolves with the bound port. */
  listen(): Promise<number> {
    assert(this.server === null, 'transport: listen called twice');
    const server = this.tls === null ? net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket)) : this.createTlsServer(this.tls);
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.listenHost, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err: err.message }, 'peer listener error'));
        const address = server.address();
        this.boundPort = typeof address === 'object' && address !== null ? address.port : this.listenPort;
        this.log.info({ host: this.listenHost, port: this.boundPort, tls: this.tls !== null }, 'listening for peers');
        resolve(this.boundPort);
      });
    });
  }

  /**
   * Mutual TLS: a dialer must present a certificate that chains to our CA
   * before its first byte reaches the frame decoder. The handshake timeout
   * covers the TLS handshake too. A reload of the credentials applies to
   * the connections accepted after it.
   */
  private createTlsServer(creds: TlsCredentials): tls.Server {
    const server = tls.createServer({
      ...creds.current().options,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.handshakeTimeoutMs,
    }, (socket) => this.accept(socket));
    server.on('connection', (raw: net.Socket) => {
      // Reading the address caches it on the socket, so a refusal after the peer hung up can still name it.
      void raw.remoteAddress;
      this.handshaking.add(raw);
      raw.once('close', () => this.handshaking.delete(raw));
    });
    creds.onReload((material) => server.setSecureContext(material.options));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.counters.handshakesRefused++;
      const raw = (socket as unknown as { _parent?: net.Socket })._parent;
      const host = socket.remoteAddress ?? raw?.remoteAddress ?? '?';
      const port = socket.remotePort ?? raw?.remotePort ?? 0;
      this.refusals.refused(host, 'TLS handshake failed', { remote: `${host}:${port}`, err: err.message }, 'peer refused');
    });
    return server;
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
    this.links.set(nodeId, new PeerLink(this.linkContext, nodeId, host, port));
  }

  removePeer(nodeId: NodeId): void {
    const link = this.links.get(nodeId);
    if (link === undefined) return;
    this.links.delete(nodeId);
    this.dirty.delete(link);
    link.shut(`peer ${nodeId} removed`, 'destroy');
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

  /** Test-only fault hook: Raft messages on links where `filter(from, to)` is false are dropped; RPCs fail `unreachable` unless both directions pass. */
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
    if (this.closing !== null) return Promise.reject(new TransportError('closed', 'transport closed'));
    const link = this.links.get(to);
    if (link === undefined) return Promise.reject(new TransportError('unknownPeer', `node ${to} is not a peer`));
    // A fault test's partition cuts RPCs too (both directions are needed for a reply).
    if (this.linkFilter !== null && (!this.linkFilter(this.nodeId, to) || !this.linkFilter(to, this.nodeId))) {
      return Promise.reject(new TransportError('unreachable', `link to node ${to} is cut by a fault rule`));
    }
    if (payload.length + BATCH_HEADER_BYTES_MAX > this.frameBytesMax) {
      return Promise.reject(new TransportError('tooLarge', `request of ${payload.length} bytes exceeds the frame limit`));
    }
    return link.request(this.nextRequestId++, payload, timeoutMs);
  }

  /** Stops listening, rejects pending requests, ends every connection; resolves when all are closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const sockets: net.Socket[] = [];
    for (const link of this.links.values()) {
      const socket = link.shut('transport closed', 'end');
      if (socket !== null) sockets.push(socket);
    }
    for (const conn of this.inbound) {
      conn.end();
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
      }),
    );
    const grace = this.env.timers.after(this.closeGraceMs, () => {
      for (const socket of sockets) socket.destroy();
      // TLS sockets still in (or stuck in) their handshake hold the listener open too.
      for (const raw of this.handshaking) raw.destroy();
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
      if (link.state === 'backoff') {
        this.drop(link.nodeId, messages.length, 'peer unreachable');
        continue;
      }
      const { payloads, count } = this.encodeBatches(messages);
      const result = link.writeRaft(payloads);
      if (result === 'written') {
        this.counters.raftFramesSent += payloads.length;
        this.counters.raftMessagesSent += count;
      } else {
        this.drop(link.nodeId, count, result);
      }
    }
    this.dirty.clear();
    const unreachable = [...this.unreachable];
    this.unreachable.clear();
    for (const nodeId of unreachable) this.unreachableHandler?.(nodeId);
  }

  private drop(to: NodeId, count: number, reason: string): void {
    this.counters.raftMessagesDropped += count;
    this.unreachable.add(to);
    this.log.debug({ to, messages: count, reason }, 'dropped raft messages');
  }

  /**
   * One payload for the batch, or several when it exceeds the frame limit;
   * `count` is the messages they hold (a message over the limit is dropped).
   */
  private encodeBatches(messages: Message[]): { payloads: Uint8Array[]; count: number } {
    const whole = encodeMessages(messages);
    if (whole.length <= this.frameBytesMax) return { payloads: [whole], count: messages.length };
    // Rare: split greedily.
    const out: Uint8Array[] = [];
    let count = 0;
    let group: Message[] = [];
    let groupBytes = BATCH_HEADER_BYTES_MAX;
    for (const m of messages) {
      const size = encodeMessage(m).length;
      if (size + BATCH_HEADER_BYTES_MAX > this.frameBytesMax) {
        this.counters.raftMessagesDropped++;
        this.log.warn({ to: m.to, group: m.groupId, type: m.type, bytes: size, limit: this.frameBytesMax },
          'dropped a raft message larger than the frame limit');
        continue;
      }
      if (groupBytes + size > this.frameBytesMax) {
        out.push(encodeMessages(group));
        group = [];
        groupBytes = BATCH_HEADER_BYTES_MAX;
      }
      group.push(m);
      groupBytes += size;
      count++;
    }
    if (group.length > 0) out.push(encodeMessages(group));
    return { payloads: out, count };
  }

  // -------------------------------------------------------------------------
  // Inbound connections

  private accept(socket: net.Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    this.inbound.add(new InboundConnection(this.inboundContext, socket, (conn) => this.inbound.delete(conn)));
  }
}
