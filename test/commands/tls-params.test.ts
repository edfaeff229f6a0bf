// Proves the TLS parameters of CONFIG GET/SET: Redis's names and values, secrets read back as
// '', a tls-*-file change reloads the certificate (all of a command's files at once) and a reload
// that fails refuses the whole command with Redis's error shape and keeps the old files, and
// tls-auth-clients changes the live policy; tls-port, tls-cluster and cluster-secret are fixed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RuntimeConfig } from '../../src/commands/config-params.js';
import { defineTlsParams } from '../../src/commands/tls-params.js';
import { loadConfig } from '../../src/config.js';
import { encodeReply } from '../../src/resp/encoder.js';
import { TlsCredentials } from '../../src/transport/tls.js';
import { makeTestCerts, type TestCerts } from '../transport/tls-certs.js';

let certs: TestCerts;
before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());

const args = (...a: string[]): Buffer[] => a.map((s) => Buffer.from(s));
const resp = (r: ReturnType<RuntimeConfig['getReply']>): string => encodeReply(r).toString();

function setup() {
  const config = loadConfig(['--node-id', '1', '--tls-port', '7443', '--tls-cluster', 'yes', '--tls-cert-file', certs.cert,
    '--tls-key-file', certs.encryptedKey, '--tls-ca-cert-file', certs.caCert],
  { RAFTIS_TLS_KEY_FILE_PASS: certs.keyPass, RAFTIS_CLUSTER_SECRET: 'shh-secret' });
  const runtime = new RuntimeConfig({ maxClients: 10 });
  const creds = new TlsCredentials({ certFile: certs.cert, keyFile: certs.encryptedKey, keyFilePass: certs.keyPass, caCertFile: certs.caCert });
  const live = defineTlsParams(runtime, config, creds);
  return { runtime, creds, live };
}

test('CONFIG GET shows the TLS options and hides the secrets', () => {
  const { runtime } = setup();
  const all = resp(runtime.getReply(args('config', 'get', '*')));
  assert.ok(!all.includes(certs.keyPass) && !all.includes('shh-secret'));
  assert.equal(runtime.get('tls-key-file-pass'), '');
  assert.equal(runtime.get('cluster-secret'), '');
  assert.equal(runtime.get('tls-cert-file'), certs.cert);
  assert.equal(runtime.get('tls-port'), '7443');
  assert.equal(runtime.get('tls-cluster'), 'yes');
  assert.equal(runtime.get('tls-auth-clients'), 'yes');
});

test('CONFIG SET of tls files reloads them together, or refuses all and keeps the old ones', () => {
  const { runtime, creds, live } = setup();
  let reloads = 0;
  creds.onReload(() => reloads++);
  assert.match(resp(runtime.setReply(args('config', 'set', 'tls-cert-file', certs.cert2))),
    /^-ERR CONFIG SET failed \(possibly related to argument 'tls-cert-file'\) - Unable to update TLS configuration: cannot use the certificate and key: .*key values mismatch\r\n$/);
  // The all-or-nothing rule covers the other parameters of the same command.
  assert.match(resp(runtime.setReply(args('config', 'set', 'tls-auth-clients', 'no', 'tls-cert-file', '/nope'))), /ENOENT/);
  assert.equal(live.authClients, 'yes');
  assert.equal(runtime.get('tls-auth-clients'), 'yes');
  assert.equal(runtime.get('tls-cert-file'), certs.cert);
  assert.equal(reloads, 0);
  assert.equal(resp(runtime.setReply(args('config', 'set', 'tls-cert-file', certs.cert2, 'tls-key-file', certs.key2,
    'tls-key-file-pass', '', 'tls-auth-clients', 'OPTIONAL'))), '+OK\r\n');
  assert.equal(reloads, 1);
  assert.equal(creds.fileNames().certFile, certs.cert2);
  assert.equal(runtime.get('tls-cert-file'), certs.cert2);
  assert.equal(live.authClients, 'optional');
  assert.match(resp(runtime.setReply(args('config', 'set', 'tls-auth-clients', 'maybe'))), /must be one of the following: no, yes, optional/);
  for (const fixed of ['tls-port', 'tls-cluster', 'cluster-secret']) {
    assert.match(resp(runtime.setReply(args('config', 'set', fixed, '1'))), /can't set immutable config/);
  }
});

test('without TLS, setting a tls file is refused', () => {
  const runtime = new RuntimeConfig({ maxClients: 10 });
  defineTlsParams(runtime, loadConfig(['--node-id', '1'], {}), null);
  assert.match(resp(runtime.setReply(args('config', 'set', 'tls-cert-file', certs.cert))), /TLS is off on this node/);
  assert.equal(runtime.get('tls-port'), '0');
});
