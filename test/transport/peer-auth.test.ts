// Proves peer authentication over real loopback sockets: with a shared cluster secret, members
// talk and strangers (wrong secret, no secret, a raw socket with a valid handshake but no proof)
// are refused, logged at warn once per source and reason, and never disturb the members; with
// TLS, members holding certificates from the cluster CA talk, while a plain-TCP dialer or one
// with a certificate from another CA is refused; a reload of the certificate takes effect for
// new connections without touching the established ones. It waits on events, never on time.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { encodeFrame, FrameKind } from '../../src/transport/frame.js';
import { decodeHandshake, encodeAuth, encodeHandshake, PROTOCOL_VERSION } from '../../src/transport/wire.js';
import { FrameDecoder } from '../../src/transport/frame.js';
import { loadTlsMaterial, TlsConfigError, TlsCredentials } from '../../src/transport/tls.js';
import { RefusalLog } from '../../src/transport/peer-auth.js';
import { closeStarted, connectAll, heartbeat, startNode, str, text, until, type Node } from './helpers.js';
import { makeTestCerts, type TestCerts } from './tls-certs.js';

const T = { timeout: 20_000 };
const SECRET = 'correct horse battery staple';

let certs: TestCerts;
before(() => {
  certs = makeTestCerts();
});
after(() => certs.remove());
afterEach(closeStarted);

const refusals = (n: Node, level?: string) =>
  n.logs.filter((l) => l.msg === 'peer refused' && (level === undefined || l.level === level));

async function talk(from: Node, to: Node, groupId: number): Promise<void> {
  const before = to.received.length;
  from.transport.send(to.transport.nodeId, [heartbeat(from.transport.nodeId, to.transport.nodeId, groupId)]);
  await until(() => to.received.length > before);
}

test('members sharing the cluster secret exchange Raft messages and RPCs both ways', T, async () => {
  const [a, b] = await Promise.all([startNode(1, { clusterSecret: SECRET }), startNode(2, { clusterSecret: SECRET })]);
  connectAll([a, b]);
  await talk(a, b, 1);
  await talk(b, a, 2);
  b.transport.onRequest(async (_from, p) => p);
  assert.equal(str(await a.transport.request(2, text('echo'), 5000)), 'echo');
  assert.equal(a.transport.stats().handshakesRefused + b.transport.stats().handshakesRefused, 0);
});

test('a wrong secret or none is refused on both sides; members keep talking', T, async () => {
  const [a, b] = await Promise.all([startNode(1, { clusterSecret: SECRET }), startNode(2, { clusterSecret: SECRET })]);
  const wrong = await startNode(3, { clusterSecret: 'guess' });
  const none = await startNode(4);
  connectAll([a, b]);
  for (const x of [wrong, none]) {
    x.transport.addPeer(1, '127.0.0.1', a.port);
    a.transport.addPeer(x.transport.nodeId, '127.0.0.1', x.port);
  }
  // Stranger -> member: the member (acceptor) sends its proof, which the stranger cannot check
  // (wrong) or does not need (none); either way the member refuses the stranger's answer.
  wrong.transport.send(1, [heartbeat(3, 1, 1)]);
  none.transport.send(1, [heartbeat(4, 1, 1)]);
  await until(() => a.transport.stats().handshakesRefused >= 1 && wrong.transport.stats().handshakesRefused >= 1);
  await until(() => a.transport.stats().handshakesRefused >= 2);
  // Member -> stranger: the member refuses the stranger's proof (wrong) or its lack (none).
  a.transport.send(3, [heartbeat(1, 3, 1)]);
  a.transport.send(4, [heartbeat(1, 4, 1)]);
  await until(() => a.unreachable.includes(3) && a.unreachable.includes(4));
  assert.equal(wrong.received.length + none.received.length, 0, 'nothing reached the strangers');
  assert.ok(a.received.every((r) => r.from === 2), 'nothing from the strangers was delivered');
  await talk(b, a, 7);
  await talk(a, b, 7);
  const lines = a.logs.map((l) => JSON.stringify(l));
  assert.ok(!lines.some((l) => l.includes(SECRET)), 'the secret is never logged');
});

/** A raw TCP client that records what the node sends it. */
function rawPeer(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const decoder = new FrameDecoder(1 << 20);
  const frames: Array<{ kind: number; payload: Uint8Array }> = [];
  const bytes: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    bytes.push(chunk);
    frames.push(...decoder.push(chunk));
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, frames, bytes, closed };
}

