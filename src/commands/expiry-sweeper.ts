/**
 * Background deletion of expired keys. On every tick, for each group this node
 * leads, it takes up to `keysPerGroupMax` expired keys from the group's TTL
 * index and proposes one internal `raftis.expire` op for them. The op deletes a
 * key only if it is still expired at the entry's stamp, so a SET that revived
 * the key in the meantime wins, and every replica deletes the same keys. One
 * proposal per group is in flight at a time, which bounds the load it adds.
 */
import type { Env, TimerHandle } from '../env/env.js';
import type { Host } from '../host/host.js';
import type { KvStateMachine } from './apply.js';
import { encodeOp } from './op-codec.js';
import { INTERNAL } from './internal.js';

export interface ExpirySweeperOptions {
  intervalMs: number;
  keysPerGroupMax: number;
}

export class ExpirySweeper {
  private timer: TimerHandle | null = null;
  private readonly inFlight = new Set<number>();
  /** Keys proposed for deletion so far (INFO stats expired_keys counts applied ones on every node). */
  proposedKeys = 0;

  constructor(
    private readonly env: Env,
    private readonly host: Host,
    private readonly sm: KvStateMachine,
    private readonly opts: ExpirySweeperOptions,
  ) {}

  start(): void {
    this.timer = this.env.timers.every(this.opts.intervalMs, () => this.sweep());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  sweep(): void {
    const now = this.env.clock.nowMs();
    for (const groupId of this.host.groupIds()) {
      if (!this.host.isLeader(groupId) || this.inFlight.has(groupId)) continue;
      const idx = this.sm.expiryIndex(groupId);
      const keys = idx.takeExpired(now, this.opts.keysPerGroupMax);
      if (keys.length === 0) continue;
      this.inFlight.add(groupId);
      this.proposedKeys += keys.length;
      const op = encodeOp([Buffer.from(INTERNAL.expire), ...keys.map((k) => Buffer.from(k, 'latin1'))]);
      void this.host.propose(groupId, op).then((outcome) => {
        this.inFlight.delete(groupId);
        if (outcome.kind !== 'ok') idx.retry(keys);
      });
    }
  }
}
