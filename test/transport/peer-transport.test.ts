// Proves PeerTransport over real loopback TCP: per-turn batching into one frame, RPC round trips,
// typed failures (timeout, lost connection, unknown peer, remote error), reconnection after a
// restart, refusal of wrong-cluster handshakes and garbage senders while other peers keep working,
// back-pressure drops, the link filter and large snapshot frames; it waits on events, never on time.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { encodeFrame, FrameKind } from '../../src/transport/frame.js';
import { encodeAuth, encodeHandshake, PROTOCOL_VERSION } from '../../src/transport/wire.js';
import { TransportError } from '../../src/transport/transport.js';
import { MessageType, type Message } from '../../src/raft/types.js';
import { closeStarted, connectAll, heartbeat, startNode, str, text, until, type Node } from './helpers.js';

const T = { timeout: 20_000 };

// A failed test must not leave listeners open, or the test process never exits.
afterEach(closeStarted);

async function closeAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.close()));
}

function isTransportError(code: string) {
  return (e: unknown): boolean => e instanceof TransportError && e.code === code;
}

test('all messages queued for a peer in one turn leave as one frame', T, async () => {
  const [a, b, c] = await Promise.all([startNode(1), startNode(2), startNode(3)]);
  connectAll([a, b, c]);
  // One turn: three sends to B (groups 1..5), one to C.
  a.transport.send(2, [heartbeat(1, 2, 1), heartbeat(1, 2, 2)]);
  a.transport.send(3, [heartbeat(1, 3, 1)]);
  a.transport.send(2, [heartbeat(1, 2, 3)]);
  a.transport.send(2, [heartbeat(1, 2, 4), heartbeat(1, 2, 5)]);
  await until(() => b.received.length >= 1 && c.received.length >= 1);
  assert.equal(b.received.length, 1, 'one batch at B');
  assert.deepEqual(b.received[0].messages.map((m) => m.groupId), [1, 2, 3, 4, 5]);
  assert.equal(b.received[0].from, 1);
  assert.deepEqual(b.received[0].messages[0], heartbeat(1, 2, 1));
  assert.equal(b.transport.stats().raftFramesReceived, 1);
  assert.equal(c.received.length, 1);
  assert.equal(a.transport.stats().raftFramesSent, 2, 'one frame per peer');
  // A later turn is a new frame.
  a.transport.send(2, [heartbeat(1, 2, 6)]);
  await until(() => b.received.length === 2);
  assert.deepEqual(b.received[1].messages.map((m) => m.groupId), [6]);
  // Both directions work (B dials A on its own connection).
  b.transport.send(1, [heartbeat(2, 1, 9)]);
  await until(() => a.received.length === 1);
  assert.equal(a.received[0].from, 2);
  await closeAll([a, b, c]);
});

test('RPC: round trip, remote error, timeout, unknown peer', T, async () => {
  const [a, b] = await Promise.all([startNode(1), startNode(2)]);
  connectAll([a, b]);
  const never = new Promise<Uint8Array>(() => {});
  b.transport.onRequest(async (from, payload) => {
    const s = str(payload);
    if (s === 'fail') throw new Error('ERR boom');
    if (s === 'hang') return never;
    return text(`${from}:${s.toUpperCase()}`);
  });
  assert.equal(str(await a.transport.request(2, text('get k'), 5000)), '1:GET K');
  // Concurrent requests are matched by request id.
  const replies = await Promise.all(['x', 'y', 'z'].map((s) => a.transport.request(2, text(s), 5000)));
  assert.deepEqual(replies.map(str), ['1:X', '1:Y', '1:Z']);
  await assert.rejects(a.transport.request(2, text('fail'), 5000),
    (e: unknown) => e instanceof TransportError && e.code === 'remote' && e.message === 'ERR boom');
  await assert.rejects(a.transport.request(2, text('hang'), 30), isTransportError('timeout'));
  await assert.rejects(a.transport.request(7, text('x'), 1000), isTransportError('unknownPeer'));
  // A request without a handler on the far side fails as remote, not as a hang.
  await assert.rejects(b.transport.request(1, text('x'), 5000), isTransportError('remote'));
  await closeAll([a, b]);
});

test('losing the connection rejects pending requests; close rejects with closed', T, async () => {
  const [a, b] = await Promise.all([startNode(1), startNode(2)]);
  connectAll([a, b]);
  let served = 0;
  b.transport.onRequest(() => {
    served++;
    return new Promise<Uint8Array>(() => {});
  });
  const pending = assert.rejects(a.transport.request(2, text('slow'), 60_000), isTransportError('connectionLost'));
  await until(() => served === 1);
  await b.transport.close();
  await pending;
  await assert.rejects(a.transport.request(2, text('again'), 60_000),
    (e: unknown) => e instanceof TransportError && (e.code === 'unreachable' || e.code === 'connectionLost'));
  await a.transport.close();
  await assert.rejects(a.transport.request(2, text('x'), 1000), isTransportError('closed'));
});

