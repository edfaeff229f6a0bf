/**
 * Fuzzers for the two decoders that read bytes from the network: the RESP request decoder
 * (clients) and the peer-link frame decoder with the payload decoders behind it (peers). Inputs
 * are random bytes and mutations of valid traffic (bit flips, inserted, deleted and duplicated
 * bytes, truncation, numbers replaced by extreme ones), fed in random chunk splits. Each input
 * must end without a crash (only the decoders' own error types), within a time bound, with a
 * bounded buffer, and RESP errors must be Redis's protocol error texts; the heap is sampled so
 * that growth over the run stays bounded.
 */
import { SeededRandom } from '../../src/env/random.js';
import { createRequestDecoder, type DecoderLimits } from '../../src/resp/decoder.js';
import { encodeMessages } from '../../src/raft/codec.js';
import { EntryType, MessageType, type Message } from '../../src/raft/types.js';
import { encodeFrame, FrameDecoder, FrameKind } from '../../src/transport/frame.js';
import {
  decodeAuth, decodeHandshake, encodeAuth, decodeRequest, decodeResponse, encodeHandshake, encodeRequest, encodeResponse, isProtocolError,
} from '../../src/transport/wire.js';
import { decodeMessages } from '../../src/raft/codec.js';

export interface FuzzStats {
  inputs: number;
  /** Inputs that ended in a decoder error (protocol / frame / codec). */
  rejected: number;
  /** Commands or frames decoded. */
  decoded: number;
  slowestMs: number;
  heapGrowthMb: number;
}

/** Redis 7.0's protocol error texts (networking.c), after "Protocol error: ". */
const RESP_ERRORS = [
  /^too big inline request$/, /^unbalanced quotes in request$/, /^too big mbulk count string$/,
  /^invalid multibulk length$/, /^too big bulk count string$/, /^expected '\$', got '[\s\S]'$/, /^invalid bulk length$/,
];

/** CPU time (not wall time: a loaded machine deschedules the process) one input may take. */
const INPUT_MS_MAX = 1000;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
const HEAP_GROWTH_MB_MAX = 256;

function bytes(rng: SeededRandom, n: number, alphabet?: Uint8Array): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = alphabet ? alphabet[rng.int(0, alphabet.length - 1)]! : rng.int(0, 255);
  return out;
}

const RESP_ALPHABET = Buffer.from('*$\r\n\r\n0123456789-+ "\'\\xa\t:');
const EXTREME_NUMBERS = ['-1', '0', '2147483647', '2147483648', '9223372036854775807', '9223372036854775808',
  '-9223372036854775808', '99999999999999999999', '00', '+1', '1e3', '536870912', '536870913', '65536', ''];

/** Mutates valid traffic the ways real corruption and attackers do. */
function mutate(rng: SeededRandom, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = rng.int(1, 4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(0, b.length - 1);
    switch (rng.int(0, 6)) {
      case 0: if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(0, 7)); break;
      case 1: b = Buffer.concat([b.subarray(0, at), bytes(rng, rng.int(1, 8), rng.chance(0.5) ? RESP_ALPHABET : undefined), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 8)))]); break;
      case 3: b = b.subarray(0, at); break;
      case 4: b = Buffer.concat([b, b.subarray(at, at + rng.int(1, 64))]); break;
      case 5: {
        // Replace a run of digits with an extreme number.
        const s = b.toString('latin1');
        const m = /\d+/g;
        const hits = [...s.matchAll(m)];
        if (hits.length === 0) break;
        const h = rng.pick(hits);
        b = Buffer.from(s.slice(0, h.index) + rng.pick(EXTREME_NUMBERS) + s.slice(h.index! + h[0].length), 'latin1');
        break;
      }
      default: if (b.length > 0) b[at] = rng.int(0, 255);
    }
  }
  return b;
}

