// Proves the frame layer: CRC-32C matches its standard check value, frames survive any split of
// the byte stream and any packing of many frames per chunk, and forged lengths, corrupt bytes or
// random input only ever raise FrameError (seeded fuzz).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../src/transport/crc32c.js';
import { encodeFrame, FrameDecoder, FrameError, FrameKind, FRAME_HEADER_BYTES, type Frame } from '../../src/transport/frame.js';
import { SeededRandom } from '../../src/env/random.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function randomBytes(rng: SeededRandom, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, 255);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const plain = (fs: Frame[]): Array<{ kind: number; payload: number[] }> => fs.map((f) => ({ kind: f.kind, payload: [...f.payload] }));

test('crc32c matches the standard check value and is incremental', () => {
  assert.equal(crc32c(text('123456789')), 0xe3069283);
  assert.equal(crc32c(text('56789'), crc32c(text('1234'))), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const rng = new SeededRandom(3);
  const big = randomBytes(rng, 1001);
  assert.equal(crc32c(big.subarray(500), crc32c(big.subarray(0, 500))), crc32c(big));
});

test('frames survive every split point and many frames per chunk', () => {
  const frames: Frame[] = [
    { kind: FrameKind.Handshake, payload: text('hello') },
    { kind: FrameKind.Raft, payload: new Uint8Array(0) },
    { kind: FrameKind.Request, payload: randomBytes(new SeededRandom(1), 300) },
    { kind: FrameKind.Response, payload: text('x') },
  ];
  const stream = concat(frames.map((f) => encodeFrame(f.kind, f.payload)));
  // All in one chunk.
  assert.deepEqual(plain(new FrameDecoder(1024).push(stream)), plain(frames));
  // Split into two chunks at every position.
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder(1024);
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    assert.deepEqual(plain(got), plain(frames), `cut at ${cut}`);
    assert.equal(d.bufferedBytes(), 0);
  }
  // One byte at a time.
  const d = new FrameDecoder(1024);
  const got: Frame[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
  assert.deepEqual(plain(got), plain(frames));
});

test('a forged huge length is refused from the header alone', () => {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, 0xffffffff);
  header[4] = FrameKind.Raft;
  const d = new FrameDecoder(64 * 1024 * 1024);
  assert.throws(() => d.push(header), (e: unknown) => e instanceof FrameError && e.code === 'tooLarge');
  assert.equal(d.bufferedBytes(), 0);
  // The decoder stays failed.
  assert.throws(() => d.push(encodeFrame(FrameKind.Raft, text('ok'))), FrameError);
});

test('corruption is caught: bad checksum, bad kind', () => {
  const f = encodeFrame(FrameKind.Raft, text('payload'));
  const flipped = f.slice();
  flipped[FRAME_HEADER_BYTES + 2] ^= 0x10;
  assert.throws(() => new FrameDecoder(1024).push(flipped), (e: unknown) => e instanceof FrameError && e.code === 'badChecksum');
  const kind = f.slice();
  kind[4] = 0;
  assert.throws(() => new FrameDecoder(1024).push(kind), (e: unknown) => e instanceof FrameError && e.code === 'badKind');
  // A kind flip to another valid kind is caught by the checksum, which covers the kind byte.
  const other = f.slice();
  other[4] = FrameKind.Request;
  assert.throws(() => new FrameDecoder(1024).push(other), (e: unknown) => e instanceof FrameError && e.code === 'badChecksum');
});

test('fuzz: random chunks, flips and truncations raise only FrameError (seed 11, 20k streams)', () => {
  const rng = new SeededRandom(11);
  let errors = 0;
  for (let i = 0; i < 20_000; i++) {
    const frames = Array.from({ length: rng.int(1, 4) }, () => encodeFrame(rng.int(1, 4) as FrameKind, randomBytes(rng, rng.int(0, 50))));
    let stream = concat(frames);
    const mode = rng.int(0, 2);
    if (mode === 0) stream[rng.int(0, stream.length - 1)] ^= 1 << rng.int(0, 7);
    else if (mode === 1) stream = randomBytes(rng, rng.int(0, 80));
    else stream = stream.subarray(0, rng.int(0, stream.length));
    const d = new FrameDecoder(rng.chance(0.5) ? 64 : 1 << 20);
    try {
      let at = 0;
      while (at < stream.length) {
        const n = rng.int(1, 20);
        d.push(stream.subarray(at, at + n));
        at += n;
      }
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      errors++;
    }
  }
  assert.ok(errors > 0);
});
