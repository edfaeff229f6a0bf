/**
 * The simulator's fault schedule: from its own random stream it decides which fault happens
 * next and when (partitions, loss and duplication, crashes and restarts, membership changes,
 * leadership transfers, clock faults in break-drift mode), keeps compaction going, and at the
 * end heals everything.
 */
import type { SeededRandom } from '../env/random.js';
import type { NodeId } from '../raft/types.js';
import { ConfChangeType, Role } from '../raft/types.js';
import type { SimCluster } from './cluster.js';

/** Decides, from its own random stream, which fault happens next and when. */
export class FaultInjector {
  confChanges = 0;
  transfers = 0;
  partitions = 0;
  private healed = false;
  private nodeIdNext: number;

  constructor(private readonly cluster: SimCluster, private readonly random: SeededRandom,
    private readonly breakDrift: boolean) {
    this.nodeIdNext = cluster.bootstrapVoters.length + 1;
  }

  start(untilMs: number): void {
    const step = (): void => {
      if (this.healed || this.cluster.nowMs >= untilMs) return;
      const partitioned = this.inject();
      // A partition is held long enough for an election to happen behind it.
      this.cluster.after(partitioned ? this.random.int(200, 1200) : this.random.int(30, 300), step);
    };
    this.cluster.after(this.random.int(200, 600), step);
    const compactLoop = (): void => {
      if (this.healed) return;
      for (const node of this.cluster.nodes.values()) {
        if (node.alive && node.storage.entries.length > 40) this.cluster.compact(node, this.random.int(0, 10));
      }
      this.cluster.after(this.random.int(50, 250), compactLoop);
    };
    this.cluster.after(100, compactLoop);
  }

  healAll(): void {
    this.healed = true;
    const cluster = this.cluster;
    cluster.network.heal();
    for (const node of cluster.nodes.values()) if (!node.alive && !node.removed) cluster.restart(node);
    // Compaction keeps going while healing, less often, so that lagging nodes may need snapshots.
    const compactLoop = (): void => {
      for (const node of cluster.nodes.values()) if (node.alive && node.storage.entries.length > 80) cluster.compact(node, 5);
      cluster.after(500, compactLoop);
    };
    cluster.after(500, compactLoop);
  }

