/**
 * The bytes of one replicated operation: a command's arguments, name first.
 * Layout: u32 count | count x (u32 length | bytes), little-endian.
 * Replicating the command itself (not its effect) keeps entries small; the
 * apply is deterministic because time comes from the entry's stamp.
 */
/** `headroom` bytes (left uninitialised) come before the op: room for a caller's header, saving a copy. */
export function encodeOp(args: readonly Buffer[], headroom = 0): Buffer {
  let size = headroom + 4;
  for (const a of args) size += 4 + a.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(args.length, headroom);
  let at = headroom + 4;
  for (const a of args) {
    out.writeUInt32LE(a.length, at);
    a.copy(out, at + 4);
    at += 4 + a.length;
  }
  return out;
}

export function decodeOp(op: Uint8Array): Buffer[] {
  const buf = op instanceof Buffer ? op : Buffer.from(op.buffer, op.byteOffset, op.byteLength);
  if (buf.length < 4) throw new Error(`op: too short (${buf.length} bytes)`);
  const count = buf.readUInt32LE(0);
  const args: Buffer[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw new Error(`op: argument ${i} header past end`);
    const len = buf.readUInt32LE(at);
    if (at + 4 + len > buf.length) throw new Error(`op: argument ${i} past end`);
    args.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return args;
}
