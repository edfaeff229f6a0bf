// Proves node configuration merges file, environment and flags in that order of
// precedence and that every invalid value is rejected with an error naming its field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { makeTestCerts } from './transport/tls-certs.js';

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
  assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--follow-load', 'sometimes'], {})), 'followLoad');
  const cfg = loadConfig(['--node-id', '1', '--redirect', 'moved', '--join', 'yes', '--balance-ms', '0'], { RAFTIS_FOLLOW_LOAD: 'no' });
  assert.deepEqual([cfg.redirect, cfg.join, cfg.balanceMs, cfg.gossipMs, cfg.followLoad], ['moved', 'yes', 0, 200, 'no']);
  assert.equal(loadConfig(['--node-id', '1'], {}).followLoad, 'yes');
});

test('TLS and peer-auth options: Redis names, required files checked at load, secrets never echoed', () => {
  const certs = makeTestCerts();
  try {
    const files = ['--tls-cert-file', certs.cert, '--tls-key-file', certs.encryptedKey, '--tls-ca-cert-file', certs.caCert];
    const cfg = loadConfig(['--node-id', '1', '--port', '0', '--tls-port', '7443', '--tls-cluster', 'yes', ...files],
      { RAFTIS_TLS_KEY_FILE_PASS: certs.keyPass, RAFTIS_CLUSTER_SECRET: 's3cret' });
    assert.deepEqual([cfg.port, cfg.tlsPort, cfg.tlsCluster, cfg.tlsAuthClients, cfg.clusterSecret], [0, 7443, 'yes', 'yes', 's3cret']);
    // With the plain port off, this node's advertised client port is its TLS port.
    assert.equal(cfg.members[0].port, 7443);
    // Defaults: no TLS, no secret.
    const plain = loadConfig(['--node-id', '1'], {});
    assert.deepEqual([plain.tlsPort, plain.tlsCluster, plain.clusterSecret], [0, 'no', '']);
    assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--tls-port', '7443'], {})), 'tlsCertFile');
    assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--port', '0'], {})), 'port');
    assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--port', '7443', '--tls-port', '7443', ...files], {})), 'tlsPort');
    assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--tls-auth-clients', 'maybe'], {})), 'tlsAuthClients');
    assert.equal(fieldOf(() => loadConfig(['--node-id', '1', '--tls-cluster', 'yes', ...files.slice(0, 4), '--tls-ca-cert-file', '/nope'], {})), 'tlsCaCertFile');
    // A wrong passphrase is caught at load, and the error does not repeat it.
    try {
      loadConfig(['--node-id', '1', '--tls-port', '7443', ...files], { RAFTIS_TLS_KEY_FILE_PASS: 'not-the-pass' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.field, 'tlsKeyFile');
      assert.ok(!err.message.includes('not-the-pass'));
    }
  } finally {
    certs.remove();
  }
});
