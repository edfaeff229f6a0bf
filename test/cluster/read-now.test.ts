// Proves Router.readNow (the synchronous read path, docs/decisions.md "Local GET path") serves
// exactly the reads route() would serve here at once, with the same reply, and leaves every
// other case to route(); and that Host.canReadNow agrees with Host.read() resolving at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, DEFAULT_READ_POLICY, type ReadPolicy } from '../../src/cluster/router.js';
import { Host, type ApplyWork } from '../../src/host/host.js';
import { createRealEnv } from '../../src/env/real.js';
import type { EnvLogger } from '../../src/env/env.js';
import type { KeyedCommand } from '../../src/commands/spec.js';
import type { ReadContext } from '../../src/commands/keyspace.js';
import { bulk, ok, type Reply } from '../../src/resp/encoder.js';
import type { Placement } from '../../src/cluster/placement.js';

const logger: EnvLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger } as unknown as EnvLogger;
const env = createRealEnv(logger, 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function routerWith(host: { leader: boolean; lease: boolean }, views: number[] = []): Router {
  const fakeHost = {
    isLeader: () => host.leader,
    canReadNow: (_g: number, mode?: string) => host.leader && host.lease && mode !== 'readIndex',
    raft: () => ({}),
    leaderOf: () => (host.leader ? 1 : 2),
    read: async (_g: number, mode?: string) => (host.leader && (host.lease || mode === 'readIndex') ? { kind: 'ok', value: undefined } : { kind: 'notLeader', leaderHint: 2 }),
    propose: async () => ({ kind: 'ok', value: ok() }),
  };
  return new Router(env, { nodeId: 1, redirect: 'forward', requestTimeoutMs: 200, retryMs: 5 },
    fakeHost as unknown as Host, { address: () => undefined, group: () => undefined } as unknown as Placement,
    { request: async () => { throw new Error('unreachable'); } },
    (groupId, nowMs): ReadContext => { views.push(groupId); return { ks: { getRaw: () => undefined } as never, nowMs, groupId }; });
}

const getCmd: KeyedCommand = { kind: 'read', name: 'get', read: (ctx, args) => bulk(`${ctx.groupId}:${args[1]}`) };
const asyncCmd: KeyedCommand = { kind: 'read', name: 'slow', read: async (_ctx, args) => bulk(`later:${args[1]}`) };
const setCmd: KeyedCommand = { kind: 'write', name: 'set', apply: () => ok() };
const args = [Buffer.from('get'), Buffer.from('k')];

test('a read on a leader with a valid lease is served synchronously, with the reply route() gives', async () => {
  const views: number[] = [];
  const r = routerWith({ leader: true, lease: true }, views);
  const now = r.readNow(7, getCmd, args);
  assert.ok(now !== undefined && !(now instanceof Promise), 'served at once');
  assert.deepEqual(now, await r.route(7, 0, getCmd, args, 2));
  assert.deepEqual(views, [7, 7]);
});

test('readNow leaves to route() what it cannot serve at once', () => {
  const lin: ReadPolicy = { consistency: 'linearizable', readonly: false };
  assert.equal(routerWith({ leader: true, lease: false }).readNow(7, getCmd, args), undefined, 'lease not valid');
  assert.equal(routerWith({ leader: false, lease: true }).readNow(7, getCmd, args), undefined, 'not the leader');
  assert.equal(routerWith({ leader: true, lease: true }).readNow(7, getCmd, args, lin), undefined, 'CLIENT CONSISTENCY LINEARIZABLE');
  assert.equal(routerWith({ leader: true, lease: true }).readNow(7, setCmd, args), undefined, 'a write');
  assert.equal(routerWith({ leader: false, lease: false }).readNow(7, getCmd, args, { consistency: 'stale', readonly: false }), undefined,
    'a STALE read on a replica takes the replica path of route()');
});

test('a STALE read on the leader needs no lease, as in route()', async () => {
  const stale: ReadPolicy = { consistency: 'stale', readonly: false };
  const r = routerWith({ leader: true, lease: false });
  const now = r.readNow(3, getCmd, args, stale);
  assert.deepEqual(now, bulk('3:k'));
  assert.deepEqual(now, await r.route(3, 0, getCmd, args, 2, false, stale));
});

test('an asynchronous read command still gets its reply (through a promise)', async () => {
  const now = routerWith({ leader: true, lease: true }).readNow(7, asyncCmd, args, DEFAULT_READ_POLICY);
  assert.ok(now instanceof Promise);
  assert.deepEqual(await now, bulk('later:k') as Reply);
});

test('Host.canReadNow is true exactly when a lease read() resolves at once', async () => {
  const sm = {
    applied: () => applied,
    async apply(work: ApplyWork[]) {
      for (const w of work) for (const e of w.entries) applied = Math.max(applied, e.index);
      return new Map(work.map((w) => [w.groupId, w.entries.map(() => [])]));
    },
    snapshot: async () => new Uint8Array(0),
    installSnapshot: async () => {},
    sync: async () => {},
  };
  let applied = 0;
  const host = new Host(env, {
    nodeId: 1, electionTicks: 10, heartbeatTicks: 1, leaseDriftTicks: 2, tickMs: 5, readMode: 'lease',
    compactEntries: 1000, batchOpsMax: 16,
  }, { write: async () => {} }, sm, { send() {} });
  host.addGroup({ groupId: 1, voters: [1] });
  assert.equal(host.canReadNow(1), false, 'not started: no leader');
  host.start();
  try {
    for (let i = 0; i < 400 && !host.canReadNow(1); i++) await sleep(5);
    assert.equal(host.isLeader(1), true);
    assert.equal(host.canReadNow(1), true, 'the single voter leads with a lease once its entry applied');
    let settled: unknown;
    void host.read(1).then((o) => { settled = o; });
    await Promise.resolve();
    assert.deepEqual(settled, { kind: 'ok', value: undefined }, 'read() resolved at once too');
    assert.equal(host.canReadNow(1, 'readIndex'), false, 'ReadIndex reads always wait for a heartbeat round');
    assert.equal(host.canReadNow(2), false, 'a group not hosted here');
  } finally {
    await host.stop();
  }
  assert.equal(host.canReadNow(1), false, 'stopped');
});
