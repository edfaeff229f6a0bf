// Proves the first commands answer exactly as Redis does: the same command
// sequence goes through redis-cli to a real redis-server and to a raftis node,
// and the printed replies must match line for line. Also checks what cannot be
// byte-identical (HELLO, INFO) by shape, and that a group without a quorum
// answers -CLUSTERDOWN within the request timeout instead of hanging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { TestCluster } from './harness.js';
import { initialPlacement } from '../../src/cluster/placement.js';
import { keySlot } from '../../src/cluster/slot.js';

const cluster = new TestCluster({ extra: ['--groups', '4', '--request-timeout-ms', '1500'] });
const redisPort = cluster.basePort + 9;
let redis: ChildProcess;

function cli(port: number, args: string[], extra: string[] = []): string {
  // Raftis's ports speak TLS when the harness runs in TLS mode; redis-server's never do.
  const tls = port === redisPort ? [] : cluster.cliTlsArgs();
  const r = spawnSync('redis-cli', ['-p', String(port), ...tls, ...extra, ...args], { encoding: 'utf8', timeout: 20000 });
  return (r.stdout + r.stderr).trim();
}

before(async () => {
  redis = spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  await cluster.start();
  for (let i = 0; i < 50 && cli(redisPort, ['PING']) !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 100));
});

after(async () => {
  redis.kill('SIGTERM');
  await cluster.stop();
});

const SEQUENCE: string[][] = [
  ['PING'], ['PING', 'hello world'], ['PING', 'a', 'b'], ['ECHO', 'x y'], ['ECHO'],
  ['SELECT', '0'], ['SELECT', 'abc'],
  ['GET', 'k'], ['SET', 'k', 'v'], ['GET', 'k'], ['SET', 'k', 'w', 'NX'], ['SET', 'k', 'w', 'XX', 'GET'], ['GET', 'k'],
  ['SET', 'k', 'v', 'EX', '0'], ['SET', 'k', 'v', 'EX', 'abc'], ['SET', 'k', 'v', 'PX', '100', 'EX', '100'],
  ['SET', 'k', 'v', 'BOGUS'], ['SET', 'k', 'v', 'KEEPTTL', 'EX', '10'], ['SET', 'k', 'v', 'NX', 'XX'],
  ['SET', 'gone', 'v', 'PXAT', '1'], ['GET', 'gone'], ['SET', 'k'], ['GET'],
  ['INCR', 'k'], ['SET', 'n', '10'], ['INCR', 'n'], ['INCRBY', 'n', '5'], ['DECRBY', 'n', '-5'], ['DECR', 'n'],
  ['INCRBY', 'n', 'abc'], ['INCRBY', 'n', '01'], ['SET', 'big', '9223372036854775807'], ['INCR', 'big'],
  ['DECRBY', 'n', '-9223372036854775808'], ['INCR', 'fresh'],
  ['EXISTS', 'k', 'k', 'nokey', 'n'], ['DEL', 'k', 'n', 'big', 'nokey'], ['EXISTS', 'k'], ['DBSIZE'],
  ['FOOBAR', 'a', 'b'], ['foobar'],
  ['CLIENT', 'SETNAME', 'my-name'], ['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'GETNAME'], ['CLIENT', 'NOSUCH'],
  ['CLIENT', 'SETNAME'], ['COMMAND', 'INFO', 'get'], ['COMMAND', 'DOCS', 'get'], ['COMMAND', 'GETKEYS', 'SET', 'a', 'b'],
  ['COMMAND', 'GETKEYS', 'PING'], ['COMMAND', 'NOSUCH'],
  ['HELLO', '4'], ['HELLO', 'abc'],
];

test('replies match redis-server for the same command sequence', () => {
  const mismatches: string[] = [];
  for (const args of SEQUENCE) {
    const want = cli(redisPort, args);
    const got = cli(cluster.port(1), args);
    if (want !== got) mismatches.push(`${args.join(' ')}\n  redis:  ${JSON.stringify(want)}\n  raftis: ${JSON.stringify(got)}`);
  }
  assert.deepEqual(mismatches, []);
});

test('HELLO 3 switches to RESP3 and returns the handshake map', () => {
  const out = cli(cluster.port(2), ['HELLO', '3']);
  assert.match(out, /^server redis$/m);
  assert.match(out, /^proto 3$/m);
  for (const args of [['GET', 'absent'], ['SET', 'r3', 'v'], ['GET', 'r3'], ['INCR', 'r3']]) {
    assert.equal(cli(cluster.port(2), args, ['-3']), cli(redisPort, args, ['-3']), args.join(' '));
  }
});

test('raftis has one database: SELECT 0 works, any other index is refused as out of range', () => {
  assert.equal(cli(cluster.port(1), ['SELECT', '0']), 'OK');
  assert.equal(cli(cluster.port(1), ['SELECT', '1']), 'ERR DB index is out of range');
});

test('INFO has the server, clients, stats, replication, keyspace and raft sections', () => {
  cli(cluster.port(1), ['SET', 'info-key', '1']);
  const info = cli(cluster.port(3), ['INFO']);
  for (const section of ['Server', 'Clients', 'Stats', 'Replication', 'Keyspace', 'Raft']) {
    assert.match(info, new RegExp(`# ${section}`), section);
  }
  assert.match(info, /raftis_read_mode:lease/);
  assert.match(info, /group1:role=(leader|follower),leader=\d,term=\d+,commit=\d+,applied=\d+/);
  assert.match(cli(cluster.port(3), ['INFO', 'keyspace']), /db0:keys=\d+/);
});

test('a group without a quorum answers CLUSTERDOWN within the request timeout', async () => {
  // One key whose group node 1 leads (the write is proposed here and never commits)
  // and one led elsewhere (forwarded to a dead node, then no leader at all).
  const placement = initialPlacement(
    [1, 2, 3].map((id) => ({ nodeId: id, host: '127.0.0.1', port: cluster.port(id), peerPort: 0 })), 4, 3);
  const leaders = new Map<number, number>();
  for (let g = 1; g <= 4; g++) leaders.set(g, await cluster.leaderOf(g));
  const keyLedBy = (pred: (leader: number) => boolean) => {
    for (let i = 0; i < 1000; i++) {
      const key = `no-quorum:${i}`;
      if (pred(leaders.get(placement.groupOfSlot(keySlot(key)))!)) return key;
    }
    return undefined;
  };
  const keys = [keyLedBy((l) => l === 1), keyLedBy((l) => l !== 1)].filter((k): k is string => k !== undefined);
  assert.ok(keys.length > 0);
  await cluster.kill(2, 'SIGKILL');
  await cluster.kill(3, 'SIGKILL');
  for (const key of keys) {
    const started = Date.now();
    assert.match(cli(cluster.port(1), ['SET', key, 'x']), /CLUSTERDOWN/, key);
    assert.ok(Date.now() - started < 15000, 'answered instead of hanging');
  }
  assert.match(cli(cluster.port(1), ['PING']), /PONG/);
});
