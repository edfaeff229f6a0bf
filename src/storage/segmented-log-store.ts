/**
 * The production log store: one append-only file of CRC-checked records for every
 * group on the node, rolled into segments. Each write() appends one record holding
 * the updates of all groups and issues one fdatasync, whatever the number of groups.
 *
 * Recovery (open): segments are replayed in order into a per-group index of entry
 * locations. A damaged record is a torn tail (truncated) only if it lies after the
 * synced checkpoint and no well-formed record follows it; anywhere else it is
 * corruption of synced data and open() throws StorageCorruptionError naming the file
 * and offset. The checkpoint file records how far the log is known to be synced; it
 * is rewritten (without fsync) after every sync write, so it can only lag (synced-mark.ts).
 *
 * Segments: every segment opens with a KIND_STATE record (hard state, snapshot meta and
 * bounds of every group), so any segment but the current one may be deleted once none
 * of its entries is live, i.e. all were compacted or overwritten.
 */
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Entry, EntryType, GroupId, HardState, RaftPersistedState, SnapshotMeta } from '../raft/types.js';
import { StorageCorruptionError } from './types.js';
import type { LogStore, LogStoreStats, LogUpdate, LogWriteOptions } from './types.js';
import { GroupLog } from './group-log.js';
import {
  checkFrame, decodeRecord, encodeBatch, encodeState, KIND_STATE, RECORD_HEADER_BYTES, validRecordAfter,
  type DecodedUpdate, type EntryLocation, type GroupCheckpoint,
} from './log-record.js';
import { assert } from './assert.js';
import { checkWrite } from './apply-update.js';
import { SyncedMark, type SyncedPosition } from './synced-mark.js';

export interface SegmentedLogStoreOptions {
  /** A segment rolls once it would exceed this size (a single larger record still fits alone). */
  segmentBytes?: number;
  /** Records up to this size are written on the calling thread (default 64 KiB; 0 = always async). */
  inlineWriteBytes?: number;
}

const SEGMENT_SUFFIX = '.seg';

/** Stands for an entry whose segment was deleted; replay must drop every one of them. */
const MISSING: EntryLocation = { term: -1, type: 0, segment: -1, offset: 0, length: 0 };

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

interface Segment {
  seq: number;
  path: string;
  handle: fsp.FileHandle;
  /** Live entries in this segment. */
  live: number;
}

export class SegmentedLogStore implements LogStore {
  private readonly segmentBytes: number;
  private readonly inlineWriteBytes: number;
  private readonly logs = new Map<GroupId, GroupLog<EntryLocation>>();
  private readonly segments = new Map<number, Segment>();
  private current!: Segment;
  /** Append position in the current segment. */
  private offset = 0;
  private unsyncedBytes = 0;
  /** False while the current segment holds only its state record. */
  private currentHasBatches = false;
  private readonly synced: SyncedMark;
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private counters: LogStoreStats = { fsyncs: 0, dirSyncs: 0, writes: 0, bytesWritten: 0 };

  constructor(readonly dir: string, options: SegmentedLogStoreOptions = {}) {
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.inlineWriteBytes = options.inlineWriteBytes ?? 64 * 1024;
    this.synced = new SyncedMark(dir);
  }

  async open(): Promise<void> {
    try {
      await this.openNow();
    } catch (err) {
      await this.crash();
      throw err;
    }
  }

  /**
   * Drops the open files without syncing or tidying, as a killed process would (for
   * tests; unsynced data stays in the page cache as it does after kill -9).
   */
  async crash(): Promise<void> {
    for (const segment of this.segments.values()) await segment.handle.close().catch(() => {});
    this.segments.clear();
    this.synced.close();
    this.failure = new Error('log store crashed');
  }

