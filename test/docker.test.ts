// Checks the Dockerfile without a Docker engine: every file it copies exists,
// its build commands are the ones CI runs, and its ports match the default config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULTS } from '../src/config.js';
import { NODE_FLAGS } from '../src/launcher.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const ci = readFileSync('.ci/run', 'utf8');

test('every path the Dockerfile copies from the context exists', () => {
  const copies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) => m[1].trim().split(/\s+/).slice(0, -1));
  assert.ok(copies.length > 0);
  for (const sources of copies) for (const src of sources) assert.ok(existsSync(src), `COPY source ${src} is missing`);
});

test('the Dockerfile builds with the commands CI runs', () => {
  const runs = [...dockerfile.matchAll(/^RUN\s+(.+)$/gm)].map((m) => m[1]);
  assert.ok(runs.some((r) => r.includes('npm ci')), 'Dockerfile must install with npm ci');
  assert.ok(ci.includes('npm ci'), 'CI installs with npm ci');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  assert.ok(pkg.scripts.test.includes('npm run build'), 'npm test builds first');
  assert.ok(runs.some((r) => r.includes('npm run build')), 'Dockerfile must build with npm run build');
});

test('exposed ports match the default client and peer ports', () => {
  const exposed = /^EXPOSE\s+(.+)$/m.exec(dockerfile)![1].split(/\s+/).map(Number);
  assert.deepEqual(exposed.sort(), [DEFAULTS.port, DEFAULTS.peerPort].sort());
  assert.match(dockerfile, new RegExp(`RAFTIS_PORT=${DEFAULTS.port}\\b`));
  assert.match(dockerfile, new RegExp(`RAFTIS_PEER_PORT=${DEFAULTS.peerPort}\\b`));
  const entry = /^ENTRYPOINT\s+(.+)$/m.exec(dockerfile)![1];
  assert.deepEqual(JSON.parse(entry), ['node', ...NODE_FLAGS, 'dist/src/main.js'], 'the image runs a node with the same V8 flags as npm start');
});
