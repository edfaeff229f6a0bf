/**
 * The record format of the segmented log. A record is
 *   magic u32 | crc32 u32 | length u32 | payload (length bytes)
 * with the CRC-32 (zlib.crc32) covering the length field and the payload, little
 * endian throughout. The payload starts with its kind:
 * - KIND_BATCH: the LogUpdates of one write() call, so a write is all-or-nothing;
 * - KIND_STATE: a checkpoint opening every segment: per group its hard state,
 *   snapshot meta, compaction point and last index, so that older segments can be
 *   deleted once none of their entries is live.
 * Integers are 48-bit (indices, terms, node ids) or 32-bit (counts, lengths).
 */
import { crc32 } from 'node:zlib';
import type { HardState, SnapshotMeta } from '../raft/types.js';
import type { LogUpdate } from './types.js';

export const RECORD_MAGIC = 0x474c4652; // "RFLG" read as little endian
export const RECORD_HEADER_BYTES = 12;
export const KIND_BATCH = 1;
export const KIND_STATE = 2;

const F_HARD_STATE = 1;
const F_SNAPSHOT = 2;
const F_ENTRIES = 4;
const F_COMPACT = 8;

/** Where an entry's data lies inside a segment file. */
export interface EntryLocation {
  term: number;
  type: number;
  segment: number;
  offset: number;
  length: number;
}

/** A decoded batch update: entries are locations, not bytes. */
export interface DecodedUpdate {
  groupId: number;
  hardState?: HardState;
  snapshot?: SnapshotMeta;
  firstIndex: number;
  entries: EntryLocation[];
  compactTo?: number;
  /** Term of the entry at compactTo, as known when written. */
  compactTerm: number;
  /** Whether installing `snapshot` kept the entries after it, as decided when written. */
  snapshotKeep: boolean;
}

/** Facts about a group's log at write time that replay cannot always rediscover. */
export interface WriteFacts {
  snapshotKeep: boolean;
  compactTerm: number;
}

export interface GroupCheckpoint {
  groupId: number;
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  compactIndex: number;
  compactTerm: number;
  lastIndex: number;
}

function snapshotBytes(s: SnapshotMeta): number {
  return 12 + 8 + 6 * (s.confState.voters.length + s.confState.learners.length);
}

class Writer {
  pos: number;
  constructor(readonly buf: Buffer, start: number) {
    this.pos = start;
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }
  u48(v: number): void {
    this.buf.writeUIntLE(v, this.pos, 6);
    this.pos += 6;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  hardState(h: HardState): void {
    this.u48(h.term);
    this.u48(h.vote);
    this.u48(h.commit);
  }
  snapshot(s: SnapshotMeta): void {
    this.u48(s.index);
    this.u48(s.term);
    this.u32(s.confState.voters.length);
    for (const v of s.confState.voters) this.u48(v);
    this.u32(s.confState.learners.length);
    for (const v of s.confState.learners) this.u48(v);
  }
}

function seal(buf: Buffer, start: number, end: number): void {
  buf.writeUInt32LE(RECORD_MAGIC, start);
  buf.writeUInt32LE(end - start - RECORD_HEADER_BYTES, start + 8);
  buf.writeUInt32LE(crc32(buf.subarray(start + 8, end)), start + 4);
}

/** Encodes the updates of one write() as one record. */
export function encodeBatch(updates: LogUpdate[], facts: (u: LogUpdate) => WriteFacts): Buffer {
  let size = RECORD_HEADER_BYTES + 1 + 4;
  for (const u of updates) {
    size += 5;
    if (u.hardState) size += 18;
    if (u.snapshot) size += 1 + snapshotBytes(u.snapshot);
    if (u.entries && u.entries.length > 0) {
      size += 10;
      for (const e of u.entries) size += 11 + e.data.length;
    }
    if (u.compactTo !== undefined) size += 12;
  }
  const buf = Buffer.allocUnsafe(size);
  const w = new Writer(buf, RECORD_HEADER_BYTES);
  w.u8(KIND_BATCH);
  w.u32(updates.length);
  for (const u of updates) {
    const hasEntries = u.entries !== undefined && u.entries.length > 0;
    const known = facts(u);
    w.u32(u.groupId);
    w.u8((u.hardState ? F_HARD_STATE : 0) | (u.snapshot ? F_SNAPSHOT : 0) |
      (hasEntries ? F_ENTRIES : 0) | (u.compactTo !== undefined ? F_COMPACT : 0));
    if (u.hardState) w.hardState(u.hardState);
    if (u.snapshot) {
      w.u8(known.snapshotKeep ? 1 : 0);
      w.snapshot(u.snapshot);
    }
    if (hasEntries) {
      const entries = u.entries!;
      w.u32(entries.length);
      w.u48(entries[0].index);
      for (const e of entries) {
        w.u48(e.term);
        w.u8(e.type);
        w.u32(e.data.length);
        w.bytes(e.data);
      }
    }
    if (u.compactTo !== undefined) {
      w.u48(u.compactTo);
      w.u48(known.compactTerm);
    }
  }
  seal(buf, 0, w.pos);
  return buf;
}

/** Encodes the checkpoint record that opens a segment. */
export function encodeState(groups: GroupCheckpoint[]): Buffer {
  let size = RECORD_HEADER_BYTES + 1 + 4;
  for (const g of groups) size += 4 + 18 + 1 + (g.snapshot ? snapshotBytes(g.snapshot) : 0) + 18;
  const buf = Buffer.allocUnsafe(size);
  const w = new Writer(buf, RECORD_HEADER_BYTES);
  w.u8(KIND_STATE);
  w.u32(groups.length);
  for (const g of groups) {
    w.u32(g.groupId);
    w.hardState(g.hardState);
    w.u8(g.snapshot ? 1 : 0);
    if (g.snapshot) w.snapshot(g.snapshot);
    w.u48(g.compactIndex);
    w.u48(g.compactTerm);
    w.u48(g.lastIndex);
  }
  seal(buf, 0, w.pos);
  return buf;
}

export type FrameCheck =
  | { kind: 'ok'; payloadStart: number; end: number }
  | { kind: 'bad'; reason: string };

/** Checks the record framing at `pos` (magic, length, CRC) without decoding it. */
export function checkFrame(buf: Buffer, pos: number): FrameCheck {
  if (buf.length - pos < RECORD_HEADER_BYTES) return { kind: 'bad', reason: 'incomplete record header' };
  if (buf.readUInt32LE(pos) !== RECORD_MAGIC) return { kind: 'bad', reason: 'bad record magic' };
  const length = buf.readUInt32LE(pos + 8);
  const end = pos + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'bad', reason: `record length ${length} runs past the end of the file` };
  if (crc32(buf.subarray(pos + 8, end)) !== buf.readUInt32LE(pos + 4)) return { kind: 'bad', reason: 'checksum mismatch' };
  return { kind: 'ok', payloadStart: pos + RECORD_HEADER_BYTES, end };
}

