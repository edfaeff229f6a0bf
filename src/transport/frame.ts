/**
 * Peer frames: the unit written to and read from a peer TCP connection.
 *
 *   frame  := u32 length (big-endian, payload bytes only), u8 kind,
 *             u32 crc (big-endian CRC-32C over the kind byte and the payload),
 *             payload
 *
 * `FrameDecoder` reassembles frames from arbitrary TCP chunks: a frame may
 * span many chunks and a chunk may hold many frames. A header announcing more
 * than `frameBytesMax` is refused before any payload is buffered, so a forged
 * length costs nothing. After an error the decoder stays failed: the caller
 * must drop the connection, since the stream's framing can no longer be trusted.
 */
import { crc32c } from './crc32c.js';

export const FRAME_HEADER_BYTES = 9;

export const FrameKind = {
  /** Dialer -> acceptor first, then acceptor -> dialer: cluster id and node ids. */
  Handshake: 1,
  /** A batch of Raft messages (codec `encodeMessages`). */
  Raft: 2,
  /** An RPC request: varint requestId, payload. */
  Request: 3,
  /** An RPC response: varint requestId, u8 status, payload. */
  Response: 4,
  /** Dialer -> acceptor after the acceptor's handshake: the dialer's MAC over both nonces. */
  Auth: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const KIND_MAX = FrameKind.Auth;

export interface Frame {
  kind: FrameKind;
  payload: Uint8Array;
}

export type FrameErrorCode = 'tooLarge' | 'badKind' | 'badChecksum';

export class FrameError extends Error {
  readonly code: FrameErrorCode;

  constructor(code: FrameErrorCode, message: string) {
    super(`frame: ${code}: ${message}`);
    this.name = 'FrameError';
    this.code = code;
  }
}

/** CRC-32C of each one-byte kind, the start of every frame's checksum. */
const KIND_CRC: number[] = Array.from({ length: 256 }, (_, k) => crc32c(Uint8Array.of(k)));

function checksum(kind: number, payload: Uint8Array): number {
  return crc32c(payload, KIND_CRC[kind]);
}

/** Writes the header of the frame whose payload is `framed[FRAME_HEADER_BYTES..]` into its first bytes. */
function fillHeader(kind: FrameKind, framed: Uint8Array): void {
  const payload = framed.subarray(FRAME_HEADER_BYTES);
  const len = payload.length;
  const crc = checksum(kind, payload);
  framed[0] = len >>> 24; framed[1] = len >>> 16; framed[2] = len >>> 8; framed[3] = len;
  framed[4] = kind;
  framed[5] = crc >>> 24; framed[6] = crc >>> 16; framed[7] = crc >>> 8; framed[8] = crc;
}

/**
 * The 9-byte header for `payload`. Writing header and payload separately
 * avoids copying large payloads (snapshots) into one buffer.
 */
export function encodeFrameHeader(kind: FrameKind, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, payload.length);
  view.setUint8(4, kind);
  view.setUint32(5, checksum(kind, payload));
  return header;
}

/** Header and payload in one buffer (convenient for small frames and tests). */
export function encodeFrame(kind: FrameKind, payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  fillHeader(kind, out);
  return out;
}

/** What `writeFrame` needs of a socket (a net.Socket satisfies it). */
export interface FrameSink {
  readonly destroyed: boolean;
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
}

/** Frames up to this size are written as one buffer; larger ones as header + payload, uncopied. */
const COPY_FRAME_BYTES_MAX = 64 * 1024;

/** Writes one frame to `sink` (nothing if it is destroyed). */
export function writeFrame(sink: FrameSink, kind: FrameKind, payload: Uint8Array): void {
  if (sink.destroyed) return;
  if (payload.length + FRAME_HEADER_BYTES <= COPY_FRAME_BYTES_MAX) {
    sink.write(encodeFrame(kind, payload));
    return;
  }
  sink.cork();
  sink.write(encodeFrameHeader(kind, payload));
  sink.write(payload);
  sink.uncork();
}

const corkedUntilSoon = new WeakSet<FrameSink>();

/**
 * Writes one frame, coalesced with every other frame written to the same sink
 * in this turn of the event loop: the sink stays corked until `soon` runs, so
 * a burst of RPCs (forwarded commands and their replies) costs one socket
 * write instead of one per frame.
 */
export function writeFrameCoalesced(sink: FrameSink, kind: FrameKind, payload: Uint8Array, soon: (fn: () => void) => void): void {
  if (sink.destroyed) return;
  corkUntilSoon(sink, soon);
  writeFrame(sink, kind, payload);
}

/**
 * As writeFrameCoalesced, for a payload encoded after FRAME_HEADER_BYTES of headroom in
 * `framed` (wire's `encodeRequest(r, FRAME_HEADER_BYTES)`): the header is written into the
 * headroom, so the payload is not copied again.
 */
export function writeFramedCoalesced(sink: FrameSink, kind: FrameKind, framed: Uint8Array, soon: (fn: () => void) => void): void {
  if (sink.destroyed) return;
  corkUntilSoon(sink, soon);
  fillHeader(kind, framed);
  sink.write(framed);
}

function corkUntilSoon(sink: FrameSink, soon: (fn: () => void) => void): void {
  if (corkedUntilSoon.has(sink)) return;
  corkedUntilSoon.add(sink);
  sink.cork();
  soon(() => {
    corkedUntilSoon.delete(sink);
    if (!sink.destroyed) sink.uncork();
  });
}

/** Incremental frame decoder for one byte stream. */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  /** Total unread bytes in `chunks` (the first chunk is read from `offset`). */
  private buffered = 0;
  private offset = 0;
  private failed: FrameError | null = null;

  constructor(readonly frameBytesMax: number) {}

  /** Bytes received but not yet returned as frames. */
  bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds one chunk and returns every frame it completes. Throws FrameError on a bad stream. */
  push(chunk: Uint8Array): Frame[] {
    if (this.failed !== null) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < FRAME_HEADER_BYTES) break;
      const header = this.peek(FRAME_HEADER_BYTES);
      const view = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES);
      const length = view.getUint32(0);
      const kind = view.getUint8(4);
      const crc = view.getUint32(5);
      if (length > this.frameBytesMax) {
        this.fail(new FrameError('tooLarge', `frame of ${length} bytes exceeds the ${this.frameBytesMax}-byte limit`));
      }
      if (kind < FrameKind.Handshake || kind > KIND_MAX) this.fail(new FrameError('badKind', `kind ${kind}`));
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.consume(FRAME_HEADER_BYTES);
      const payload = this.take(length);
      if (checksum(kind, payload) !== crc) this.fail(new FrameError('badChecksum', `kind ${kind}, ${length} bytes`));
      frames.push({ kind: kind as FrameKind, payload });
    }
    return frames;
  }

  private fail(e: FrameError): never {
    this.failed = e;
    this.chunks = [];
    this.buffered = 0;
    this.offset = 0;
    throw e;
  }

  /** The next `n` buffered bytes without consuming them (copied only if they span chunks). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let off = this.offset;
    for (const c of this.chunks) {
      const part = c.subarray(off, Math.min(c.length, off + n - filled));
      out.set(part, filled);
      filled += part.length;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  private consume(n: number): void {
    this.take(n);
  }

  /**
   * Removes and returns the next `n` bytes. A payload inside one chunk is
   * returned as a view of it (no copy); socket chunks are not reused by Node.
   */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const count = Math.min(c.length - this.offset, n - filled);
      out.set(c.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.offset += count;
      if (this.offset === c.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    return out;
  }
}
