/**
 * `PeerLink`: the outbound connection from this node to one peer, and what
 * rides on it: our Raft batches and RPC requests out, the peer's handshake
 * reply and RPC responses back. It dials on demand, checks the peer's
 * handshake (and, with a cluster secret, its proof, then sends ours; frames
 * written before that are held back), over TLS when the transport has TLS
 * material, and after a failure waits a capped exponential back-off (Env
 * timers) before redialing. See docs/transport.md.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Env, EnvLogger, TimerHandle } from '../env/env.js';
import { DeadlineQueue } from '../env/deadlines.js';
import type { SeededRandom } from '../env/random.js';
import type { Message, NodeId } from '../raft/types.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameKind, writeFrame, writeFramedCoalesced } from './frame.js';
import { macMatches, newNonce, peerMac, type AuthTranscript } from './peer-auth.js';
import { readChunks } from './socket-read.js';
import type { PeerTransportStats } from './stats.js';
import type { TlsCredentials } from './tls.js';
import { TransportError } from './transport.js';
import {
  decodeHandshake,
  decodeResponse,
  encodeAuth,
  encodeHandshake,
  encodeRequest,
  fromUtf8,
  isProtocolError,
  PROTOCOL_VERSION,
  ResponseStatus,
  WireError,
} from './wire.js';

/** Errors of the network itself, not of the TLS handshake. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EADDRNOTAVAIL']);

/** What a link needs from the transport that owns it. */
export interface LinkContext {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly env: Env;
  readonly log: EnvLogger;
  readonly random: SeededRandom;
  readonly counters: PeerTransportStats;
  readonly frameBytesMax: number;
  readonly writeBufferBytesMax: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly connectTimeoutMs: number;
  /** Shared secret peers must prove they know ('' = none). */
  readonly clusterSecret: string;
  /** Dial over TLS with this material (mutual: we present our certificate), or plain TCP when null. */
  readonly tls: TlsCredentials | null;
  /** Logs a refused peer (rate-limited per source and reason). */
  refused(source: string, reason: string, fields: object): void;
  /** False once the transport is closing or the link was replaced or removed: then it stops redialing. */
  isLive(link: PeerLink): boolean;
  /** The connection failed or closed; pending requests were already rejected. */
  onDown(link: PeerLink): void;
}

interface PendingRequest {
  resolve: (reply: Uint8Array) => void;
  reject: (error: TransportError) => void;
  timer: TimerHandle;
}

export type LinkState = 'idle' | 'connecting' | 'open' | 'backoff';

/** Why `writeRaft` did not write. */
export type RaftWriteResult = 'written' | 'unreachable' | 'backPressure';

export class PeerLink {
  // Invariant: socket !== null exactly when state is 'connecting' or 'open'.
  private stateValue: LinkState = 'idle';
  private socket: net.Socket | null = null;
  private decoder: FrameDecoder | null = null;
  /** TCP connected (a failure before this makes requests fail as 'unreachable'). */
  private connected = false;
  /** The peer's handshake reply arrived and matched, and our Auth went out. */
  private acked = false;
  /** Our nonce on the current connection. */
  private nonce: Uint8Array = new Uint8Array(0);
  /** Frames written before the handshake completed, sent once it does (or dropped with the connection). */
  private held: Array<{ kind: FrameKind; payload: Uint8Array }> = [];
  private heldBytes = 0;
  /** Failed attempts since the last accepted handshake. */
  private attempts = 0;
  /** The connect timeout while connecting, the redial timer in back-off. */
  private timer: TimerHandle | null = null;
  private readonly pending = new Map<number, PendingRequest>();
  /** Request timeouts on one timer rather than one per request (docs/decisions.md, "Entry node CPU"). */
  private readonly deadlines: DeadlineQueue;
  private readonly soon = (fn: () => void): void => this.ctx.env.timers.soon(fn);
  /** Raft messages queued this turn (owned by the transport's flush). */
  queue: Message[] = [];

  constructor(
    private readonly ctx: LinkContext,
    readonly nodeId: NodeId,
    readonly host: string,
    readonly port: number,
  ) {
    this.deadlines = new DeadlineQueue(ctx.env.clock, ctx.env.timers);
  }

  get state(): LinkState {
    return this.stateValue;
  }

