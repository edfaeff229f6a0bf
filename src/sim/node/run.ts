/**
 * One run of the whole-node simulator: a cluster of simulated raftis processes (real Host,
 * KvStateMachine, Router and Dispatcher per node, several data groups plus group 0), clients
 * issuing commands through random nodes, faults for `durationMs`, then healing. Checked:
 * election and state-machine safety while it runs (ledger.ts); after healing, that every
 * group has a leader and every client completes commands again (liveness), that every
 * replica of a group holds the same bytes (agreement); and that the client histories are
 * linearizable per key (registers and counters).
 */
import { createHash } from 'node:crypto';
import type { PeerAddress } from '../../config.js';
import { SeededRandom } from '../../env/random.js';
import { keySlot } from '../../cluster/slot.js';
import { initialPlacement, type Placement } from '../../cluster/placement.js';
import type { GroupId } from '../../raft/types.js';
import { checkLinearizable, describeHistory, explainViolation } from '../linearizability.js';
import { History, SimClient, type KeySet } from './clients.js';
import { checkCounters, describeCounterHistory } from './counter-check.js';
import { FaultInjector } from './faults.js';
import { ApplyLedger } from './ledger.js';
import { SimNetwork } from './network.js';
import { SimNodeProcess, type SimNodeConfig } from './node-process.js';
import { errorText, SimWorld } from './world.js';

export interface NodeSimOptions {
  seed: number;
  /** Nodes in the cluster; 0 = chosen by the seed (3 or 5). */
  nodes: number;
  /** Data groups (group 0 comes on top). */
  groups: number;
  /** Virtual ms of faults before healing. */
  durationMs: number;
  clients: number;
  /** Counter keys (INCR); register keys are one per data group. */
  counterKeys: number;
  /** Bound on each node's clock-rate error, in percent. */
  driftPct: number;
  /** Inject crashes (and power losses). */
  crashes: boolean;
  eventsMax: number;
  trace: ((line: string) => void) | null;
}

export const defaultNodeSimOptions: Omit<NodeSimOptions, 'seed' | 'trace'> = {
  nodes: 0,
  groups: 4,
  durationMs: 8_000,
  clients: 5,
  counterKeys: 2,
  driftPct: 5,
  crashes: true,
  eventsMax: 3_000_000,
};

export interface NodeSimResult {
  seed: number;
  ok: boolean;
  failure: string | null;
  params: string;
  summary: string;
  /** sha256 of the history and the final state: equal for two runs of one seed. */
  hash: string;
  history: History;
}

const TICK_MS = 25;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 1;
const REQUEST_TIMEOUT_MS = 1_000;
const CLIENT_TIMEOUT_MS = 3_000;
/** Virtual time allowed after healing for every group to have a leader and every client to progress. */
const LIVENESS_MS = 15_000;
/** After clients stop: time for every replica to apply everything. */
const CONVERGE_MS = 5_000;

/** One register key per data group, so every group serves clients; counters spread likewise. */
export function chooseKeys(placement: Placement, counterKeys: number): KeySet {
  const groups = placement.dataGroups().length;
  const groupOf = (key: string): GroupId => placement.groupOfSlot(keySlot(key));
  const registers: string[] = [];
  const taken = new Set<GroupId>();
  for (let i = 0; registers.length < groups; i++) {
    const key = `r${i}`;
    const g = groupOf(key);
    if (taken.has(g)) continue;
    taken.add(g);
    registers.push(key);
  }
  const counters: string[] = [];
  const counterGroups = new Set<GroupId>();
  for (let i = 0; counters.length < counterKeys; i++) {
    const key = `n${i}`;
    const g = groupOf(key);
    if (counterGroups.has(g) && counterGroups.size < groups) continue;
    counterGroups.add(g);
    counters.push(key);
  }
  return { registers, counters };
}

