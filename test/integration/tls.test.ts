// Proves TLS and peer authentication on real node processes. Over TLS (client ports TLS-only,
// peer links mutual TLS): a client without the cluster's CA, or without a client certificate
// while tls-auth-clients is yes, cannot connect, and one with them can (ioredis and
// redis-cli --tls); a certificate reload by CONFIG SET and by SIGHUP is served to new clients and
// peers while replication carries on, and a restarted node rejoins over the new certificates;
// plain-TCP rogues on a TLS peer port are refused and logged once; secrets show up in neither
// CONFIG GET, INFO nor the logs. With a cluster secret over plain TCP:
// rogue processes speaking the peer protocol without the secret are refused, each kind logged
// once, and the cluster keeps serving.
import { test, after, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { TestCluster } from './harness.js';
import { encodeFrame, FrameKind } from '../../src/transport/frame.js';
import { encodeAuth, encodeHandshake, PROTOCOL_VERSION } from '../../src/transport/wire.js';

const SECRET = 'integration-cluster-secret-42';

/** 'connected' if an ioredis client gets a PONG, else the first error it saw (the socket's, e.g. a TLS verify failure). */
function connectError(options: RedisOptions): Promise<string> {
  return new Promise((resolve) => {
    const c = new Redis({ ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    let first: string | undefined;
    c.on('error', (e: Error) => { first ??= e.message; });
    const fail = (e: Error) => { c.disconnect(); resolve(first ?? e.message); };
    c.connect().then(() => c.ping().then(() => { c.disconnect(); resolve('connected'); }, fail), fail);
  });
}

/** Common name of the certificate a TLS listener serves. */
async function servedCn(port: number, certs: NonNullable<TestCluster['certs']>): Promise<string> {
  const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.caCert), cert: readFileSync(certs.cert2),
    key: readFileSync(certs.key2), checkServerIdentity: () => undefined });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => resolve());
    s.once('error', reject);
  });
  const cn = String(s.getPeerCertificate().subject.CN);
  s.destroy();
  return cn;
}

describe('over TLS', () => {
  const cluster = new TestCluster({ tls: true, extra: ['--groups', '3'] });
  const certs = () => cluster.certs!;
  before(() => cluster.start());
  after(() => cluster.stop());

  test('only clients trusting the cluster CA and holding a certificate connect', async () => {
    const c = certs();
    const port = cluster.port(1);
    assert.equal(await cluster.client(1).set('tls-key', 'v'), 'OK');
    assert.equal(cluster.redisCli(2, 'GET', 'tls-key'), 'v');
    const clientCert = { cert: readFileSync(c.cert2), key: readFileSync(c.key2) };
    // A client that does not trust our CA refuses the server.
    assert.match(await connectError({ port, host: '127.0.0.1', tls: { ca: readFileSync(c.rogueCaCert), ...clientCert } }),
      /self[- ]signed|unable to verify|certificate/i);
    const cli = spawnSync('redis-cli', ['-p', String(port), '--tls', '--cacert', c.rogueCaCert, '--cert', c.cert2, '--key', c.key2, 'PING'],
      { encoding: 'utf8', timeout: 20000 });
    assert.match(cli.stdout + cli.stderr, /certificate verify failed/);
    // A client certificate from another CA, or none, is refused while tls-auth-clients is yes.
    assert.notEqual(await connectError({ port, host: '127.0.0.1',
      tls: { ca: readFileSync(c.caCert), cert: readFileSync(c.rogueCert), key: readFileSync(c.rogueKey) } }), 'connected');
    assert.notEqual(await connectError({ port, host: '127.0.0.1', tls: { ca: readFileSync(c.caCert) } }), 'connected');
    // Plain RESP on a TLS port gets nowhere.
    assert.notEqual(await connectError({ port, host: '127.0.0.1', connectTimeout: 2000 }), 'connected');
    // tls-auth-clients optional: no certificate is fine, a bad one still is not.
    assert.equal(cluster.redisCli(1, 'CONFIG', 'SET', 'tls-auth-clients', 'optional'), 'OK');
    assert.equal(await connectError({ port, host: '127.0.0.1', tls: { ca: readFileSync(c.caCert) } }), 'connected');
    assert.notEqual(await connectError({ port, host: '127.0.0.1',
      tls: { ca: readFileSync(c.caCert), cert: readFileSync(c.rogueCert), key: readFileSync(c.rogueKey) } }), 'connected');
    assert.equal(cluster.redisCli(1, 'CONFIG', 'SET', 'tls-auth-clients', 'yes'), 'OK');
  });

  test('certificate reloads (CONFIG SET, SIGHUP) reach new clients and peers; replication carries on', async () => {
    const c = certs();
    assert.equal(await servedCn(cluster.port(1), c), 'node');
    assert.equal(await servedCn(cluster.peerPort(1), c), 'node');
    // A reload that cannot work is refused and changes nothing.
    assert.match(cluster.redisCli(1, 'CONFIG', 'SET', 'tls-cert-file', c.cert2),
      /^ERR CONFIG SET failed \(possibly related to argument 'tls-cert-file'\) - Unable to update TLS configuration/);
    assert.equal(cluster.redisCli(1, 'CONFIG', 'GET', 'tls-cert-file'), `tls-cert-file\n${c.cert}`);
    // Nodes 1 and 2 by CONFIG SET (key and passphrase together), node 3 by SIGHUP after its files change
    // (here: the same files, so the served certificate stays).
    for (const id of [1, 2]) {
      assert.equal(cluster.redisCli(id, 'CONFIG', 'SET', 'tls-cert-file', c.cert2, 'tls-key-file', c.key2, 'tls-key-file-pass', ''), 'OK');
    }
    cluster.signal(3, 'SIGHUP');
    for (let i = 0; i < 50 && !/reloaded TLS certificate/.test(cluster.logOf(3)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(cluster.logOf(3), /reloaded TLS certificate/);
    assert.equal(await servedCn(cluster.port(1), c), 'node2');
    assert.equal(await servedCn(cluster.peerPort(2), c), 'node2');
    assert.equal(cluster.redisCli(1, 'CONFIG', 'GET', 'tls-cert-file'), `tls-cert-file\n${c.cert2}`);
    // Established links carry on.
    for (let i = 0; i < 30; i++) assert.equal(await cluster.client(1 + (i % 3)).set(`after-reload:${i}`, String(i)), 'OK');
    for (let i = 0; i < 30; i++) assert.equal(await cluster.client(1 + ((i + 1) % 3)).get(`after-reload:${i}`), String(i));
    // A restarted node dials and is dialed afresh: the new certificates are used on peer links.
    await cluster.kill(3, 'SIGKILL');
    await cluster.client(1).set('while-3-down', 'yes');
    cluster.startNode(3);
    await cluster.waitReady(3);
    assert.equal(await cluster.client(3).get('while-3-down'), 'yes');
    assert.equal(await cluster.client(3).set('from-3', 'ok'), 'OK');
    assert.equal(await cluster.client(1).get('from-3'), 'ok');
  });

  test('plain-TCP rogues on a TLS peer port are refused, logged once, and the cluster keeps working', async () => {
    const hello = encodeFrame(FrameKind.Handshake, encodeHandshake({
      version: PROTOCOL_VERSION, clusterId: 'raftis', from: 9, to: 2, nonce: new Uint8Array(16), mac: new Uint8Array(0) }));
    const before = cluster.logOf(2).split('\n').filter((l) => l.includes('"reason":"TLS handshake failed"') && l.includes('"level":40')).length;
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(cluster.peerPort(2), '127.0.0.1');
        s.on('error', () => {});
        s.resume();
        s.on('close', () => resolve());
        s.write(hello);
      });
    }
    const warns = cluster.logOf(2).split('\n').filter((l) => l.includes('"reason":"TLS handshake failed"') && l.includes('"level":40'));
    assert.ok(warns.length - before <= 1, `at most one new warn line:\n${warns.join('\n')}`);
    assert.ok(warns.some((l) => l.includes('"source":"127.0.0.1"')));
    for (let i = 0; i < 9; i++) assert.equal(await cluster.client(1 + (i % 3)).set(`rogue-tls:${i}`, 'v'), 'OK');
    assert.equal(await cluster.client(2).get('rogue-tls:8'), 'v');
  });

  test('the key passphrase appears in neither CONFIG GET, INFO nor the logs', async () => {
    const pass = certs().keyPass;
    const all = cluster.redisCli(1, 'CONFIG', 'GET', '*');
    assert.match(all, /tls-key-file-pass\n\n/);
    assert.ok(!all.includes(pass));
    assert.ok(!cluster.redisCli(2, 'INFO', 'everything').includes(pass));
    for (const id of [1, 2, 3]) assert.ok(!cluster.logOf(id).includes(pass), `node ${id} log`);
  });
});

