// The RESP request decoder and the peer-link frame decoder survive random bytes and mutated
// valid traffic: no crash, no hang, bounded buffers and heap, Redis's protocol error texts
// (a short run; `npm run fuzz -- --inputs 1000000` is the long one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzFrames, fuzzResp } from './fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

test('RESP decoder: random and mutated requests end in commands or a Redis protocol error', () => {
  const s = fuzzResp(40000, SEED);
  assert.equal(s.inputs, 40000);
  assert.ok(s.rejected > 1000 && s.decoded > 1000, `both paths exercised: ${JSON.stringify(s)}`);
});

test('peer frame decoder: random and mutated frames end in frames or a protocol error', () => {
  const s = fuzzFrames(40000, SEED);
  assert.equal(s.inputs, 40000);
  assert.ok(s.rejected > 1000 && s.decoded > 1000, `both paths exercised: ${JSON.stringify(s)}`);
});
