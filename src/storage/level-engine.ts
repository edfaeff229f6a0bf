/**
 * The only file that imports classic-level (STYLE.md §10): a LevelDB with byte keys
 * and values, synchronous point reads, atomic batches, range iteration and explicit
 * snapshots. Everything else in storage goes through this class.
 */
import { ClassicLevel } from 'classic-level';

export type EngineOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** A point-in-time view; release it with close(). */
export interface EngineSnapshot {
  close(): Promise<void>;
}

export interface EngineIterateOptions {
  gt?: Buffer;
  gte?: Buffer;
  lt: Buffer;
  snapshot?: EngineSnapshot;
  /** Most entries fetched per round trip to the thread pool. */
  batchSize?: number;
  /** Most bytes fetched per round trip to the thread pool (default 1 MiB). */
  pageBytes?: number;
}

export class LevelEngine {
  private readonly db: ClassicLevel<Buffer, Buffer>;

  constructor(readonly location: string) {
    this.db = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  }

  open(): Promise<void> {
    return this.db.open();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** A read served on the calling thread (classic-level getSync): no thread-pool round trip. */
  getSync(key: Buffer, snapshot?: EngineSnapshot): Buffer | undefined {
    return snapshot ? this.db.getSync(key, { snapshot: snapshot as never }) : this.db.getSync(key);
  }

  /** Applies all operations atomically; `sync` makes LevelDB fsync its write-ahead log. */
  write(ops: EngineOp[], sync = false): Promise<void> {
    // The chained batch: abstract-level's array form clones and re-validates every
    // operation object, which cost more than LevelDB itself in the apply benchmark.
    const batch = this.db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    return batch.write({ sync });
  }

  snapshot(): EngineSnapshot {
    return this.db.snapshot();
  }

  async *iterate(opts: EngineIterateOptions): AsyncGenerator<[Buffer, Buffer]> {
    // classic-level stops filling a page at 16 KiB by default: each page is a thread-pool round trip.
    const range: Record<string, unknown> = { lt: opts.lt, highWaterMarkBytes: opts.pageBytes ?? 1024 * 1024 };
    if (opts.gt) range.gt = opts.gt;
    if (opts.gte) range.gte = opts.gte;
    if (opts.snapshot) range.snapshot = opts.snapshot;
    const it = this.db.iterator(range);
    try {
      for (;;) {
        const page = await it.nextv(opts.batchSize ?? 256);
        if (page.length === 0) return;
        for (const kv of page) yield kv as [Buffer, Buffer];
      }
    } finally {
      await it.close();
    }
  }
}
