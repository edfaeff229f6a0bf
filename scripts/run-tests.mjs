// Runs every compiled test file under dist/test with node:test.
// Node 20's runner does not expand globs, so we list the files ourselves.
// Usage: node scripts/run-tests.mjs [path-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('dist/test', []).sort()
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Integration files each start a cluster of real node processes (up to five, with 20 ms
// ticks): two of them at once on a 2-core machine starve elections and time requests out,
// so they run one at a time, after the in-process tests (which run two at a time).
const integration = files.filter((f) => f.includes('/integration/'));
const inProcess = files.filter((f) => !f.includes('/integration/'));
let status = 0;
for (const [batch, concurrency] of [[inProcess, 2], [integration, 1]]) {
  if (batch.length === 0) continue;
  const result = spawnSync(process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...batch],
    { stdio: 'inherit' });
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