export async function runNodeSim(options: NodeSimOptions): Promise<NodeSimResult> {
  const random = new SeededRandom(options.seed);
  const nodeCount = options.nodes > 0 ? options.nodes : random.fork('shape').pick([3, 3, 5]);
  const shape = random.fork('config');
  const readMode = shape.chance(0.5) ? 'lease' : 'readIndex';
  const followerLeases = random.fork('follower-reads').chance(0.7);
  const compactEntries = shape.int(24, 160);
  const diskDelayMsMax = shape.pick([0.5, 2, 5]);
  const drift = options.driftPct / 100;
  const world = new SimWorld(options.eventsMax, options.trace);
  const net = new SimNetwork(world, random.fork('network'), { delayMsMin: 0.3, delayMsMax: 6 });
  const ledger = new ApplyLedger(world);
  const members: PeerAddress[] = [];
  for (let i = 1; i <= nodeCount; i++) members.push({ nodeId: i, host: `10.0.0.${i}`, port: 6379, peerPort: 16379 });
  const keys = chooseKeys(initialPlacement(members, options.groups, 3), options.counterKeys);
  const params = `seed=${options.seed} nodes=${nodeCount} groups=${options.groups}+1 duration=${options.durationMs}ms`
    + ` clients=${options.clients} keys=${keys.registers.length}+${keys.counters.length} drift=±${options.driftPct}%`
    + ` read=${readMode}${followerLeases ? '+follower' : ''} compact=${compactEntries} disk<=${diskDelayMsMax}ms crashes=${options.crashes ? 'on' : 'off'}`;
  const clockRandom = random.fork('clocks');
  const nodes: SimNodeProcess[] = members.map((m) => {
    const config: SimNodeConfig = {
      nodeId: m.nodeId,
      members,
      groups: options.groups,
      replicas: 3,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      leaseDriftTicks: 2,
      readMode,
      followerLeases,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      compactEntries,
      diskDelayMsMax,
    };
    const clock = {
      rate: 1 + (clockRandom.next() * 2 - 1) * drift,
      wallOffsetMs: (clockRandom.next() * 2 - 1) * 50,
      timerJitterMs: 0.5,
    };
    return new SimNodeProcess(world, net, config, clock, random.fork(`node-${m.nodeId}`), ledger);
  });

  const history = new History();
  // The router promises a reply within requestTimeoutMs of node time, plus a retry and a round trip.
  const replyBoundMs = REQUEST_TIMEOUT_MS / (1 - drift) + TICK_MS * 2 + 20;
  const clientRandom = random.fork('clients');
  const clients: SimClient[] = [];
  for (let c = 1; c <= options.clients; c++) {
    clients.push(new SimClient(c, world, clientRandom.fork(`client-${c}`), nodes, keys, {
      timeoutMs: CLIENT_TIMEOUT_MS, thinkMsMax: 40, wanderChance: 0.3,
    }, history, replyBoundMs, (c - 1) % nodeCount));
  }
  const faults = new FaultInjector(world, random.fork('faults'), net, nodes, {
    crashes: options.crashes,
    downMax: Math.floor((nodeCount - 1) / 2) + (random.fork('down').chance(0.2) ? 1 : 0),
  });
  faults.onCrash = (nodeId) => {
    for (const c of clients) c.nodeCrashed(nodeId);
  };

  const onRejection = (reason: unknown): void => world.fail(`unhandled rejection: ${errorText(reason)}`);
  process.on('unhandledRejection', onRejection);
  let phase = 'start';
  try {
    const bootRandom = random.fork('boot');
    for (const node of nodes) {
      world.after(bootRandom.next() * 50, () => {
        node.boot().catch((err: unknown) => world.fail(`node ${node.nodeId} failed to boot: ${errorText(err)}`));
      });
    }
    world.after(100, () => {
      for (const c of clients) c.start();
      faults.start();
    });

    phase = 'faults';
    await world.runUntil(options.durationMs);
    if (world.failure === null) {
      phase = 'liveness';
      faults.healAll();
      for (const c of clients) c.markHeal();
      // One more client checks that every node answers for every key (DESIGN.md: any node
      // answers any command), whether or not it replicates the key's group.
      const prober = new SimClient(0, world, clientRandom.fork('prober'), nodes, keys, {
        timeoutMs: CLIENT_TIMEOUT_MS, thinkMsMax: 10, wanderChance: 0,
      }, history, replyBoundMs, 0);
      prober.probeAll([...keys.registers, ...keys.counters]);
      prober.markHeal();
      prober.start();
      clients.push(prober);
      const healedMs = world.nowMs;
      const live = await world.runUntil(healedMs + LIVENESS_MS, () =>
        leadersAgreed(nodes, options.groups) && clients.every((c) => c.okSinceHeal >= 2 && c.probesLeft === 0));
      if (!live && world.failure === null) {
        world.fail(`liveness: ${LIVENESS_MS}ms after healing, ${describeLiveness(nodes, options.groups, clients)}`);
      }
    }
    if (world.failure === null) {
      phase = 'converge';
      for (const c of clients) c.stop();
      const startMs = world.nowMs;
      const converged = await world.runUntil(startMs + CONVERGE_MS, () => clients.every((c) => c.idle) && replicasCaughtUp(nodes));
      if (!converged && world.failure === null) {
        world.fail(`convergence: replicas did not apply the same index within ${CONVERGE_MS}ms of the clients stopping (${describeApplied(nodes)})`);
      }
    }
    if (world.failure === null) {
      phase = 'agreement';
      const disagreement = await checkAgreement(nodes);
      if (disagreement !== null) world.fail(disagreement);
    }
  } catch (err) {
    world.fail(`harness error in phase ${phase}: ${errorText(err)}`);
  } finally {
    process.off('unhandledRejection', onRejection);
  }

  let failure = world.failure;
  if (failure === null) failure = checkHistories(history);

  const images = failure === null ? await finalImages(nodes) : '';
  const hash = createHash('sha256').update(history.lines.join('\n')).update(images).digest('hex');
  const s = history.stats;
  const fs = faults.stats;
  const summary = `events=${world.events} t=${world.nowMs.toFixed(0)}ms leaderships=${ledger.stats.leaderships}`
    + ` applied=${ledger.stats.entriesApplied} opsPerEntryMax=${ledger.stats.opsPerEntryMax}`
    + ` fsyncs=${nodes.reduce((n, node) => n + node.logStore.stats().fsyncs, 0)} writes=${s.writesOk} reads=${s.readsOk} indeterminate=${s.indeterminate}`
    + ` readsLost=${s.readsLost} errors=${s.errors} timeouts=${s.timeouts} late=${s.late} latencyMax=${s.latencyMaxMs.toFixed(0)}ms`
    + ` partitions=${fs.partitions} crashes=${fs.crashes} (power ${fs.powerLosses}) restarts=${fs.restarts}`
    + ` snapshots=${world.logCounts.get('sent snapshot') ?? 0} forwards=${net.stats.requestsSent} (failed ${net.stats.requestsFailed})`
    + ` packets=${net.stats.packetsSent} dropped=${net.stats.packetsDropped} dup=${net.stats.packetsDuplicated}`;
  return { seed: options.seed, ok: failure === null, failure: failure === null ? null : `${failure} [seed ${options.seed}]`, params, summary, hash: hash.slice(0, 16), history };
}

