/**
 * The reply value model and its RESP2/RESP3 encoding. Many replies are written into one Buffer per
 * flush (see connection.ts); RESP3-only types fall back to their RESP2 shapes as Redis does.
 */

export type Reply =
  | { readonly kind: 'simple'; readonly value: string }
  /** `message` includes the error code prefix, e.g. `ERR syntax error`, `MOVED 3999 h:p`. */
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'integer'; readonly value: number | bigint }
  /** `null` is Redis's null bulk: `$-1` in RESP2, `_` in RESP3. */
  | { readonly kind: 'bulk'; readonly value: Buffer | string | null }
  /** `null` is Redis's null array: `*-1` in RESP2, `_` in RESP3. */
  | { readonly kind: 'array'; readonly items: readonly Reply[] | null }
  /** RESP2: a flat array of 2n items. */
  | { readonly kind: 'map'; readonly entries: ReadonlyArray<readonly [Reply, Reply]> }
  /** RESP2: an array. */
  | { readonly kind: 'set'; readonly items: readonly Reply[] }
  /** RESP2: a bulk string formatted like C's `%.17g` (`inf`, `-inf`, `nan`). */
  | { readonly kind: 'double'; readonly value: number }
  /** RESP2: integer 1 or 0. */
  | { readonly kind: 'boolean'; readonly value: boolean }
  /** RESP2: `$-1`. */
  | { readonly kind: 'null' }
  /** RESP2: a bulk string of `value` alone. `format` is three bytes such as `txt`. */
  | { readonly kind: 'verbatim'; readonly format: string; readonly value: Buffer | string }
  /** RESP2: a bulk string of the digits. */
  | { readonly kind: 'bignum'; readonly value: string }
  /** RESP2: an array (how Redis sends pub/sub messages to RESP2 clients). */
  | { readonly kind: 'push'; readonly items: readonly Reply[] }
  /** Bytes already encoded in the client's protocol, e.g. a reply relayed from another node. */
  | { readonly kind: 'raw'; readonly bytes: Buffer };

export type ProtocolVersion = 2 | 3;

// Constructors. Prefer these (and the catalog in replies.ts) over object literals.
const OK: Reply = { kind: 'simple', value: 'OK' };
const NULL_BULK: Reply = { kind: 'bulk', value: null };
const NULL_ARRAY: Reply = { kind: 'array', items: null };
const NULL: Reply = { kind: 'null' };
export const ok = (): Reply => OK;
export const simple = (value: string): Reply => ({ kind: 'simple', value });
export const errorReply = (message: string): Reply => ({ kind: 'error', message });
export const integer = (value: number | bigint): Reply => ({ kind: 'integer', value });
export const bulk = (value: Buffer | string | null): Reply => (value === null ? NULL_BULK : { kind: 'bulk', value });
export const nullBulk = (): Reply => NULL_BULK;
export const array = (items: readonly Reply[] | null): Reply => (items === null ? NULL_ARRAY : { kind: 'array', items });
export const nullArray = (): Reply => NULL_ARRAY;
export const bulkArray = (values: ReadonlyArray<Buffer | string | null>): Reply => ({ kind: 'array', items: values.map(bulk) });
export const map = (entries: ReadonlyArray<readonly [Reply, Reply]>): Reply => ({ kind: 'map', entries });
export const set = (items: readonly Reply[]): Reply => ({ kind: 'set', items });
export const double = (value: number): Reply => ({ kind: 'double', value });
export const boolean = (value: boolean): Reply => ({ kind: 'boolean', value });
export const nullReply = (): Reply => NULL;
export const verbatim = (value: Buffer | string, format = 'txt'): Reply => ({ kind: 'verbatim', format, value });
export const bignum = (value: string | bigint): Reply => ({ kind: 'bignum', value: String(value) });
export const push = (items: readonly Reply[]): Reply => ({ kind: 'push', items });

