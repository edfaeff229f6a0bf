/**
 * Commands over the whole keyspace: KEYS, SCAN, RANDOMKEY, FLUSHDB, FLUSHALL.
 * Each group is read linearizably (or written) through the router, so they
 * work from any node, whoever leads each group.
 *
 * SCAN's cursor is self-contained: the index of the group in the data-group
 * list sits in bits 32 and up, and the low 32 bits are a position in that
 * group's scan order — keys sorted by CRC-32 of their bytes (a stored index,
 * see storage/key-layout.ts). A call resumes at the first key whose hash is at
 * least the cursor's, on any node, after any leader change or restart. A key
 * keeps its hash for as long as it exists, so a key present for the whole scan
 * is returned (once, unless the group list changes); each step ends between
 * two different hashes, so the cursor always moves on. A call moves on to the
 * next group while it has examined fewer than COUNT keys.
 */
import { array, bulk, integer, nullBulk, ok, type Reply } from '../resp/encoder.js';
import { errInvalidCursor, errNotInteger, errSyntax } from '../resp/replies.js';
import type { GroupId } from '../raft/types.js';
import { INTERNAL } from './internal.js';
import { asReply } from './reply-parse.js';
import { lower, parseInt64, parseScanCursor, type KeyedCommand } from './spec.js';

export interface FanoutRunner {
  dataGroups(): GroupId[];
  routeGroup(groupId: GroupId, cmd: KeyedCommand, args: Buffer[]): Promise<Reply>;
  internal(name: string): KeyedCommand;
  random(): number;
}

const GROUP_SHIFT = 32n;
const HASH_MASK = (1n << GROUP_SHIFT) - 1n;

export class Fanout {
  constructor(private readonly run: FanoutRunner) {}

  /** One group's scan step: [last examined key or null when done, matching keys]. */
  private async scanGroup(groupId: GroupId, after: Buffer | undefined, count: number, pattern?: Buffer, type?: Buffer): Promise<[Buffer | null, Buffer[]] | Reply> {
    const args = [Buffer.from(INTERNAL.scan), after ?? Buffer.alloc(0), Buffer.from(String(count)), pattern ?? Buffer.alloc(0), type ?? Buffer.alloc(0)];
    const r = asReply(await this.run.routeGroup(groupId, this.run.internal(INTERNAL.scan), args));
    if (r.kind !== 'array' || r.items === null) return r;
    const [next, ...keys] = r.items;
    const asBuf = (x: Reply): Buffer => (x.kind === 'bulk' && x.value !== null ? Buffer.from(x.value as Buffer) : Buffer.alloc(0));
    return [next.kind === 'bulk' && next.value !== null ? asBuf(next) : null, keys.map(asBuf)];
  }

  async keys(pattern: Buffer): Promise<Reply> {
    const all: Buffer[] = [];
    const matchAll = pattern.length === 1 && pattern[0] === 0x2a;
    for (const g of this.run.dataGroups()) {
      const r = await this.scanGroup(g, undefined, Number.MAX_SAFE_INTEGER, matchAll ? undefined : pattern);
      if (!Array.isArray(r)) return r;
      all.push(...r[1]);
    }
    return array(all.map((k) => bulk(k)));
  }

  async scan(args: Buffer[]): Promise<Reply> {
    const cursor = parseScanCursor(args[1]);
    if (cursor === undefined) return errInvalidCursor();
    let count = 10;
    let pattern: Buffer | undefined;
    let type: Buffer | undefined;
    for (let i = 2; i < args.length; i++) {
      const opt = lower(args[i]);
      const hasNext = i + 1 < args.length;
      if (opt === 'count' && hasNext) {
        const n = parseInt64(args[++i]);
        if (n === undefined) return errNotInteger();
        if (n < 1n) return errSyntax();
        count = Number(n > 100000n ? 100000n : n);
      } else if (opt === 'match' && hasNext) {
        pattern = args[++i];
        if (pattern.length === 1 && pattern[0] === 0x2a) pattern = undefined;
      } else if (opt === 'type' && hasNext) {
        type = Buffer.from(lower(args[++i]));
      } else return errSyntax();
    }
    const groups = this.run.dataGroups();
    const n = BigInt(groups.length);
    let index = cursor >> GROUP_SHIFT;
    let fromHash = cursor & HASH_MASK;
    const keys: Reply[] = [];
    let examined = 0;
    // Like Redis, examine about COUNT keys per call: go on to the next group while short of it,
    // so an empty keyspace answers cursor 0 at once.
    while (index < n && examined < count) {
      const step = [Buffer.from(INTERNAL.scanHashed), Buffer.from(String(fromHash)), Buffer.from(String(count - examined)),
        pattern ?? Buffer.alloc(0), type ?? Buffer.alloc(0)];
      const r = asReply(await this.run.routeGroup(groups[Number(index)], this.run.internal(INTERNAL.scanHashed), step));
      if (r.kind !== 'array' || r.items === null) return r;
      const [nextHash, seen, ...found] = r.items;
      keys.push(...found);
      examined += seen.kind === 'integer' ? Number(seen.value) : count;
      if (nextHash.kind === 'bulk' && nextHash.value !== null) {
        fromHash = BigInt(Buffer.from(nextHash.value as Buffer).toString('latin1'));
        return array([bulk(((index << GROUP_SHIFT) | fromHash).toString()), array(keys)]);
      }
      index++;
      fromHash = 0n;
    }
    return array([bulk(index < n ? (index << GROUP_SHIFT).toString() : '0'), array(keys)]);
  }

  async randomKey(): Promise<Reply> {
    const groups = [...this.run.dataGroups()];
    for (let i = groups.length - 1; i > 0; i--) {
      const j = Math.floor(this.run.random() * (i + 1));
      [groups[i], groups[j]] = [groups[j], groups[i]];
    }
    for (const g of groups) {
      const start = Buffer.from([0, 1, 2, 3].map(() => Math.floor(this.run.random() * 256)));
      for (const after of [start, undefined]) {
        const r = await this.scanGroup(g, after, 16);
        if (!Array.isArray(r)) return r;
        if (r[1].length > 0) return bulk(r[1][Math.floor(this.run.random() * r[1].length)]);
      }
    }
    return nullBulk();
  }

  /** DBSIZE: the key counts of every group, each read linearizably on its group. */
  async dbSize(): Promise<Reply> {
    const replies = await Promise.all(this.run.dataGroups().map((g) =>
      this.run.routeGroup(g, this.run.internal(INTERNAL.dbsize), [Buffer.from(INTERNAL.dbsize)])));
    let total = 0;
    for (const r of replies) {
      const x = asReply(r);
      if (x.kind !== 'integer') return x;
      total += Number(x.value);
    }
    return integer(total);
  }

  async flush(args: Buffer[]): Promise<Reply> {
    if (args.length > 2 || (args.length === 2 && !['async', 'sync'].includes(lower(args[1])))) return errSyntax();
    const replies = await Promise.all(this.run.dataGroups().map((g) =>
      this.run.routeGroup(g, this.run.internal(INTERNAL.flush), [Buffer.from(INTERNAL.flush)])));
    for (const r of replies) {
      const x = asReply(r);
      if (x.kind === 'error') return x;
    }
    return ok();
  }
}
