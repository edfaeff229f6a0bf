// Storage benchmark (not a test): raw fdatasync rate of the disk, the log store
// (segmented file vs classic-level with sync writes) at several batch sizes and group
// counts with one fsync per batch, state-machine apply and read rates, and snapshot
// build and install throughput. Run with `npm run bench:storage`.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Entry } from '../src/raft/types.js';
import type { LogUpdate } from '../src/storage/types.js';
import { SegmentedLogStore } from '../src/storage/segmented-log-store.js';
import { LevelEngine, type EngineOp } from '../src/storage/level-engine.js';
import { LevelStateMachineStore } from '../src/storage/level-state-machine-store.js';
import { ValueType } from '../src/storage/types.js';

const ENTRY_BYTES = 100;
const BATCHES = [1, 16, 256, 4096];
const GROUPS = [1, 16, 256];
const CELL_MS = Number(process.env.CELL_MS ?? 1500);

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `raftis-bench-${label}-`));
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** write(100 bytes) + fdatasync in a loop: the ceiling for batch-1 durability. */
function rawFdatasyncRate(): number {
  const dir = tempDir('fsync');
  const fd = fs.openSync(join(dir, 'f'), 'w');
  const buf = Buffer.alloc(ENTRY_BYTES, 7);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < CELL_MS) {
    fs.writeSync(fd, buf);
    fs.fdatasyncSync(fd);
    n++;
  }
  const rate = n / ((performance.now() - start) / 1000);
  fs.closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** One write cycle's worth of updates: `batch` entries spread round robin over `groups`. */
function makeUpdates(batch: number, groups: number, next: Map<number, number>, payload: Uint8Array): LogUpdate[] {
  const perGroup = new Map<number, Entry[]>();
  for (let k = 0; k < batch; k++) {
    const groupId = 1 + ((next.get(0)! + k) % groups);
    const index = next.get(groupId) ?? 1;
    next.set(groupId, index + 1);
    let list = perGroup.get(groupId);
    if (!list) perGroup.set(groupId, (list = []));
    list.push({ index, term: 1, type: 0, data: payload });
  }
  next.set(0, next.get(0)! + batch);
  return [...perGroup].map(([groupId, entries]) => ({
    groupId, entries, hardState: { term: 1, vote: 1, commit: entries[entries.length - 1].index },
  }));
}

interface LogBackend {
  write(updates: LogUpdate[]): Promise<void>;
  /** Data fsyncs and directory fsyncs so far, when the backend can count them. */
  fsyncs(): { data: number; dir: number } | undefined;
  close(): Promise<void>;
}

async function segmentedBackend(dir: string): Promise<LogBackend> {
  const store = new SegmentedLogStore(dir);
  await store.open();
  return {
    write: (updates) => store.write(updates, { sync: true }),
    fsyncs: () => ({ data: store.stats().fsyncs, dir: store.stats().dirSyncs }),
    close: () => store.close(),
  };
}

/** The alternative: entries and hard state as LevelDB keys, one sync batch per cycle. */
async function levelBackend(dir: string): Promise<LogBackend> {
  const engine = new LevelEngine(dir);
  await engine.open();
  return {
    async write(updates) {
      const ops: EngineOp[] = [];
      for (const u of updates) {
        for (const e of u.entries ?? []) {
          const key = Buffer.allocUnsafe(11);
          key[0] = 1;
          key.writeUInt32BE(u.groupId, 1);
          key.writeUIntBE(e.index, 5, 6);
          const value = Buffer.allocUnsafe(7 + e.data.length);
          value.writeUIntBE(e.term, 0, 6);
          value[6] = e.type;
          value.set(e.data, 7);
          ops.push({ type: 'put', key, value });
        }
        if (u.hardState) {
          const key = Buffer.allocUnsafe(5);
          key[0] = 2;
          key.writeUInt32BE(u.groupId, 1);
          const value = Buffer.allocUnsafe(18);
          value.writeUIntBE(u.hardState.term, 0, 6);
          value.writeUIntBE(u.hardState.vote, 6, 6);
          value.writeUIntBE(u.hardState.commit, 12, 6);
          ops.push({ type: 'put', key, value });
        }
      }
      await engine.write(ops, true);
    },
    fsyncs: () => undefined,
    close: () => engine.close(),
  };
}

