// State-machine apply benchmark (not a test): KvStateMachine.apply on the production LevelDB
// store at a node-like pace (two groups, two SETs of 100-byte values on random keys out of
// 100,000 per group per apply, one event-loop turn between applies, the Env's real timers),
// reporting the process CPU (all threads) per SET. It isolates what a replica spends applying
// a SET from the rest of the write path, so builds can be compared on a busy machine:
//   node dist/bench/apply-bench.js [applies]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LevelStateMachineStore } from '../src/storage/level-state-machine-store.js';
import { KvStateMachine } from '../src/commands/apply.js';
import { stateMachineCommands } from '../src/node.js';
import { encodeEntryBatch } from '../src/host/entry-batch.js';
import { encodeOp } from '../src/commands/op-codec.js';
import { realTimers } from '../src/env/real.js';
import { EntryType } from '../src/raft/types.js';
import type { ApplyWork } from '../src/host/host.js';

const applies = Number(process.argv[2] ?? 15_000);
const dir = mkdtempSync(join(tmpdir(), 'raftis-apply-bench-'));
const store = new LevelStateMachineStore(dir, { timers: realTimers });
await store.open();
const sm = new KvStateMachine(store, stateMachineCommands().all);
const value = Buffer.alloc(100, 0x78);
let index = 0;
let seed = 1;
const key = (): Buffer => Buffer.from(`key:${(seed = (seed * 16807) % 2147483647) % 100_000}`);

async function run(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const work: ApplyWork[] = [];
    for (let groupId = 1; groupId <= 2; groupId++) {
      const ops = [encodeOp([Buffer.from('SET'), key(), value]), encodeOp([Buffer.from('SET'), key(), value])];
      work.push({ groupId, entries: [{ index: ++index, term: 1, type: EntryType.Normal, data: encodeEntryBatch({ timeMs: 1, ops }) }] });
    }
    await sm.apply(work);
    await new Promise((r) => setImmediate(r));
  }
}

await run(3000); // warm-up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(applies);
await store.flush();
const cpu = process.cpuUsage(cpu0);
const sets = applies * 4;
console.log(`apply: ${sets} SETs in ${(performance.now() - t0).toFixed(0)} ms; CPU µs/SET ${((cpu.user + cpu.system) / sets).toFixed(1)} ` +
  `(user ${(cpu.user / sets).toFixed(1)}, system ${(cpu.system / sets).toFixed(1)})`);
await store.close();
rmSync(dir, { recursive: true, force: true });
