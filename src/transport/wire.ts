/**
 * Payloads of the non-Raft frames: the handshake and the RPC request and
 * response. Raft batches use the codec in src/raft/codec.ts. Malformed
 * payloads raise `WireError`; the transport then drops the connection.
 */

import { CodecError } from '../raft/codec.js';
import { FrameError } from './frame.js';

/** 2: the handshake carries a nonce and a MAC, and the dialer answers with an Auth frame (docs/transport.md). */
export const PROTOCOL_VERSION = 2;

/** True for errors caused by bytes a peer sent (the connection is dropped); anything else is a bug. */
export function isProtocolError(e: unknown): e is FrameError | CodecError | WireError {
  return e instanceof FrameError || e instanceof CodecError || e instanceof WireError;
}

export class WireError extends Error {
  constructor(message: string) {
    super(`wire: ${message}`);
    this.name = 'WireError';
  }
}

export interface Handshake {
  version: number;
  clusterId: string;
  /** The node that sends this handshake. */
  from: number;
  /** The node the sender believes it is talking to. */
  to: number;
  /** Fresh random bytes of the sender (the challenge the other side must answer). */
  nonce: Uint8Array;
  /** The acceptor's proof of the cluster secret (empty from the dialer, or when no secret is set). */
  mac: Uint8Array;
}

export const ResponseStatus = { Ok: 0, Error: 1 } as const;
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus];

export interface Request {
  requestId: number;
  payload: Uint8Array;
}

export interface Response {
  requestId: number;
  status: ResponseStatus;
  /** The reply (Ok) or a UTF-8 error message (Error). */
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function varintBytes(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  varint(field: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw new WireError(`truncated ${field}`);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) throw new WireError(`${field} overflows`);
        return result;
      }
      mul *= 0x80;
    }
    throw new WireError(`${field} overflows`);
  }

  u8(field: string): number {
    if (this.pos >= this.buf.length) throw new WireError(`truncated ${field}`);
    return this.buf[this.pos++];
  }

  bytes(n: number): Uint8Array {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A varint length, then that many bytes (at most `max`). */
  field(name: string, max: number): Uint8Array {
    const n = this.varint(`${name} length`);
    if (n > max || n > this.buf.length - this.pos) throw new WireError(`${name} length ${n} is out of range`);
    return this.bytes(n);
  }

  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }
}

export function encodeHandshake(h: Handshake): Uint8Array {
  const id = encoder.encode(h.clusterId);
  const out = new Uint8Array(1 + varintBytes(h.from) + varintBytes(h.to) + varintBytes(id.length) + id.length
    + varintBytes(h.nonce.length) + h.nonce.length + varintBytes(h.mac.length) + h.mac.length);
  let at = 0;
  out[at++] = h.version;
  at = writeVarint(out, at, h.from);
  at = writeVarint(out, at, h.to);
  for (const field of [id, h.nonce, h.mac]) {
    at = writeVarint(out, at, field.length);
    out.set(field, at);
    at += field.length;
  }
  return out;
}

/** Longest nonce or MAC accepted in a handshake. */
const PROOF_BYTES_MAX = 64;

/**
 * Decodes a handshake. A version-1 handshake (no nonce, no MAC) decodes with
 * empty ones, so the caller can refuse it by its version.
 */
export function decodeHandshake(bytes: Uint8Array): Handshake {
  const c = new Cursor(bytes);
  const version = c.u8('version');
  const from = c.varint('from');
  const to = c.varint('to');
  const idLength = c.varint('clusterId length');
  if (idLength > bytes.length - c.pos) throw new WireError('clusterId length exceeds the payload');
  let clusterId: string;
  try {
    clusterId = decoder.decode(c.bytes(idLength));
  } catch {
    throw new WireError('clusterId is not UTF-8');
  }
  let nonce: Uint8Array = new Uint8Array(0);
  let mac: Uint8Array = new Uint8Array(0);
  if (version >= 2) {
    nonce = c.field('nonce', PROOF_BYTES_MAX).slice();
    mac = c.field('mac', PROOF_BYTES_MAX).slice();
  }
  if (c.pos !== bytes.length) throw new WireError('trailing bytes after the handshake');
  return { version, clusterId, from, to, nonce, mac };
}

/** The dialer's answer to the acceptor's challenge: its MAC (empty when it has no secret). */
export function encodeAuth(mac: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintBytes(mac.length) + mac.length);
  out.set(mac, writeVarint(out, 0, mac.length));
  return out;
}

export function decodeAuth(bytes: Uint8Array): Uint8Array {
  const c = new Cursor(bytes);
  const mac = c.field('mac', PROOF_BYTES_MAX).slice();
  if (c.pos !== bytes.length) throw new WireError('trailing bytes after the auth');
  return mac;
}

/** The request's bytes after `headroom` unused bytes (a frame header, written in place later). */
export function encodeRequest(r: Request, headroom = 0): Uint8Array {
  // allocUnsafe: pooled and not zeroed (every byte is written; the headroom by the caller).
  const out = Buffer.allocUnsafe(headroom + varintBytes(r.requestId) + r.payload.length);
  out.set(r.payload, writeVarint(out, headroom, r.requestId));
  return out;
}

export function decodeRequest(bytes: Uint8Array): Request {
  const c = new Cursor(bytes);
  const requestId = c.varint('requestId');
  return { requestId, payload: c.rest() };
}

/** The response's bytes after `headroom` unused bytes (as encodeRequest). */
export function encodeResponse(r: Response, headroom = 0): Uint8Array {
  const out = Buffer.allocUnsafe(headroom + varintBytes(r.requestId) + 1 + r.payload.length);
  const at = writeVarint(out, headroom, r.requestId);
  out[at] = r.status;
  out.set(r.payload, at + 1);
  return out;
}

export function decodeResponse(bytes: Uint8Array): Response {
  const c = new Cursor(bytes);
  const requestId = c.varint('requestId');
  const status = c.u8('status');
  if (status !== ResponseStatus.Ok && status !== ResponseStatus.Error) throw new WireError(`response status ${status}`);
  return { requestId, status, payload: c.rest() };
}

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
