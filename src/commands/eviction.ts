/**
 * maxmemory on a replicated keyspace (docs/eviction.md). Each group's leader
 * decides: before it proposes a write that may grow the data (Redis's
 * `denyoom` commands), it checks the group's budget; under `noeviction` an
 * over-budget write gets -OOM, under the other policies the leader picks
 * victims from its in-memory access statistics and proposes one
 * `raftis.evict` op for them in the same turn, ahead of the write, so both
 * land in the same entry batch and every replica deletes the same keys before
 * it applies the write. A background round (like the expiry sweeper) brings
 * groups back under budget after CONFIG SET lowers the limit, after a leader
 * change or a restart.
 *
 * Budget: a node's `maxmemory` is split evenly over the data groups it hosts;
 * a group's leader holds the group to its own node's share.
 */
import type { Env, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import type { GroupId } from '../raft/types.js';
import { integer, type Reply } from '../resp/encoder.js';
import { errOom } from '../resp/replies.js';
import type { KvStateMachine } from './apply.js';
import { encodeOp, decodeOp } from './op-codec.js';
import { lookupCommand } from './table.js';
import type { KeyedCommand } from './spec.js';
import { lfuDecayed, KEY_RECORD_OVERHEAD, keyBytes } from './key-stats.js';

export const EVICT_OP = 'raftis.evict';

export const POLICIES = [
  'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction',
] as const;
export type Policy = (typeof POLICIES)[number];


const META_GROUP = 0;
/** Most bytes freed beyond what an admitted write needs (see admit). */
const EVICT_HEADROOM_MAX_BYTES = 64 * 1024;
/** Redis's EVPOOL_SIZE: the best candidates kept between picks. */
const POOL_SIZE = 16;

/**
 * `raftis.evict all|volatile key...`: deletes each listed key that still
 * exists (and, for `volatile`, still has a TTL, so volatile-* never removes a
 * persistent key even if PERSIST raced the decision). Replies the number deleted.
 */
export const evictCommand: KeyedCommand = {
  kind: 'write',
  name: EVICT_OP,
  apply(ctx, args) {
    const volatileOnly = args[1]?.toString('latin1') === 'volatile';
    let n = 0;
    for (let i = 2; i < args.length; i++) {
      const v = ctx.ks.getRaw(args[i]);
      if (v === undefined || (volatileOnly && v.expireAtMs === 0)) continue;
      ctx.ks.del(args[i]);
      n++;
    }
    if (ctx.counters) ctx.counters.evictedKeys += n;
    return integer(n);
  },
};

/** The limit as the node's configuration has it now (CONFIG SET changes it at run time). */
export interface MaxmemorySettings {
  maxmemoryBytes(): number;
  policy(): Policy;
  samples(): number;
}

export interface EvictorOptions {
  intervalMs: number;
  /** Most keys one background proposal deletes. */
  keysPerRoundMax: number;
}

/** What the router must do with a write on a group this node leads. */
export type Admission = { ok: false; reply: Reply } | { ok: true; settle: () => void };

interface Candidate {
  key: string;
  score: number;
}

const NO_CHECK: Admission = { ok: true, settle: () => {} };

/** The leader side of eviction: admission of writes and background rounds. */
export class Evictor {
  private timer: TimerHandle | null = null;
  private readonly pools = new Map<GroupId, Candidate[]>();
  private poolPolicy: Policy | undefined;
  /** Growth bound of the writes admitted and not yet applied, per group. */
  private readonly pendingGrowth = new Map<GroupId, number>();
  private readonly backgroundInFlight = new Set<GroupId>();
  /** Keys this node proposed to evict (INFO counts the applied ones: evicted_keys). */
  proposedKeys = 0;

  constructor(
    private readonly env: Env,
    private readonly host: Host,
    private readonly sm: KvStateMachine,
    private readonly settings: MaxmemorySettings,
    private readonly opts: EvictorOptions,
  ) {}

  start(): void {
    this.timer = this.env.timers.every(this.opts.intervalMs, () => this.round());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** The share of this node's maxmemory each of its data groups may use (Infinity: no limit). */
  budget(): number {
    const max = this.settings.maxmemoryBytes();
    if (max <= 0) return Infinity;
    const groups = this.host.groupIds().filter((g) => g !== META_GROUP).length;
    return groups === 0 ? Infinity : Math.floor(max / groups);
  }

  /** Bytes the group would hold once its in-flight writes and evictions apply (upper bound). */
  private projected(groupId: GroupId): number {
    const s = this.sm.keyStats(groupId);
    return s.usedBytes - s.evictingBytes + (this.pendingGrowth.get(groupId) ?? 0);
  }

  /**
   * Called on the leader before it proposes `args` to `groupId`. A write that
   * may grow the data past the group's budget is refused (noeviction, or
   * nothing left to evict) or preceded by an eviction proposal.
   */
  admit = (groupId: GroupId, args: Buffer[]): Admission => {
    if (groupId === META_GROUP) return NO_CHECK;
    const budget = this.budget();
    if (budget === Infinity) return NO_CHECK;
    const growth = growthBound(args);
    if (growth === 0) return NO_CHECK;
    const need = this.projected(groupId) + growth - budget;
    if (need > 0) {
      if (this.settings.policy() === 'noeviction') return { ok: false, reply: errOom() };
      // Free a little more than needed (1% of the budget, at most 64 KB), so one eviction op
      // makes room for many writes instead of one op per write.
      // A write larger than the whole budget could never fit: refuse it without evicting anything.
      if (growth > budget) return { ok: false, reply: errOom() };
      const freed = this.evict(groupId, need + Math.min(EVICT_HEADROOM_MAX_BYTES, Math.floor(budget / 100)), Number.MAX_SAFE_INTEGER, undefined, need);
      if (freed < need) return { ok: false, reply: errOom() };
    }
    this.pendingGrowth.set(groupId, (this.pendingGrowth.get(groupId) ?? 0) + growth);
    let settled = false;
    return {
      ok: true,
      settle: () => {
        if (settled) return;
        settled = true;
        const left = (this.pendingGrowth.get(groupId) ?? 0) - growth;
        if (left <= 0) this.pendingGrowth.delete(groupId);
        else this.pendingGrowth.set(groupId, left);
      },
    };
  };

  /** One background round: every led data group over budget proposes one bounded eviction. */
  round(): void {
    const budget = this.budget();
    if (budget === Infinity || this.settings.policy() === 'noeviction') return;
    for (const groupId of this.host.groupIds()) {
      if (groupId === META_GROUP || !this.host.isLeader(groupId) || this.backgroundInFlight.has(groupId)) continue;
      const need = this.projected(groupId) - budget;
      if (need <= 0) continue;
      this.backgroundInFlight.add(groupId);
      this.evict(groupId, need, this.opts.keysPerRoundMax, () => this.backgroundInFlight.delete(groupId));
    }
  }

  /**
   * Picks keys of the group to free at least `need` bytes (at most `keysMax`
   * keys) and proposes their deletion. Returns the bytes the chosen keys hold.
   * With `atLeast`, proposes nothing (and returns 0) unless the chosen keys
   * free that many bytes: a write that cannot be made room for evicts nothing.
   */
  private evict(groupId: GroupId, need: number, keysMax: number, done?: () => void, atLeast = 0): number {
    const policy = this.settings.policy();
    const stats = this.sm.keyStats(groupId);
    const volatileOnly = policy.startsWith('volatile-');
    const chosen: string[] = [];
    let freed = 0;
    let ttlTaken: string[] = [];
    if (policy === 'volatile-ttl') {
      // Exact rather than sampled: the TTL index is a heap, so the soonest-expiring keys are at hand.
      const idx = this.sm.expiryIndex(groupId);
      while (freed < need && chosen.length < keysMax) {
        const batch = idx.takeSoonest(Math.min(64, keysMax - chosen.length));
        if (batch.length === 0) break;
        ttlTaken = ttlTaken.concat(batch);
        for (const k of batch) {
          const s = stats.get(k);
          if (!s || s.evicting || freed >= need) continue;
          stats.markEvicting(k);
          chosen.push(k);
          freed += keyBytes(s);
        }
      }
      const picked = new Set(chosen);
      idx.retry(ttlTaken.filter((k) => !picked.has(k)));
    } else {
      while (freed < need && chosen.length < keysMax) {
        const k = this.pick(groupId, policy, volatileOnly);
        if (k === undefined) break;
        const s = stats.get(k)!;
        stats.markEvicting(k);
        chosen.push(k);
        freed += keyBytes(s);
      }
    }
    if (chosen.length === 0 || freed < atLeast) {
      for (const k of chosen) stats.unmarkEvicting(k);
      if (policy === 'volatile-ttl') this.sm.expiryIndex(groupId).retry(chosen);
      done?.();
      return 0;
    }
    this.proposedKeys += chosen.length;
    const op = encodeOp([Buffer.from(EVICT_OP), Buffer.from(volatileOnly ? 'volatile' : 'all'), ...chosen.map((k) => Buffer.from(k, 'latin1'))]);
    void this.host.propose(groupId, op).then(() => {
      // Deleted keys left the statistics on apply; clear the marks of any that survived.
      for (const k of chosen) stats.unmarkEvicting(k);
      if (policy === 'volatile-ttl') this.sm.expiryIndex(groupId).retry(chosen);
      done?.();
    });
    return freed;
  }

  /**
   * One victim by sampling, as Redis's evictionPoolPopulate: `samples` random
   * keys go into a pool of the 16 best candidates kept between picks, and the
   * best one still present is taken.
   */
  private pick(groupId: GroupId, policy: Policy, volatileOnly: boolean): string | undefined {
    const stats = this.sm.keyStats(groupId);
    const random = () => this.env.random.next();
    const available = volatileOnly ? stats.volatileCount : stats.size;
    if (available === 0) return undefined;
    if (policy.endsWith('-random')) {
      for (let tries = 0; tries < 64; tries++) {
        const k = stats.sample(volatileOnly, random);
        if (k !== undefined && !stats.get(k)!.evicting) return k;
      }
      return undefined;
    }
    const now = this.env.clock.nowMs();
    const lfu = policy.endsWith('-lfu');
    if (policy !== this.poolPolicy) {
      // Scores of another policy do not compare: start the pools afresh.
      this.pools.clear();
      this.poolPolicy = policy;
    }
    let pool = this.pools.get(groupId);
    if (!pool) this.pools.set(groupId, (pool = []));
    const samples = Math.max(1, this.settings.samples());
    for (let tries = 0; tries < 8; tries++) {
      for (let i = 0; i < samples; i++) {
        const k = stats.sample(volatileOnly, random);
        if (k === undefined) break;
        const s = stats.get(k)!;
        if (s.evicting || pool.some((c) => c.key === k)) continue;
        const score = lfu ? 255 - lfuDecayed(s, now) : now - s.accessMs;
        insertCandidate(pool, { key: k, score });
      }
      while (pool.length > 0) {
        const best = pool.pop()!;
        const s = stats.get(best.key);
        if (s && !s.evicting && (!volatileOnly || s.expireAtMs !== 0)) return best.key;
      }
    }
    return undefined;
  }
}

/** Keeps `pool` sorted by ascending score with at most POOL_SIZE entries (the best last). */
function insertCandidate(pool: Candidate[], c: Candidate): void {
  let i = pool.length;
  while (i > 0 && pool[i - 1].score > c.score) i--;
  if (pool.length >= POOL_SIZE) {
    if (i === 0) return; // worse than every candidate in a full pool
    pool.splice(i, 0, c);
    pool.shift();
  } else {
    pool.splice(i, 0, c);
  }
}

/**
 * An upper bound of the bytes a write may add, or 0 when it cannot grow the
 * data (commands without Redis's `denyoom` flag: DEL, EXPIRE...). Every
 * argument is counted as if it were stored as its own record carrying the key
 * (a hash field record repeats the key), plus the offset of SETRANGE.
 */
export function growthBound(args: Buffer[]): number {
  const name = args[0].toString('latin1').toLowerCase();
  if (name === 'raftis.exec') {
    // The queued commands follow the watched keys: `raftis.exec n k1 rev1 ... cmd...`.
    const watched = Number(args[1].toString('latin1'));
    let total = 0;
    for (let i = 2 + 2 * watched; i < args.length; i++) total += growthBound(decodeOp(args[i]));
    return total;
  }
  const spec = lookupCommand(name);
  if (!spec || !spec.flags.includes('denyoom')) return 0;
  let bytes = 0;
  const keyLen = args[1]?.length ?? 0;
  for (let i = 1; i < args.length; i++) bytes += args[i].length + KEY_RECORD_OVERHEAD + keyLen;
  if (name === 'setrange' && args.length > 2) {
    const offset = Number(args[2].toString('latin1'));
    if (Number.isFinite(offset) && offset > 0) bytes += offset;
  }
  return bytes;
}