  /** Injects one fault; returns true if it was a partition. */
  private inject(): boolean {
    const random = this.random;
    const cluster = this.cluster;
    const roll = random.int(0, 99);
    const nodes = [...cluster.nodes.values()].filter((n) => !n.removed);
    const alive = nodes.filter((n) => n.alive);
    const down = nodes.filter((n) => !n.alive);
    if (roll < 12) {
      // Symmetric partition into two sides.
      // Either a random split, or the leader with a random minority.
      const leader = cluster.leader();
      const sideA = new Set(nodes.filter(() => random.chance(0.5)).map((n) => n.nodeId));
      if (leader !== null && random.chance(0.5)) {
        sideA.clear();
        sideA.add(leader.nodeId);
        for (const node of nodes) if (sideA.size < Math.floor(nodes.length / 2) && random.chance(0.3)) sideA.add(node.nodeId);
      }
      cluster.network.blocked.clear();
      for (const a of nodes) for (const b of nodes) {
        if (sideA.has(a.nodeId) !== sideA.has(b.nodeId)) cluster.network.blocked.add(`${a.nodeId}>${b.nodeId}`);
      }
      this.partitions++;
      cluster.trace(`partition [${[...sideA]}] | rest`);
      return true;
    } else if (roll < 20) {
      // Asymmetric: some directed links drop everything.
      cluster.network.blocked.clear();
      for (const a of nodes) for (const b of nodes) {
        if (a !== b && random.chance(0.25)) cluster.network.blocked.add(`${a.nodeId}>${b.nodeId}`);
      }
      this.partitions++;
      cluster.trace(`asymmetric partition ${[...cluster.network.blocked].join(' ')}`);
      return true;
    } else if (roll < (this.breakDrift ? 40 : 28)) {
      // Isolate the leader (the scenario lease reads must survive).
      const leader = cluster.leader();
      if (leader === null) return false;
      cluster.network.blocked.clear();
      for (const other of nodes) {
        if (other === leader) continue;
        cluster.network.blocked.add(`${leader.nodeId}>${other.nodeId}`);
        cluster.network.blocked.add(`${other.nodeId}>${leader.nodeId}`);
      }
      this.partitions++;
      if (this.breakDrift) {
        // The clock fault lease reads cannot survive: the isolated leader's clock runs 6x slow
        // while the others keep time, so it counts its lease long after they elect another.
        for (const node of nodes) node.periodMs = cluster.config.tickMs * (node === leader ? 6 : 1);
      }
      cluster.trace(`isolate leader ${leader.nodeId}${this.breakDrift ? ' (its clock 6x slow)' : ''}`);
      return true;
    } else if (roll < 40) {
      cluster.network.blocked.clear();
      cluster.trace('heal partitions');
    } else if (roll < 46) {
      cluster.network.lossRate = random.pick([0, 0, 0.02, 0.1, 0.3]);
      cluster.network.duplicateRate = random.pick([0, 0, 0.02, 0.1]);
      cluster.trace(`loss=${cluster.network.lossRate} dup=${cluster.network.duplicateRate}`);
    } else if (roll < 56) {
      if (alive.length === 0) return false;
      // Half the time the leader: leader crashes are what create diverging log tails (Figure 8).
      const leader = cluster.leader();
      const victim = leader !== null && random.chance(0.5) ? leader : random.pick(alive);
      cluster.crash(victim);
      // Most crashed nodes come back after a while; the rest wait for a restart fault or healing.
      if (random.chance(0.8)) cluster.after(random.int(50, 1500), () => cluster.restart(victim));
    } else if (roll < 62) {
      if (down.length > 0) cluster.restart(random.pick(down));
    } else if (roll < 72) {
      this.changeMembership();
    } else if (roll < 78) {
      const leader = cluster.leader();
      if (leader === null) return false;
      const voters = leader.raw!.status().confState.voters.filter((v) => v !== leader.nodeId);
      if (voters.length === 0) return false;
      const target = random.pick(voters);
      leader.raw!.transferLeader(target);
      this.transfers++;
      cluster.trace(`transfer leadership ${leader.nodeId} -> ${target}`);
      cluster.afterInput(leader);
    }
    // Otherwise: a quiet spell.
    return false;
  }

  private changeMembership(): void {
    const cluster = this.cluster;
    const random = this.random;
    const leader = cluster.leader();
    if (leader === null) return;
    const status = leader.raw!.status();
    if (status.role !== Role.Leader) return;
    const { voters, learners } = status.confState;
    const members = new Set([...voters, ...learners]);
    const choice = random.int(0, 2);
    let type: ConfChangeType;
    let nodeId: NodeId;
    if (choice === 0) {
      // Add a learner: a spawned node that is not yet a member, or a brand-new one.
      const idle = [...cluster.nodes.values()].find((n) => !n.removed && !members.has(n.nodeId));
      if (idle !== undefined) nodeId = idle.nodeId;
      else {
        if (this.nodeIdNext > cluster.config.nodeIdsMax) return;
        nodeId = this.nodeIdNext++;
        cluster.spawn(nodeId);
      }
      type = ConfChangeType.AddLearner;
    } else if (choice === 1) {
      if (learners.length === 0 || voters.length >= 7) return;
      nodeId = random.pick(learners);
      type = ConfChangeType.AddVoter;
    } else {
      const removable = [...voters.filter((v) => v !== leader.nodeId && voters.length > 3), ...learners];
      if (removable.length === 0) return;
      nodeId = random.pick(removable);
      type = ConfChangeType.RemoveNode;
    }
    const result = leader.raw!.proposeConfChange({ type, nodeId, context: new Uint8Array(0) });
    cluster.trace(`conf change ${['add-voter', 'remove', 'add-learner'][type]} ${nodeId} on ${leader.nodeId}: ${result.kind}`);
    if (result.kind === 'ok') this.confChanges++;
    cluster.afterInput(leader);
  }
}
