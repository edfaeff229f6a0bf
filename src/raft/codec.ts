/**
 * The binary codec for Raft messages and conf changes. Pure: Uint8Array and
 * DataView only, so the core, the simulator and the TCP transport share it.
 *
 * Format (version 1), all integers unsigned LEB128 varints unless noted:
 *
 *   message   := u8 type, u8 flags, groupId, from, to, term, logTerm, index,
 *                commit, rejectHint, [context], [entries], [snapshot]
 *   flags     := bit0 reject, bit1 snapshot present, bit2 entries present,
 *                bit3 context present; other bits must be zero
 *   context   := len, bytes
 *   entries   := count, count * (term, index, u8 type, len, bytes)
 *   snapshot  := index, term, nVoters, voters*, nLearners, learners*, len, data
 *   single    := u8 version, message                  (encodeMessage)
 *   batch     := u8 version, count, count * message   (encodeMessages)
 *   confChange:= u8 type, nodeId, len, context
 *
 * Decoding never trusts a length or a count: each is checked against the
 * bytes that remain before anything is allocated, so a forged length costs
 * nothing. Every malformed input raises `CodecError`; nothing else is thrown.
 * Decoded byte fields never alias the input: each message's bytes are copied
 * once, as one block, and its byte fields are views of that block. So the
 * caller may reuse the input, and a decoded message pins only its own bytes,
 * never the rest of a large batch. (One copy per message instead of one per
 * field: allocating many small typed arrays costs more than the copy.)
 */
import {
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type Entry,
  type Message,
  type Snapshot,
} from './types.js';

export const CODEC_VERSION = 1;

export type CodecErrorCode =
  /** The input ended in the middle of a field. */
  | 'truncated'
  /** A varint is longer than 8 bytes or exceeds Number.MAX_SAFE_INTEGER. */
  | 'varintOverflow'
  /** Unknown message type, entry type, conf-change type or flag bit. */
  | 'badEnum'
  /** The leading version byte is not CODEC_VERSION. */
  | 'badVersion'
  /** Bytes remain after the last field. */
  | 'trailingBytes'
  /** A length or count is larger than the bytes that remain. */
  | 'badLength'
  /** (encode only) a field is not a non-negative safe integer, or not bytes. */
  | 'invalidValue';

/** Raised for any malformed input to a decode function (and invalid input to encode). */
export class CodecError extends Error {
  readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string) {
    super(`codec: ${code}: ${message}`);
    this.name = 'CodecError';
    this.code = code;
  }
}

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const FLAG_ENTRIES = 4;
const FLAG_CONTEXT = 8;
const FLAGS_KNOWN = FLAG_REJECT | FLAG_SNAPSHOT | FLAG_ENTRIES | FLAG_CONTEXT;

/** Smallest encoded message: type, flags and eight one-byte varints. */
const MESSAGE_BYTES_MIN = 10;
/** Smallest encoded entry: term, index, type, length. */
const ENTRY_BYTES_MIN = 4;

const MESSAGE_TYPE_MIN = MessageType.App;
const MESSAGE_TYPE_MAX = MessageType.TransferLeader;

// ---------------------------------------------------------------------------
// Writer

