/**
 * `InboundConnection`: a connection a peer dialed to us. It must open with a
 * valid handshake, which we answer with ours (our nonce and, with a cluster
 * secret, our MAC over both nonces), then prove itself with an Auth frame
 * (its MAC), all within `handshakeTimeoutMs`; then it carries the peer's
 * Raft batches (handed to `deliver`) and RPC requests (answered on the same
 * connection). Anything malformed closes it with a warning (rate-limited
 * before authentication); the node carries on. See docs/transport.md.
 */
import type net from 'node:net';
import type { EnvLogger, Timers, TimerHandle } from '../env/env.js';
import { decodeMessages } from '../raft/codec.js';
import type { Message, NodeId } from '../raft/types.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameKind, writeFrame, writeFramedCoalesced, type Frame } from './frame.js';
import { readChunks } from './socket-read.js';
import type { PeerTransportStats } from './stats.js';
import { macMatches, newNonce, peerMac, type AuthTranscript } from './peer-auth.js';
import {
  decodeAuth,
  decodeHandshake,
  decodeRequest,
  encodeHandshake,
  encodeResponse,
  isProtocolError,
  PROTOCOL_VERSION,
  ResponseStatus,
  utf8,
  WireError,
} from './wire.js';

/** What an inbound connection needs from the transport that accepted it. */
export interface InboundContext {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly timers: Timers;
  readonly log: EnvLogger;
  readonly counters: PeerTransportStats;
  readonly frameBytesMax: number;
  readonly handshakeTimeoutMs: number;
  /** Shared secret peers must prove they know ('' = none required). */
  readonly clusterSecret: string;
  /** Logs a refused connection (rate-limited per source and reason). */
  refused(source: string, reason: string, fields: object): void;
  /** Hands a verified batch from `from` to the host (the transport applies its filter). */
  deliver(from: NodeId, messages: Message[]): void;
  /** Runs the host's request handler. */
  serve(from: NodeId, payload: Uint8Array): Promise<Uint8Array>;
}

export class InboundConnection {
  /** The authenticated peer; 0 until its Auth frame is checked. */
  private peer: NodeId = 0;
  /** Set once the peer's handshake is answered, while we wait for its Auth. */
  private challenge: AuthTranscript | null = null;
  /** The remote host, kept for logs (a destroyed socket forgets it). */
  private readonly remoteHost: string;
  private readonly remotePort: number;
  private readonly decoder: FrameDecoder;
  private timer: TimerHandle | null;

  private readonly soon = (fn: () => void): void => this.ctx.timers.soon(fn);

  constructor(
    private readonly ctx: InboundContext,
    readonly socket: net.Socket,
    onClosed: (conn: InboundConnection) => void,
  ) {
    this.decoder = new FrameDecoder(ctx.frameBytesMax);
    this.remoteHost = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    this.timer = ctx.timers.after(ctx.handshakeTimeoutMs, () => {
      this.timer = null;
      if (this.peer === 0 && !socket.destroyed) this.refuse('handshake timeout', {});
    });
    readChunks(socket, (chunk) => this.onData(chunk));
    socket.on('error', (err) => ctx.log.debug({ peer: this.peer, err: err.message }, 'inbound connection error'));
    socket.on('close', () => {
      this.timer?.cancel();
      this.timer = null;
      onClosed(this);
    });
  }

  /** Half-closes the connection (graceful close of the transport). */
  end(): void {
    this.timer?.cancel();
    this.timer = null;
    this.socket.end();
  }

  private remote(): string {
    return `${this.remoteHost}:${this.remotePort}`;
  }