/** True when some well-formed record starts after `pos` (then the damage at `pos` is not a torn tail). */
export function validRecordAfter(buf: Buffer, pos: number): boolean {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(RECORD_MAGIC);
  for (let at = buf.indexOf(magic, pos + 1); at >= 0; at = buf.indexOf(magic, at + 1)) {
    if (checkFrame(buf, at).kind === 'ok') return true;
  }
  return false;
}

class Reader {
  constructor(readonly buf: Buffer, public pos: number, readonly end: number) {}
  need(n: number): void {
    if (this.pos + n > this.end) throw new Error('record payload too short');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntLE(this.pos, 6);
    this.pos += 6;
    return v;
  }
  hardState(): HardState {
    return { term: this.u48(), vote: this.u48(), commit: this.u48() };
  }
  snapshot(): SnapshotMeta {
    const index = this.u48();
    const term = this.u48();
    const voters: number[] = [];
    for (let n = this.u32(); n > 0; n--) voters.push(this.u48());
    const learners: number[] = [];
    for (let n = this.u32(); n > 0; n--) learners.push(this.u48());
    return { index, term, confState: { voters, learners } };
  }
}

export type DecodedRecord =
  | { kind: typeof KIND_BATCH; updates: DecodedUpdate[] }
  | { kind: typeof KIND_STATE; groups: GroupCheckpoint[] };

/** Decodes a record whose frame checked ok; entry offsets are absolute within `buf`'s file. */
export function decodeRecord(buf: Buffer, payloadStart: number, end: number, segment: number, fileOffset = 0): DecodedRecord {
  const r = new Reader(buf, payloadStart, end);
  const kind = r.u8();
  if (kind === KIND_BATCH) {
    const updates: DecodedUpdate[] = [];
    for (let n = r.u32(); n > 0; n--) {
      const groupId = r.u32();
      const flags = r.u8();
      const u: DecodedUpdate = { groupId, firstIndex: 0, entries: [], compactTerm: 0, snapshotKeep: false };
      if (flags & F_HARD_STATE) u.hardState = r.hardState();
      if (flags & F_SNAPSHOT) {
        u.snapshotKeep = r.u8() === 1;
        u.snapshot = r.snapshot();
      }
      if (flags & F_ENTRIES) {
        let count = r.u32();
        u.firstIndex = r.u48();
        for (; count > 0; count--) {
          const term = r.u48();
          const type = r.u8();
          const length = r.u32();
          r.need(length);
          u.entries.push({ term, type, segment, offset: fileOffset + r.pos, length });
          r.pos += length;
        }
      }
      if (flags & F_COMPACT) {
        u.compactTo = r.u48();
        u.compactTerm = r.u48();
      }
      updates.push(u);
    }
    if (r.pos !== end) throw new Error('record payload has trailing bytes');
    return { kind: KIND_BATCH, updates };
  }
  if (kind === KIND_STATE) {
    const groups: GroupCheckpoint[] = [];
    for (let n = r.u32(); n > 0; n--) {
      const groupId = r.u32();
      const hardState = r.hardState();
      const snapshot = r.u8() === 1 ? r.snapshot() : null;
      groups.push({ groupId, hardState, snapshot, compactIndex: r.u48(), compactTerm: r.u48(), lastIndex: r.u48() });
    }
    if (r.pos !== end) throw new Error('record payload has trailing bytes');
    return { kind: KIND_STATE, groups };
  }
  throw new Error(`unknown record kind ${kind}`);
}