describe('with a cluster secret', () => {
  const cluster = new TestCluster({ extra: ['--groups', '3'], env: { RAFTIS_CLUSTER_SECRET: SECRET } });
  before(() => cluster.start());
  after(() => cluster.stop());

  /** Connects to a peer port, writes `chunks`, resolves when the node closes the connection. */
  const rogue = (port: number, chunks: Uint8Array[]): Promise<void> => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.resume();
    s.on('close', () => resolve());
    for (const c of chunks) s.write(c);
  });

  test('rogue peers are refused and logged once per kind; the cluster keeps working', async () => {
    const hello = encodeFrame(FrameKind.Handshake, encodeHandshake({
      version: PROTOCOL_VERSION, clusterId: 'raftis', from: 9, to: 1, nonce: new Uint8Array(16), mac: new Uint8Array(0) }));
    const kinds = [
      [new TextEncoder().encode('*1\r\n$4\r\nPING\r\n')],
      [hello, encodeFrame(FrameKind.Auth, encodeAuth(new Uint8Array(32)))],
      [hello, encodeFrame(FrameKind.Raft, Uint8Array.of(1, 0))],
    ];
    const load = (async () => {
      for (let i = 0; i < 100; i++) assert.equal(await cluster.client(1 + (i % 3)).set(`under-attack:${i}`, String(i)), 'OK');
    })();
    for (let round = 0; round < 10; round++) for (const chunks of kinds) await rogue(cluster.peerPort(1), chunks);
    await load;
    for (let i = 0; i < 100; i += 7) assert.equal(await cluster.client(1 + ((i + 2) % 3)).get(`under-attack:${i}`), String(i));
    const warns = cluster.logOf(1).split('\n').filter((l) => l.includes('"msg":"peer refused"') && l.includes('"level":40'));
    assert.equal(warns.length, 2, `one warn per reason (garbage, failed authentication):\n${warns.join('\n')}`);
    for (const id of [1, 2, 3]) {
      assert.ok(!cluster.logOf(id).includes(SECRET), `node ${id} never logs the secret`);
      assert.equal(cluster.redisCli(id, 'CONFIG', 'GET', 'cluster-secret'), 'cluster-secret');
    }
    assert.equal(cluster.redisCli(2, 'PING'), 'PONG');
  });
});
