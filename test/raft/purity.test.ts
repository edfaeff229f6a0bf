// Proves the Raft core stays a pure state machine: it scans every source file
// under src/raft/ and fails if one reads the clock, randomness, timers or the
// process, or imports Node built-ins, pino, classic-level or the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\b/, 'reads the clock (Date)'],
  [/\bperformance\b/, 'reads the clock (performance)'],
  [/\bMath\.random\b/, 'uses Math.random'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'uses timers'],
  [/\bprocess\b/, 'touches process'],
  [/\bawait\b|\basync\b|\bPromise\b/, 'is asynchronous'],
  [/from\s+['"]node:/, 'imports a Node built-in'],
  [/from\s+['"](fs|net|os|crypto|path|child_process|dgram|http|https|tls|worker_threads|timers)['"]/, 'imports a Node built-in'],
  [/from\s+['"](pino|classic-level|ioredis|redis-parser)['"]/, 'imports an I/O library'],
  [/\brequire\s*\(/, 'uses require'],
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Removes comments and string literals so prose like "a process" does not trip the scan. */
function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, (s) =>
      // keep import specifiers visible to the import checks
      /^['"](node:|fs|net|os|crypto|path|child_process|dgram|http|https|tls|worker_threads|timers|pino|classic-level|ioredis|redis-parser)/.test(s) ? s : '""');
}

export function violations(text: string): string[] {
  const code = codeOnly(text);
  return FORBIDDEN.filter(([re]) => re.test(code)).map(([, why]) => why);
}

test('src/raft/ reads no clock, randomness, timers or process, and imports no I/O', () => {
  const root = join(process.cwd(), 'src', 'raft');
  const files = sources(root);
  assert.ok(files.length > 0, 'expected sources under src/raft');
  const found: string[] = [];
  for (const file of files) {
    for (const why of violations(readFileSync(file, 'utf8'))) found.push(`${file}: ${why}`);
  }
  assert.deepEqual(found, []);
});

test('the purity scan catches each forbidden use', () => {
  assert.deepEqual(violations('const t = Date.now();'), ['reads the clock (Date)']);
  assert.deepEqual(violations('const r = Math.random();'), ['uses Math.random']);
  assert.deepEqual(violations('setTimeout(f, 1);'), ['uses timers']);
  assert.deepEqual(violations("import { x } from 'node:fs';"), ['imports a Node built-in']);
  assert.deepEqual(violations("import pino from 'pino';"), ['imports an I/O library']);
  assert.deepEqual(violations('async function f() { await g(); }'), ['is asynchronous']);
  assert.deepEqual(violations('// Date.now() in a comment is fine\nconst s = "process";'), []);
});
