/**
 * Incremental request decoder: RESP multibulk requests and inline commands, fed socket chunks,
 * with Redis 7.0's limits and exact protocol error texts (networking.c processMultibulkBuffer and
 * processInlineBuffer). The request direction is parsed by hand because redis-parser accepts input
 * Redis rejects and reports different errors; see docs/decisions.md ("RESP request parsing").
 * `createRedisParserDecoder` keeps the redis-parser path for comparison and benchmarks.
 *
 * Arguments are zero-copy views into the received chunks: they stay valid (chunks are never
 * reused), but a handler that keeps an argument for long should copy it to release the chunk.
 */
import RedisParser from 'redis-parser';

/** Redis PROTO_INLINE_MAX_SIZE: the longest inline request or count line. */
export const PROTO_INLINE_MAX_SIZE = 64 * 1024;

export interface DecoderLimits {
  /** proto-max-bulk-len: the largest bulk argument (Redis default 512 MiB). */
  protoMaxBulkLen: number;
  /** client-query-buffer-limit: most bytes buffered for one client before it is closed (1 GiB). */
  queryBufferLimitBytes: number;
  /**
   * True while the client must still authenticate: its requests are then capped as Redis caps
   * them (at most 10 arguments, bulks of at most 16384 bytes; networking.c). Absent: never.
   */
  authRequired?: () => boolean;
}

/** Redis's caps on a request from a client that must still authenticate. */
export const UNAUTHENTICATED_MULTIBULK_MAX = 10;
export const UNAUTHENTICATED_BULK_MAX = 16384;

export const DEFAULT_DECODER_LIMITS: DecoderLimits = {
  protoMaxBulkLen: 512 * 1024 * 1024,
  queryBufferLimitBytes: 1024 * 1024 * 1024,
};

/**
 * Why decoding stopped. `protocol`: reply `-ERR Protocol error: <message>` then close.
 * `queryBufferLimit`: close without a reply, as Redis does.
 */
export type DecodeError =
  | { readonly kind: 'protocol'; readonly message: string }
  | { readonly kind: 'queryBufferLimit'; readonly bufferedBytes: number };

export interface RequestDecoder {
  /**
   * Consumes one chunk, calling `onCommand` for each complete request (never with zero args).
   * When `onCommand` returns false the decoder stops and keeps the rest of its input; feeding an
   * empty chunk later resumes from there. Returns the error that ends the stream; after an error
   * the decoder ignores further input.
   */
  feed(chunk: Buffer, onCommand: (args: Buffer[]) => boolean | void): DecodeError | null;
  /** Bytes received but not yet part of a completed command. */
  bufferedBytes(): number;
}

const EMPTY = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const MULTIBULK = 1;
const INLINE = 2;

/**
 * Redis's string2ll for a count line: strict decimal, optional `-`, no `+`, no leading zeros,
 * within int64. Returns NaN when Redis would reject the text.
 */
export function parseStrictInteger(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len > 20) return NaN;
  let i = start;
  let negative = false;
  if (len === 1 && buf[i] === 0x30) return 0;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
    if (i === end) return NaN;
  }
  const first = buf[i]! - 0x30;
  if (first < 1 || first > 9) return NaN;
  let value = first;
  for (i++; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  if (end - start >= 19) {
    // Past 2^53 the float is approximate; check the exact int64 bound with BigInt.
    const exact = BigInt(buf.toString('latin1', start, end));
    if (exact > 9223372036854775807n || exact < -9223372036854775808n) return NaN;
  }
  return negative ? -value : value;
}

/** Index of the next CR from `from`, or -1. Count lines are short: scan a few bytes before a native search. */
function findCR(buf: Buffer, from: number): number {
  const end = Math.min(buf.length, from + 16);
  for (let i = from; i < end; i++) if (buf[i] === CR) return i;
  return end === buf.length ? -1 : buf.indexOf(CR, end);
}

// Results of fastCount (module-level to avoid allocating a result object per line).
let fastValue = 0;
let fastEnd = 0;

