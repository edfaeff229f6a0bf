// Proves the ConfChange entry codec round-trips every change type and rejects
// malformed bytes with a typed error, and that applyConfChange follows the
// one-server-at-a-time rules, by encoding, corrupting and applying changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeDecodeError, applyConfChange, decodeConfChange, encodeConfChange } from '../../src/raft/conf-change.js';
import { ConfChangeType, type ConfChange } from '../../src/raft/types.js';

test('encode/decode round-trips each change type', () => {
  for (const type of [ConfChangeType.AddVoter, ConfChangeType.RemoveNode, ConfChangeType.AddLearner]) {
    const cc: ConfChange = { type, nodeId: 4294967295, context: new Uint8Array([1, 2, 3]) };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
  const empty: ConfChange = { type: ConfChangeType.AddVoter, nodeId: 2, context: new Uint8Array(0) };
  assert.deepEqual(decodeConfChange(encodeConfChange(empty)), empty);
});

test('decode accepts a view into a larger buffer', () => {
  const bytes = encodeConfChange({ type: ConfChangeType.AddLearner, nodeId: 9, context: new Uint8Array([7]) });
  const big = new Uint8Array(bytes.length + 5);
  big.set(bytes, 3);
  assert.equal(decodeConfChange(big.subarray(3, 3 + bytes.length)).nodeId, 9);
});

test('decode rejects malformed bytes with ConfChangeDecodeError', () => {
  const good = encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: 2, context: new Uint8Array([1]) });
  const bad = [
    new Uint8Array(0),
    good.slice(0, 5),
    Uint8Array.from(good, (b, i) => (i === 0 ? 9 : b)), // version
    Uint8Array.from(good, (b, i) => (i === 1 ? 7 : b)), // type
    good.slice(0, good.length - 1), // truncated context
    new Uint8Array([...good, 0]), // trailing byte
  ];
  for (const b of bad) assert.throws(() => decodeConfChange(b), ConfChangeDecodeError);
});

test('applyConfChange: add, promote, remove, and the refusals', () => {
  const cs = { voters: [1, 2, 3], learners: [] };
  const withLearner = applyConfChange(cs, { type: ConfChangeType.AddLearner, nodeId: 4, context: new Uint8Array(0) });
  assert.deepEqual(withLearner, { ok: true, confState: { voters: [1, 2, 3], learners: [4] } });
  const promoted = applyConfChange({ voters: [1, 2, 3], learners: [4] }, { type: ConfChangeType.AddVoter, nodeId: 4, context: new Uint8Array(0) });
  assert.deepEqual(promoted, { ok: true, confState: { voters: [1, 2, 3, 4], learners: [] } });
  const removed = applyConfChange(cs, { type: ConfChangeType.RemoveNode, nodeId: 2, context: new Uint8Array(0) });
  assert.deepEqual(removed, { ok: true, confState: { voters: [1, 3], learners: [] } });
  assert.equal(applyConfChange(cs, { type: ConfChangeType.AddVoter, nodeId: 2, context: new Uint8Array(0) }).ok, false);
  assert.equal(applyConfChange(cs, { type: ConfChangeType.AddLearner, nodeId: 2, context: new Uint8Array(0) }).ok, false);
  assert.equal(applyConfChange(cs, { type: ConfChangeType.RemoveNode, nodeId: 7, context: new Uint8Array(0) }).ok, false);
  assert.equal(applyConfChange({ voters: [1], learners: [] }, { type: ConfChangeType.RemoveNode, nodeId: 1, context: new Uint8Array(0) }).ok, false);
});
