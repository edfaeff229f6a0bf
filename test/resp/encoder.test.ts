// Proves every reply kind encodes to the exact RESP3 bytes and to Redis's RESP2 fallback bytes, by comparing against hand-written wire strings taken from redis-server 7.0 replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  array, bignum, boolean, bulk, bulkArray, double, encodeReplies, encodeReply, errorReply, formatDouble, integer,
  map, nullArray, nullBulk, nullReply, ok, push, ReplyBuffer, set, simple, verbatim, type Reply,
} from '../../src/resp/encoder.js';

function both(r: Reply, resp2: string, resp3: string): void {
  assert.equal(encodeReply(r, 2).toString('latin1'), resp2, 'RESP2');
  assert.equal(encodeReply(r, 3).toString('latin1'), resp3, 'RESP3');
}

test('simple, error, integer, bulk', () => {
  both(ok(), '+OK\r\n', '+OK\r\n');
  both(simple('PONG'), '+PONG\r\n', '+PONG\r\n');
  both(simple('a\r\nb'), '+a  b\r\n', '+a  b\r\n');
  both(errorReply('ERR syntax error'), '-ERR syntax error\r\n', '-ERR syntax error\r\n');
  both(integer(-42), ':-42\r\n', ':-42\r\n');
  both(integer(9223372036854775807n), ':9223372036854775807\r\n', ':9223372036854775807\r\n');
  both(bulk('héllo'), '$6\r\nh\xc3\xa9llo\r\n', '$6\r\nh\xc3\xa9llo\r\n');
  both(bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\x00\r\n\xff\r\n', '$4\r\n\x00\r\n\xff\r\n');
  both(bulk(''), '$0\r\n\r\n', '$0\r\n\r\n');
});

test('nulls: bulk $-1, array *-1, RESP3 _', () => {
  both(nullBulk(), '$-1\r\n', '_\r\n');
  both(bulk(null), '$-1\r\n', '_\r\n');
  both(nullArray(), '*-1\r\n', '_\r\n');
  both(nullReply(), '$-1\r\n', '_\r\n');
});

test('arrays nest', () => {
  both(array([integer(1), bulkArray(['a', null]), array([])]),
    '*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*0\r\n', '*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n*0\r\n');
});

test('map is a flat array in RESP2 (HELLO reply shape)', () => {
  both(map([[bulk('proto'), integer(3)], [bulk('modules'), array([])]]),
    '*4\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n', '%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n');
  both(map([]), '*0\r\n', '%0\r\n');
});

test('set and push are arrays in RESP2', () => {
  both(set([simple('readonly'), simple('fast')]), '*2\r\n+readonly\r\n+fast\r\n', '~2\r\n+readonly\r\n+fast\r\n');
  both(push([bulk('message'), bulk('ch'), bulk('hi')]),
    '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n');
});

test('double is a %.17g bulk string in RESP2', () => {
  both(double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n');
  both(double(Infinity), '$3\r\ninf\r\n', ',inf\r\n');
  both(double(-Infinity), '$4\r\n-inf\r\n', ',-inf\r\n');
  assert.equal(formatDouble(0.1), '0.10000000000000001');
  assert.equal(formatDouble(3), '3');
  assert.equal(formatDouble(-2.5), '-2.5');
  assert.equal(formatDouble(1e17), '1e+17');
  assert.equal(formatDouble(1e16), '10000000000000000');
  assert.equal(formatDouble(0.0001), '0.0001');
  assert.equal(formatDouble(0.00001), '1.0000000000000001e-05');
  assert.equal(formatDouble(1.7976931348623157e308), '1.7976931348623157e+308');
  assert.equal(formatDouble(NaN), 'nan');
  assert.equal(formatDouble(0), '0');
});

test('boolean is 1/0 in RESP2; verbatim and big number are bulk strings', () => {
  both(boolean(true), ':1\r\n', '#t\r\n');
  both(boolean(false), ':0\r\n', '#f\r\n');
  both(verbatim('a\nb'), '$3\r\na\nb\r\n', '=7\r\ntxt:a\nb\r\n');
  both(bignum(12345678901234567890n), '$20\r\n12345678901234567890\r\n', '(12345678901234567890\r\n');
});

test('many replies encode into one buffer; ReplyBuffer mixes protocols per reply', () => {
  const many = Array.from({ length: 1000 }, (_, i) => integer(i));
  const out = encodeReplies(many, 2).toString('latin1');
  assert.equal(out, many.map((_, i) => `:${i}\r\n`).join(''));
  const rb = new ReplyBuffer();
  rb.add(nullBulk(), 2);
  rb.add(nullBulk(), 3);
  rb.add(bulk('x'.repeat(100000)), 3);
  assert.equal(rb.byteLength, 5 + 3 + 9 + 100000 + 2);
  const first = rb.take();
  assert.equal(first.subarray(0, 8).toString(), '$-1\r\n_\r\n');
  assert.equal(rb.byteLength, 0);
  rb.add(ok(), 2);
  assert.equal(rb.take().toString(), '+OK\r\n');
});