/**
 * Parses `<prefix><digits>\r<any>` at `pos` when it is a canonical non-negative count of at most
 * 9 digits with the byte after CR present; returns the value (also in fastValue, CR index in
 * fastEnd), or -1 so that the caller takes the exact slow path (errors, partial input, signs).
 */
function fastCount(buf: Buffer, pos: number): number {
  const len = buf.length;
  let i = pos + 1;
  if (i >= len) return -1;
  let c = buf[i]!;
  if (c === 0x30) {
    if (i + 2 < len && buf[i + 1] === CR) { fastValue = 0; fastEnd = i + 1; return 0; }
    return -1;
  }
  if (c < 0x31 || c > 0x39) return -1;
  let value = c - 0x30;
  const stop = Math.min(len, i + 10);
  for (i++; i < stop; i++) {
    c = buf[i]!;
    if (c === CR) {
      if (i + 1 >= len) return -1;
      fastValue = value;
      fastEnd = i;
      return value;
    }
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + (c - 0x30);
  }
  return -1;
}

/** The bytes that end a token outside quotes in sdssplitargs. */
function isSplitSpace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09 || c === 0x0b || c === 0x0c;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Port of Redis's sdssplitargs: splits an inline request on whitespace with `"..."` (escapes
 * `\xHH \n \r \t \b \a`) and `'...'` (escape `\'`) quoting. Returns null on unbalanced quotes, or
 * when a closing quote is not followed by whitespace. Like the C code, a NUL byte ends the line.
 */
export function splitInlineArgs(line: Buffer): Buffer[] | null {
  const nul = line.indexOf(0);
  const end = nul === -1 ? line.length : nul;
  const args: Buffer[] = [];
  let p = 0;
  const at = (i: number): number => (i < end ? line[i]! : 0);
  for (;;) {
    while (p < end && isSplitSpace(line[p]!)) p++;
    if (p >= end) return args;
    let inDouble = false;
    let inSingle = false;
    const current: number[] = [];
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && p + 1 < end) {
          p++;
          const e = line[p]!;
          current.push(e === 0x6e ? LF : e === 0x72 ? CR : e === 0x74 ? 0x09 : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e);
        } else if (c === 0x22) {
          if (p + 1 < end && !isSplitSpace(line[p + 1]!)) return null;
          done = true;
        } else if (p >= end) {
          return null;
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          current.push(0x27);
        } else if (c === 0x27) {
          if (p + 1 < end && !isSplitSpace(line[p + 1]!)) return null;
          done = true;
        } else if (p >= end) {
          return null;
        } else {
          current.push(c);
        }
      } else if (p >= end || c === 0x20 || c === LF || c === CR || c === 0x09) {
        done = true;
      } else if (c === 0x22) {
        inDouble = true;
      } else if (c === 0x27) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (p < end) p++;
    }
    args.push(Buffer.from(current));
  }
}