test('a restarted peer is reached again after back-off; the outage is reported', T, async () => {
  const [a, b] = await Promise.all([startNode(1), startNode(2)]);
  connectAll([a, b]);
  a.transport.send(2, [heartbeat(1, 2, 1)]);
  await until(() => b.received.length === 1);
  const port = b.port;
  await b.transport.close();
  await until(() => a.unreachable.includes(2));
  const b2 = await startNode(2, { listenPort: port });
  // Raft would keep sending heartbeats; do the same until one arrives.
  let turn = 0;
  while (b2.received.length === 0) {
    a.transport.send(2, [heartbeat(1, 2, 1, ++turn)]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(b2.received[0].from, 1);
  b2.transport.onRequest(async () => text('pong'));
  assert.equal(str(await a.transport.request(2, text('ping'), 5000)), 'pong');
  await closeAll([a, b2]);
});

function rawClient(port: number): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  // Consume what the transport writes (its handshake reply), or 'close' waits for a reader.
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

const goodHandshake = (from: number, to: number, clusterId = 'test-cluster'): Uint8Array =>
  encodeFrame(FrameKind.Handshake, encodeHandshake({
    version: PROTOCOL_VERSION, clusterId, from, to, nonce: new Uint8Array(16), mac: new Uint8Array(0),
  }));

/** Handshake and (empty, so valid without a cluster secret) Auth: the frames after it are past authentication. */
const authenticated = (from: number, to: number): Uint8Array[] =>
  [goodHandshake(from, to), encodeFrame(FrameKind.Auth, encodeAuth(new Uint8Array(0)))];

test('garbage senders are disconnected and logged while other peers keep working', T, async () => {
  const [a, b] = await Promise.all([startNode(1), startNode(2)]);
  connectAll([a, b]);
  const badFrame = encodeFrame(FrameKind.Raft, text('not a raft batch'));
  const corrupt = encodeFrame(FrameKind.Raft, Uint8Array.of(1, 0));
  corrupt[corrupt.length - 1] ^= 0xff;
  const spoofed = encodeFrame(FrameKind.Raft, (await import('../../src/raft/codec.js')).encodeMessages([heartbeat(3, 1, 1)]));
  const attacks: Array<[string, Uint8Array[]]> = [
    ['random bytes', [text('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['forged huge length', [Uint8Array.of(0x7f, 0xff, 0xff, 0xff, FrameKind.Raft, 0, 0, 0, 0)]],
    ['bad checksum', [...authenticated(9, 1), corrupt]],
    ['undecodable message', [...authenticated(9, 1), badFrame]],
    ['message not from the handshaken node', [...authenticated(9, 1), spoofed]],
    ['response frame on an inbound link', [...authenticated(9, 1), encodeFrame(FrameKind.Response, Uint8Array.of(1, 0))]],
    ['raft frame before authentication', [goodHandshake(9, 1), encodeFrame(FrameKind.Raft, text('x'))]],
  ];
  for (const [name, chunks] of attacks) {
    const logsBefore = a.logs.length;
    const raw = rawClient(a.port);
    for (const chunk of chunks) raw.socket.write(chunk);
    await raw.closed;
    // Before authentication refusals are rate-limited (warn once per source and reason, then debug).
    assert.ok(a.logs.slice(logsBefore).some((l) => /peer refused|cannot accept/.test(l.msg)), `${name}: logged`);
    // B still gets through.
    const before = a.received.length;
    b.transport.send(1, [heartbeat(2, 1, 1)]);
    await until(() => a.received.length === before + 1);
  }
  assert.equal(a.transport.stats().protocolErrors, attacks.length);
  assert.ok(a.received.every((r) => r.from === 2), 'nothing from the raw sockets was delivered');
  await closeAll([a, b]);
});

test('a handshake from another cluster (or for another node) is refused', T, async () => {
  const a = await startNode(1);
  const x = await startNode(2, { clusterId: 'other-cluster' });
  x.transport.addPeer(1, '127.0.0.1', a.port);
  x.transport.send(1, [heartbeat(2, 1, 1)]);
  await until(() => a.transport.stats().handshakesRefused === 1 && x.unreachable.includes(1));
  assert.equal(a.received.length, 0);
  assert.ok(a.logs.some((l) => l.level === 'warn' && /peer refused/.test(l.msg) && /wrong cluster/.test(String((l.obj as { reason?: string }).reason))));
  // Raw: right cluster, but addressed to node 5.
  const raw = rawClient(a.port);
  raw.socket.write(goodHandshake(3, 5));
  await raw.closed;
  assert.ok(a.transport.stats().handshakesRefused >= 2);
  await closeAll([a, x]);
});

test('back-pressure drops Raft messages and reports the peer, but never drops RPC', T, async () => {
  const [a, b] = await Promise.all([startNode(1, { writeBufferBytesMax: 0 }), startNode(2)]);
  connectAll([a, b]);
  b.transport.onRequest(async (_from, payload) => payload);
  // The first send dials; the handshake sits in the write buffer until connect, so the batch is over the threshold.
  a.transport.send(2, [heartbeat(1, 2, 1), heartbeat(1, 2, 2)]);
  await until(() => a.unreachable.includes(2));
  assert.equal(a.transport.stats().raftMessagesDropped, 2);
  assert.equal(str(await a.transport.request(2, text('still here'), 5000)), 'still here');
  await closeAll([a, b]);
});

test('the link filter drops chosen links only', T, async () => {
  const [a, b, c] = await Promise.all([startNode(1), startNode(2), startNode(3)]);
  connectAll([a, b, c]);
  const cut = (from: number, to: number): boolean => !(from === 1 && to === 2);
  a.transport.setLinkFilter(cut);
  a.transport.send(2, [heartbeat(1, 2, 1)]);
  a.transport.send(3, [heartbeat(1, 3, 1)]);
  await until(() => c.received.length === 1);
  b.transport.send(1, [heartbeat(2, 1, 1)]);
  await until(() => a.received.length === 1);
  assert.equal(b.received.length, 0);
  assert.equal(a.transport.stats().raftMessagesDropped, 1);
  a.transport.setLinkFilter(null);
  a.transport.send(2, [heartbeat(1, 2, 1)]);
  await until(() => b.received.length === 1);
  await closeAll([a, b, c]);
});

test('a large snapshot crosses in one frame; a message over the frame limit is dropped', T, async () => {
  const [a, b] = await Promise.all([startNode(1, { frameBytesMax: 8 * 1024 * 1024 }), startNode(2, { frameBytesMax: 8 * 1024 * 1024 })]);
  connectAll([a, b]);
  const data = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const snap = (size: number): Message => ({
    ...heartbeat(1, 2, 4), type: MessageType.Snap,
    snapshot: { meta: { index: 100, term: 2, confState: { voters: [1, 2, 3], learners: [] } }, data: data.subarray(0, size) },
  });
  a.transport.send(2, [snap(data.length), heartbeat(1, 2, 5)]);
  await until(() => b.received.length === 1);
  assert.deepEqual(b.received[0].messages[0].snapshot!.data, data);
  assert.equal(b.received[0].messages[1].groupId, 5);
  // Over the limit: the big message is dropped, its companions still go.
  const huge = new Uint8Array(9 * 1024 * 1024);
  a.transport.send(2, [{ ...snap(0), snapshot: { ...snap(0).snapshot!, data: huge } }, heartbeat(1, 2, 6)]);
  await until(() => b.received.length === 2);
  assert.deepEqual(b.received[1].messages.map((m) => m.groupId), [6]);
  assert.ok(a.logs.some((l) => l.level === 'warn' && /larger than the frame limit/.test(l.msg)));
  await closeAll([a, b]);
});

test('silent inbound connections time out; a dead address fails requests as unreachable', T, async () => {
  const a = await startNode(1, { handshakeTimeoutMs: 20 });
  const raw = rawClient(a.port);
  await raw.closed;
  assert.ok(a.logs.some((l) => l.level === 'warn' && (l.obj as { reason?: string }).reason === 'handshake timeout'));
  // Grab a free port, then close it so nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  a.transport.addPeer(4, '127.0.0.1', deadPort);
  await assert.rejects(a.transport.request(4, text('x'), 60_000), isTransportError('unreachable'));
  assert.ok(a.unreachable.includes(4));
  // In back-off, a request fails at once.
  await assert.rejects(a.transport.request(4, text('x'), 60_000), isTransportError('unreachable'));
});

test('removePeer rejects its pending requests; addPeer with a new address redials there', T, async () => {
  const [a, b, b2] = await Promise.all([startNode(1), startNode(2), startNode(2)]);
  connectAll([a, b]);
  b.transport.onRequest(() => new Promise<Uint8Array>(() => {}));
  let served = 0;
  b2.transport.onRequest(async () => { served++; return text('new home'); });
  const pending = assert.rejects(a.transport.request(2, text('x'), 60_000), isTransportError('closed'));
  a.transport.removePeer(2);
  await pending;
  a.transport.send(2, [heartbeat(1, 2, 1)]);
  await until(() => a.unreachable.includes(2));
  a.transport.addPeer(2, '127.0.0.1', b2.port);
  assert.equal(str(await a.transport.request(2, text('x'), 5000)), 'new home');
  assert.equal(served, 1);
});
