/**
 * One client connection: decodes requests, dispatches them to the CommandHandler, and writes the
 * replies strictly in request order, coalescing every reply that is ready in one turn into one
 * socket write, made after the turn's reads (setImmediate). Reading stops while too many replies
 * are queued or the socket is backed up.
 */
import type { Socket } from 'node:net';
import { readChunks } from '../transport/socket-read.js';
import type { EnvLogger } from '../env/env.js';
import { createRequestDecoder, DEFAULT_DECODER_LIMITS, type DecoderLimits, type RequestDecoder } from './decoder.js';
import { ok, ReplyBuffer, type ProtocolVersion, type Reply } from './encoder.js';
import { errInternal, errProtocol } from './replies.js';

/** What a handler knows about the client that sent a command. */
export interface ClientContext {
  /** Unique per server, increasing from 1 (as Redis CLIENT ID). */
  readonly id: number;
  /** CLIENT SETNAME; null when unset. */
  name: string | null;
  /** Reply protocol. Setting it to 3 (HELLO 3) applies from the reply of the command that sets it. */
  protocol: ProtocolVersion;
  /** Peer address `ip:port`. */
  readonly addr: string;
  /** Local address `ip:port`. */
  readonly laddr: string;
  /** Connection flags for the command layer (e.g. `readonly`, `asking`, `multi`). */
  readonly flags: Set<string>;
  /** Selected database (raftis has only db 0, but SELECT 0 is allowed). */
  db: number;
  /** Arbitrary per-connection state owned by the command layer. */
  readonly state: Map<string, unknown>;
  /** Closes the connection once every reply queued so far (including the current one) is written. */
  closeAfterReply(): void;
  /** True once the client has gone away; replies to it are dropped. */
  readonly closed: boolean;
}

/** Executes one command; may be async. Throwing or rejecting yields `-ERR <message>`. */
export type CommandHandler = (ctx: ClientContext, args: Buffer[]) => Reply | Promise<Reply>;

export interface ConnectionOptions {
  handler: CommandHandler;
  logger: EnvLogger;
  /** Schedules the flush of replies that resolved asynchronously (setImmediate in production). */
  soon: (fn: () => void) => void;
  decoderLimits?: DecoderLimits;
  /** Stop reading while more replies than this are queued unwritten (default 4096). */
  pendingRepliesMax?: number;
  /** Stop reading while the socket holds more unsent bytes than this (default 4 MiB). */
  outputBytesHighWater?: number;
  /** Called once when the connection is gone. */
  onClose?: (conn: Connection) => void;
  /** True while this client must still authenticate: the decoder then caps its requests as Redis does. */
  authRequired?: (ctx: ClientContext) => boolean;
  /** A monotonic clock (ms) for idle time and the output buffer soft limit (default performance.now). */
  nowMs?: () => number;
  /** client-output-buffer-limit for this client's class (read at every write; 0 = no limit). */
  outputLimit?: () => OutputBufferLimit;
}

/** Redis's client-output-buffer-limit for one class: hard bytes, soft bytes held for soft seconds. */
export interface OutputBufferLimit {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

/**
 * Redis's checkClientOutputBufferLimits: over the hard limit, or over the soft limit for longer
 * than its seconds. `softSinceMs` is when the soft limit was first exceeded (-1: it is not).
 * Returns whether to close the client and the new softSinceMs.
 */
export function outputLimitReached(used: number, limit: OutputBufferLimit, softSinceMs: number, nowMs: number): { close: boolean; softSinceMs: number } {
  if (limit.hardBytes > 0 && used >= limit.hardBytes) return { close: true, softSinceMs };
  if (limit.softBytes > 0 && used >= limit.softBytes) {
    if (softSinceMs < 0) return { close: false, softSinceMs: nowMs };
    return { close: nowMs - softSinceMs > limit.softSeconds * 1000, softSinceMs };
  }
  return { close: false, softSinceMs: -1 };
}

const LOOPBACK_V4 = /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** True for a loopback peer address (127.0.0.0/8, ::1, or IPv4-mapped 127.x), as Redis's protected mode tests it. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || LOOPBACK_V4.test(address);
}