/** Every group has a leader that every up replica of it follows. */
function leadersAgreed(nodes: readonly SimNodeProcess[], groups: number): boolean {
  for (let g = 0; g <= groups; g++) {
    let leader = 0;
    for (const node of nodes) {
      if (node.placement.group(g)?.replicas.includes(node.nodeId) !== true) continue;
      if (node.state !== 'up') return false;
      const seen = node.host!.leaderOf(g);
      if (seen === 0 || (leader !== 0 && seen !== leader)) return false;
      leader = seen;
    }
    const leaderNode = nodes.find((n) => n.nodeId === leader);
    if (leaderNode === undefined || !leaderNode.host!.isLeader(g)) return false;
  }
  return true;
}

function describeLiveness(nodes: readonly SimNodeProcess[], groups: number, clients: readonly SimClient[]): string {
  const parts: string[] = [];
  for (let g = 0; g <= groups; g++) {
    const views = nodes
      .filter((n) => n.placement.group(g)?.replicas.includes(n.nodeId))
      .map((n) => {
        if (n.state !== 'up') return `n${n.nodeId}:${n.state}`;
        const st = n.host!.raft(g)!.status();
        return `n${n.nodeId}:leader=${st.leader},term=${st.term},commit=${st.commit},applied=${st.applied}`;
      });
    parts.push(`group ${g} [${views.join(' ')}]`);
  }
  parts.push(`clients ok since heal: ${clients.map((c) => `c${c.clientId}=${c.okSinceHeal}`).join(' ')}`);
  const probesLeft = clients.reduce((n, c) => n + c.probesLeft, 0);
  if (probesLeft > 0) parts.push(`${probesLeft} (node, key) probes never answered`);
  return parts.join('; ');
}