  /** Writes Raft frames unless the peer is in back-off or its socket is over the write-buffer limit. */
  writeRaft(payloads: Uint8Array[]): RaftWriteResult {
    if (this.stateValue === 'backoff') return 'unreachable';
    const socket = this.ensureSocket();
    if (socket.writableLength + this.heldBytes > this.ctx.writeBufferBytesMax) return 'backPressure';
    for (const payload of payloads) {
      if (this.acked) writeFrame(socket, FrameKind.Raft, payload);
      else this.hold(FrameKind.Raft, payload);
    }
    return 'written';
  }

  /** Sends an RPC; never dropped for back-pressure. Rejects at once while in back-off. */
  request(requestId: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.stateValue === 'backoff') {
        return reject(new TransportError('unreachable', `node ${this.nodeId} is unreachable`));
      }
      const socket = this.ensureSocket();
      const timer = this.deadlines.after(timeoutMs, () => {
        if (this.pending.delete(requestId)) {
          reject(new TransportError('timeout', `request ${requestId} to node ${this.nodeId} timed out after ${timeoutMs} ms`));
        }
      });
      this.pending.set(requestId, { resolve, reject, timer });
      this.ctx.counters.requestsSent++;
      if (this.acked) {
        const framed = encodeRequest({ requestId, payload }, FRAME_HEADER_BYTES);
        writeFramedCoalesced(socket, FrameKind.Request, framed, this.soon);
      } else {
        this.hold(FrameKind.Request, encodeRequest({ requestId, payload }));
      }
    });
  }

  /** Stops for good: cancels timers, rejects pending requests with `closed`, ends (or destroys) the socket. */
  shut(message: string, how: 'end' | 'destroy'): net.Socket | null {
    this.timer?.cancel();
    this.timer = null;
    this.queue = [];
    this.dropHeld();
    this.rejectPending('closed', message);
    this.deadlines.clear();
    const socket = this.socket;
    if (socket !== null) {
      if (how === 'end') socket.end();
      else socket.destroy();
    }
    return socket;
  }

  private hold(kind: FrameKind, payload: Uint8Array): void {
    this.held.push({ kind, payload });
    this.heldBytes += payload.length;
  }

  private dropHeld(): void {
    this.held = [];
    this.heldBytes = 0;
  }

  private ensureSocket(): net.Socket {
    if (this.socket === null) this.dial();
    return this.socket!;
  }

  private dial(): void {
    const ctx = this.ctx;
    this.stateValue = 'connecting';
    this.connected = false;
    this.acked = false;
    this.decoder = new FrameDecoder(ctx.frameBytesMax);
    this.dropHeld();
    this.nonce = newNonce();
    const material = ctx.tls?.current() ?? null;
    const socket: net.Socket = material === null
      ? net.connect({ host: this.host, port: this.port })
      : tls.connect({
        host: this.host,
        port: this.port,
        secureContext: material.context,
        // Membership is "holds a certificate from the cluster's CA", checked by
        // the default rejectUnauthorized; node addresses are not names in the
        // certificates (as Redis's cluster bus), so no hostname check.
        checkServerIdentity: () => undefined,
      });
    this.socket = socket;
    socket.setNoDelay(true);
    // Node buffers writes until the connection (and TLS session) opens.
    writeFrame(socket, FrameKind.Handshake, encodeHandshake({
      version: PROTOCOL_VERSION, clusterId: ctx.clusterId, from: ctx.nodeId, to: this.nodeId,
      nonce: this.nonce, mac: new Uint8Array(0),
    }));
    // One deadline for connecting and for the peer's handshake answer: a listener that
    // accepts but never answers must not keep our held frames (and requests) forever.
    this.timer = ctx.env.timers.after(ctx.connectTimeoutMs, () => {
      if (this.socket !== socket || this.acked) return;
      this.timer = null;
      socket.destroy(Object.assign(new Error(this.connected ? 'handshake timeout' : 'connect timeout'), { code: 'ETIMEDOUT' }));
    });
    socket.on(material === null ? 'connect' : 'secureConnect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      this.stateValue = 'open';
    });
    readChunks(socket, (chunk) => this.onData(socket, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (material !== null && !this.connected && !NETWORK_ERRORS.has(err.code ?? '')) {
        // The TLS handshake failed: the peer's certificate is not from our CA, or it refused ours.
        ctx.refused(`node ${this.nodeId}`, 'TLS handshake failed', { peer: this.nodeId, err: err.message });
      } else {
        ctx.log.debug({ peer: this.nodeId, err: err.message }, 'peer connection error');
      }
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket || this.decoder === null) return;
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (socket.destroyed) return;
        if (!this.acked) {
          if (frame.kind !== FrameKind.Handshake) throw new WireError(`expected a handshake, got frame kind ${frame.kind}`);
          if (!this.acceptHandshake(frame.payload)) {
            socket.destroy();
            return;
          }
        } else if (frame.kind === FrameKind.Response) {
          const r = decodeResponse(frame.payload);
          const pending = this.pending.get(r.requestId);
          if (pending === undefined) continue; // It timed out already.
          this.pending.delete(r.requestId);
          pending.timer.cancel();
          if (r.status === ResponseStatus.Ok) pending.resolve(r.payload.slice());
          else pending.reject(new TransportError('remote', fromUtf8(r.payload)));
        } else {
          throw new WireError(`unexpected frame kind ${frame.kind} on an outbound connection`);
        }
      }
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      this.ctx.counters.protocolErrors++;
      this.ctx.log.warn({ peer: this.nodeId, err: e.message }, 'peer sent bytes we cannot accept; disconnecting');
      socket.destroy();
    }
  }

  private acceptHandshake(payload: Uint8Array): boolean {
    const ctx = this.ctx;
    const h = decodeHandshake(payload);
    if (h.version !== PROTOCOL_VERSION || h.clusterId !== ctx.clusterId || h.from !== this.nodeId || h.to !== ctx.nodeId) {
      ctx.counters.handshakesRefused++;
      ctx.refused(`node ${this.nodeId}`, 'wrong cluster, node or protocol version',
        { peer: this.nodeId, theirCluster: h.clusterId, cluster: ctx.clusterId, theirNode: h.from, version: h.version });
      return false;
    }
    const transcript: AuthTranscript = {
      clusterId: ctx.clusterId, dialer: ctx.nodeId, acceptor: this.nodeId, dialerNonce: this.nonce, acceptorNonce: h.nonce,
    };
    if (!macMatches(ctx.clusterSecret, 'acceptor', transcript, h.mac)) {
      ctx.counters.handshakesRefused++;
      ctx.refused(`node ${this.nodeId}`, 'failed authentication (cluster secret)', { peer: this.nodeId });
      return false;
    }
    const socket = this.socket!;
    socket.cork();
    writeFrame(socket, FrameKind.Auth, encodeAuth(peerMac(ctx.clusterSecret, 'dialer', transcript)));
    for (const f of this.held) writeFrame(socket, f.kind, f.payload);
    socket.uncork();
    this.dropHeld();
    this.acked = true;
    this.attempts = 0;
    this.timer?.cancel();
    this.timer = null;
    return true;
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    const ctx = this.ctx;
    const wasConnected = this.connected;
    this.socket = null;
    this.decoder = null;
    this.dropHeld();
    this.timer?.cancel();
    this.timer = null;
    this.rejectPending(wasConnected ? 'connectionLost' : 'unreachable',
      wasConnected ? `connection to node ${this.nodeId} lost` : `node ${this.nodeId} is unreachable`);
    if (!ctx.isLive(this)) {
      this.stateValue = 'idle';
      return;
    }
    this.stateValue = 'backoff';
    this.attempts++;
    const ceiling = Math.min(ctx.backoffMaxMs, ctx.backoffBaseMs * 2 ** Math.min(this.attempts - 1, 30));
    // Jitter in [ceiling/2, ceiling) keeps peers that lost each other together from redialing in lockstep.
    const delayMs = Math.max(1, Math.floor(ceiling / 2 + ctx.random.next() * (ceiling / 2)));
    ctx.log.debug({ peer: this.nodeId, attempts: this.attempts, delayMs }, 'peer link down; will redial');
    this.timer = ctx.env.timers.after(delayMs, () => {
      this.timer = null;
      if (this.stateValue === 'backoff' && ctx.isLive(this)) this.dial();
    });
    ctx.onDown(this);
  }

  private rejectPending(code: 'closed' | 'connectionLost' | 'unreachable', message: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.timer.cancel();
      p.reject(new TransportError(code, message));
    }
  }
}