interface Slot {
  reply: Reply | undefined;
  proto: ProtocolVersion;
}

const EMPTY = Buffer.alloc(0);
const QUIT = Buffer.from('quit');
/** Within one chunk, flush (and check back-pressure) after this many queued replies... */
const MID_CHUNK_FLUSH_REPLIES = 256;
/** ...or once queued bulk replies add up to this many bytes. */
const MID_CHUNK_FLUSH_BYTES = 256 * 1024;

function isQuit(name: Buffer): boolean {
  return name.length === 4 && (name[0]! | 0x20) === QUIT[0] && (name[1]! | 0x20) === QUIT[1]
    && (name[2]! | 0x20) === QUIT[2] && (name[3]! | 0x20) === QUIT[3];
}

/**
 * A connection's decoder limits, read through to the server's on every use. A class rather than
 * an object literal with getters and a spread, whose shapes made every read of a limit in the
 * decoder's per-request path an inline-cache miss.
 */
class ConnectionLimits implements DecoderLimits {
  readonly authRequired: (() => boolean) | undefined;
  constructor(private readonly base: DecoderLimits, ctx: ClientContext, authRequired: ((ctx: ClientContext) => boolean) | undefined) {
    this.authRequired = authRequired ? () => authRequired(ctx) : undefined;
  }
  get protoMaxBulkLen(): number {
    return this.base.protoMaxBulkLen;
  }
  get queryBufferLimitBytes(): number {
    return this.base.queryBufferLimitBytes;
  }
}

/** One client connection; see the file comment. */
export class Connection implements ClientContext {
  readonly id: number;
  name: string | null = null;
  protocol: ProtocolVersion = 2;
  readonly addr: string;
  readonly laddr: string;
  readonly flags = new Set<string>();
  db = 0;
  readonly state = new Map<string, unknown>();

  private readonly socket: Socket;
  private readonly opts: ConnectionOptions;
  private readonly decoder: RequestDecoder;
  private readonly out = new ReplyBuffer();
  private readonly pendingRepliesMax: number;
  private readonly outputBytesHighWater: number;
  // Invariant: queue[head..] are the requests whose replies are not yet encoded, in request order;
  // the `encodedReplies` replies in `out` (encoded, not yet written) come before all of them.
  private queue: Slot[] = [];
  private head = 0;
  private encodedReplies = 0;
  private flushScheduled = false;
  /** No more requests are read (QUIT, protocol error, closeAfterReply); close once the queue drains. */
  private closing = false;
  private isClosed = false;
  private paused = false;
  private waitingDrain = false;
  private unflushedBytesEstimate = 0;
  private readonly log: EnvLogger;
  private readonly nowMs: () => number;
  /** When the client was accepted and when it last sent a request (monotonic ms). */
  readonly createdAtMs: number;
  lastInteractionMs: number;
  private softLimitSinceMs = -1;

  constructor(id: number, socket: Socket, opts: ConnectionOptions) {
    this.id = id;
    this.socket = socket;
    this.opts = opts;
    this.nowMs = opts.nowMs ?? (() => performance.now());
    this.createdAtMs = this.nowMs();
    this.lastInteractionMs = this.createdAtMs;
    // Limits are read through on every use, so CONFIG SET of them applies to connected clients.
    this.decoder = createRequestDecoder(new ConnectionLimits(opts.decoderLimits ?? DEFAULT_DECODER_LIMITS, this, opts.authRequired));
    this.pendingRepliesMax = opts.pendingRepliesMax ?? 4096;
    this.outputBytesHighWater = opts.outputBytesHighWater ?? 4 * 1024 * 1024;
    this.addr = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.laddr = `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`;
    this.log = opts.logger.child({ client: id, addr: this.addr });
    socket.setNoDelay(true);
    readChunks(socket, (chunk) => this.onData(chunk));
    socket.on('drain', () => {
      this.waitingDrain = false;
      this.maybeResume();
    });
    // The client half-closed (e.g. `printf 'PING\r\n' | nc`): answer what it sent, then close.
    socket.on('end', () => {
      this.beginClosing();
      this.flush();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'client socket error'));
    socket.on('close', () => this.onSocketClose());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Replies queued but not yet written to the socket. */
  get pendingReplies(): number {
    return this.queue.length - this.head + this.encodedReplies;
  }

  closeAfterReply(): void {
    this.beginClosing();
    // Called from another connection's command (CLIENT KILL, ACL DELUSER) no flush may follow:
    // schedule one, so the socket closes once the replies owed are written.
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.isClosed || this.flushScheduled) return;
    this.flushScheduled = true;
    this.opts.soon(this.scheduledFlush);
  }

