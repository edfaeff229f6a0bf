// Proves the pure helpers behind INCRBYFLOAT and KEYS/SCAN MATCH give Redis's
// results: sums printed as redis-server 7.0.15 prints them (values recorded
// from it), and glob patterns matched as stringmatchlen does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDecimal, formatDecimal, parseDecimal } from '../../src/commands/decimal.js';
import { globMatch } from '../../src/commands/glob.js';
import { ExpiryIndex } from '../../src/commands/expiry-index.js';

const incr = (a: string, b: string): string => formatDecimal(addDecimal(parseDecimal(a)!, parseDecimal(b)!)!);

test('INCRBYFLOAT sums print as Redis prints them (x87 long double, %.17Lf)', () => {
  const cases: Array<[string, string, string]> = [
    ['0.1', '0.2', '0.3'], ['0.3', '1e3', '1000.29999999999999999'], ['1000.29999999999999999', '-1000.3', '0'],
    ['3', '1.5', '4.5'], ['10.5', '0.1', '10.6'], ['5.0e3', '2.0e2', '5200'], ['1e20', '0.1', '100000000000000000000'],
    ['-0.1', '0', '-0.1'], ['1.1', '2.2', '3.3'], ['4.5', '-4.5', '0'],
  ];
  for (const [a, b, want] of cases) assert.equal(incr(a, b), want, `${a} + ${b}`);
});

test('float parsing accepts what strtold accepts and refuses the rest', () => {
  for (const ok of ['1', '-1.5', '.5', '5.', '1e3', '+2', 'inf', '-Infinity', '1E-3']) assert.ok(parseDecimal(ok), ok);
  for (const bad of ['', ' 1', '1 ', 'abc', 'nan', '1e', '.', '1..2', '1e99999']) assert.equal(parseDecimal(bad), undefined, bad);
});

test('glob patterns match as Redis stringmatchlen', () => {
  const m = (p: string, s: string): boolean => globMatch(Buffer.from(p), Buffer.from(s));
  assert.ok(m('*', 'anything'));
  assert.ok(m('h?llo', 'hello'));
  assert.ok(!m('h?llo', 'hllo'));
  assert.ok(m('h*llo', 'heeeello'));
  assert.ok(m('h[ae]llo', 'hallo'));
  assert.ok(!m('h[^e]llo', 'hello'));
  assert.ok(m('h[a-b]llo', 'hbllo'));
  assert.ok(m('a\\*b', 'a*b'));
  assert.ok(!m('a\\*b', 'axb'));
  assert.ok(m('user:*:name', 'user:42:name'));
  assert.ok(!m('user:*:name', 'user:42:age'));
});

test('the TTL index yields expired keys in time order and ignores stale entries', () => {
  const idx = new ExpiryIndex();
  idx.set('a', 300);
  idx.set('b', 100);
  idx.set('c', 200);
  idx.set('b', 500); // rewritten TTL: the entry at 100 is stale
  idx.delete('c');
  assert.deepEqual(idx.takeExpired(400, 10), ['a']);
  idx.retry(['a']);
  assert.deepEqual(idx.takeExpired(1000, 1), ['a']);
  assert.deepEqual(idx.takeExpired(1000, 10), ['b']);
  assert.equal(idx.size, 2);
});
