// The fault tests' checker accepts linearizable register, counter and transaction histories
// (also with indeterminate operations) and rejects known non-linearizable ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory, type HistoryOp, type OpKind } from './checker.js';
import { judgeInWorker } from './check-worker.js';

const I = Infinity;
function op(kind: OpKind, invokeMs: number, completeMs: number, key = 'k'): HistoryOp {
  return { ...kind, key, invokeMs, completeMs } as HistoryOp;
}
const w = (value: string | null, a: number, b: number) => op({ kind: 'write', value }, a, b);
const r = (value: string | null, a: number, b: number) => op({ kind: 'read', value }, a, b);
const inc = (result: number | undefined, a: number, b: number) => op({ kind: 'incr', result }, a, b);
const cas = (expect: string | null, value: string | null, a: number, b: number) => op({ kind: 'cas', expect, value }, a, b);
const verdict = (ops: HistoryOp[]) => checkHistory(ops).kind;

test('register: sequential and overlapping histories that have a valid order are accepted', () => {
  assert.equal(verdict([w('a', 0, 1), r('a', 2, 3), w(null, 4, 5), r(null, 6, 7)]), 'ok');
  // A read overlapping a write may see either value.
  assert.equal(verdict([w('a', 0, 1), w('b', 2, 6), r('a', 3, 4), r('b', 5, 7)]), 'ok');
  // An indeterminate write may appear late, or never.
  assert.equal(verdict([w('a', 0, I), r(null, 1, 2), r('a', 3, 4)]), 'ok');
  assert.equal(verdict([w('a', 0, I), r(null, 1, 2), r(null, 3, 4)]), 'ok');
});

test('register: a stale read, a lost write and a read of a value never written are rejected', () => {
  assert.equal(verdict([w('a', 0, 1), w('b', 2, 3), r('a', 4, 5)]), 'violation');
  assert.equal(verdict([w('a', 0, 1), r(null, 2, 3)]), 'violation');
  assert.equal(verdict([r('x', 0, 1)]), 'violation');
  // Reads that see the writes in opposite orders.
  assert.equal(verdict([w('a', 0, 10), w('b', 0, 10), r('a', 1, 2), r('b', 3, 4), r('a', 5, 6)]), 'violation');
  // An indeterminate write cannot take effect before it is invoked.
  assert.equal(verdict([r('a', 0, 1), w('a', 2, I)]), 'violation');
});

test('counter: INCR replies must count every applied INCR exactly once', () => {
  assert.equal(verdict([inc(1, 0, 1), inc(2, 2, 3), r('2', 4, 5)]), 'ok');
  assert.equal(verdict([inc(2, 0, 5), inc(1, 1, 4)]), 'ok');
  // Indeterminate INCRs may have applied or not.
  assert.equal(verdict([inc(undefined, 0, I), inc(undefined, 0, I), inc(3, 5, 6)]), 'ok');
  assert.equal(verdict([inc(undefined, 0, I), inc(1, 5, 6), r('1', 7, 8)]), 'ok');
  // Two acknowledged INCRs both answered 1 (one was lost), and a counter read too low.
  assert.equal(verdict([inc(1, 0, 1), inc(1, 2, 3)]), 'violation');
  assert.equal(verdict([inc(1, 0, 1), inc(2, 2, 3), r('1', 4, 5)]), 'violation');
  // An INCR cannot apply twice (a client resending it would do that).
  assert.equal(verdict([inc(undefined, 0, I), inc(1, 1, 2), r('3', 3, 4)]), 'violation');
  // DEL resets the counter.
  assert.equal(verdict([inc(1, 0, 1), w(null, 2, 3), inc(1, 4, 5)]), 'ok');
});

test('transactions: a committed read-modify-write is one compare-and-set', () => {
  assert.equal(verdict([inc(1, 0, 1), cas('1', '2', 2, 3), inc(3, 4, 5)]), 'ok');
  // Two committed transactions read the same value and both wrote: a lost update.
  assert.equal(verdict([inc(1, 0, 1), cas('1', '2', 2, 6), cas('1', '2', 3, 7), r('2', 8, 9)]), 'violation');
  assert.equal(verdict([inc(1, 0, 1), cas('1', '2', 2, 6), cas('2', '3', 3, 7), inc(4, 8, 9)]), 'ok');
  // A transaction overlapping a SET may take effect just before it; one that committed although
  // the key had changed before it began may not.
  assert.equal(verdict([w('a', 0, 1), cas('a', 'c', 2, 10), w('b', 3, 4), r('b', 11, 12)]), 'ok');
  assert.equal(verdict([w('a', 0, 1), cas('a', 'c', 2, 10), w('b', 3, 4), r('c', 11, 12)]), 'violation');
  assert.equal(verdict([w('a', 0, 1), w('b', 2, 3), cas('a', 'c', 4, 5)]), 'violation');
  // An indeterminate transaction applies only if its precondition held.
  assert.equal(verdict([w('a', 0, 1), cas('a', 'c', 2, I), r('c', 5, 6)]), 'ok');
  assert.equal(verdict([w('a', 0, 1), w('b', 2, 3), cas('a', 'c', 4, I), r('c', 5, 6)]), 'violation');
});

test('keys are checked separately, and many indeterminate INCRs stay cheap', () => {
  const ops: HistoryOp[] = [op({ kind: 'write', value: 'a' }, 0, 1, 'x'), op({ kind: 'read', value: 'a' }, 2, 3, 'y')];
  const res = checkHistory(ops);
  assert.equal(res.kind, 'violation');
  assert.equal(res.kind === 'violation' && res.key, 'y');
  const many: HistoryOp[] = [];
  for (let i = 0; i < 60; i++) many.push(inc(undefined, i, I));
  many.push(r('30', 100, 101));
  for (let i = 0; i < 40; i++) many.push(inc(31 + i, 200 + i * 2, 201 + i * 2));
  assert.equal(verdict(many), 'ok');
});

test('a key with thousands of operations is checked on a thread with a large stack (judgeInWorker)', async () => {
  // The search recurses once per write: 6,000 sequential writes are deeper than the main
  // thread's default stack allows (a 60-second fault run reached ~6,000 on one key).
  const ops: HistoryOp[] = [];
  for (let i = 0; i < 6_000; i++) ops.push(w(`v${i}`, 2 * i, 2 * i + 1));
  ops.push(r('v5999', 12_000, 12_001));
  const ok = await judgeInWorker(ops);
  assert.equal(ok.verdict.kind, 'ok');
  const stale = await judgeInWorker([...ops, r('v5998', 12_002, 12_003)]);
  assert.equal(stale.verdict.kind, 'violation');
  assert.equal(stale.why?.read.invokeMs, 12_002);
});
