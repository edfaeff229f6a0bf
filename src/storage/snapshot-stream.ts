/**
 * The byte stream of a group snapshot, shared by both state-machine stores:
 *   header:  magic u32be "RFSN" | version u8 | applied u48be
 *   records: suffixLength u32be | valueLength u32be | suffix | value   (suffix as in key-layout.ts)
 *   trailer: 0xffffffff u32be | record count u32be | crc32 u32be of every byte before it
 * It is cut into chunks of at most SNAPSHOT_CHUNK_BYTES regardless of record borders.
 */
import { crc32 } from 'node:zlib';
import { SNAPSHOT_CHUNK_BYTES } from './types.js';

const MAGIC = 0x5246534e;
const VERSION = 1;
const HEADER_BYTES = 11;
const END = 0xffffffff;

/** Turns records into bounded chunks. */
export async function* encodeSnapshotStream(applied: number, records: AsyncIterable<[Buffer, Buffer]> | Iterable<[Buffer, Buffer]>,
  chunkBytes = SNAPSHOT_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let used = 0;
  let crc = 0;
  let count = 0;
  /** Full chunks not yet handed out. */
  let full: Buffer[] = [];
  const put = (bytes: Buffer): void => {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(chunkBytes - used, bytes.length - at);
      bytes.copy(chunk, used, at, at + n);
      used += n;
      at += n;
      if (used === chunkBytes) {
        crc = crc32(chunk, crc);
        full.push(chunk);
        chunk = Buffer.allocUnsafe(chunkBytes);
        used = 0;
      }
    }
  };
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(MAGIC, 0);
  header[4] = VERSION;
  header.writeUIntBE(applied, 5, 6);
  put(header);
  const lengths = Buffer.allocUnsafe(8);
  for await (const [suffix, value] of records) {
    lengths.writeUInt32BE(suffix.length, 0);
    lengths.writeUInt32BE(value.length, 4);
    put(lengths);
    put(suffix);
    put(value);
    count++;
    if (full.length > 0) {
      const out = full;
      full = [];
      yield* out;
    }
  }
  const trailer = Buffer.allocUnsafe(12);
  trailer.writeUInt32BE(END, 0);
  trailer.writeUInt32BE(count, 4);
  // The CRC covers the trailer's first 8 bytes too.
  put(trailer.subarray(0, 8));
  yield* full;
  const last = chunk.subarray(0, used);
  crc = crc32(last, crc);
  trailer.writeUInt32BE(crc >>> 0, 8);
  const tail = Buffer.concat([last, trailer.subarray(8)]);
  // Keep the bound: the tail may exceed one chunk by the 4 CRC bytes.
  if (tail.length > chunkBytes) {
    yield tail.subarray(0, chunkBytes);
    yield tail.subarray(chunkBytes);
  } else {
    yield tail;
  }
}

export type SnapshotItem = { kind: 'header'; applied: number } | { kind: 'record'; suffix: Buffer; value: Buffer };

/** Parses a snapshot stream; throws on a bad header, truncation or checksum mismatch. */
export async function* decodeSnapshotStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SnapshotItem> {
  let pending = Buffer.alloc(0);
  let crc = 0;
  let count = 0;
  let headerSeen = false;
  let done = false;
  for await (const c of chunks) {
    if (done) throw new Error('snapshot stream: bytes after the trailer');
    pending = pending.length === 0 ? Buffer.from(c) : Buffer.concat([pending, c]);
    let at = 0;
    for (;;) {
      if (!headerSeen) {
        if (pending.length - at < HEADER_BYTES) break;
        if (pending.readUInt32BE(at) !== MAGIC || pending[at + 4] !== VERSION) throw new Error('snapshot stream: bad header');
        crc = crc32(pending.subarray(at, at + HEADER_BYTES), crc);
        yield { kind: 'header', applied: pending.readUIntBE(at + 5, 6) };
        at += HEADER_BYTES;
        headerSeen = true;
        continue;
      }
      if (pending.length - at < 8) break;
      const suffixLength = pending.readUInt32BE(at);
      if (suffixLength === END) {
        if (pending.length - at < 12) break;
        crc = crc32(pending.subarray(at, at + 8), crc);
        if (pending.readUInt32BE(at + 4) !== count) throw new Error('snapshot stream: record count mismatch');
        if ((crc >>> 0) !== pending.readUInt32BE(at + 8)) throw new Error('snapshot stream: checksum mismatch');
        at += 12;
        done = true;
        if (at !== pending.length) throw new Error('snapshot stream: bytes after the trailer');
        break;
      }
      const valueLength = pending.readUInt32BE(at + 4);
      const end = at + 8 + suffixLength + valueLength;
      if (pending.length < end) break;
      crc = crc32(pending.subarray(at, end), crc);
      const suffix = pending.subarray(at + 8, at + 8 + suffixLength);
      const value = pending.subarray(at + 8 + suffixLength, end);
      count++;
      yield { kind: 'record', suffix, value };
      at = end;
    }
    pending = pending.subarray(at);
  }
  if (!done) throw new Error('snapshot stream: truncated');
}