  /** One closure per connection, not one per scheduled flush. */
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /**
   * Graceful close for server shutdown: reads no more requests, writes every
   * reply still owed (as they resolve), then ends the connection.
   */
  drain(): void {
    this.beginClosing();
    this.flush();
  }

  /** Closes the connection now, dropping queued replies. */
  destroy(): void {
    this.socket.destroy();
  }

  private beginClosing(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.pause();
  }

  /** True while the connection is not reading because of back-pressure. */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** Bytes written to the socket but not yet sent. */
  get outputBytes(): number {
    return this.socket.writableLength;
  }

  private onData(chunk: Buffer): void {
    if (this.closing || this.isClosed) return;
    if (chunk.length > 0) this.lastInteractionMs = this.nowMs();
    const err = this.decoder.feed(chunk, this.onCommand);
    if (err !== null) {
      if (err.kind === 'protocol') {
        this.log.debug({ message: err.message }, 'protocol error');
        this.enqueue(errProtocol(err.message));
        this.beginClosing();
      } else {
        this.log.warn({ bufferedBytes: err.bufferedBytes }, 'closing client that reached the query buffer limit');
        this.socket.destroy();
        return;
      }
    }
    // Replies go out once every client readable in this turn has been read, as Redis writes
    // them in beforeSleep: one event-loop turn reads many sockets, then writes many
    // (docs/decisions.md, "Reply flushing").
    this.scheduleFlush();
  }

  private enqueue(reply: Reply): void {
    // With no reply waiting ahead of it, a reply is encoded at once: no slot to allocate.
    if (this.head === this.queue.length) {
      this.out.add(reply, this.protocol);
      this.encodedReplies++;
    } else {
      this.queue.push({ reply, proto: this.protocol });
    }
    if (reply.kind === 'bulk' && reply.value !== null) this.unflushedBytesEstimate += reply.value.length;
  }

  /** One closure per connection, not one per chunk. */
  private readonly onCommand = (args: Buffer[]): boolean => this.dispatchAndCheck(args);

  /**
   * Dispatches one command; returns false to stop decoding the rest of the chunk when the client is
   * overloaded, so that one chunk full of `GET big` cannot queue unbounded replies.
   */
  private dispatchAndCheck(args: Buffer[]): boolean {
    this.dispatch(args);
    if (this.socket.destroyed) return false;
    if (this.pendingReplies < MID_CHUNK_FLUSH_REPLIES && this.unflushedBytesEstimate < MID_CHUNK_FLUSH_BYTES) return true;
    this.flush();
    if (this.overloaded()) {
      this.maybePause();
      return false;
    }
    return true;
  }

  private dispatch(args: Buffer[]): void {
    if (this.closing) return; // Requests after QUIT or a protocol error in the same chunk are ignored.
    if (isQuit(args[0]!)) {
      this.enqueue(ok());
      this.beginClosing();
      return;
    }
    let result: Reply | Promise<Reply>;
    try {
      result = this.opts.handler(this, args);
    } catch (e) {
      this.enqueue(this.handlerFailed(e, args));
      return;
    }
    // The protocol is read after the handler ran so that HELLO 3 gets a RESP3 reply.
    if (!(result instanceof Promise)) {
      this.enqueue(result);
      return;
    }
    const slot: Slot = { reply: undefined, proto: this.protocol };
    this.queue.push(slot);
    result.then(
      (reply) => this.resolveSlot(slot, reply),
      (e: unknown) => this.resolveSlot(slot, this.handlerFailed(e, args)),
    );
  }

