/**
 * Payloads of the non-Raft frames: the handshake and the RPC request and
 * response. Raft batches use the codec in src/raft/codec.ts. Malformed
 * payloads raise `WireError`; the transport then drops the connection.
 */

import { CodecError } from '../raft/codec.js';
import { FrameError } from './frame.js';

export const PROTOCOL_VERSION = 1;

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

  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }
}

export function encodeHandshake(h: Handshake): Uint8Array {
  const id = encoder.encode(h.clusterId);
  const out = new Uint8Array(1 + varintBytes(h.from) + varintBytes(h.to) + varintBytes(id.length) + id.length);
  let at = 0;
  out[at++] = h.version;
  at = writeVarint(out, at, h.from);
  at = writeVarint(out, at, h.to);
  at = writeVarint(out, at, id.length);
  out.set(id, at);
  return out;
}

export function decodeHandshake(bytes: Uint8Array): Handshake {
  const c = new Cursor(bytes);
  const version = c.u8('version');
  const from = c.varint('from');
  const to = c.varint('to');
  const idLength = c.varint('clusterId length');
  if (idLength !== bytes.length - c.pos) throw new WireError('clusterId length does not match the payload');
  let clusterId: string;
  try {
    clusterId = decoder.decode(c.rest());
  } catch {
    throw new WireError('clusterId is not UTF-8');
  }
  return { version, clusterId, from, to };
}

export function encodeRequest(r: Request): Uint8Array {
  const out = new Uint8Array(varintBytes(r.requestId) + r.payload.length);
  out.set(r.payload, writeVarint(out, 0, r.requestId));
  return out;
}

export function decodeRequest(bytes: Uint8Array): Request {
  const c = new Cursor(bytes);
  const requestId = c.varint('requestId');
  return { requestId, payload: c.rest() };
}

export function encodeResponse(r: Response): Uint8Array {
  const out = new Uint8Array(varintBytes(r.requestId) + 1 + r.payload.length);
  const at = writeVarint(out, 0, r.requestId);
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