  /** Refuses an unauthenticated connection: counted, logged without a storm, closed. */
  private refuse(reason: string, fields: object): void {
    this.ctx.counters.handshakesRefused++;
    this.ctx.refused(this.remoteHost, reason, { ...fields, remote: this.remote() });
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      return this.dropForGarbage(e);
    }
    for (const frame of frames) {
      if (this.socket.destroyed) return;
      let messages: Message[] | null;
      try {
        messages = this.handleFrame(frame);
      } catch (e) {
        return this.dropForGarbage(e);
      }
      // Outside the try: a throwing handler is a bug in the host, not garbage from the peer.
      if (messages !== null) this.ctx.deliver(this.peer, messages);
    }
  }

  private dropForGarbage(e: unknown): void {
    if (!isProtocolError(e)) throw e;
    this.ctx.counters.protocolErrors++;
    if (this.peer === 0) {
      // Not (yet) a member: a rogue or a stranger; rate-limited like any refusal.
      this.ctx.counters.handshakesRefused++;
      this.ctx.refused(this.remoteHost, 'garbage before authentication', { remote: this.remote(), err: e.message });
    } else {
      this.ctx.log.warn({ peer: this.peer, remote: this.remote(), err: e.message }, 'peer sent bytes we cannot accept; disconnecting');
    }
    this.socket.destroy();
  }

  /** Checks one frame; answers handshakes and requests; returns a verified Raft batch, if it was one. */
  private handleFrame(frame: Frame): Message[] | null {
    if (this.peer === 0) {
      if (this.challenge === null) {
        if (frame.kind !== FrameKind.Handshake) throw new WireError(`expected a handshake, got frame kind ${frame.kind}`);
        this.acceptHandshake(frame.payload);
      } else {
        if (frame.kind !== FrameKind.Auth) throw new WireError(`expected an auth frame, got frame kind ${frame.kind}`);
        this.acceptAuth(frame.payload);
      }
      return null;
    }
    if (frame.kind === FrameKind.Raft) {
      const messages = decodeMessages(frame.payload);
      for (const m of messages) {
        if (m.from !== this.peer || m.to !== this.ctx.nodeId) {
          throw new WireError(`message from ${m.from} to ${m.to} on the link from node ${this.peer}`);
        }
      }
      this.ctx.counters.raftFramesReceived++;
      this.ctx.counters.raftMessagesReceived += messages.length;
      return messages;
    }
    if (frame.kind === FrameKind.Request) {
      const request = decodeRequest(frame.payload);
      this.serve(request.requestId, request.payload.slice());
      return null;
    }
    throw new WireError(`unexpected frame kind ${frame.kind} on an inbound connection`);
  }

  private acceptHandshake(payload: Uint8Array): void {
    const ctx = this.ctx;
    const h = decodeHandshake(payload);
    if (h.version !== PROTOCOL_VERSION || h.clusterId !== ctx.clusterId || h.to !== ctx.nodeId || h.from === 0 || h.from === ctx.nodeId) {
      this.refuse('wrong cluster, node or protocol version',
        { theirCluster: h.clusterId, cluster: ctx.clusterId, from: h.from, to: h.to, version: h.version });
      return;
    }
    const challenge: AuthTranscript = {
      clusterId: ctx.clusterId, dialer: h.from, acceptor: ctx.nodeId, dialerNonce: h.nonce, acceptorNonce: newNonce(),
    };
    this.challenge = challenge;
    writeFrame(this.socket, FrameKind.Handshake, encodeHandshake({
      version: PROTOCOL_VERSION, clusterId: ctx.clusterId, from: ctx.nodeId, to: h.from,
      nonce: challenge.acceptorNonce, mac: peerMac(ctx.clusterSecret, 'acceptor', challenge),
    }));
  }

  private acceptAuth(payload: Uint8Array): void {
    const challenge = this.challenge!;
    if (!macMatches(this.ctx.clusterSecret, 'dialer', challenge, decodeAuth(payload))) {
      this.refuse('failed authentication (cluster secret)', { from: challenge.dialer });
      return;
    }
    this.peer = challenge.dialer;
    this.timer?.cancel();
    this.timer = null;
    this.ctx.log.debug({ peer: this.peer, remote: this.remote() }, 'inbound peer authenticated');
  }

  private serve(requestId: number, payload: Uint8Array): void {
    const ctx = this.ctx;
    ctx.counters.requestsServed++;
    let reply: Promise<Uint8Array>;
    try {
      reply = ctx.serve(this.peer, payload);
    } catch (e) {
      reply = Promise.reject(e);
    }
    const respond = (status: ResponseStatus, body: Uint8Array): void => {
      if (this.socket.destroyed || !this.socket.writable) return;
      writeFramedCoalesced(this.socket, FrameKind.Response, encodeResponse({ requestId, status, payload: body }, FRAME_HEADER_BYTES), this.soon);
    };
    reply.then(
      (body) => {
        if (body.length + 16 > ctx.frameBytesMax) respond(ResponseStatus.Error, utf8('response exceeds the frame limit'));
        else respond(ResponseStatus.Ok, body);
      },
      (err: unknown) => respond(ResponseStatus.Error, utf8(err instanceof Error ? err.message : String(err))),
    );
  }
}