/** Every replica of every group is up and has applied its leader's commit index. */
function replicasCaughtUp(nodes: readonly SimNodeProcess[]): boolean {
  const groups = nodes[0].placement.groups;
  for (const g of groups) {
    let target = -1;
    for (const nodeId of g.replicas) {
      const node = nodes[nodeId - 1];
      if (node.state !== 'up') return false;
      const st = node.host!.raft(g.groupId)!.status();
      if (st.applied !== st.commit || node.smStore.applied(g.groupId) !== st.applied) return false;
      if (target === -1) target = st.applied;
      else if (target !== st.applied) return false;
    }
  }
  return true;
}

function describeApplied(nodes: readonly SimNodeProcess[]): string {
  return nodes[0].placement.groups.map((g) => `group ${g.groupId}: ${g.replicas.map((id) => {
    const node = nodes[id - 1];
    if (node.state !== 'up') return `n${id} ${node.state}`;
    const st = node.host!.raft(g.groupId)!.status();
    return `n${id} commit=${st.commit} applied=${st.applied}`;
  }).join(', ')}`).join('; ');
}

/** Every replica of a group holds the same image (data and applied index). */
async function checkAgreement(nodes: readonly SimNodeProcess[]): Promise<string | null> {
  for (const g of nodes[0].placement.groups) {
    let first: { nodeId: number; image: Buffer } | null = null;
    for (const nodeId of g.replicas) {
      const image = Buffer.from(await nodes[nodeId - 1].smStore.image(g.groupId));
      if (first === null) first = { nodeId, image };
      else if (!first.image.equals(image)) {
        return `agreement: group ${g.groupId} differs between node ${first.nodeId} and node ${nodeId} after healing`
          + ` (applied ${nodes[first.nodeId - 1].smStore.applied(g.groupId)} vs ${nodes[nodeId - 1].smStore.applied(g.groupId)})`;
      }
    }
  }
  return null;
}

async function finalImages(nodes: readonly SimNodeProcess[]): Promise<string> {
  const hash = createHash('sha256');
  for (const node of nodes) for (const g of node.placement.groupsOn(node.nodeId)) hash.update(await node.smStore.image(g.groupId));
  return hash.digest('hex');
}

function checkHistories(history: History): string | null {
  const registers = checkLinearizable(history.registers);
  if (registers.kind === 'violation') {
    const explained = explainViolation(registers.ops);
    const shown = explained === null ? describeHistory(registers.ops) : `first unexplainable read: ${explained.read.label}\n${describeHistory(explained.nearby)}`;
    return `not linearizable: register key ${registers.key}\n${shown}`;
  }
  if (registers.kind === 'unknown') return `linearizability unknown for register key ${registers.key}: ${registers.reason}`;
  const counters = checkCounters(history.counters);
  if (counters.kind === 'violation') return `not linearizable: counter key ${counters.key}\n${describeCounterHistory(counters.ops, 200)}`;
  if (counters.kind === 'unknown') return `linearizability unknown for counter key ${counters.key}: ${counters.reason}`;
  return null;
}

/** The parameters that shape a run, for the reproduce line. */
export function reproduceFlags(options: NodeSimOptions): string {
  const d = defaultNodeSimOptions;
  let flags = `--seed ${options.seed}`;
  if (options.nodes !== d.nodes) flags += ` --nodes ${options.nodes}`;
  if (options.groups !== d.groups) flags += ` --groups ${options.groups}`;
  if (options.durationMs !== d.durationMs) flags += ` --duration ${options.durationMs}`;
  if (options.clients !== d.clients) flags += ` --clients ${options.clients}`;
  if (options.counterKeys !== d.counterKeys) flags += ` --counters ${options.counterKeys}`;
  if (options.driftPct !== d.driftPct) flags += ` --drift ${options.driftPct}`;
  if (!options.crashes) flags += ' --no-crashes';
  if (options.eventsMax !== d.eventsMax) flags += ` --steps ${options.eventsMax}`;
  return flags;
}