async function logCell(make: (dir: string) => Promise<LogBackend>, batch: number, groups: number): Promise<string> {
  const dir = tempDir('log');
  const backend = await make(dir);
  const payload = Buffer.alloc(ENTRY_BYTES, 0x61);
  const next = new Map<number, number>([[0, 0]]);
  const fsyncsBefore = backend.fsyncs();
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < CELL_MS || batches < 3) {
    await backend.write(makeUpdates(batch, groups, next, payload));
    batches++;
  }
  const seconds = (performance.now() - start) / 1000;
  const fsyncsAfter = backend.fsyncs();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  const entries = batches * batch;
  const perBatch = fsyncsAfter === undefined ? 'n/a (1 WAL fdatasync)' : fmt((fsyncsAfter.data - fsyncsBefore!.data) / batches, 3);
  const dirSyncs = fsyncsAfter === undefined ? 'n/a' : String(fsyncsAfter.dir - fsyncsBefore!.dir);
  return `| ${batch} | ${groups} | ${fmt(entries / seconds)} | ${fmt((entries * ENTRY_BYTES) / seconds / 1e6, 1)} | ${fmt(batches / seconds)} | ${perBatch} | ${dirSyncs} |`;
}

async function stateMachineBench(): Promise<string[]> {
  const lines: string[] = [];
  const dir = tempDir('sm');
  const store = new LevelStateMachineStore(dir);
  await store.open();
  const value = Buffer.alloc(ENTRY_BYTES, 0x62);
  const opsPerBatch = 1000;
  const groups = 16;
  let ops = 0;
  let revision = 0;
  const keyCount = 200_000;
  let start = performance.now();
  while (performance.now() - start < CELL_MS * 2 || ops < keyCount) {
    const batch = store.batch();
    for (let k = 0; k < opsPerBatch; k++) {
      revision++;
      const groupId = 1 + (revision % groups);
      batch.put(groupId, Buffer.from(`key:${revision % keyCount}`), { type: ValueType.String, value, expireAtMs: 0, revision });
    }
    for (let g = 1; g <= groups; g++) batch.setApplied(g, revision);
    await batch.write();
    ops += opsPerBatch;
  }
  let seconds = (performance.now() - start) / 1000;
  lines.push(`| state-machine apply (SET, 100-byte values, batches of ${opsPerBatch} over ${groups} groups) | ${fmt(ops / seconds)} ops/s |`);
  let reads = 0;
  start = performance.now();
  while (performance.now() - start < CELL_MS) {
    for (let k = 0; k < 1000; k++) {
      const r = reads + k;
      store.getSync(1 + (r % groups), Buffer.from(`key:${(r * 7919) % keyCount}`));
    }
    reads += 1000;
  }
  seconds = (performance.now() - start) / 1000;
  lines.push(`| state-machine getSync | ${fmt(reads / seconds)} ops/s |`);

  // Snapshot of one group holding ~40 MB.
  const big = Buffer.alloc(400, 0x63);
  for (let k = 0; k < 100_000; k += 1000) {
    const batch = store.batch();
    for (let j = k; j < k + 1000; j++) batch.put(100, Buffer.from(`snap:${j}`), { type: ValueType.String, value: big, expireAtMs: 0, revision: j });
    batch.setApplied(100, k + 1000);
    await batch.write();
  }
  start = performance.now();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const snapshot = store.createSnapshot(100);
  for await (const c of snapshot.chunks()) {
    chunks.push(c);
    bytes += c.length;
  }
  seconds = (performance.now() - start) / 1000;
  lines.push(`| snapshot build (${fmt(bytes / 1e6, 1)} MB, chunks of 256 KiB) | ${fmt(bytes / seconds / 1e6, 1)} MB/s |`);
  start = performance.now();
  await store.installSnapshot(101, (async function* () { yield* chunks; })());
  seconds = (performance.now() - start) / 1000;
  lines.push(`| snapshot install (same image into another group, incl. atomic flip) | ${fmt(bytes / seconds / 1e6, 1)} MB/s |`);
  start = performance.now();
  await store.installSnapshot(101, (async function* () { yield* chunks; })());
  seconds = (performance.now() - start) / 1000;
  lines.push(`| snapshot re-install (replaces existing data, old generation deleted) | ${fmt(bytes / seconds / 1e6, 1)} MB/s |`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return lines;
}

async function main(): Promise<void> {
  console.log(`# raftis storage benchmark (node ${process.version}, ${tmpdir()}, ${CELL_MS} ms per cell)\n`);
  console.log(`raw write(100 B) + fdatasync, at start: ${fmt(rawFdatasyncRate())} /s\n`);
  for (const [name, make] of [['segmented log file', segmentedBackend], ['classic-level, sync batch', levelBackend]] as const) {
    console.log(`## log store: ${name} (100-byte entries, one durable write per batch)\n`);
    console.log('| batch | groups | entries/s | MB/s | batches/s | fdatasyncs/batch | dir fsyncs (segment rolls) |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const batch of BATCHES) {
      for (const groups of GROUPS) console.log(await logCell(make, batch, groups));
    }
    console.log('');
  }
  console.log('## state machine (classic-level)\n');
  console.log('| measure | rate |');
  console.log('|---|---:|');
  for (const line of await stateMachineBench()) console.log(line);
  console.log(`\nraw write(100 B) + fdatasync, at end: ${fmt(rawFdatasyncRate())} /s (this disk's latency varies run to run)`);
}

await main();
