// Proves raftis answers malformed and edge-case request bytes exactly as redis-server 7.0 does, by sending the same bytes to both and comparing every reply byte and whether the connection closes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, startRealRedis, startServer, type RealRedis } from './helpers.js';
import type { RespServer } from '../../src/resp/server.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const cases: Array<[string, Buffer]> = [
  ['invalid multibulk length', b('*x\r\n')],
  ['multibulk count overflowing int', b('*3000000000\r\n')],
  ['multibulk count with leading zero', b('*01\r\n$4\r\nPING\r\n')],
  ['multibulk count with plus sign', b('*+1\r\n')],
  ['empty multibulk count', b('*\r\n')],
  ['negative and zero counts are empty commands', b('*-1\r\n*0\r\nPING\r\n')],
  ["expected '$'", b('*1\r\nx\r\n')],
  ["expected '$', got CR (shown as space)", b('*1\r\n\r\n')],
  ['invalid bulk length', b('*1\r\n$x\r\n')],
  ['negative bulk length', b('*1\r\n$-1\r\n')],
  ['bulk length over proto-max-bulk-len', b('*1\r\n$600000000\r\n')],
  ['empty bulk length', b('*1\r\n$\r\n')],
  ['bulk length with trailing junk', b('*1\r\n$1abc\r\n')],
  ['bulk length with leading zero', b('*1\r\n$01\r\n')],
  ['bytes after a bulk are skipped unchecked', b('*1\r\n$4\r\nPINGxxPING\r\n')],
  ['commands before a protocol error are answered', b('PING\r\n*1\r\n\x01\r\n')],
  ['unbalanced double quote', b('PING "a\r\n')],
  ['closing quote followed by a letter', b("ECHO 'a'b\r\n")],
  ['inline escapes', b('ECHO "a\\x41\\n\\t\\"q"\r\n')],
  ['single-quote escape', b("ECHO 'it\\'s'\r\n")],
  ['empty lines ignored', b('\r\n\r\n\n   \r\nPING\r\n')],
  ['bare LF ends an inline command', b('PING\nPING\n')],
  ['quote inside a token', b('ECHO a"b" c\r\nECHO a"b"c\r\n')],
  ['tab separates inline args', b('ECHO a\tb\r\n')],
  ['unknown command with args', b('foo a b\r\n')],
  ['unknown command without args', b('foo\r\n')],
  ['unknown command, long args truncated at 128', b(`foo ${'a'.repeat(200)} b\r\n`)],
  ['unknown command, many args', b(`foo ${'b'.repeat(56)} ${'b'.repeat(56)} ${'b'.repeat(56)} c\r\n`)],
  ['unknown command, long name truncated at 128', b(`foo${'x'.repeat(200)}\r\n`)],
  ['unknown command arg with NUL', b('*3\r\n$3\r\nfoo\r\n$3\r\na\x00b\r\n$1\r\nc\r\n')],
  ['unknown command name with CR', b('*1\r\n$4\r\nPIN\r\n*1\r\n$4\r\nPING\r\n')],
  ['wrong arity', b('ECHO\r\nPING a b\r\n')],
  ['empty bulk arg', b('*2\r\n$4\r\nECHO\r\n$0\r\n\r\n')],
  ['binary bulk arg', b('*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n')],
  ['too big inline request', b('x'.repeat(70000))],
  ['too big mbulk count string', b(`*${'1'.repeat(70000)}`)],
  ['too big bulk count string', b(`*1\r\n$${'1'.repeat(70000)}`)],
  ['QUIT replies OK and closes, later commands ignored', b('PING\r\nQUIT\r\nPING\r\n')],
  ['quit is case-insensitive', b('*1\r\n$4\r\nqUiT\r\n')],
];

let real: RealRedis;
let ours: RespServer & { port: number };

before(async () => {
  real = await startRealRedis();
  ours = await startServer();
});

after(async () => {
  await ours.close();
  await real.stop();
});

for (const [name, input] of cases) {
  test(name, async () => {
    const [expected, actual] = await Promise.all([exchange(real.port, input), exchange(ours.port, input)]);
    assert.ok(expected.length > 0, 'redis-server replied');
    assert.equal(actual.toString('latin1'), expected.toString('latin1'));
  });
}
