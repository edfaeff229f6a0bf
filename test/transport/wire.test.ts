// Proves the handshake and RPC payloads round-trip and that random or truncated payloads only
// ever raise WireError (seeded fuzz), so a peer cannot crash the node through them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAuth, decodeHandshake, decodeRequest, decodeResponse, encodeAuth, encodeHandshake, encodeRequest, encodeResponse,
  ResponseStatus, WireError,
} from '../../src/transport/wire.js';
import { SeededRandom } from '../../src/env/random.js';

test('handshake, request and response round-trip', () => {
  const h = { version: 2, clusterId: 'prod-eu-1 ✓', from: 3, to: 2 ** 40, nonce: Uint8Array.of(1, 2, 3), mac: new Uint8Array(32).fill(7) };
  assert.deepEqual(decodeHandshake(encodeHandshake(h)), h);
  const noMac = { ...h, mac: new Uint8Array(0) };
  assert.deepEqual(decodeHandshake(encodeHandshake(noMac)), noMac);
  assert.deepEqual(decodeAuth(encodeAuth(Uint8Array.of(9, 8))), Uint8Array.of(9, 8));
  // Requests and responses are encoded into Buffers, so payloads decode as Buffer views: compare bytes.
  const bytesOf = <T extends { payload: Uint8Array }>(r: T): T => ({ ...r, payload: Uint8Array.from(r.payload) });
  const req = { requestId: 2 ** 33, payload: Uint8Array.of(1, 2, 3) };
  assert.deepEqual(bytesOf(decodeRequest(encodeRequest(req))), req);
  for (const status of [ResponseStatus.Ok, ResponseStatus.Error]) {
    const res = { requestId: 7, status, payload: new Uint8Array(0) };
    assert.deepEqual(bytesOf(decodeResponse(encodeResponse(res))), res);
  }
});

test('fuzz: malformed payloads raise only WireError (seed 5, 30k inputs)', () => {
  const rng = new SeededRandom(5);
  const decoders = [decodeHandshake, decodeRequest, decodeResponse, decodeAuth];
  for (let i = 0; i < 30_000; i++) {
    const bytes = new Uint8Array(rng.int(0, 24));
    for (let k = 0; k < bytes.length; k++) bytes[k] = rng.chance(0.3) ? 0xff : rng.int(0, 255);
    for (const decode of decoders) {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }
  }
  const good = encodeHandshake({ version: 2, clusterId: 'c', from: 1, to: 2, nonce: Uint8Array.of(5), mac: Uint8Array.of(6) });
  for (let cut = 0; cut < good.length; cut++) assert.throws(() => decodeHandshake(good.subarray(0, cut)), WireError);
});