/** The hand-written Redis-exact decoder (the production path). */
export function createRequestDecoder(limits: DecoderLimits = DEFAULT_DECODER_LIMITS): RequestDecoder {
  let buf: Buffer = EMPTY;
  let pos = 0;
  /** Chunks received while waiting for more bytes, not yet merged into `buf`. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Bytes of (buf from pos + pending) needed before parsing can progress; 0 = a delimiter is awaited. */
  let needBytes = 0;
  /** The delimiter awaited when needBytes is 0 (CR for count lines, LF for inline). */
  let awaitByte = -1;
  let failed: DecodeError | null = null;

  let reqType = 0;
  let multibulkLen = 0;
  let bulkLen = -1;
  let args: Buffer[] = [];
  /** Bytes of arguments of the current partial multibulk command (they count toward the query buffer). */
  let partialArgBytes = 0;

  const fail = (e: DecodeError): DecodeError => {
    failed = e;
    buf = EMPTY; pos = 0; pending = []; pendingBytes = 0; args = [];
    return e;
  };
  const protocol = (message: string): DecodeError => fail({ kind: 'protocol', message });

  const resetCommand = (): void => {
    reqType = 0; multibulkLen = 0; bulkLen = -1; args = []; partialArgBytes = 0;
  };

  /** Parses as much of buf[pos..] as possible. Returns an error, or null when more input is needed. */
  const parse = (onCommand: (args: Buffer[]) => boolean | void): DecodeError | null => {
    for (;;) {
      if (reqType === 0) {
        // Fast path for whole, well-formed multibulk commands: no decoder state is touched until
        // the command is complete; anything unusual falls through to the exact general path.
        const b = buf;
        const len = b.length;
        let p = pos;
        while (p < len && b[p] === STAR && fastCount(b, p) > 0) {
          const argc = fastValue;
          // Requests over the unauthenticated caps take the general path, which refuses them.
          if (argc > UNAUTHENTICATED_MULTIBULK_MAX && limits.authRequired?.()) break;
          let q = fastEnd + 2;
          const argv: Buffer[] = new Array<Buffer>(argc);
          let n = 0;
          for (; n < argc; n++) {
            if (q >= len || b[q] !== DOLLAR || fastCount(b, q) < 0) break;
            const argLen = fastValue;
            const start = fastEnd + 2;
            if (argLen > limits.protoMaxBulkLen || start + argLen + 2 > len) break;
            if (argLen > UNAUTHENTICATED_BULK_MAX && limits.authRequired?.()) break;
            argv[n] = b.subarray(start, start + argLen);
            q = start + argLen + 2;
          }
          if (n < argc) break;
          p = q;
          if (onCommand(argv) === false) {
            pos = p;
            return stopped();
          }
        }
        pos = p;
      }
      const avail = buf.length - pos;
      if (avail === 0) { needBytes = 0; awaitByte = -1; return null; }
      if (reqType === 0) reqType = buf[pos] === STAR ? MULTIBULK : INLINE;

      if (reqType === INLINE) {
        const nl = buf.indexOf(LF, pos);
        if (nl === -1) {
          if (avail > PROTO_INLINE_MAX_SIZE) return protocol('too big inline request');
          needBytes = 0; awaitByte = LF;
          return null;
        }
        const lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
        const split = splitInlineArgs(buf.subarray(pos, lineEnd));
        if (split === null) return protocol('unbalanced quotes in request');
        pos = nl + 1;
        resetCommand();
        if (split.length > 0 && onCommand(split) === false) return stopped();
        continue;
      }

      if (multibulkLen === 0 && (fastCount(buf, pos) > 0)) {
        // Fast path: a well-formed positive count (the common case), parsed in one pass.
        multibulkLen = fastValue;
        pos = fastEnd + 2;
        args = [];
        if (multibulkLen > UNAUTHENTICATED_MULTIBULK_MAX && limits.authRequired?.()) return protocol('unauthenticated multibulk length');
      }
      if (multibulkLen === 0) {
        const cr = findCR(buf, pos);
        if (cr === -1) {
          if (avail > PROTO_INLINE_MAX_SIZE) return protocol('too big mbulk count string');
          needBytes = 0; awaitByte = CR;
          return null;
        }
        // Redis wants the byte after CR present too (it does not check that it is LF).
        if (cr + 2 > buf.length) { needBytes = cr + 2 - pos; return null; }
        const count = parseStrictInteger(buf, pos + 1, cr);
        if (Number.isNaN(count) || count > 2147483647) return protocol('invalid multibulk length');
        pos = cr + 2;
        if (count > UNAUTHENTICATED_MULTIBULK_MAX && limits.authRequired?.()) return protocol('unauthenticated multibulk length');
        if (count <= 0) { resetCommand(); continue; }
        multibulkLen = count;
        args = [];
      }

      while (multibulkLen > 0) {
        if (bulkLen === -1 && buf[pos] === DOLLAR && fastCount(buf, pos) >= 0 && fastValue <= limits.protoMaxBulkLen) {
          bulkLen = fastValue;
          pos = fastEnd + 2;
          if (bulkLen > UNAUTHENTICATED_BULK_MAX && limits.authRequired?.()) return protocol('unauthenticated bulk length');
        }
        if (bulkLen === -1) {
          const cr = findCR(buf, pos);
          if (cr === -1) {
            if (buf.length - pos > PROTO_INLINE_MAX_SIZE) return protocol('too big bulk count string');
            needBytes = 0; awaitByte = CR;
            return null;
          }
          if (cr + 2 > buf.length) { needBytes = cr + 2 - pos; return null; }
          if (buf[pos] !== DOLLAR) {
            return protocol(`expected '$', got '${String.fromCharCode(buf[pos]!)}'`);
          }
          const len = parseStrictInteger(buf, pos + 1, cr);
          if (Number.isNaN(len) || len < 0 || len > limits.protoMaxBulkLen) return protocol('invalid bulk length');
          if (len > UNAUTHENTICATED_BULK_MAX && limits.authRequired?.()) return protocol('unauthenticated bulk length');
          pos = cr + 2;
          bulkLen = len;
        }
        // Redis skips the two bytes after the payload without checking that they are CRLF.
        if (buf.length - pos < bulkLen + 2) { needBytes = bulkLen + 2; return null; }
        args.push(buf.subarray(pos, pos + bulkLen));
        partialArgBytes += bulkLen;
        pos += bulkLen + 2;
        bulkLen = -1;
        multibulkLen--;
      }
      const command = args;
      resetCommand();
      if (onCommand(command) === false) return stopped();
    }
  };

  /** The consumer asked to stop: nothing is awaited, so the next feed parses at once. */
  const stopped = (): null => {
    needBytes = 0;
    awaitByte = -1;
    return null;
  };

  const buffered = (): number => buf.length - pos + pendingBytes + partialArgBytes;

  return {
    bufferedBytes: buffered,
    feed(chunk, onCommand) {
      if (failed !== null) return failed;
      if (chunk.length === 0) {
        if (buf.length - pos === 0 || pendingBytes > 0) return null;
      } else if (buf.length - pos === 0 && pendingBytes === 0) {
        buf = chunk;
        pos = 0;
      } else {
        pending.push(chunk);
        pendingBytes += chunk.length;
        const total = buffered();
        if (total > limits.queryBufferLimitBytes) return fail({ kind: 'queryBufferLimit', bufferedBytes: total });
        const avail = buf.length - pos + pendingBytes;
        // Merge only when parsing can progress: enough bytes, or the awaited delimiter arrived,
        // or a line grew past the inline limit (so its error is reported). This keeps a large
        // bulk arriving in many chunks linear instead of quadratic.
        if (needBytes > 0 && avail < needBytes) return null;
        if (needBytes === 0 && awaitByte !== -1 && chunk.indexOf(awaitByte) === -1 && avail <= PROTO_INLINE_MAX_SIZE) {
          return null;
        }
        buf = Buffer.concat([buf.subarray(pos), ...pending], avail);
        pos = 0;
        pending = [];
        pendingBytes = 0;
      }
      const err = parse(onCommand);
      if (err !== null) return err;
      if (pos === buf.length) { buf = EMPTY; pos = 0; }
      const total = buffered();
      if (total > limits.queryBufferLimitBytes) return fail({ kind: 'queryBufferLimit', bufferedBytes: total });
      return null;
    },
  };
}

/**
 * A decoder on redis-parser (`returnBuffers: true`), kept to measure against the hand-written one.
 * It handles RESP arrays only (no inline commands) and reports redis-parser's own error texts.
 */
export function createRedisParserDecoder(): RequestDecoder {
  let sink: (args: Buffer[]) => void = () => {};
  let failed: DecodeError | null = null;
  const parser = new RedisParser({
    returnBuffers: true,
    returnReply: (reply: unknown) => {
      if (Array.isArray(reply) && reply.length > 0) sink(reply as Buffer[]);
    },
    returnError: (e: Error) => { failed = { kind: 'protocol', message: e.message }; },
    returnFatalError: (e: Error) => { failed = { kind: 'protocol', message: e.message }; },
  });
  return {
    bufferedBytes: () => 0,
    feed(chunk, onCommand) {
      if (failed !== null) return failed;
      sink = onCommand;
      try {
        parser.execute(chunk);
      } catch (e) {
        failed = { kind: 'protocol', message: (e as Error).message };
      }
      return failed;
    },
  };
}