  private handlerFailed(e: unknown, args: Buffer[]): Reply {
    const message = e instanceof Error ? e.message : String(e);
    this.log.error({ err: message, command: args[0]!.toString('latin1', 0, 64) }, 'command handler failed');
    return errInternal(message);
  }

  private resolveSlot(slot: Slot, reply: Reply): void {
    slot.reply = reply;
    this.scheduleFlush();
  }

  /**
   * Writes, in one socket write, the replies already encoded (those that had nothing waiting
   * ahead of them) and every ready reply at the head of the queue, encoded now.
   */
  private flush(): void {
    if (this.isClosed || this.socket.destroyed) return;
    const queue = this.queue;
    let i = this.head;
    while (i < queue.length) {
      const slot = queue[i]!;
      if (slot.reply === undefined) break;
      this.out.add(slot.reply, slot.proto);
      i++;
    }
    if (i !== this.head || this.encodedReplies > 0) {
      if (i === queue.length) {
        queue.length = 0;
        this.head = 0;
      } else {
        this.head = i;
        // Compact now and then so the array does not grow without bound.
        if (this.head > 1024 && this.head * 2 > queue.length) {
          this.queue = queue.slice(this.head);
          this.head = 0;
        }
      }
      if (!this.socket.write(this.out.take())) this.waitingDrain = true;
      this.encodedReplies = 0;
      this.unflushedBytesEstimate = 0;
      this.lastInteractionMs = this.nowMs();
      if (this.outputLimitExceeded()) return;
    }
    if (this.closing && this.head === this.queue.length) {
      // Keep reading (and discarding, see onData) so that the client's FIN is seen and the
      // socket closes fully instead of lingering half-open.
      this.socket.end();
      this.socket.resume();
      return;
    }
    this.maybePause();
    this.maybeResume();
  }

  /** Closes the client (as Redis, without a reply) once its output buffer passes the limit. */
  checkOutputLimit(): boolean {
    return this.outputLimitExceeded();
  }

  private outputLimitExceeded(): boolean {
    if (this.isClosed || this.socket.destroyed) return false;
    if (!this.opts.outputLimit) return false;
    const limit = this.opts.outputLimit();
    const used = this.socket.writableLength;
    // Under both limits (the common case): what outputLimitReached answers, without a clock read.
    if ((limit.hardBytes <= 0 || used < limit.hardBytes) && (limit.softBytes <= 0 || used < limit.softBytes)) {
      this.softLimitSinceMs = -1;
      return false;
    }
    const r = outputLimitReached(used, limit, this.softLimitSinceMs, this.nowMs());
    this.softLimitSinceMs = r.softSinceMs;
    if (!r.close) return false;
    this.log.warn({ outputBytes: this.socket.writableLength }, 'client closed for overcoming of output buffer limits');
    this.closing = true;
    this.socket.destroy();
    return true;
  }

  private overloaded(): boolean {
    // With an output buffer limit in force, reading goes on as in Redis (the limit, not
    // back-pressure, bounds what a client that does not read can cost).
    const limit = this.opts.outputLimit?.();
    if (limit && (limit.hardBytes > 0 || limit.softBytes > 0)) return this.pendingReplies > this.pendingRepliesMax;
    return this.waitingDrain || this.pendingReplies > this.pendingRepliesMax
      || this.socket.writableLength > this.outputBytesHighWater;
  }

  private maybePause(): void {
    if (!this.paused && !this.closing && this.overloaded()) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (this.paused && !this.closing && !this.isClosed && !this.overloaded()) {
      this.paused = false;
      // Requests already received but not yet decoded go first; they may pause us again.
      this.onData(EMPTY);
      if (!this.paused && !this.closing && !this.isClosed) this.socket.resume();
    }
  }

  private onSocketClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    // Pending promises still resolve into their slots; flush() ignores them now.
    this.queue = [];
    this.head = 0;
    this.encodedReplies = 0;
    this.opts.onClose?.(this);
  }
}