/** Formats a double as C's `printf("%.17g")`, which Redis uses for double replies. */
export function formatDouble(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  // toExponential gives the exact decimal exponent after rounding to 17 significant digits.
  const [mant, e] = d.toExponential(16).split('e') as [string, string];
  const x = Number(e);
  if (x < -4 || x >= 17) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const ax = Math.abs(x);
    return `${m}e${x < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  const fixed = d.toFixed(Math.max(0, 16 - x));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

const SLAB_BYTES = 64 * 1024;

/**
 * A byte sink for flushes. Output is written into a slab; take() hands out the written part as a
 * view and continues in the rest of the slab, so a flush costs no allocation in the common case.
 * Invariant: bytes before `start` were handed out by take() and are never written again.
 */
class Writer {
  buf: Buffer;
  start = 0;
  len = 0;
  constructor(initialBytes = SLAB_BYTES) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    const used = this.len - this.start;
    // A small one-shot writer (encodeReplies) doubles; a slab writer grows by slabs.
    let size = this.buf.length < SLAB_BYTES ? Math.max(64, this.buf.length * 2) : this.buf.length;
    while (size < used + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.len);
    this.buf = next;
    this.start = 0;
    this.len = used;
  }
  /** Writes `prefix`, a decimal integer, CRLF. */
  header(prefix: number, n: number | bigint | string): void {
    if (typeof n === 'number' && n >= 0 && n < 1e9 && Number.isInteger(n)) {
      this.ensure(12);
      const b = this.buf;
      b[this.len++] = prefix;
      if (n === 0) {
        b[this.len++] = 0x30;
      } else {
        let digits = 0;
        for (let x = n; x > 0; x = Math.floor(x / 10)) digits++;
        let at = this.len + digits - 1;
        for (let x = n; x > 0; x = Math.floor(x / 10)) b[at--] = 0x30 + (x % 10);
        this.len += digits;
      }
      b[this.len++] = 0x0d;
      b[this.len++] = 0x0a;
      return;
    }
    const s = typeof n === 'string' ? n : String(n);
    this.ensure(s.length + 3);
    this.buf[this.len++] = prefix;
    this.len += this.buf.write(s, this.len, 'latin1');
    this.buf[this.len++] = 0x0d;
    this.buf[this.len++] = 0x0a;
  }
  bytes(value: Buffer | string): void {
    if (typeof value === 'string') {
      const n = Buffer.byteLength(value);
      this.ensure(n + 2);
      this.len += this.buf.write(value, this.len, 'utf8');
    } else {
      this.ensure(value.length + 2);
      value.copy(this.buf, this.len);
      this.len += value.length;
    }
    this.buf[this.len++] = 0x0d;
    this.buf[this.len++] = 0x0a;
  }
  raw(s: string): void {
    this.ensure(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }
  /** Bytes written since the last take(). */
  get pending(): number {
    return this.len - this.start;
  }
  /** Hands out the bytes written, for a writer used once (no fresh slab is allocated after). */
  takeOnce(): Buffer {
    return this.buf.subarray(this.start, this.len);
  }
  /** Hands out the bytes written since the last take(). */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.len);
    if (this.buf.length - this.len < 1024) {
      this.buf = Buffer.allocUnsafe(SLAB_BYTES);
      this.len = 0;
    }
    this.start = this.len;
    return out;
  }
}

const P = {
  simple: 0x2b, error: 0x2d, integer: 0x3a, bulk: 0x24, array: 0x2a, map: 0x25, set: 0x7e,
  double: 0x2c, boolean: 0x23, verbatim: 0x3d, bignum: 0x28, push: 0x3e,
} as const;

/** Replaces CR and LF with spaces, as Redis does for simple strings and errors. */
function oneLine(s: string): string {
  return s.includes('\r') || s.includes('\n') ? s.replace(/[\r\n]/g, ' ') : s;
}

function writeReply(w: Writer, r: Reply, proto: ProtocolVersion): void {
  switch (r.kind) {
    case 'simple':
      w.ensure(1); w.buf[w.len++] = P.simple; w.bytes(oneLine(r.value)); return;
    case 'error':
      w.ensure(1); w.buf[w.len++] = P.error; w.bytes(oneLine(r.message)); return;
    case 'integer':
      w.header(P.integer, r.value); return;
    case 'bulk':
      if (r.value === null) { w.raw(proto === 3 ? '_\r\n' : '$-1\r\n'); return; }
      w.header(P.bulk, typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length);
      w.bytes(r.value);
      return;
    case 'array':
      if (r.items === null) { w.raw(proto === 3 ? '_\r\n' : '*-1\r\n'); return; }
      w.header(P.array, r.items.length);
      for (const item of r.items) writeReply(w, item, proto);
      return;
    case 'map':
      if (proto === 3) w.header(P.map, r.entries.length);
      else w.header(P.array, r.entries.length * 2);
      for (const [k, v] of r.entries) { writeReply(w, k, proto); writeReply(w, v, proto); }
      return;
    case 'set':
    case 'push':
      w.header(proto === 3 ? P[r.kind] : P.array, r.items.length);
      for (const item of r.items) writeReply(w, item, proto);
      return;
    case 'double': {
      const s = formatDouble(r.value);
      if (proto === 3) w.header(P.double, s);
      else { w.header(P.bulk, s.length); w.bytes(s); }
      return;
    }
    case 'boolean':
      w.raw(proto === 3 ? (r.value ? '#t\r\n' : '#f\r\n') : (r.value ? ':1\r\n' : ':0\r\n'));
      return;
    case 'null':
      w.raw(proto === 3 ? '_\r\n' : '$-1\r\n'); return;
    case 'verbatim': {
      const body = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      if (proto === 3) {
        w.header(P.verbatim, body.length + 4);
        w.raw(`${r.format.padEnd(3, ' ').slice(0, 3)}:`);
      } else {
        w.header(P.bulk, body.length);
      }
      w.bytes(body);
      return;
    }
    case 'bignum':
      if (proto === 3) w.header(P.bignum, r.value);
      else { w.header(P.bulk, r.value.length); w.bytes(r.value); }
      return;
    case 'raw':
      w.ensure(r.bytes.length);
      r.bytes.copy(w.buf, w.len);
      w.len += r.bytes.length;
      return;
  }
}

/**
 * Accumulates encoded replies, each in its own protocol version, and hands them out as one
 * Buffer per flush (one socket write).
 */
export class ReplyBuffer {
  private writer = new Writer();
  /** Number of bytes encoded since the last take(). */
  get byteLength(): number {
    return this.writer.pending;
  }
  add(reply: Reply, proto: ProtocolVersion): void {
    writeReply(this.writer, reply, proto);
  }
  /** Returns the bytes encoded so far and starts a fresh buffer. */
  take(): Buffer {
    return this.writer.take();
  }
}

/** Encodes replies for one flush into a single Buffer. */
export function encodeReplies(replies: readonly Reply[], proto: ProtocolVersion): Buffer {
  const w = new Writer(replies.length * 32 + 64);
  for (const r of replies) writeReply(w, r, proto);
  return w.takeOnce();
}

/** One byte `status`, then the encoding of `reply`, in one Buffer (a forwarded request's answer). */
export function encodeReplyAfterByte(status: number, reply: Reply, proto: ProtocolVersion): Buffer {
  const w = new Writer(256);
  w.buf[w.len++] = status;
  writeReply(w, reply, proto);
  return w.takeOnce();
}

/** Encodes one reply. */
export function encodeReply(reply: Reply, proto: ProtocolVersion = 2): Buffer {
  return encodeReplies([reply], proto);
}
