/**
 * The fault tests' clients: each holds one ioredis connection to a random node and issues SET,
 * GET, DEL and INCR on a few keys, WATCH/MULTI/EXEC read-modify-writes, and writes of unique
 * ledger keys, recording every operation with its invocation and completion time and its
 * result. A timeout, a dropped connection or an error reply of a write is recorded as
 * indeterminate (completion Infinity): it may or may not have taken effect.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { SeededRandom } from '../../src/env/random.js';
import type { HistoryOp } from './checker.js';

export const REGISTER_KEYS = ['reg:a', 'reg:b', 'reg:c'];
export const COUNTER_KEYS = ['ctr:a', 'ctr:b', 'ctr:c'];

export interface WorkloadStats {
  ok: number;
  indeterminate: number;
  /** Commands that never left the client (no connection): no effect, left out of the history. */
  notSent: number;
  /** Reads that failed: they tell nothing and are left out. */
  readErrors: number;
  txCommitted: number;
  txAborted: number;
}

/** An error that proves the command never reached a server. */
function notSent(err: unknown): boolean {
  const msg = String((err as Error)?.message ?? err);
  return msg.includes("Stream isn't writeable") || msg.includes('Connection is closed');
}

export class Client {
  private conn: Redis | null = null;
  private nodeId = 0;
  private seq = 0;
  /** Ledger keys whose SET was acknowledged. */
  readonly ledgerAcked: string[] = [];
  /**
   * How this client's reads are served, all linearizable: the leader's lease (default), a
   * ReadIndex round (CLIENT CONSISTENCY LINEARIZABLE) or a follower read after a read index
   * from the leader (READONLY).
   */
  readonly readPolicy: 'lease' | 'readindex' | 'readonly';

  constructor(
    readonly clientId: number,
    private readonly random: SeededRandom,
    private readonly nodes: () => number[],
    private readonly port: (nodeId: number) => number,
    readonly history: HistoryOp[],
    readonly stats: WorkloadStats,
    /** Harness self-check only: read with CLIENT CONSISTENCY STALE, which the checker must catch. */
    private readonly staleReads = false,
  ) {
    this.readPolicy = (['lease', 'lease', 'readindex', 'readonly'] as const)[random.int(0, 3)]!;
  }

  private connect(): Redis {
    if (this.conn !== null) return this.conn;
    const nodes = this.nodes();
    this.nodeId = this.random.pick(nodes);
    // No retries, no resend on reconnect (a resent INCR would apply twice), no offline queue.
    const c = new Redis({
      port: this.port(this.nodeId), host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false, commandTimeout: 3000, retryStrategy: () => null, lazyConnect: true,
    });
    c.on('error', () => {});
    this.conn = c;
    return c;
  }

  /** Drops the connection (after an error): the next operation goes to a random node. */
  private reset(): void {
    this.conn?.disconnect();
    this.conn = null;
  }

  private async ready(): Promise<Redis | null> {
    const c = this.connect();
    if (c.status === 'ready') return c;
    try {
      if (c.status === 'wait') await c.connect();
      else throw new Error('not connected');
      if (this.staleReads) await c.call('CLIENT', 'CONSISTENCY', 'STALE');
      else if (this.readPolicy === 'readindex') await c.call('CLIENT', 'CONSISTENCY', 'LINEARIZABLE');
      else if (this.readPolicy === 'readonly') await c.call('READONLY');
      return c;
    } catch {
      this.reset();
      return null;
    }
  }

  private record(op: HistoryOp, what: string): void {
    this.history.push({ ...op, label: `c${this.clientId} n${this.nodeId} ${this.readPolicy} ${what}` } as HistoryOp);
  }

  /** One random operation; resolves when it has completed or been given up. */
  async step(): Promise<void> {
    const c = await this.ready();
    if (c === null) {
      this.stats.notSent++;
      return;
    }
    const roll = this.random.next();
    if (roll < 0.08) return this.ledger(c);
    if (roll < 0.2) return this.transaction(c);
    const counter = this.random.chance(0.5);
    const key = this.random.pick(counter ? COUNTER_KEYS : REGISTER_KEYS);
    const r = this.random.next();
    if (r < 0.4) return this.read(c, key);
    if (r < 0.5) return this.write(c, key, null);
    if (counter) return this.incr(c, key);
    return this.write(c, key, `v${this.clientId}.${++this.seq}`);
  }