const hello = (from: number, to: number) => encodeFrame(FrameKind.Handshake, encodeHandshake({
  version: PROTOCOL_VERSION, clusterId: 'test-cluster', from, to, nonce: new Uint8Array(16).fill(1), mac: new Uint8Array(0),
}));

test('a rogue speaking the peer protocol without credentials is refused, logged once, and harms no one', T, async () => {
  const [a, b] = await Promise.all([startNode(1, { clusterSecret: SECRET }), startNode(2, { clusterSecret: SECRET })]);
  connectAll([a, b]);
  await talk(b, a, 1);
  // A valid handshake gets the node's challenge; the secret itself never crosses the wire.
  const probe = rawPeer(a.port);
  probe.socket.write(hello(9, 1));
  await until(() => probe.frames.length === 1);
  const challenge = decodeHandshake(probe.frames[0].payload);
  assert.equal(challenge.nonce.length, 16);
  assert.equal(challenge.mac.length, 32);
  assert.ok(!Buffer.concat(probe.bytes).includes(Buffer.from(SECRET)));
  // Raft frames instead of the proof, then a forged proof, then an empty one, many times over.
  const attacks = [
    encodeFrame(FrameKind.Raft, text('x')),
    encodeFrame(FrameKind.Auth, encodeAuth(new Uint8Array(32).fill(0xab))),
    encodeFrame(FrameKind.Auth, encodeAuth(new Uint8Array(0))),
  ];
  probe.socket.write(attacks[0]);
  await probe.closed;
  const rounds = 20;
  for (let i = 0; i < rounds; i++) {
    for (const attack of attacks.slice(1)) {
      const r = rawPeer(a.port);
      r.socket.write(hello(9, 1));
      r.socket.write(attack);
      await r.closed;
    }
  }
  assert.equal(a.transport.stats().handshakesRefused, 1 + 2 * rounds);
  assert.equal(a.received.filter((r) => r.from === 9).length, 0);
  // One warn per reason from this source; the rest at debug.
  const warns = refusals(a, 'warn');
  assert.deepEqual(warns.map((l) => (l.obj as { reason: string }).reason).sort(),
    ['failed authentication (cluster secret)', 'garbage before authentication']);
  assert.equal(refusals(a).length, 1 + 2 * rounds);
  await talk(b, a, 2);
  await talk(a, b, 2);
});

function tlsCreds(cert: string, key: string, ca = certs.caCert, keyFilePass = ''): TlsCredentials {
  return new TlsCredentials({ certFile: cert, keyFile: key, caCertFile: ca, keyFilePass });
}

test('mutual TLS: members talk; a plain-TCP dialer and a certificate from another CA are refused', T, async () => {
  const [a, b] = await Promise.all([
    startNode(1, { tls: tlsCreds(certs.cert, certs.encryptedKey, certs.caCert, certs.keyPass) }),
    startNode(2, { tls: tlsCreds(certs.cert2, certs.key2) }),
  ]);
  connectAll([a, b]);
  await talk(a, b, 1);
  await talk(b, a, 1);
  b.transport.onRequest(async (_from, p) => p);
  assert.equal(str(await a.transport.request(2, text('over tls'), 5000)), 'over tls');

  // Plain TCP speaking the peer protocol to a TLS port never reaches the frame decoder.
  const plain = await startNode(3);
  plain.transport.addPeer(1, '127.0.0.1', a.port);
  plain.transport.send(1, [heartbeat(3, 1, 1)]);
  await until(() => a.transport.stats().handshakesRefused >= 1 && plain.unreachable.includes(1));
  // A TLS dialer whose certificate comes from another CA (it trusts ours, so only our check stops it).
  const rogue = await startNode(4, { tls: tlsCreds(certs.rogueCert, certs.rogueKey, certs.caCert) });
  rogue.transport.addPeer(1, '127.0.0.1', a.port);
  rogue.transport.send(1, [heartbeat(4, 1, 1)]);
  await until(() => a.transport.stats().handshakesRefused >= 2);
  // And a member dialing a rogue listener refuses the rogue's certificate.
  a.transport.addPeer(4, '127.0.0.1', rogue.port);
  a.transport.send(4, [heartbeat(1, 4, 1)]);
  await until(() => a.unreachable.includes(4));
  assert.equal(rogue.received.length, 0);
  assert.ok(a.received.every((r) => r.from === 2));
  const tlsRefusals = refusals(a, 'warn').filter((l) => (l.obj as { reason: string }).reason === 'TLS handshake failed');
  assert.ok(tlsRefusals.length > 0);
  // Inbound refusals name the remote address; the outbound one (we refused node 4's certificate) names the node.
  assert.deepEqual(tlsRefusals.map((l) => (l.obj as { source: string }).source).sort(), ['127.0.0.1', 'node 4']);
  await talk(b, a, 3);
});

