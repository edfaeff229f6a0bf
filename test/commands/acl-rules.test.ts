// Proves ACL SETUSER rules parse, fail and describe themselves as redis-server 7.0.15 does: each
// expected text below was read from a local redis-server (ACL LIST / GETUSER after the same rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclUser, AclState } from '../../src/commands/acl-rules.js';

function user(rules: string[]): AclUser | string {
  const u = new AclUser('t');
  for (const r of ['reset', ...rules]) {
    const why = u.setRule(r);
    if (why !== null) return `ERR Error in ACL SETUSER modifier '${r}': ${why}`;
  }
  return u;
}

function line(rules: string[]): string {
  const u = user(rules);
  return typeof u === 'string' ? u : u.describe();
}

const P = 'user t off sanitize-payload';
const cases: Array<[string[], string]> = [
  [['+get', '+get'], `${P} resetchannels -@all +get`],
  [['+get', '+@read', '-get', '+@read'], `${P} resetchannels -@all +@read`],
  [['+@all', '-get'], `${P} resetchannels +@all -get`],
  [['allcommands', '+get'], `${P} resetchannels +@all`],
  [['+get', 'nocommands'], `${P} resetchannels -@all`],
  [['+config|get'], `${P} resetchannels -@all +config|get`],
  [['+config|get', '+config'], `${P} resetchannels -@all +config`],
  [['+select|0'], `${P} resetchannels -@all +select|0`],
  [['~a', '~b', 'allkeys'], `${P} ~* resetchannels -@all`],
  [['%RW~a'], `${P} ~a resetchannels -@all`],
  [['%R~a', '%W~a'], `${P} ~a resetchannels -@all`],
  [['>p1', '>p2', '<p1'], `${P} #3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693 resetchannels -@all`],
  [['>x', 'nopass'], 'user t off nopass sanitize-payload resetchannels -@all'],
  [['&ch', 'allchannels'], `${P} &* -@all`],
  [['+GET'], `${P} resetchannels -@all +get`],
  [['+@READ'], `${P} resetchannels -@all +@read`],
  [['+@read', '-get'], `${P} resetchannels -@all +@read -get`],
  [['+@read', '-@write'], `${P} resetchannels -@all +@read`],
  [['+set', '+@read', '-@read'], `${P} resetchannels -@all +set`],
  [['+@all', '-@read', '+get'], `${P} resetchannels +@all -@read +get`],
  [['+@string', '-get', '+@read'], `${P} resetchannels -@all +@read +@string`],
  [['on', '>p', '~*', '+@all'], 'user t on sanitize-payload #148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940 ~* resetchannels +@all'],
  [['bad'], "ERR Error in ACL SETUSER modifier 'bad': Syntax error"],
  [['+nosuch'], "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"],
  [['+@nosuch'], "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"],
  [['<nope'], "ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist"],
  [['#zz'], "ERR Error in ACL SETUSER modifier '#zz': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"],
  [['%X~a'], "ERR Error in ACL SETUSER modifier '%X~a': Syntax error"],
  [['allkeys', '~a'], "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"],
  [['allchannels', '&a'], "ERR Error in ACL SETUSER modifier '&a': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"],
  [['+config|nosuch'], "ERR Error in ACL SETUSER modifier '+config|nosuch': Unknown command or category name in ACL"],
  [['-select|0'], "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"],
];

test('ACL LIST lines and SETUSER errors match redis-server 7.0.15', () => {
  for (const [rules, expected] of cases) assert.equal(line(rules), expected, rules.join(' '));
});

test('a new user and the default user describe themselves as in Redis', () => {
  const alice = new AclUser('alice');
  for (const r of ['on', '>secret', '~cache:*', '+get']) assert.equal(alice.setRule(r), null);
  assert.equal(alice.describe(), 'user alice on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~cache:* resetchannels -@all +get');
  assert.equal(AclUser.defaultUser().describe(), 'user default on nopass ~* &* +@all');
  const bob = new AclUser('bob');
  for (const r of ['%R~r:*', '%W~w:*', '+@read', '-get', 'resetchannels']) assert.equal(bob.setRule(r), null);
  assert.equal(bob.describe(), 'user bob off %R~r:* %W~w:* resetchannels -@all +@read -get');
  assert.equal(bob.keysText(), '%R~r:* %W~w:*');
});

test('permission checks: commands, first arguments, and read/write key patterns', () => {
  const alice = user(['on', '>secret', '~cache:*', '+get', '+set', '+select|0']) as AclUser;
  const b = (...a: string[]) => a.map((x) => Buffer.from(x));
  assert.equal(alice.check('get', b('get', 'cache:1'), [1]), null);
  assert.equal(alice.check('get', b('get', 'other'), [1]), 'key');
  assert.equal(alice.check('del', b('del', 'cache:1'), [1]), 'cmd');
  assert.equal(alice.check('select', b('select', '0'), []), null);
  assert.equal(alice.check('select', b('select', '1'), []), 'cmd');
  const rw = user(['%R~r:*', '%W~w:*', '+@all']) as AclUser;
  assert.equal(rw.check('get', b('get', 'r:1'), [1]), null);
  assert.equal(rw.check('get', b('get', 'w:1'), [1]), 'key');
  assert.equal(rw.check('set', b('set', 'w:1', 'v'), [1]), null);
  assert.equal(rw.check('set', b('set', 'r:1', 'v'), [1]), 'key');
  // RENAME reads and deletes its source (R+W) and writes its destination (W only).
  const mover = user(['%RW~src', '%W~dst', '+@all']) as AclUser;
  assert.equal(mover.check('rename', b('rename', 'src', 'dst'), [1, 2]), null);
  assert.equal(mover.check('rename', b('rename', 'dst', 'src'), [1, 2]), 'key');
  assert.equal(alice.checkPassword('secret'), true);
  assert.equal(alice.checkPassword('wrong'), false);
});

test('the ACL state round-trips through its stored JSON', () => {
  const s = AclState.initial();
  const alice = user(['on', '>secret', '~cache:*', '+get', '+select|0']) as AclUser;
  s.users.set('t', alice);
  const back = AclState.fromData(JSON.parse(JSON.stringify(s.toData())));
  assert.deepEqual(back.sortedUsers().map((u) => u.describe()), s.sortedUsers().map((u) => u.describe()));
});

test('raftis-only commands are known to ACL rules and covered by +@all', async () => {
  const { addAclCommand } = await import('../../src/commands/acl-rules.js');
  addAclCommand('raftis', ['slow']);
  addAclCommand('raftis|groups', ['slow']);
  const admin = AclUser.defaultUser();
  assert.equal(admin.check('raftis|groups', [Buffer.from('raftis'), Buffer.from('groups')], []), null);
  assert.equal(admin.describe(), 'user default on nopass ~* &* +@all');
  const limited = user(['+@all', '-raftis']) as AclUser;
  assert.equal(limited.check('raftis|groups', [Buffer.from('raftis'), Buffer.from('groups')], []), 'cmd');
});
