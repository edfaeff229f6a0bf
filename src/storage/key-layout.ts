/**
 * The byte layout of the state-machine store in LevelDB (documented in docs/storage.md).
 *
 *   0x00 | groupId u32be                                   -> group meta: generation u32be | applied u48be
 *   0x01 | groupId u32be | generation u32be                -> garbage marker: that generation is to be deleted
 *   0x02 | groupId u32be | generation u32be | suffix       -> data, where suffix is
 *        0x01 | key                                        -> main record (StoredValue)
 *        0x02 | keyLength u32be | key | field               -> one field of a hash (raw value)
 *        0x03 | key                                        -> tombstone of a deleted key: revision u48be
 *        0x04                                              -> tombstone floor: revision u48be
 *        0x05 | crc32(key) u32be | key                     -> scan index entry of a stored key (empty value)
 *   0x03                                                   -> flush marker (written with sync by flush())
 *
 * The generation lets a snapshot be installed atomically: its data is staged under a
 * new generation, then one batch flips the meta record to it. Fields sort right after
 * each other per key, so a hash is read or deleted with one range scan, and HSET
 * changes one field without rewriting the hash.
 */
import { crc32 } from 'node:zlib';
import type { GroupId } from '../raft/types.js';
import type { StoredValue, ValueType } from './types.js';

export const TAG_META = 0x00;
export const TAG_GARBAGE = 0x01;
export const TAG_DATA = 0x02;
export const TAG_FLUSH = 0x03;
export const KIND_MAIN = 0x01;
export const KIND_FIELD = 0x02;
export const KIND_TOMB = 0x03;
export const KIND_FLOOR = 0x04;
export const KIND_SCAN = 0x05;

export function metaKey(groupId: GroupId): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = TAG_META;
  b.writeUInt32BE(groupId, 1);
  return b;
}

export function garbageKey(groupId: GroupId, generation: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = TAG_GARBAGE;
  b.writeUInt32BE(groupId, 1);
  b.writeUInt32BE(generation, 5);
  return b;
}

export interface GroupMeta {
  generation: number;
  applied: number;
}

export function encodeMeta(meta: GroupMeta): Buffer {
  const b = Buffer.allocUnsafe(10);
  b.writeUInt32BE(meta.generation, 0);
  b.writeUIntBE(meta.applied, 4, 6);
  return b;
}

export function decodeMeta(b: Buffer): GroupMeta {
  return { generation: b.readUInt32BE(0), applied: b.readUIntBE(4, 6) };
}

/** The prefix of every data key of one generation of a group. */
export function dataPrefix(groupId: GroupId, generation: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = TAG_DATA;
  b.writeUInt32BE(groupId, 1);
  b.writeUInt32BE(generation, 5);
  return b;
}

/** The smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const b = Buffer.from(prefix);
  for (let k = b.length - 1; k >= 0; k--) {
    if (b[k] < 0xff) {
      b[k]++;
      return b.subarray(0, k + 1);
    }
  }
  throw new Error('prefixEnd: prefix of 0xff bytes only');
}

type Latin1Sliceable = Buffer & { latin1Slice(start: number, end: number): string };
/** Node's own Buffer method behind toString('latin1'), without its argument handling (a per-request cost). */
const HAS_LATIN1_SLICE = typeof (Buffer.prototype as Partial<Latin1Sliceable>).latin1Slice === 'function';

/**
 * A key's bytes as a latin1 string, one char per byte (so equal ids are equal bytes, and ids
 * compare like the bytes): the id of a key in every in-memory map of the state machine.
 */
export function keyId(key: Uint8Array): string {
  const b = key instanceof Buffer ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return HAS_LATIN1_SLICE ? (b as Latin1Sliceable).latin1Slice(0, b.length) : b.toString('latin1');
}

/** `prefix | kind | key` in one allocation (a main record's or a tombstone's LevelDB key). */
export function dataKey(prefix: Buffer, kind: number, key: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(prefix.length + 1 + key.length);
  prefix.copy(b, 0);
  b[prefix.length] = kind;
  b.set(key, prefix.length + 1);
  return b;
}

export function mainSuffix(key: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + key.length);
  b[0] = KIND_MAIN;
  b.set(key, 1);
  return b;
}

/** Suffix prefix of all fields of `key`; append the field for one field. */
export function fieldSuffix(key: Uint8Array, field?: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + key.length + (field ? field.length : 0));
  b[0] = KIND_FIELD;
  b.writeUInt32BE(key.length, 1);
  b.set(key, 5);
  if (field) b.set(field, 5 + key.length);
  return b;
}

export function tombSuffix(key: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + key.length);
  b[0] = KIND_TOMB;
  b.set(key, 1);
  return b;
}

export const FLOOR_SUFFIX = Buffer.from([KIND_FLOOR]);

/** The position of a key in SCAN order: CRC-32 of its bytes (the same on every node and version). */
export function scanHash(key: Uint8Array): number {
  return crc32(key) >>> 0;
}

/** Suffix of a key's scan index entry; without `key`, the start of the entries at `hash` and after. */
export function scanSuffix(hash: number, key?: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + (key ? key.length : 0));
  b[0] = KIND_SCAN;
  b.writeUInt32BE(hash, 1);
  if (key) b.set(key, 5);
  return b;
}

/** A tombstone's or the floor's revision. */
export function encodeRevision(revision: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(revision, 0, 6);
  return b;
}

export function decodeRevision(b: Uint8Array): number {
  if (b.length !== 6) throw new Error('state machine: malformed revision');
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUIntBE(0, 6);
}

export type ParsedSuffix =
  | { kind: typeof KIND_MAIN; key: Buffer }
  | { kind: typeof KIND_FIELD; key: Buffer; field: Buffer }
  | { kind: typeof KIND_TOMB; key: Buffer }
  | { kind: typeof KIND_FLOOR }
  | { kind: typeof KIND_SCAN; hash: number; key: Buffer };

export function parseSuffix(s: Buffer): ParsedSuffix {
  if (s[0] === KIND_MAIN) return { kind: KIND_MAIN, key: s.subarray(1) };
  if (s[0] === KIND_TOMB) return { kind: KIND_TOMB, key: s.subarray(1) };
  if (s[0] === KIND_FLOOR && s.length === 1) return { kind: KIND_FLOOR };
  if (s[0] === KIND_SCAN && s.length >= 5) return { kind: KIND_SCAN, hash: s.readUInt32BE(1), key: s.subarray(5) };
  if (s[0] === KIND_FIELD && s.length >= 5) {
    const n = s.readUInt32BE(1);
    if (5 + n <= s.length) return { kind: KIND_FIELD, key: s.subarray(5, 5 + n), field: s.subarray(5 + n) };
  }
  throw new Error('state machine: malformed key suffix');
}

export const VALUE_HEADER_BYTES = 15;

/** type u8 | expireAtMs f64be | revision u48be | value. */
export function encodeValue(v: StoredValue): Buffer {
  const b = Buffer.allocUnsafe(VALUE_HEADER_BYTES + v.value.length);
  b[0] = v.type;
  b.writeDoubleBE(v.expireAtMs, 1);
  b.writeUIntBE(v.revision, 9, 6);
  b.set(v.value, VALUE_HEADER_BYTES);
  return b;
}

export function decodeValue(b: Buffer): StoredValue {
  if (b.length < VALUE_HEADER_BYTES) throw new Error('state machine: malformed stored value');
  return {
    type: b[0] as ValueType,
    expireAtMs: b.readDoubleBE(1),
    revision: b.readUIntBE(9, 6),
    value: b.subarray(VALUE_HEADER_BYTES),
  };
}
