// Proves the request decoder yields the same commands however the bytes are split into chunks, keeps arguments binary-safe, parses inline commands like sdssplitargs, and enforces Redis's limits with its error texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRedisParserDecoder, createRequestDecoder, parseStrictInteger, splitInlineArgs, type DecodeError,
} from '../../src/resp/decoder.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function decodeChunks(chunks: Buffer[], decoder = createRequestDecoder()): { commands: string[][]; error: DecodeError | null } {
  const commands: string[][] = [];
  let error: DecodeError | null = null;
  for (const c of chunks) {
    error = decoder.feed(c, (args) => { commands.push(args.map((a) => a.toString('latin1'))); });
    if (error) break;
  }
  return { commands, error };
}

const stream = b(
  '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n'
  + 'PING\r\n'
  + '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n'
  + 'ECHO "a b" \'c d\'\r\n'
  + '\r\n'
  + '*-1\r\n'
  + '*1\r\n$4\r\nPING\r\n',
);
const expected = [['SET', 'key', 'va\r\nl'], ['PING'], ['ECHO', ''], ['ECHO', 'a b', 'c d'], ['PING']];

test('one chunk', () => {
  assert.deepEqual(decodeChunks([stream]), { commands: expected, error: null });
});

test('split into two chunks at every byte boundary', () => {
  for (let i = 1; i < stream.length; i++) {
    const r = decodeChunks([stream.subarray(0, i), stream.subarray(i)]);
    assert.deepEqual(r, { commands: expected, error: null }, `split at ${i}`);
  }
});

test('one byte per chunk', () => {
  const chunks = [...stream].map((x) => Buffer.from([x]));
  assert.deepEqual(decodeChunks(chunks), { commands: expected, error: null });
});

test('arguments are binary-safe', () => {
  const value = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) value[i] = i;
  const req = Buffer.concat([b('*2\r\n$3\r\nSET\r\n$256\r\n'), value, b('\r\n')]);
  let args: Buffer[] = [];
  createRequestDecoder().feed(req, (a) => { args = a; });
  assert.equal(args.length, 2);
  assert.ok(args[1]!.equals(value));
});

test('a large bulk arriving in many chunks is assembled once', () => {
  const value = Buffer.alloc(1024 * 1024, 0x61);
  const req = Buffer.concat([b('*2\r\n$4\r\nECHO\r\n$1048576\r\n'), value, b('\r\n')]);
  const decoder = createRequestDecoder();
  const got: Buffer[][] = [];
  for (let i = 0; i < req.length; i += 1000) decoder.feed(req.subarray(i, i + 1000), (a) => { got.push(a); });
  assert.equal(got.length, 1);
  assert.ok(got[0]![1]!.equals(value));
  assert.equal(decoder.bufferedBytes(), 0);
});

test('inline splitting follows sdssplitargs', () => {
  const split = (s: string): string[] | null => splitInlineArgs(b(s))?.map((x) => x.toString('latin1')) ?? null;
  assert.deepEqual(split('  set  k   v  '), ['set', 'k', 'v']);
  assert.deepEqual(split('"\\x41\\x4a\\x4g" "\\n\\r\\t\\b\\a\\z"'), ['AJx4g', '\n\r\t\b\x07z']);
  assert.deepEqual(split("'a\\'b' 'a\\nb'"), ["a'b", 'a\\nb']);
  assert.deepEqual(split('""'), ['']);
  assert.deepEqual(split('a"b" c'), ['ab', 'c']);
  assert.equal(split('a"b"c'), null);
  assert.deepEqual(split('x\x00y z'), ['x']);
  assert.equal(split('"abc'), null);
  assert.equal(split("'abc"), null);
  assert.equal(split('"a"b'), null);
  assert.deepEqual(split(''), []);
});

