/** Number of hash slots, as Redis Cluster. */
export const SLOT_COUNT = 16384;

/** CRC16-XMODEM lookup table (poly 0x1021, init 0, no reflection), as Redis's crc16.c. */
const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[i] = crc;
  }
  return table;
})();

/** CRC16-XMODEM of bytes [start, end) of `buf`. */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ buf[i]!) & 0xff]!;
  }
  return crc;
}

/**
 * The hash slot of a key, identical to Redis's keyHashSlot: CRC16 of the key, or of the bytes
 * between its first `{` and the first `}` after it when that span is non-empty, mod 16384.
 */
export function keySlot(key: Buffer | string): number {
  const buf = typeof key === 'string' ? Buffer.from(key) : key;
  const len = buf.length;
  let open = -1;
  for (let i = 0; i < len; i++) {
    if (buf[i] === 0x7b) { open = i; break; }
  }
  if (open === -1) return crc16(buf, 0, len) & 0x3fff;
  let close = -1;
  for (let i = open + 1; i < len; i++) {
    if (buf[i] === 0x7d) { close = i; break; }
  }
  // No `}` or an empty tag `{}`: hash the whole key (cluster-spec "Hash tags").
  if (close === -1 || close === open + 1) return crc16(buf, 0, len) & 0x3fff;
  return crc16(buf, open + 1, close) & 0x3fff;
}
