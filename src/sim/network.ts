/**
 * The simulated network between the nodes of a SimCluster: each message gets a random delay
 * (so messages reorder), may be lost or duplicated, and is dropped on blocked links (symmetric
 * or asymmetric partitions). A sender hears back, as from a transport, about snapshots that did
 * or did not arrive and about some appends that could not be delivered.
 */
import type { SeededRandom } from '../env/random.js';
import type { Message, NodeId } from '../raft/types.js';
import { MessageType } from '../raft/types.js';
import type { SimCluster, SimNode } from './cluster.js';

export interface NetworkConfig {
  netDelayMsMin: number;
  netDelayMsMax: number;
}

export class SimNetwork {
  /** Directed links that drop everything: `${from}>${to}`. */
  readonly blocked = new Set<string>();
  lossRate = 0;
  duplicateRate = 0;

  constructor(private readonly cluster: SimCluster, private readonly random: SeededRandom,
    private readonly config: NetworkConfig) {}

  /** Heals every partition and stops loss and duplication. */
  heal(): void {
    this.blocked.clear();
    this.lossRate = 0;
    this.duplicateRate = 0;
  }

  send(from: SimNode, message: Message): void {
    const cluster = this.cluster;
    cluster.stats.messagesSent++;
    const random = this.random;
    const fromEpoch = from.epoch;
    if (this.blocked.has(`${from.nodeId}>${message.to}`) || random.chance(this.lossRate)) {
      cluster.stats.messagesDropped++;
      this.undeliverable(from, fromEpoch, message);
      return;
    }
    const copies = random.chance(this.duplicateRate) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delayMs = this.config.netDelayMsMin + random.next() * (this.config.netDelayMsMax - this.config.netDelayMsMin);
      cluster.after(delayMs, () => this.deliver(from, fromEpoch, message));
    }
  }

  private deliver(from: SimNode, fromEpoch: number, message: Message): void {
    const cluster = this.cluster;
    const target = cluster.nodes.get(message.to);
    if (target === undefined || !target.alive) {
      cluster.stats.messagesDropped++;
      this.undeliverable(from, fromEpoch, message);
      return;
    }
    // The receiver gets its own copy, as it would from the wire.
    target.raw!.step({ ...message, entries: message.entries.slice() });
    cluster.afterInput(target);
    if (message.type === MessageType.Snap) this.reportSnapshot(from, fromEpoch, message.to, true);
  }

  /** The sender learns (as a transport would) that a message did not get through. */
  private undeliverable(from: SimNode, fromEpoch: number, message: Message): void {
    if (message.type === MessageType.Snap) this.reportSnapshot(from, fromEpoch, message.to, false);
    else if (message.type === MessageType.App && this.random.chance(0.3)) {
      this.cluster.after(this.config.netDelayMsMax, () => {
        if (from.epoch !== fromEpoch || !from.alive) return;
        from.raw!.reportUnreachable(message.to);
        this.cluster.afterInput(from);
      });
    }
  }

  private reportSnapshot(from: SimNode, fromEpoch: number, to: NodeId, ok: boolean): void {
    this.cluster.after(this.config.netDelayMsMax, () => {
      if (from.epoch !== fromEpoch || !from.alive) return;
      from.raw!.reportSnapshot(to, ok);
      this.cluster.afterInput(from);
    });
  }
}
