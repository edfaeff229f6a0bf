import { array, bulk, errorReply, integer, nullArray, nullBulk, simple, type Reply } from '../resp/encoder.js';

/**
 * Decodes one RESP2 reply (as relayed from another node) back into a Reply, so
 * that replies of several groups can be combined (MGET, DEL, SCAN, EXEC).
 */
export function parseResp2(buf: Buffer): Reply {
  const [r, end] = parseAt(buf, 0);
  if (end !== buf.length) throw new Error(`reply: ${buf.length - end} trailing bytes`);
  return r;
}

function lineEnd(buf: Buffer, at: number): number {
  const i = buf.indexOf('\r\n', at, 'latin1');
  if (i < 0) throw new Error('reply: truncated line');
  return i;
}

function parseAt(buf: Buffer, at: number): [Reply, number] {
  const type = buf[at];
  const e = lineEnd(buf, at + 1);
  const line = buf.toString('latin1', at + 1, e);
  switch (type) {
    case 0x2b: return [simple(line), e + 2];
    case 0x2d: return [errorReply(line), e + 2];
    case 0x3a: {
      const n = BigInt(line);
      return [integer(n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n), e + 2];
    }
    case 0x24: {
      const len = Number(line);
      if (len < 0) return [nullBulk(), e + 2];
      return [bulk(Buffer.from(buf.subarray(e + 2, e + 2 + len))), e + 4 + len];
    }
    case 0x2a: {
      const n = Number(line);
      if (n < 0) return [nullArray(), e + 2];
      const items: Reply[] = [];
      let p = e + 2;
      for (let i = 0; i < n; i++) {
        const [r, next] = parseAt(buf, p);
        items.push(r);
        p = next;
      }
      return [array(items), p];
    }
    default:
      throw new Error(`reply: unexpected type byte ${type}`);
  }
}

/** A reply as a Reply object: raw RESP2 bytes are decoded. */
export function asReply(r: Reply): Reply {
  return r.kind === 'raw' ? parseResp2(r.bytes) : r;
}
