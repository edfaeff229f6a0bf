/**
 * The fault injector of the whole-node simulator: every 100–600 virtual ms it picks one of
 * symmetric partitions (one node cut off, or the cluster split in two), asymmetric partitions
 * (random directed links), message loss and duplication rates, node crashes (a process crash,
 * or a power loss that also takes unflushed state-machine writes) with a restart later, and
 * healing. `healAll` ends every fault and restarts every node that is down.
 */
import type { SeededRandom } from '../../env/random.js';
import type { NodeId } from '../../raft/types.js';
import type { SimNetwork } from './network.js';
import type { SimNodeProcess } from './node-process.js';
import type { SimWorld } from './world.js';

export interface FaultOptions {
  /** Allow crashes at all. */
  crashes: boolean;
  /** Most nodes down at once (a majority now and then is fine: liveness is judged after healing). */
  downMax: number;
}

export interface FaultStats {
  partitions: number;
  crashes: number;
  powerLosses: number;
  restarts: number;
  lossChanges: number;
}

export class FaultInjector {
  private readonly partitions = new Map<number, string[]>();
  private partitionSeq = 0;
  private active = true;
  /** Restart timers of crashed nodes, by node: a heal restarts them at once instead. */
  private readonly restartDue = new Map<NodeId, number>();
  readonly stats: FaultStats = { partitions: 0, crashes: 0, powerLosses: 0, restarts: 0, lossChanges: 0 };
  onCrash: (nodeId: NodeId) => void = () => {};

  constructor(
    private readonly world: SimWorld,
    private readonly random: SeededRandom,
    private readonly net: SimNetwork,
    private readonly nodes: readonly SimNodeProcess[],
    private readonly options: FaultOptions,
  ) {}

  start(): void {
    this.scheduleNext();
    // Crashes right after a snapshot install or a compaction hit the windows between the
    // state-machine write and the log write, which random crashes almost never do.
    this.world.onInfo = (msg, fields) => {
      if (!this.active || !this.options.crashes) return;
      if (msg !== 'restored snapshot' && msg !== 'sent snapshot') return;
      if (!this.random.chance(0.3)) return;
      const node = this.nodes.find((n) => n.nodeId === fields.node);
      if (node === undefined) return;
      this.world.after(this.random.next() * 4, () => {
        if (this.active && node.state === 'up') this.crash(node, `after '${msg}'`);
      });
    };
  }

  private scheduleNext(): void {
    this.world.after(100 + this.random.next() * 500, () => {
      if (!this.active) return;
      this.inject();
      this.scheduleNext();
    });
  }

  private inject(): void {
    const r = this.random.next();
    if (r < 0.3) this.partitionSymmetric();
    else if (r < 0.45) this.partitionAsymmetric();
    else if (r < 0.6) this.changeLoss();
    else if (r < 0.85 && this.options.crashes) this.crashOne();
    else if (r < 0.92) this.healPartitions();
  }

  private ids(): NodeId[] {
    return this.nodes.map((n) => n.nodeId);
  }

  private addPartition(links: string[], heldMs: number, what: string): void {
    const id = ++this.partitionSeq;
    this.partitions.set(id, links);
    this.stats.partitions++;
    this.recomputeBlocked();
    this.world.trace(`partition #${id}: ${what} for ${heldMs.toFixed(0)}ms`);
    this.world.after(heldMs, () => {
      if (!this.partitions.delete(id)) return;
      this.recomputeBlocked();
      this.world.trace(`partition #${id} heals`);
    });
  }

  private recomputeBlocked(): void {
    this.net.blocked.clear();
    for (const links of this.partitions.values()) for (const l of links) this.net.blocked.add(l);
  }

  private partitionSymmetric(): void {
    const ids = this.ids();
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.random.int(0, i);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    // One node alone, or a random split into two non-empty sides.
    const cut = this.random.chance(0.5) ? 1 : this.random.int(1, ids.length - 1);
    const side = new Set(shuffled.slice(0, cut));
    const links: string[] = [];
    for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) links.push(`${a}>${b}`);
    this.addPartition(links, 300 + this.random.next() * 2200, `{${[...side].sort().join(',')}} | rest`);
  }

  private partitionAsymmetric(): void {
    const ids = this.ids();
    const links: string[] = [];
    const count = this.random.int(1, ids.length);
    for (let i = 0; i < count; i++) {
      const a = this.random.pick(ids);
      const b = this.random.pick(ids.filter((x) => x !== a));
      links.push(`${a}>${b}`);
    }
    this.addPartition(links, 300 + this.random.next() * 1700, `links ${links.join(' ')}`);
  }

  private changeLoss(): void {
    this.net.lossRate = this.random.pick([0, 0, 0.02, 0.1, 0.3]);
    this.net.duplicateRate = this.random.pick([0, 0.02, 0.1]);
    this.stats.lossChanges++;
    this.world.trace(`network: loss=${this.net.lossRate} duplicate=${this.net.duplicateRate}`);
  }

  private crashOne(): void {
    const up = this.nodes.filter((n) => n.state === 'up');
    if (up.length === 0) return;
    this.crash(this.random.pick(up), 'at random');
  }

  private crash(node: SimNodeProcess, why: string): void {
    const down = this.nodes.filter((n) => n.state !== 'up').length;
    if (down >= this.options.downMax) return;
    this.world.trace(`crash of node ${node.nodeId} ${why}`);
    const powerLoss = this.random.chance(0.5);
    node.crash(powerLoss);
    this.stats.crashes++;
    if (powerLoss) this.stats.powerLosses++;
    this.onCrash(node.nodeId);
    const downMs = 100 + this.random.next() * 2900;
    const due = this.world.nowMs + downMs;
    this.restartDue.set(node.nodeId, due);
    this.world.at(due, () => {
      if (this.restartDue.get(node.nodeId) !== due) return;
      this.restart(node);
    });
  }

  private restart(node: SimNodeProcess): void {
    this.restartDue.delete(node.nodeId);
    if (node.state !== 'down') return;
    this.stats.restarts++;
    node.boot().catch((err: unknown) => this.world.fail(`node ${node.nodeId} failed to restart: ${String((err as Error)?.stack ?? err)}`));
  }

  private healPartitions(): void {
    if (this.partitions.size === 0) return;
    this.partitions.clear();
    this.recomputeBlocked();
    this.world.trace('partitions heal');
  }

  /** Ends every fault for good and restarts every node that is down. */
  healAll(): void {
    this.active = false;
    this.healPartitions();
    this.net.lossRate = 0;
    this.net.duplicateRate = 0;
    for (const node of this.nodes) if (node.state === 'down') this.restart(node);
    this.world.trace('all faults healed');
  }
}
