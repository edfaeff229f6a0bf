// Proves Router.writeNow (the write fast path, docs/decisions.md "Write fast path"): on the
// group's leader it proposes at once and answers with the applied result, as route() would; it
// leaves to route() what it cannot propose here; a refused admission answers without proposing;
// a proposal that comes back not-leader is retried by route() (here: forwarded); and a proposal
// that never settles gets route()'s outcome-unknown error at the deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type RouterOptions } from '../../src/cluster/router.js';
import { LeaderLoad } from '../../src/cluster/balancer.js';
import type { Host, Outcome } from '../../src/host/host.js';
import { createRealEnv } from '../../src/env/real.js';
import type { EnvLogger } from '../../src/env/env.js';
import type { KeyedCommand } from '../../src/commands/spec.js';
import { encodeOp } from '../../src/commands/op-codec.js';
import { bulk, errorReply, ok, type Reply } from '../../src/resp/encoder.js';
import type { Placement } from '../../src/cluster/placement.js';

const logger: EnvLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger } as unknown as EnvLogger;
const env = createRealEnv(logger, 1);

const setCmd: KeyedCommand = { kind: 'write', name: 'set', apply: () => ok() };
const getCmd: KeyedCommand = { kind: 'read', name: 'get', read: () => bulk('v') };
const args = [Buffer.from('set'), Buffer.from('k'), Buffer.from('v')];

interface FakeHost {
  leader: boolean;
  /** Proposals handed to proposeThen, with their callbacks. */
  proposals: Array<{ groupId: number; op: Uint8Array; done: (o: Outcome<unknown>) => void }>;
}

function routerWith(h: FakeHost, opts: Partial<RouterOptions> = {}, forwarded: Buffer[] = []): Router {
  const fakeHost = {
    isLeader: () => h.leader,
    leaderOf: () => (h.leader ? 1 : 2),
    raft: () => ({}),
    proposeThen: (groupId: number, op: Uint8Array, done: (o: Outcome<unknown>) => void) => {
      if (!h.leader) return done({ kind: 'notLeader', leaderHint: 2 });
      h.proposals.push({ groupId, op, done });
    },
    propose: (groupId: number, op: Uint8Array) => new Promise((resolve) => fakeHost.proposeThen(groupId, op, resolve)),
  };
  return new Router(env, { nodeId: 1, redirect: 'forward', requestTimeoutMs: 150, retryMs: 5, ...opts },
    fakeHost as unknown as Host, { address: () => undefined, group: () => undefined } as unknown as Placement,
    {
      request: async (_to, payload) => {
        forwarded.push(Buffer.from(payload));
        return Buffer.concat([Buffer.from([0]), Buffer.from('+FORWARDED\r\n')]);
      },
    },
    () => { throw new Error('no reads here'); });
}

test('on the leader a write is proposed at once and answered with its applied result', async () => {
  const h: FakeHost = { leader: true, proposals: [] };
  const load = new LeaderLoad();
  const r = routerWith(h, { load });
  const now = r.writeNow(5, 0, setCmd, args, 2);
  assert.ok(now instanceof Promise, 'waits for the commit');
  assert.equal(h.proposals.length, 1, 'proposed in the same turn');
  assert.equal(h.proposals[0].groupId, 5);
  assert.deepEqual(Buffer.from(h.proposals[0].op), encodeOp(args));
  h.proposals[0].done({ kind: 'ok', value: ok() });
  assert.deepEqual(await now, ok());
  // The same write through route() gets the same reply.
  const viaRoute = r.route(5, 0, setCmd, args, 2);
  await new Promise((resolve) => setImmediate(resolve));
  h.proposals[1].done({ kind: 'ok', value: ok() });
  assert.deepEqual(await viaRoute, ok());
  // Both counted once each as this node's own load for group 5.
  assert.deepEqual([...load.take().get(5)!], [[1, 2]]);
});

test('writeNow leaves to route() what it cannot propose here', () => {
  assert.equal(routerWith({ leader: false, proposals: [] }).writeNow(5, 0, setCmd, args, 2), undefined, 'not the leader');
  assert.equal(routerWith({ leader: true, proposals: [] }).writeNow(5, 0, getCmd, args, 2), undefined, 'a read');
});

test('a refused admission answers at once and proposes nothing; an admitted write settles after its outcome', async () => {
  const refused = errorReply('OOM command not allowed when used memory > \'maxmemory\'.');
  const h: FakeHost = { leader: true, proposals: [] };
  assert.deepEqual(routerWith(h, { admitWrite: () => ({ ok: false, reply: refused }) }).writeNow(5, 0, setCmd, args, 2), refused);
  assert.equal(h.proposals.length, 0);

  let settled = 0;
  const now = routerWith(h, { admitWrite: () => ({ ok: true, settle: () => settled++ }) }).writeNow(5, 0, setCmd, args, 2) as Promise<Reply>;
  assert.equal(settled, 0);
  h.proposals[0].done({ kind: 'ok', value: ok() });
  await now;
  assert.equal(settled, 1);
});

test('a proposal that comes back not-leader is retried by route(): forwarded to the new leader', async () => {
  const h: FakeHost = { leader: true, proposals: [] };
  const forwarded: Buffer[] = [];
  const now = routerWith(h, {}, forwarded).writeNow(5, 0, setCmd, args, 2) as Promise<Reply>;
  h.leader = false; // leadership moved before the entry committed
  h.proposals[0].done({ kind: 'notLeader', leaderHint: 2 });
  const reply = await now;
  assert.equal(forwarded.length, 1, 'sent once to node 2');
  assert.deepEqual(reply, { kind: 'raw', bytes: Buffer.from('+FORWARDED\r\n') });
});

test('a proposal that never settles gets the outcome-unknown error at the deadline, and nothing after', async () => {
  const h: FakeHost = { leader: true, proposals: [] };
  let settled = 0;
  const started = Date.now();
  const now = routerWith(h, { admitWrite: () => ({ ok: true, settle: () => settled++ }) }).writeNow(5, 0, setCmd, args, 2) as Promise<Reply>;
  const reply = await now;
  assert.ok(Date.now() - started >= 140, 'waited for the request timeout');
  assert.equal(reply.kind, 'error');
  assert.match((reply as { message: string }).message, /^CLUSTERDOWN .*timed out/);
  // The entry may still commit later: its admission is settled then, and the reply stays the error.
  h.proposals[0].done({ kind: 'ok', value: ok() });
  assert.equal(settled, 1);
});
