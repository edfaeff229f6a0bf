// Shared helpers of the storage tests (not a test file itself).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/raft/types.js';

export function tempDir(label: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `raftis-${label}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 0, data: Buffer.from(text) };
}

export function entries(lo: number, hi: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term, `e${i}t${term}${tag}`));
  return out;
}

/** Entries as plain comparable values (Buffers and Uint8Arrays compare equal by content). */
export function plain(list: Entry[]): Array<[number, number, number, string]> {
  return list.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]);
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

export async function* replay(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