test('strict integers as Redis string2ll', () => {
  const p = (s: string): number => parseStrictInteger(b(s), 0, s.length);
  assert.equal(p('0'), 0);
  assert.equal(p('-1'), -1);
  assert.equal(p('123'), 123);
  assert.ok(p('9223372036854775807') > 9.2e18);
  for (const bad of ['', '-', '01', '+1', '-0', '1a', ' 1', '9223372036854775808', '123456789012345678901']) {
    assert.ok(Number.isNaN(p(bad)), bad);
  }
});

test('protocol errors carry Redis texts and stop the decoder', () => {
  const cases: Array<[string, string]> = [
    ['*x\r\n', 'invalid multibulk length'],
    ['*1\r\n$x\r\n', 'invalid bulk length'],
    ['*1\r\n:1\r\n', "expected '$', got ':'"],
    ['"a\r\n', 'unbalanced quotes in request'],
  ];
  for (const [input, message] of cases) {
    const decoder = createRequestDecoder();
    const r = decodeChunks([b(input)], decoder);
    assert.deepEqual(r.error, { kind: 'protocol', message }, input);
    assert.deepEqual(decoder.feed(b('PING\r\n'), () => assert.fail('decoded after error')), r.error);
  }
});

test('line-length limits apply to partial lines across chunks', () => {
  const decoder = createRequestDecoder();
  let error: DecodeError | null = null;
  for (let i = 0; i < 100 && !error; i++) error = decoder.feed(Buffer.alloc(1000, 0x78), () => {});
  assert.deepEqual(error, { kind: 'protocol', message: 'too big inline request' });
});

test('proto-max-bulk-len and the query buffer limit are configurable', () => {
  const limits = { protoMaxBulkLen: 10, queryBufferLimitBytes: 100 };
  assert.deepEqual(decodeChunks([b('*1\r\n$11\r\n')], createRequestDecoder(limits)).error,
    { kind: 'protocol', message: 'invalid bulk length' });
  const decoder = createRequestDecoder(limits);
  const r = decodeChunks([b('*20\r\n'), ...Array.from({ length: 20 }, () => b('$10\r\n0123456789\r\n'))], decoder);
  assert.equal(r.error?.kind, 'queryBufferLimit');
});

test('the redis-parser decoder reads the same RESP arrays', () => {
  const resp = b('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n*1\r\n$4\r\nPING\r\n');
  const r = decodeChunks([resp.subarray(0, 7), resp.subarray(7)], createRedisParserDecoder());
  assert.deepEqual(r, { commands: [['SET', 'key', 'va\r\nl'], ['PING']], error: null });
});

test('a consumer can stop the decoder and resume it with an empty chunk', () => {
  const decoder = createRequestDecoder();
  const got: string[] = [];
  const take = (a: Buffer[]): boolean => { got.push(a[0]!.toString()); return false; };
  decoder.feed(b('A\r\nB\r\n*1\r\n$1\r\nC\r\nD'), take);
  assert.deepEqual(got, ['A']);
  decoder.feed(Buffer.alloc(0), take);
  assert.deepEqual(got, ['A', 'B']);
  decoder.feed(b('\r\n'), () => { got.push('x'); });
  assert.deepEqual(got, ['A', 'B', 'x', 'x']);
  assert.equal(decoder.bufferedBytes(), 0);
});

test('random bytes never throw, and random splits of valid input never change the result', () => {
  // A fixed linear congruential generator keeps the test deterministic.
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const alphabet = b('*$\r\n-0123456789abc "\'\\x');
  for (let round = 0; round < 2000; round++) {
    const bytes = Buffer.from(Array.from({ length: rnd(40) }, () => alphabet[rnd(alphabet.length)]!));
    const decoder = createRequestDecoder();
    decoder.feed(bytes.subarray(0, rnd(bytes.length + 1)), () => {});
    decoder.feed(bytes.subarray(rnd(bytes.length + 1)), () => {});
  }
  for (let round = 0; round < 200; round++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length;) {
      const n = 1 + rnd(12);
      chunks.push(stream.subarray(i, i + n));
      i += n;
    }
    assert.deepEqual(decodeChunks(chunks), { commands: expected, error: null });
  }
});
