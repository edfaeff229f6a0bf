// Proves node configuration merges file, environment and flags in that order of
// precedence and that every invalid value is rejected with an error naming its field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.field;
  }
  assert.fail('expected a ConfigError');
}

test('flags override environment, which overrides the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftis-config-'));
  const file = join(dir, 'node.json');
  writeFileSync(file, JSON.stringify({ nodeId: 1, port: 7100, groups: 8, members: '1@127.0.0.1:7100:17100' }));
  const cfg = loadConfig(['--config', file, '--groups=4'], { RAFTIS_PORT: '7100', RAFTIS_GROUPS: '6', RAFTIS_READ_MODE: 'readindex' });
  assert.equal(cfg.groups, 4);
  assert.equal(cfg.port, 7100);
  assert.equal(cfg.readMode, 'readindex');
  assert.equal(cfg.bind, '127.0.0.1');
  assert.deepEqual(cfg.members, [{ nodeId: 1, host: '127.0.0.1', port: 7100, peerPort: 17100 }]);
});

test('invalid values name their field', () => {
  assert.equal(fieldOf(() => loadConfig([], {})), 'nodeId');
  assert.equal(fieldOf(() => loadConfig(['--node-id', 'x'], {})), 'nodeId');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--port', '70000'], {})), 'port');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--read-mode', 'fast'], {})), 'readMode');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--members', '2@h:1:2'], {})), 'members');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--members', 'nonsense'], {})), 'members');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--bogus', '1'], {})), 'bogus');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--heartbeat-ticks', '10'], {})), 'heartbeatTicks');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1'], { RAFTIS_GROUPS: '0' })), 'groups');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--join', 'maybe'], {})), 'join');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--gossip-ms', '0'], {})), 'gossipMs');
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--balance-ms', '-1'], {})), 'balanceMs');
  const cfg = loadConfig(['--node-id', '1', '--redirect', 'moved', '--join', 'yes', '--balance-ms', '0'], {});
  assert.deepEqual([cfg.redirect, cfg.join, cfg.balanceMs, cfg.gossipMs], ['moved', 'yes', 0, 200]);
});