  /** Handles a failed write: indeterminate unless it provably never left. */
  private failed(err: unknown, op: HistoryOp, what: string): void {
    if (notSent(err) && !String((err as Error)?.message).includes('Connection is closed')) {
      this.stats.notSent++;
    } else {
      this.stats.indeterminate++;
      this.record({ ...op, completeMs: Infinity }, what + ' (indeterminate: ' + String((err as Error)?.message ?? err).slice(0, 60) + ')');
    }
    this.reset();
  }

  async read(c: Redis, key: string): Promise<void> {
    const invokeMs = performance.now();
    try {
      const value = await c.get(key);
      this.stats.ok++;
      this.record({ key, kind: 'read', value, invokeMs, completeMs: performance.now() }, 'GET');
    } catch {
      this.stats.readErrors++;
      this.reset();
    }
  }

  private async write(c: Redis, key: string, value: string | null): Promise<void> {
    const invokeMs = performance.now();
    const op = { key, kind: 'write' as const, value, invokeMs, completeMs: 0 };
    try {
      if (value === null) await c.del(key);
      else await c.set(key, value);
      this.stats.ok++;
      this.record({ ...op, completeMs: performance.now() }, value === null ? 'DEL' : 'SET');
    } catch (err) {
      this.failed(err, op, value === null ? 'DEL' : 'SET');
    }
  }

  private async incr(c: Redis, key: string): Promise<void> {
    const invokeMs = performance.now();
    try {
      const result = await c.incr(key);
      this.stats.ok++;
      this.record({ key, kind: 'incr', result, invokeMs, completeMs: performance.now() }, 'INCR');
    } catch (err) {
      this.failed(err, { key, kind: 'incr', invokeMs, completeMs: 0 }, 'INCR');
    }
  }

  /** WATCH k, GET k, MULTI, SET k f(v), EXEC: a committed one is a compare-and-set of v. */
  private async transaction(c: Redis): Promise<void> {
    const counter = this.random.chance(0.5);
    const key = this.random.pick(counter ? COUNTER_KEYS : REGISTER_KEYS);
    const invokeMs = performance.now();
    let expect: string | null;
    try {
      await c.watch(key);
      const readAt = performance.now();
      expect = await c.get(key);
      this.record({ key, kind: 'read', value: expect, invokeMs: readAt, completeMs: performance.now() }, 'GET (in WATCH)');
    } catch {
      this.stats.readErrors++;
      this.reset();
      return;
    }
    const value = counter ? String((expect !== null && /^-?\d+$/.test(expect) ? Number(expect) : 0) + 1) : `t${this.clientId}.${++this.seq}`;
    const op = { key, kind: 'cas' as const, expect, value, invokeMs, completeMs: 0 };
    try {
      const res = await c.multi().set(key, value).exec();
      if (res === null) {
        this.stats.txAborted++;
        return;
      }
      const err = res.find(([e]) => e !== null);
      if (err) throw err[0];
      this.stats.ok++;
      this.stats.txCommitted++;
      this.record({ ...op, completeMs: performance.now() }, 'WATCH/MULTI/SET/EXEC');
    } catch (err) {
      this.failed(err, op, 'WATCH/MULTI/SET/EXEC');
    }
  }

  /** SET of a unique ledger key; every acknowledged one must be readable after the faults heal. */
  private async ledger(c: Redis): Promise<void> {
    const key = `ledger:${this.clientId}:${++this.seq}`;
    try {
      await c.set(key, '1');
      this.stats.ok++;
      this.ledgerAcked.push(key);
    } catch (err) {
      this.stats.indeterminate++;
      void err;
      this.reset();
    }
  }

  /** Runs operations until `stop()` is true. */
  async run(stop: () => boolean): Promise<void> {
    while (!stop()) {
      const before = this.stats.ok;
      await this.step();
      // Back off a little after a failure, so a dead node is not hammered.
      if (this.stats.ok === before) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * After the heal: reads every key once, retrying errors for up to `timeoutMs`; true when all
   * completed. The successful reads go into the history (they pin the final state).
   */
  async finalReads(keys: string[], timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (const key of keys) {
      for (;;) {
        const c = await this.ready();
        if (c !== null) {
          const before = this.stats.ok;
          await this.read(c, key);
          if (this.stats.ok > before) break;
        }
        if (performance.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return true;
  }

  close(): void {
    this.reset();
  }
}