test('a certificate reload applies to new TLS connections; established links keep working', T, async () => {
  const credsA = tlsCreds(certs.cert, certs.key);
  const [a, b] = await Promise.all([startNode(1, { tls: credsA }), startNode(2, { tls: tlsCreds(certs.cert2, certs.key2) })]);
  connectAll([a, b]);
  await talk(b, a, 1);
  const servedCn = async (): Promise<string> => {
    const s = tls.connect({ host: '127.0.0.1', port: a.port, ca: readFileSync(certs.caCert),
      cert: readFileSync(certs.cert2), key: readFileSync(certs.key2), checkServerIdentity: () => undefined });
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
    const cn = String(s.getPeerCertificate().subject.CN);
    s.destroy();
    return cn;
  };
  assert.equal(await servedCn(), 'node');
  // A bad reload (the key does not match the certificate) is refused and changes nothing.
  assert.throws(() => credsA.reload({ certFile: certs.cert2 }), TlsConfigError);
  assert.equal(credsA.fileNames().certFile, certs.cert);
  assert.equal(await servedCn(), 'node');
  credsA.reload({ certFile: certs.cert2, keyFile: certs.key2 });
  assert.equal(await servedCn(), 'node2');
  // The link B -> A opened before the reload still carries traffic, and so do new ones.
  await talk(b, a, 2);
  await talk(a, b, 2);
});

test('TLS material: an encrypted key needs its passphrase; errors never show it', () => {
  assert.ok(loadTlsMaterial({ certFile: certs.cert, keyFile: certs.encryptedKey, keyFilePass: certs.keyPass, caCertFile: certs.caCert }));
  for (const pass of ['', 'wrong-pass-phrase']) {
    assert.throws(() => loadTlsMaterial({ certFile: certs.cert, keyFile: certs.encryptedKey, keyFilePass: pass, caCertFile: certs.caCert }),
      (e: unknown) => e instanceof TlsConfigError && !e.message.includes('wrong-pass-phrase') && !e.message.includes(certs.keyPass));
  }
  assert.throws(() => loadTlsMaterial({ certFile: '/nonexistent.crt', keyFile: certs.key, keyFilePass: '', caCertFile: certs.caCert }),
    /cannot read tls-cert-file \/nonexistent.crt: ENOENT/);
});

test('refusal log: warn once per source and reason per window, then debug; the next warn counts the folded ones', () => {
  const lines: Array<{ level: string; obj: Record<string, unknown> }> = [];
  let now = 0;
  const log = new RefusalLog({
    warn: (obj) => lines.push({ level: 'warn', obj: obj as Record<string, unknown> }),
    debug: (obj) => lines.push({ level: 'debug', obj: obj as Record<string, unknown> }),
  }, () => now, 1000);
  for (let i = 0; i < 5; i++) log.refused('10.0.0.9', 'bad proof', {}, 'peer refused');
  log.refused('10.0.0.9', 'garbage', {}, 'peer refused');
  log.refused('10.0.0.8', 'bad proof', {}, 'peer refused');
  assert.deepEqual(lines.map((l) => l.level), ['warn', 'debug', 'debug', 'debug', 'debug', 'warn', 'warn']);
  now = 1000;
  log.refused('10.0.0.9', 'bad proof', {}, 'peer refused');
  assert.equal(lines.at(-1)!.level, 'warn');
  assert.equal(lines.at(-1)!.obj.suppressedBefore, 4);
});

test('a listener that accepts but never answers the handshake is dropped after the connect timeout', T, async () => {
  // Reads (and ignores) what it is sent, so it notices when the dialer hangs up.
  const silent = net.createServer((s) => s.on('error', () => {}).resume());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const a = await startNode(1, { connectTimeoutMs: 100 });
  a.transport.addPeer(2, '127.0.0.1', (silent.address() as net.AddressInfo).port);
  // The request is held (never written) until the handshake completes; the deadline frees it.
  await assert.rejects(a.transport.request(2, text('x'), 60_000), (e: unknown) => (e as { code?: string }).code === 'connectionLost');
  assert.ok(a.unreachable.includes(2));
  await a.transport.close();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});
