// Measures the Raft message codec: encode+decode throughput and wire size of App messages
// carrying 1 and 64 entries of 100 bytes, and of a heartbeat. Each case runs ROUNDS times and
// reports the median and best rate, since the shared 2-core machine is noisy.
// Run: npx tsc -p tsconfig.json && node dist/bench/codec-bench.js
import { performance } from 'node:perf_hooks';
import { decodeMessages, encodeMessage, encodeMessages, decodeMessage } from '../src/raft/codec.js';
import { EntryType, MessageType, type Message } from '../src/raft/types.js';

function app(entries: number): Message {
  const base = 1_234_567;
  return {
    type: MessageType.App, groupId: 42, from: 1, to: 2, term: 17, logTerm: 17, index: base, commit: base - 3,
    entries: Array.from({ length: entries }, (_, i) => ({
      term: 17, index: base + 1 + i, type: EntryType.Normal, data: new Uint8Array(100).fill(i & 0xff),
    })),
    reject: false, rejectHint: 0, context: new Uint8Array(0), snapshot: null,
  };
}

const heartbeat: Message = { ...app(0), type: MessageType.Heartbeat, logTerm: 0, index: 0 };

const ROUNDS = 5;

function rates(measure: () => number): string {
  const all = Array.from({ length: ROUNDS }, measure).sort((x, y) => x - y);
  const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
  return `median ${fmt(all[Math.floor(ROUNDS / 2)]).padStart(10)}/s, best ${fmt(all[ROUNDS - 1]).padStart(10)}/s`;
}

function bench(name: string, m: Message, minMs = 400): void {
  const wire = encodeMessage(m);
  // Warm up.
  for (let i = 0; i < 2000; i++) decodeMessage(encodeMessage(m));
  const measure = (): number => {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < minMs) {
      for (let i = 0; i < 1000; i++) decodeMessage(encodeMessage(m));
      n += 1000;
      elapsed = performance.now() - start;
    }
    return (n / elapsed) * 1000;
  };
  const payload = m.entries.reduce((s, e) => s + e.data.length, 0);
  console.log(`${name.padEnd(24)} ${String(wire.length).padStart(6)} bytes (${payload} payload + ${wire.length - payload})  encode+decode messages: ${rates(measure)}`);
}

function benchBatch(name: string, ms: Message[], minMs = 400): void {
  const wire = encodeMessages(ms);
  for (let i = 0; i < 200; i++) decodeMessages(encodeMessages(ms));
  const measure = (): number => {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < minMs) {
      for (let i = 0; i < 10; i++) decodeMessages(encodeMessages(ms));
      n += 10;
      elapsed = performance.now() - start;
    }
    return ((n * ms.length) / elapsed) * 1000;
  };
  console.log(`${name.padEnd(24)} ${String(wire.length).padStart(6)} bytes (${(wire.length / ms.length).toFixed(1)} per message)  encode+decode messages: ${rates(measure)}`);
}

bench('Heartbeat', heartbeat);
bench('App, 1 x 100 B', app(1));
bench('App, 64 x 100 B', app(64));
benchBatch('1000 heartbeats, 1 batch', Array.from({ length: 1000 }, (_, g) => ({ ...heartbeat, groupId: g + 1 })));