  private async openNow(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const synced = this.synced.read();
    const seqs = (await fsp.readdir(this.dir))
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number(n.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b);
    for (let k = 0; k < seqs.length; k++) {
      await this.replaySegment(seqs[k], k === seqs.length - 1, synced);
    }
    for (const [groupId, log] of this.logs) {
      const missing = log.find((item) => item === MISSING);
      if (missing !== undefined) {
        throw new StorageCorruptionError(this.dir, 0, `group ${groupId}: entry ${missing} is live but its segment is missing`);
      }
    }
    this.synced.open();
    // Every start writes into a fresh segment opening with the state record: a segment
    // damaged at its tail is never appended to, and old segments become deletable.
    const next = seqs.length > 0 ? seqs[seqs.length - 1] + 1 : 1;
    const state = encodeState(this.checkpoints());
    await this.startSegment(next, state);
    await this.current.handle.datasync();
    this.counters = { fsyncs: 0, dirSyncs: 0, writes: 0, bytesWritten: 0 };
    this.writeCheckpoint();
    await this.deleteDeadSegments();
  }

  groups(): GroupId[] {
    return [...this.logs.keys()].sort((a, b) => a - b);
  }

  load(groupId: GroupId): RaftPersistedState {
    const log = this.logs.get(groupId);
    if (!log) return { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
    return { hardState: { ...log.hardState }, snapshot: log.snapshot, entries: this.entries(groupId, log.firstIndex, log.lastIndex + 1) };
  }

  entries(groupId: GroupId, lo: number, hi: number): Entry[] {
    const locations = this.log(groupId).slice(lo, hi);
    const out: Entry[] = [];
    // Entries written together lie close together: read each run within one segment in one read.
    let k = 0;
    while (k < locations.length) {
      const first = locations[k];
      let end = k + 1;
      let spanEnd = first.offset + first.length;
      while (end < locations.length && locations[end].segment === first.segment &&
        locations[end].offset >= spanEnd && locations[end].offset + locations[end].length - first.offset <= 4 * 1024 * 1024) {
        spanEnd = locations[end].offset + locations[end].length;
        end++;
      }
      const segment = this.segments.get(first.segment);
      assert(segment, `log: segment ${first.segment} of a live entry exists`);
      const span = Buffer.allocUnsafe(spanEnd - first.offset);
      const read = fs.readSync(segment.handle.fd, span, 0, span.length, first.offset);
      if (read !== span.length) throw new StorageCorruptionError(segment.path, first.offset, 'entry data missing');
      for (let j = k; j < end; j++) {
        const at = locations[j];
        out.push({ index: lo + j, term: at.term, type: at.type as EntryType,
          data: span.subarray(at.offset - first.offset, at.offset - first.offset + at.length) });
      }
      k = end;
    }
    return out;
  }

  term(groupId: GroupId, index: number): number | undefined {
    return this.log(groupId).term(index);
  }

  firstIndex(groupId: GroupId): number {
    return this.log(groupId).firstIndex;
  }

  lastIndex(groupId: GroupId): number {
    return this.log(groupId).lastIndex;
  }

  hardState(groupId: GroupId): HardState {
    return { ...this.log(groupId).hardState };
  }

  snapshotMeta(groupId: GroupId): SnapshotMeta | null {
    return this.log(groupId).snapshot;
  }

  write(updates: LogUpdate[], opts: LogWriteOptions): Promise<void> {
    const run = this.tail.then(() => this.writeNow(updates, opts));
    this.tail = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    if (this.unsyncedBytes > 0 && !this.failure) {
      await this.current.handle.datasync();
      this.unsyncedBytes = 0;
      this.writeCheckpoint();
    }
    for (const segment of this.segments.values()) await segment.handle.close();
    this.segments.clear();
    this.synced.close();
    this.failure = new Error('log store closed');
  }

  stats(): LogStoreStats {
    return { ...this.counters };
  }

  /** Segment sequence numbers on disk (for tests). */
  segmentSeqs(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  private async writeNow(updates: LogUpdate[], opts: LogWriteOptions): Promise<void> {
    if (this.failure) throw this.failure;
    checkWrite(updates, (groupId) => this.log(groupId));
    try {
      const record = encodeBatch(updates, (u) => this.writeFacts(u));
      let buf = record;
      let rolled = false;
      if (this.currentHasBatches && this.offset + record.length > this.segmentBytes) {
        // The previous segment must be durable before records land in the next one,
        // or a torn tail could sit in front of later synced data.
        if (this.unsyncedBytes > 0) {
          await this.current.handle.datasync();
          this.counters.fsyncs++;
          this.unsyncedBytes = 0;
        }
        const state = encodeState(this.checkpoints());
        await this.startSegment(this.current.seq + 1, state, false);
        buf = Buffer.concat([state, record]);
        this.offset = 0;
        rolled = true;
      }
      const recordOffset = this.offset + buf.length - record.length;
      await this.writeAll(buf, this.offset);
      this.offset += buf.length;
      this.currentHasBatches = true;
      this.unsyncedBytes += buf.length;
      this.counters.writes++;
      this.counters.bytesWritten += buf.length;
      if (opts.sync || rolled) {
        // A new segment's directory entry must be durable before its data counts as synced.
        await Promise.all([this.current.handle.datasync(), rolled ? this.syncDir() : undefined]);
        this.counters.fsyncs++;
        this.unsyncedBytes = 0;
      }
      const decoded = decodeRecord(record, RECORD_HEADER_BYTES, record.length, this.current.seq, recordOffset);
      assert(decoded.kind !== KIND_STATE, 'log: a write encodes a batch record');
      for (const u of decoded.updates) this.applyDecoded(u);
      if (this.unsyncedBytes === 0) this.writeCheckpoint();
      await this.deleteDeadSegments();
    } catch (err) {
      // After a failed write or fsync the file's state is unknown (and retrying fsync is
      // unsafe): refuse every later write; the node must restart and recover.
      this.failure = err as Error;
      throw err;
    }
  }

  private async writeAll(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    if (buf.length <= this.inlineWriteBytes) {
      // A small write only copies into the page cache: doing it here saves a thread-pool
      // round trip before the fdatasync, which is most of the latency of a small cycle.
      while (done < buf.length) done += fs.writeSync(this.current.handle.fd, buf, done, buf.length - done, position + done);
      return;
    }
    while (done < buf.length) {
      const { bytesWritten } = await this.current.handle.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  }

  private async syncDir(): Promise<void> {
    const dir = await fsp.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.counters.dirSyncs++;
  }

  /** Creates segment `seq` holding `state` first; with `writeState` false the caller writes it. */
  private async startSegment(seq: number, state: Buffer, writeState = true): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    const handle = await fsp.open(path, 'wx+');
    const segment: Segment = { seq, path, handle, live: 0 };
    this.segments.set(seq, segment);
    this.current = segment;
    this.currentHasBatches = false;
    this.offset = 0;
    if (writeState) {
      await this.writeAll(state, 0);
      this.offset = state.length;
      await this.syncDir();
    }
  }

  private writeCheckpoint(): void {
    this.synced.write(this.current.seq, this.offset);
  }

  private checkpoints(): GroupCheckpoint[] {
    return this.groups().map((groupId) => {
      const log = this.logs.get(groupId)!;
      return { groupId, hardState: log.hardState, snapshot: log.snapshot, compactIndex: log.compactIndex,
        compactTerm: log.compactTerm, lastIndex: log.lastIndex };
    });
  }

  private log(groupId: GroupId): GroupLog<EntryLocation> {
    return this.logs.get(groupId) ?? new GroupLog<EntryLocation>();
  }

  private logFor(groupId: GroupId): GroupLog<EntryLocation> {
    let log = this.logs.get(groupId);
    if (!log) {
      log = new GroupLog<EntryLocation>((item) => {
        const segment = this.segments.get(item.segment);
        if (segment) segment.live--;
      });
      this.logs.set(groupId, log);
    }
    return log;
  }

  /** What replay must know of this update that only the current log can tell. */
  private writeFacts(u: LogUpdate): { snapshotKeep: boolean; compactTerm: number } {
    const log = this.log(u.groupId);
    const snapshotKeep = u.snapshot ? log.snapshotKeepsLog(u.snapshot) : false;
    let compactTerm = 0;
    const c = u.compactTo;
    if (c !== undefined) {
      const inEntries = u.entries?.find((e) => e.index === c);
      if (inEntries) compactTerm = inEntries.term;
      else if (u.snapshot && u.snapshot.index === c) compactTerm = u.snapshot.term;
      else compactTerm = log.term(c) ?? 0;
    }
    return { snapshotKeep, compactTerm };
  }

  private applyDecoded(u: DecodedUpdate): void {
    const log = this.logFor(u.groupId);
    if (u.snapshot) log.applySnapshot(u.snapshot, u.snapshotKeep);
    if (u.entries.length > 0) {
      const segment = this.segments.get(u.entries[0].segment)!;
      // append() silently skips entries at or below the compaction point: count only the rest.
      const skipped = Math.max(0, Math.min(u.entries.length, log.compactIndex + 1 - u.firstIndex));
      segment.live += u.entries.length - skipped;
      log.append(u.firstIndex, u.entries);
    }
    if (u.hardState) log.hardState = u.hardState;
    if (u.compactTo !== undefined) log.compact(u.compactTo, u.compactTerm);
  }

  private async replaySegment(seq: number, last: boolean, synced: SyncedPosition): Promise<void> {
    const path = join(this.dir, segmentName(seq));
    const handle = await fsp.open(path, 'r+');
    const segment: Segment = { seq, path, handle, live: 0 };
    this.segments.set(seq, segment);
    const buf = await handle.readFile();
    let pos = 0;
    while (pos < buf.length) {
      const frame = checkFrame(buf, pos);
      if (frame.kind === 'bad') {
        const isSynced = seq < synced.seq || (seq === synced.seq && pos < synced.offset);
        if (isSynced) throw new StorageCorruptionError(path, pos, `${frame.reason} inside synced data`);
        if (!last) throw new StorageCorruptionError(path, pos, `${frame.reason}, and later segments follow`);
        if (validRecordAfter(buf, pos)) throw new StorageCorruptionError(path, pos, `${frame.reason}, and valid records follow`);
        // A torn, never-synced tail: the write it belonged to was never acknowledged.
        await handle.truncate(pos);
        await handle.sync();
        break;
      }
      let record;
      try {
        record = decodeRecord(buf, frame.payloadStart, frame.end, seq);
      } catch (err) {
        throw new StorageCorruptionError(path, pos, `undecodable record: ${(err as Error).message}`);
      }
      if (pos === 0 && record.kind !== KIND_STATE) throw new StorageCorruptionError(path, 0, 'segment does not open with a state record');
      try {
        if (record.kind === KIND_STATE) {
          for (const g of record.groups) {
            const log = this.logFor(g.groupId);
            log.hardState = g.hardState;
            log.snapshot = g.snapshot;
            log.restoreBounds(g.compactIndex, g.compactTerm, g.lastIndex, MISSING);
          }
        } else {
          for (const u of record.updates) this.applyDecoded(u);
        }
      } catch (err) {
        // A well-formed record that does not fit the log before it: something is missing.
        throw new StorageCorruptionError(path, pos, `record does not follow the log: ${(err as Error).message}`);
      }
      pos = frame.end;
    }
    if (pos === 0) {
      if (!last) throw new StorageCorruptionError(path, 0, 'empty segment, and later segments follow');
      // Nothing valid at all: a segment created by a crashed roll or open before its first sync.
      await handle.close();
      this.segments.delete(seq);
      await fsp.unlink(path);
    }
  }

  private async deleteDeadSegments(): Promise<void> {
    for (const segment of [...this.segments.values()]) {
      if (segment === this.current || segment.live > 0) continue;
      assert(segment.live === 0, `log: live count of segment ${segment.seq} is not negative`);
      this.segments.delete(segment.seq);
      await segment.handle.close();
      // No directory fsync: a resurrected dead segment replays harmlessly (see the file comment).
      await fsp.unlink(segment.path);
    }
  }
}
