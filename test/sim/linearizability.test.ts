// Proves the register linearizability checker accepts linearizable histories and rejects stale
// reads, lost writes, reads of never-written values and reads going backwards, using small
// hand-made histories whose verdict is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKey, checkLinearizable, explainViolation, type RegisterOp } from '../../src/sim/linearizability.js';

const W = (value: string, invokeMs: number, completeMs: number, key = 'k'): RegisterOp =>
  ({ key, kind: 'write', value, invokeMs, completeMs });
const R = (value: string | null, invokeMs: number, completeMs: number, key = 'k'): RegisterOp =>
  ({ key, kind: 'read', value, invokeMs, completeMs });

test('sequential write then read is linearizable', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), R('a', 2, 3)]).kind, 'ok');
});

test('a read before any write returns nil', () => {
  assert.equal(checkLinearizable([R(null, 0, 1), W('a', 2, 3), R('a', 4, 5)]).kind, 'ok');
});

test('a read concurrent with a write may see either value', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), W('b', 2, 10), R('a', 3, 4), R('b', 5, 6)]).kind, 'ok');
  assert.equal(checkLinearizable([W('a', 0, 1), W('b', 2, 10), R('b', 3, 4), R('b', 5, 6)]).kind, 'ok');
});

test('stale read after a completed write is rejected', () => {
  const result = checkLinearizable([W('a', 0, 1), W('b', 2, 3), R('a', 4, 5)]);
  assert.equal(result.kind, 'violation');
});

test('lost write is rejected: a completed write never seen by a later read', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), R(null, 2, 3)]).kind, 'violation');
});

test('a read of a value nobody wrote is rejected', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), R('zzz', 2, 3)]).kind, 'violation');
});

test('reads going backwards are rejected even while the write is in flight', () => {
  // The write of b overlaps both reads, but once one read saw b a later read cannot see a.
  assert.equal(checkLinearizable([W('a', 0, 1), W('b', 2, 20), R('b', 3, 4), R('a', 5, 6)]).kind, 'violation');
});

test('an indeterminate write may take effect late', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), W('b', 2, Infinity), R('a', 3, 4), R('b', 50, 51)]).kind, 'ok');
});

test('an indeterminate write may never take effect', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), W('b', 2, Infinity), R('a', 50, 51)]).kind, 'ok');
});

test('an indeterminate write cannot take effect before it was invoked', () => {
  assert.equal(checkLinearizable([W('a', 0, 1), R('b', 2, 3), W('b', 4, Infinity)]).kind, 'violation');
});

test('keys are checked independently', () => {
  const ok = [W('a', 0, 1, 'x'), W('c', 0, 1, 'y'), R('a', 2, 3, 'x'), R('c', 2, 3, 'y')];
  assert.equal(checkLinearizable(ok).kind, 'ok');
  const bad = [W('a', 0, 1, 'x'), R('a', 2, 3, 'y')];
  const result = checkLinearizable(bad);
  assert.equal(result.kind, 'violation');
  assert.equal(result.kind === 'violation' && result.key, 'y');
});

test('many concurrent writes with consistent reads are accepted quickly', () => {
  const ops: RegisterOp[] = [];
  for (let i = 0; i < 40; i++) ops.push(W(`v${i}`, 0, 100));
  for (let i = 0; i < 40; i++) ops.push(R(`v${i}`, 1 + i, 1.5 + i));
  assert.equal(checkLinearizable(ops).kind, 'ok');
});

test('a search bound yields unknown, not a hang', () => {
  const ops: RegisterOp[] = [];
  for (let i = 0; i < 30; i++) ops.push(W(`v${i}`, 0, 100));
  ops.push(R('nope', 1, 2));
  assert.equal(checkKey(ops, 1000), 'unknown');
});

test('a violation is narrowed down to its first bad read', () => {
  const ops = [W('a', 0, 1), R('a', 2, 3), W('b', 4, 5), R('b', 6, 7), R('a', 8, 9), R('b', 10, 11)];
  const explained = explainViolation(ops);
  assert.ok(explained !== null);
  assert.equal(explained.read.invokeMs, 8);
});
