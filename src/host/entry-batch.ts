/**
 * The payload of a Normal Raft entry written by the host: the leader's
 * timestamp and a batch of operations proposed in the same turn of the event
 * loop. Layout (little-endian):
 *   u8 version (1) | f64 timeMs | u32 count | count x (u32 length | bytes)
 * An empty payload is the no-op a new leader appends.
 */
export const BATCH_VERSION = 1;

export interface EntryBatch {
  /** Leader wall-clock time when the batch was proposed; non-decreasing per group. */
  timeMs: number;
  ops: Uint8Array[];
}

export class EntryBatchError extends Error {
  constructor(message: string) {
    super(`entry batch: ${message}`);
    this.name = 'EntryBatchError';
  }
}

export function encodeEntryBatch(batch: EntryBatch): Uint8Array {
  let size = 1 + 8 + 4;
  for (const op of batch.ops) size += 4 + op.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = BATCH_VERSION;
  out.writeDoubleLE(batch.timeMs, 1);
  out.writeUInt32LE(batch.ops.length, 9);
  let at = 13;
  for (const op of batch.ops) {
    out.writeUInt32LE(op.length, at);
    out.set(op, at + 4);
    at += 4 + op.length;
  }
  return out;
}

export function decodeEntryBatch(data: Uint8Array): EntryBatch {
  if (data.length === 0) return { timeMs: 0, ops: [] };
  const buf = data instanceof Buffer ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 13) throw new EntryBatchError(`too short (${buf.length} bytes)`);
  if (buf[0] !== BATCH_VERSION) throw new EntryBatchError(`unknown version ${buf[0]}`);
  const timeMs = buf.readDoubleLE(1);
  const count = buf.readUInt32LE(9);
  const ops: Uint8Array[] = [];
  let at = 13;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw new EntryBatchError(`op ${i} header past end`);
    const len = buf.readUInt32LE(at);
    if (at + 4 + len > buf.length) throw new EntryBatchError(`op ${i} body past end`);
    ops.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== buf.length) throw new EntryBatchError(`${buf.length - at} trailing bytes`);
  return { timeMs, ops };
}
