// Regression (found by the fault tests, seed 800 on 5 nodes with replica moves): removing a
// group while a cycle awaits the state machine's apply of its entries crashed the node
// ("Cannot read properties of undefined (reading 'proposed')"); the host must skip the
// removed group and fail its waiters with noGroup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Host, type ApplyWork } from '../../src/host/host.js';
import { createRealEnv } from '../../src/env/real.js';
import type { EnvLogger } from '../../src/env/env.js';

const errors: string[] = [];
const logger: EnvLogger = {
  debug() {}, info() {}, warn() {},
  error: (_o: object, msg: string) => { errors.push(msg); },
  child: () => logger,
} as unknown as EnvLogger;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a group removed while its entries are being applied does not crash the host', async () => {
  let release: (() => void) | null = null;
  let blocked = false;
  let applying = false;
  const sm = {
    applied: () => 0,
    async apply(work: ApplyWork[]) {
      if (blocked) {
        applying = true;
        await new Promise<void>((r) => { release = r; });
      }
      return new Map(work.map((w) => [w.groupId, w.entries.map(() => ['OK'])]));
    },
    snapshot: async () => new Uint8Array(0),
    installSnapshot: async () => {},
    sync: async () => {},
  };
  const host = new Host(createRealEnv(logger, 1), {
    nodeId: 1, electionTicks: 3, heartbeatTicks: 1, leaseDriftTicks: 1, tickMs: 5, readMode: 'readIndex',
    compactEntries: 1000, batchOpsMax: 16,
  }, { write: async () => {} }, sm, { send() {} });
  host.addGroup({ groupId: 1, voters: [1] });
  host.start();
  try {
    for (let i = 0; i < 400 && !host.isLeader(1); i++) await sleep(5);
    assert.ok(host.isLeader(1), 'the single voter leads its group');
    // Let the leader's own empty entry apply, then hold the next apply.
    await sleep(50);
    blocked = true;
    const outcome = host.propose(1, Buffer.from('set k v'));
    for (let i = 0; i < 400 && !applying; i++) await sleep(5);
    assert.ok(applying, 'the proposal is being applied');
    host.removeGroup(1);
    release!();
    assert.deepEqual(await outcome, { kind: 'noGroup' });
    await sleep(50);
    assert.deepEqual(errors, [], 'no host cycle failed');
  } finally {
    await host.stop();
  }
});