class Writer {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private grow(need: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.pos + need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number, field: string): void {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new CodecError('invalidValue', `${field} must be a non-negative safe integer, got ${String(v)}`);
    }
    if (this.pos + 8 > this.buf.length) this.grow(8);
    const buf = this.buf;
    let pos = this.pos;
    if (v < 0x80000000) {
      while (v >= 0x80) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v >= 0x80) {
        buf[pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  bytes(b: Uint8Array, field: string): void {
    if (!(b instanceof Uint8Array)) throw new CodecError('invalidValue', `${field} must be a Uint8Array`);
    this.varint(b.length, field);
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

// ---------------------------------------------------------------------------
// Reader

class Reader {
  pos = 0;

  constructor(readonly buf: Uint8Array) {}

  remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(field: string): number {
    if (this.pos >= this.buf.length) throw new CodecError('truncated', `${field} at offset ${this.pos}`);
    return this.buf[this.pos++];
  }

  varint(field: string): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    // At most 8 bytes (56 bits) carry a safe integer; more is malformed.
    for (let i = 0; i < 8; i++) {
      if (this.pos >= buf.length) throw new CodecError('truncated', `${field} at offset ${this.pos}`);
      const b = buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) throw new CodecError('varintOverflow', `${field} exceeds 2^53-1`);
        return result;
      }
      mul *= 0x80;
    }
    throw new CodecError('varintOverflow', `${field} is longer than 8 bytes`);
  }

  /** A length or count, checked against the remaining bytes (each item needs at least `unitBytes`). */
  count(field: string, unitBytes: number): number {
    const n = this.varint(field);
    if (n * unitBytes > this.remaining()) {
      throw new CodecError('badLength', `${field} ${n} exceeds the ${this.remaining()} bytes left`);
    }
    return n;
  }

  /** A view of the input; `readMessage` rebases it onto the message's own copy. */
  bytes(field: string): Uint8Array {
    const n = this.count(field, 1);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

// ---------------------------------------------------------------------------
// Messages

function writeMessage(w: Writer, m: Message): void {
  if (!Number.isInteger(m.type) || m.type < MESSAGE_TYPE_MIN || m.type > MESSAGE_TYPE_MAX) {
    throw new CodecError('invalidValue', `message type ${String(m.type)}`);
  }
  const hasEntries = m.entries.length > 0;
  const hasContext = m.context.length > 0;
  const flags =
    (m.reject ? FLAG_REJECT : 0) |
    (m.snapshot !== null ? FLAG_SNAPSHOT : 0) |
    (hasEntries ? FLAG_ENTRIES : 0) |
    (hasContext ? FLAG_CONTEXT : 0);
  w.u8(m.type);
  w.u8(flags);
  w.varint(m.groupId, 'groupId');
  w.varint(m.from, 'from');
  w.varint(m.to, 'to');
  w.varint(m.term, 'term');
  w.varint(m.logTerm, 'logTerm');
  w.varint(m.index, 'index');
  w.varint(m.commit, 'commit');
  w.varint(m.rejectHint, 'rejectHint');
  if (hasContext) w.bytes(m.context, 'context');
  if (hasEntries) {
    w.varint(m.entries.length, 'entries.length');
    for (const e of m.entries) writeEntry(w, e);
  }
  if (m.snapshot !== null) writeSnapshot(w, m.snapshot);
}

function writeEntry(w: Writer, e: Entry): void {
  if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) {
    throw new CodecError('invalidValue', `entry type ${String(e.type)}`);
  }
  w.varint(e.term, 'entry.term');
  w.varint(e.index, 'entry.index');
  w.u8(e.type);
  w.bytes(e.data, 'entry.data');
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.varint(s.meta.index, 'snapshot.index');
  w.varint(s.meta.term, 'snapshot.term');
  w.varint(s.meta.confState.voters.length, 'voters.length');
  for (const v of s.meta.confState.voters) w.varint(v, 'voter');
  w.varint(s.meta.confState.learners.length, 'learners.length');
  for (const l of s.meta.confState.learners) w.varint(l, 'learner');
  w.bytes(s.data, 'snapshot.data');
}

/** Reads one message and moves its byte fields off the input onto one private copy. */
function readMessage(r: Reader): Message {
  const start = r.pos;
  const m = readMessageViews(r);
  let bytes = m.context.length;
  for (const e of m.entries) bytes += e.data.length;
  if (m.snapshot !== null) bytes += m.snapshot.data.length;
  if (bytes === 0) {
    // Empty views still reference the input's buffer; give them their own.
    if (m.entries.length > 0 || m.snapshot !== null) rebase(m, new Uint8Array(0), 0);
    return m;
  }
  const block = r.buf.slice(start, r.pos);
  rebase(m, block, r.buf.byteOffset + start);
  return m;
}

function rebase(m: Message, block: Uint8Array, baseOffset: number): void {
  const move = (v: Uint8Array): Uint8Array =>
    v.length === 0 ? new Uint8Array(0) : block.subarray(v.byteOffset - baseOffset, v.byteOffset - baseOffset + v.length);
  m.context = move(m.context);
  for (const e of m.entries) e.data = move(e.data);
  if (m.snapshot !== null) m.snapshot.data = move(m.snapshot.data);
}

function readMessageViews(r: Reader): Message {
  const type = r.u8('type');
  if (type < MESSAGE_TYPE_MIN || type > MESSAGE_TYPE_MAX) throw new CodecError('badEnum', `message type ${type}`);
  const flags = r.u8('flags');
  if ((flags & ~FLAGS_KNOWN) !== 0) throw new CodecError('badEnum', `flags 0x${flags.toString(16)}`);
  const groupId = r.varint('groupId');
  const from = r.varint('from');
  const to = r.varint('to');
  const term = r.varint('term');
  const logTerm = r.varint('logTerm');
  const index = r.varint('index');
  const commit = r.varint('commit');
  const rejectHint = r.varint('rejectHint');
  const context = (flags & FLAG_CONTEXT) !== 0 ? r.bytes('context') : new Uint8Array(0);
  const entries: Entry[] = [];
  if ((flags & FLAG_ENTRIES) !== 0) {
    const n = r.count('entries.length', ENTRY_BYTES_MIN);
    for (let i = 0; i < n; i++) entries.push(readEntry(r));
  }
  const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshot(r) : null;
  return {
    type: type as MessageType,
    groupId,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    context,
    snapshot,
  };
}

function readEntry(r: Reader): Entry {
  const term = r.varint('entry.term');
  const index = r.varint('entry.index');
  const type = r.u8('entry.type');
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new CodecError('badEnum', `entry type ${type}`);
  const data = r.bytes('entry.data');
  return { term, index, type: type as EntryType, data };
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.varint('snapshot.index');
  const term = r.varint('snapshot.term');
  const nVoters = r.count('voters.length', 1);
  const voters: number[] = [];
  for (let i = 0; i < nVoters; i++) voters.push(r.varint('voter'));
  const nLearners = r.count('learners.length', 1);
  const learners: number[] = [];
  for (let i = 0; i < nLearners; i++) learners.push(r.varint('learner'));
  const data = r.bytes('snapshot.data');
  return { meta: { index, term, confState: { voters, learners } }, data };
}

/** A rough size guess so the writer rarely grows. */
function estimate(m: Message): number {
  let n = 64 + m.context.length;
  for (const e of m.entries) n += 16 + e.data.length;
  if (m.snapshot !== null) {
    n += 32 + m.snapshot.data.length + 8 * (m.snapshot.meta.confState.voters.length + m.snapshot.meta.confState.learners.length);
  }
  return n;
}

function checkVersion(r: Reader): void {
  const v = r.u8('version');
  if (v !== CODEC_VERSION) throw new CodecError('badVersion', `version ${v}, expected ${CODEC_VERSION}`);
}

function checkEnd(r: Reader): void {
  if (r.remaining() !== 0) throw new CodecError('trailingBytes', `${r.remaining()} bytes after the last field`);
}

/** Encodes one message (with a version byte). Throws CodecError('invalidValue') on a malformed message. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(1 + estimate(m));
  w.u8(CODEC_VERSION);
  writeMessage(w, m);
  return w.finish();
}

/** Decodes the output of `encodeMessage`. Throws CodecError on any malformed input. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  checkVersion(r);
  const m = readMessage(r);
  checkEnd(r);
  return m;
}

/** Encodes a batch of messages (of any groups) into one buffer. */
export function encodeMessages(ms: readonly Message[]): Uint8Array {
  let size = 8;
  for (const m of ms) size += estimate(m);
  const w = new Writer(size);
  w.u8(CODEC_VERSION);
  w.varint(ms.length, 'messages.length');
  for (const m of ms) writeMessage(w, m);
  return w.finish();
}

/** Decodes the output of `encodeMessages`. Throws CodecError on any malformed input. */
export function decodeMessages(bytes: Uint8Array): Message[] {
  const r = new Reader(bytes);
  checkVersion(r);
  const n = r.count('messages.length', MESSAGE_BYTES_MIN);
  const out: Message[] = [];
  for (let i = 0; i < n; i++) out.push(readMessage(r));
  checkEnd(r);
  return out;
}

// ---------------------------------------------------------------------------
// Conf changes (the `data` of an EntryType.ConfChange entry)

/** Encodes a ConfChange as the data of a ConfChange entry. */
export function encodeConfChange(c: ConfChange): Uint8Array {
  if (c.type !== ConfChangeType.AddVoter && c.type !== ConfChangeType.RemoveNode && c.type !== ConfChangeType.AddLearner) {
    throw new CodecError('invalidValue', `conf change type ${String(c.type)}`);
  }
  const w = new Writer(16 + c.context.length);
  w.u8(c.type);
  w.varint(c.nodeId, 'nodeId');
  w.bytes(c.context, 'context');
  return w.finish();
}

/** Decodes the data of a ConfChange entry. Throws CodecError on any malformed input. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  const r = new Reader(bytes);
  const type = r.u8('type');
  if (type !== ConfChangeType.AddVoter && type !== ConfChangeType.RemoveNode && type !== ConfChangeType.AddLearner) {
    throw new CodecError('badEnum', `conf change type ${type}`);
  }
  const nodeId = r.varint('nodeId');
  const context = r.bytes('context').slice();
  checkEnd(r);
  return { type: type as ConfChangeType, nodeId, context };
}