function validResp(rng: SeededRandom): Buffer {
  const parts: Buffer[] = [];
  for (let c = rng.int(1, 4); c > 0; c--) {
    const args = Array.from({ length: rng.int(1, 5) }, () => bytes(rng, rng.int(0, 12), rng.chance(0.5) ? Buffer.from('abcdefgh SETGETkv') : undefined));
    if (rng.chance(0.2)) {
      parts.push(Buffer.from(args.map((a) => a.toString('latin1').replace(/[\r\n\s"']/g, 'x') || 'x').join(' ') + '\r\n', 'latin1'));
    } else {
      parts.push(Buffer.from(`*${args.length}\r\n`));
      for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
    }
  }
  return Buffer.concat(parts);
}

/** Splits `input` into 1..6 chunks at random points. */
function chunks(rng: SeededRandom, input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const n = rng.int(1, 6);
  for (let i = 1; i < n && at < input.length; i++) {
    const next = rng.int(at, input.length);
    out.push(input.subarray(at, next));
    at = next;
  }
  out.push(input.subarray(at));
  return out;
}

/** Heap in use, after a full collection when node runs with --expose-gc (npm run fuzz does). */
function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

class HeapWatch {
  private readonly base = heapMb();
  private max = 0;
  sample(): void {
    this.max = Math.max(this.max, heapMb() - this.base);
    if (this.max > HEAP_GROWTH_MB_MAX) throw new Error(`fuzz: heap grew by ${this.max.toFixed(0)} MB`);
  }
  growth(): number {
    return this.max;
  }
}

/** Feeds `count` inputs to fresh RESP request decoders; throws on the first broken property. */
export function fuzzResp(count: number, seed: number): FuzzStats {
  const rng = new SeededRandom(seed);
  // Small limits, so the buffer bound is exercised (the real defaults are Redis's 512 MiB / 1 GiB).
  const limits: DecoderLimits = { protoMaxBulkLen: 4096, queryBufferLimitBytes: 64 * 1024 };
  const stats: FuzzStats = { inputs: 0, rejected: 0, decoded: 0, slowestMs: 0, heapGrowthMb: 0 };
  const heap = new HeapWatch();
  for (let i = 0; i < count; i++) {
    const kind = rng.int(0, 9);
    const input = kind === 0 ? bytes(rng, rng.int(0, 300)) : kind <= 2 ? bytes(rng, rng.int(0, 300), RESP_ALPHABET)
      : kind === 3 ? Buffer.concat([Buffer.from(`*1\r\n$${rng.pick(EXTREME_NUMBERS)}\r\n`), bytes(rng, rng.int(0, 100))])
        : mutate(rng, validResp(rng));
    const t = cpuMs();
    const decoder = createRequestDecoder(limits);
    for (const chunk of chunks(rng, input)) {
      let err;
      try {
        err = decoder.feed(chunk, (args) => {
          if (args.length === 0) throw new Error('fuzz: decoder produced a command with no arguments');
          stats.decoded++;
        });
      } catch (e) {
        throw new Error(`fuzz: RESP decoder threw on input ${i} (seed ${seed}): ${(e as Error).message}; input ${JSON.stringify(input.toString('latin1'))}`);
      }
      if (decoder.bufferedBytes() > limits.queryBufferLimitBytes + chunk.length) {
        throw new Error(`fuzz: RESP decoder buffers ${decoder.bufferedBytes()} bytes past its limit (input ${i}, seed ${seed})`);
      }
      if (err) {
        stats.rejected++;
        if (err.kind === 'protocol' && !RESP_ERRORS.some((re) => re.test(err.message))) {
          throw new Error(`fuzz: RESP decoder error "${err.message}" is not a Redis protocol error (input ${i}, seed ${seed})`);
        }
        break;
      }
    }
    stats.slowestMs = Math.max(stats.slowestMs, cpuMs() - t);
    if (stats.slowestMs > INPUT_MS_MAX) throw new Error(`fuzz: RESP input ${i} took ${stats.slowestMs.toFixed(0)} ms (seed ${seed})`);
    stats.inputs++;
    if (i % 10000 === 0) heap.sample();
  }
  heap.sample();
  stats.heapGrowthMb = heap.growth();
  return stats;
}

function sampleMessage(rng: SeededRandom): Message {
  const entries = Array.from({ length: rng.int(0, 3) }, (_, k) => ({
    term: rng.int(0, 9), index: rng.int(1, 1000) + k, type: rng.chance(0.1) ? EntryType.ConfChange : EntryType.Normal,
    data: bytes(rng, rng.int(0, 30)),
  }));
  return {
    type: rng.int(1, 13) as MessageType, groupId: rng.int(0, 64), from: rng.int(1, 5), to: rng.int(1, 5),
    term: rng.int(0, 50), logTerm: rng.int(0, 50), index: rng.int(0, 5000), entries, commit: rng.int(0, 5000),
    reject: rng.chance(0.2), rejectHint: rng.int(0, 100), context: rng.chance(0.3) ? bytes(rng, rng.int(1, 10)) : new Uint8Array(0),
    snapshot: rng.chance(0.05) ? { meta: { index: rng.int(0, 100), term: rng.int(0, 9), confState: { voters: [1, 2, 3], learners: [] } }, data: bytes(rng, rng.int(0, 60)) } : null,
  };
}

/** A valid frame's kind and payload (what a peer really sends). */
function validPayload(rng: SeededRandom): [number, Buffer] {
  switch (rng.int(0, 4)) {
    case 4: return [FrameKind.Auth, Buffer.from(encodeAuth(bytes(rng, 32)))];
    case 0: return [FrameKind.Handshake, Buffer.from(encodeHandshake({ version: 2, clusterId: 'raftis', from: rng.int(1, 5), to: rng.int(1, 5), nonce: bytes(rng, 16), mac: rng.chance(0.5) ? bytes(rng, 32) : new Uint8Array(0) }))];
    case 1: return [FrameKind.Raft, Buffer.from(encodeMessages(Array.from({ length: rng.int(1, 4) }, () => sampleMessage(rng))))];
    case 2: return [FrameKind.Request, Buffer.from(encodeRequest({ requestId: rng.int(1, 1e6), payload: bytes(rng, rng.int(0, 40)) }))];
    default: return [FrameKind.Response, Buffer.from(encodeResponse({ requestId: rng.int(1, 1e6), status: rng.int(0, 1) as 0 | 1, payload: bytes(rng, rng.int(0, 40)) }))];
  }
}

/** Decodes a frame's payload as the inbound connection and the peer link do. */
function decodePayload(kind: number, payload: Uint8Array): void {
  switch (kind) {
    case FrameKind.Handshake: decodeHandshake(payload); break;
    case FrameKind.Raft: decodeMessages(payload); break;
    case FrameKind.Request: decodeRequest(payload); break;
    case FrameKind.Response: decodeResponse(payload); break;
    case FrameKind.Auth: decodeAuth(payload); break;
    default: throw new Error(`fuzz: frame decoder passed kind ${kind}`);
  }
}

/** Feeds `count` inputs to fresh peer-link frame decoders and payload decoders. */
export function fuzzFrames(count: number, seed: number): FuzzStats {
  const rng = new SeededRandom(seed);
  const frameBytesMax = 64 * 1024;
  const stats: FuzzStats = { inputs: 0, rejected: 0, decoded: 0, slowestMs: 0, heapGrowthMb: 0 };
  const heap = new HeapWatch();
  for (let i = 0; i < count; i++) {
    const kind = rng.int(0, 9);
    let input: Buffer;
    if (kind === 0) input = bytes(rng, rng.int(0, 300));
    else {
      const frames: Buffer[] = [];
      for (let f = rng.int(1, 3); f > 0; f--) {
        const [k, payload] = validPayload(rng);
        // Mutate the payload under a correct checksum (reaches the payload decoders), or the
        // whole frame (mostly stopped by the length, kind or checksum checks).
        frames.push(kind <= 5 ? Buffer.from(encodeFrame(k as FrameKind, mutate(rng, payload))) : mutate(rng, Buffer.from(encodeFrame(k as FrameKind, payload))));
      }
      input = Buffer.concat(frames);
    }
    const t = cpuMs();
    const decoder = new FrameDecoder(frameBytesMax);
    try {
      for (const chunk of chunks(rng, input)) {
        for (const frame of decoder.push(chunk)) {
          decodePayload(frame.kind, frame.payload);
          stats.decoded++;
        }
        if (decoder.bufferedBytes() > frameBytesMax + 9 + chunk.length) {
          throw new Error(`fuzz: frame decoder buffers ${decoder.bufferedBytes()} bytes past its limit (input ${i}, seed ${seed})`);
        }
      }
    } catch (e) {
      if (!isProtocolError(e)) {
        throw new Error(`fuzz: peer decoding threw ${(e as Error)?.name}: ${(e as Error)?.message} on input ${i} (seed ${seed}); input ${input.toString('hex')}`);
      }
      stats.rejected++;
    }
    stats.slowestMs = Math.max(stats.slowestMs, cpuMs() - t);
    if (stats.slowestMs > INPUT_MS_MAX) throw new Error(`fuzz: frame input ${i} took ${stats.slowestMs.toFixed(0)} ms (seed ${seed})`);
    stats.inputs++;
    if (i % 10000 === 0) heap.sample();
  }
  heap.sample();
  stats.heapGrowthMb = heap.growth();
  return stats;
}
