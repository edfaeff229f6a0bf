/**
 * One simulator run: builds a cluster and its clients from a seed, injects faults for a while
 * (partitions, loss, duplication, crashes, restarts, membership changes, leadership transfers,
 * compaction), then heals everything and demands progress. Safety invariants are checked after
 * every event; at the end the client history is checked for linearizability.
 */
import { SeededRandom } from '../env/random.js';
import type { NodeId, RawNodeApi, RawNodeConfig } from '../raft/types.js';
import { SimClient, type ClientConfig, type ClientOp } from './client.js';
import { SimCluster } from './cluster.js';
import { FaultInjector } from './faults.js';
import { SimViolation } from './invariants.js';
import { checkLinearizable, describeHistory, explainViolation, type RegisterOp } from './linearizability.js';

export interface SimOptions {
  seed: number;
  /** Initial voters, 3..7; 0 = chosen by the seed. */
  nodes: number;
  /** Virtual milliseconds of faults before healing. */
  durationMs: number;
  /** Most events in one run (a guard against livelock in the harness). */
  eventsMax: number;
  /** Violates the clock-drift assumption that lease reads rely on. */
  breakDrift: boolean;
  /** Bound on each node's clock drift, in percent. */
  driftPct: number;
  clients: number;
  keys: number;
  createRawNode: (config: RawNodeConfig) => RawNodeApi;
  trace: ((line: string) => void) | null;
}

export const defaultSimOptions = {
  nodes: 0,
  durationMs: 6_000,
  eventsMax: 2_000_000,
  breakDrift: false,
  driftPct: 5,
  clients: 4,
  keys: 3,
};

export interface SimResult {
  seed: number;
  ok: boolean;
  /** Set when !ok: what failed, with the seed and event number. */
  failure: string | null;
  params: string;
  summary: string;
  history: RegisterOp[];
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
/** Virtual time allowed, after healing, for a leader to appear and every client to finish. */
const LIVENESS_MS = 8_000;
const OP_TIMEOUT_MS = 1_500;

/** Describes the run's parameters in one line (printed with every run). */
export function describeParams(options: SimOptions, voters: number): string {
  return `seed=${options.seed} nodes=${voters} duration=${options.durationMs}ms clients=${options.clients}`
    + ` keys=${options.keys} drift=±${options.driftPct}%${options.breakDrift ? ' break-drift' : ''}`;
}

export function runSimulation(options: SimOptions): SimResult {
  const random = new SeededRandom(options.seed);
  const setup = random.fork('setup');
  const voters = options.nodes > 0 ? options.nodes : setup.int(3, 7);
  // Follower read leases on in most runs (the product's default), off in the rest.
  const followerLeases = random.fork('follower-leases').chance(0.7);
  const params = `${describeParams(options, voters)}${followerLeases ? ' follower-leases' : ''}`;
  // Per-node clock rates, within ±driftPct. With breakDrift the lease keeps no margin for drift
  // and an isolated leader's clock runs 6x slow (see FaultInjector), so a deposed leader may
  // believe its lease still holds.
  const rates = new Map<NodeId, number>();
  const rateRandom = random.fork('clocks');
  const clockRates = (nodeId: NodeId): number => {
    let rate = rates.get(nodeId);
    if (rate === undefined) {
      rate = 1 + (rateRandom.next() * 2 - 1) * options.driftPct / 100;
      rates.set(nodeId, rate);
    }
    return rate;
  };
  // Lease safety margin: the leader counts (electionTicks - leaseDriftTicks) of its own ticks
  // from sending a heartbeat round; a follower waits at least electionTicks of its ticks from
  // receiving it. Ticks are discrete (one tick of slack on each side), so with drift d we need
  // (E - L + 1) * (1 + d) <= (E - 1) * (1 - d).
  const d = options.driftPct / 100;
  let leaseDriftTicks = 0;
  while ((ELECTION_TICKS - leaseDriftTicks + 1) * (1 + d) > (ELECTION_TICKS - 1) * (1 - d)) leaseDriftTicks++;
  if (options.breakDrift) leaseDriftTicks = 0;

  const cluster = new SimCluster({
    voters,
    nodeIdsMax: voters + 4,
    tickMs: TICK_MS,
    clockRates,
    electionTicks: ELECTION_TICKS,
    heartbeatTicks: HEARTBEAT_TICKS,
    leaseDriftTicks,
    followerLeases,
    netDelayMsMin: 0.5,
    // Fast or slow networks and disks, by seed: slow ones widen the windows between a Ready
    // being taken, persisted and acknowledged, where interleavings hide.
    netDelayMsMax: setup.pick([3, 8, 8, 25]),
    persistDelayMsMax: setup.pick([1, 3, 3, 15]),
    maxSizePerMsg: setup.pick([40, 200, 1024, 1 << 20]),
    maxInflightMsgs: setup.pick([1, 4, 16, 256]),
    createRawNode: options.createRawNode,
    trace: options.trace,
  }, random.fork('cluster'));

  const clientConfig: ClientConfig = {
    keys: Array.from({ length: options.keys }, (_, i) => `k${i}`),
    opTimeoutMs: OP_TIMEOUT_MS,
    thinkMsMax: 40,
    leaseReadChance: options.breakDrift ? 0.9 : 0.5,
    followerReadChance: followerLeases ? 0.6 : 0,
  };
  const clients: SimClient[] = [];
  const clientHost = {
    nowMs: () => cluster.nowMs,
    after: (delayMs: number, fn: () => void) => cluster.after(delayMs, fn),
    candidates: () => cluster.candidates(),
    submit: (nodeId: NodeId, op: ClientOp) => cluster.submit(nodeId, op),
  };
  for (let clientId = 1; clientId <= options.clients; clientId++) {
    clients.push(new SimClient(clientId, clientHost, random.fork(`client-${clientId}`), clientConfig));
  }
  cluster.opSink = {
    complete: (op, value) => clients[op.clientId - 1].complete(op, value),
    indeterminate: (op) => clients[op.clientId - 1].indeterminate(op),
    failed: (op) => clients[op.clientId - 1].failed(op),
  };

  const faults = new FaultInjector(cluster, random.fork('faults'), options.breakDrift);
  let failure: string | null = null;
  let phase = 'faults';
  try {
    for (const client of clients) client.start();
    faults.start(options.durationMs);
    if (!cluster.runUntil(options.durationMs, options.eventsMax)) throw new SimViolation('event budget exhausted');
    // Heal: every fault stops, every node that was not removed comes back, clients finish.
    phase = 'liveness';
    faults.healAll();
    for (const client of clients) {
      client.stopped = true;
      client.startFinal(2);
    }
    const deadlineMs = options.durationMs + LIVENESS_MS;
    while (cluster.nowMs < deadlineMs && !clients.every((c) => c.finalDone >= 2)) {
      if (!cluster.runUntil(Math.min(deadlineMs, cluster.nowMs + 100), options.eventsMax)) {
        throw new SimViolation('event budget exhausted');
      }
    }
    const stuck = clients.filter((c) => c.finalDone < 2).map((c) => `c${c.clientId}`);
    if (stuck.length > 0) {
      const leader = cluster.leader();
      throw new SimViolation(`liveness: ${LIVENESS_MS}ms after healing, clients ${stuck.join(',')} have not completed`
        + ` their final operations (leader: ${leader === null ? 'none' : leader.nodeId})`);
    }
    // Every member that is up catches up with the leader's commit index (replication and
    // snapshot transfer make progress once the network is whole).
    const caughtUp = (): string | null => {
      const leader = cluster.leader();
      if (leader === null) return 'no leader';
      const status = leader.raw!.status();
      for (const nodeId of [...status.confState.voters, ...status.confState.learners]) {
        const node = cluster.nodes.get(nodeId);
        if (node === undefined || !node.alive) return `member ${nodeId} is down`;
        if (node.storage.kv.applied < status.commit) return `member ${nodeId} applied ${node.storage.kv.applied} < leader ${leader.nodeId} commit ${status.commit}`;
      }
      return null;
    };
    while (cluster.nowMs < deadlineMs && caughtUp() !== null) {
      if (!cluster.runUntil(Math.min(deadlineMs, cluster.nowMs + 50), options.eventsMax)) {
        throw new SimViolation('event budget exhausted');
      }
    }
    const lag = caughtUp();
    if (lag !== null) throw new SimViolation(`liveness: ${LIVENESS_MS}ms after healing: ${lag}`);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const kind = error instanceof SimViolation ? 'violation' : 'error';
    failure = `${kind} (seed ${options.seed}) at event ${cluster.stats.events} (t=${cluster.nowMs.toFixed(2)}ms, ${phase}): ${error.message}`;
    if (!(error instanceof SimViolation) && error.stack) failure += '\n' + error.stack;
  }

  const history = clients.flatMap((c) => c.history);
  if (failure === null) {
    const verdict = checkLinearizable(history);
    if (verdict.kind === 'violation') {
      const explained = explainViolation(verdict.ops);
      failure = explained === null
        ? `not linearizable: key ${verdict.key}\n${describeHistory(verdict.ops)}`
        : `not linearizable: key ${verdict.key}: read ${explained.read.label} returned`
          + ` ${explained.read.value ?? '(nil)'}; operations on ${verdict.key} around it:\n${describeHistory(explained.nearby)}`;
    } else if (verdict.kind === 'unknown') {
      failure = `linearizability unknown for key ${verdict.key}: ${verdict.reason}`;
    }
  }
  const totals = { writes: 0, reads: 0, indeterminate: 0, failed: 0 };
  for (const client of clients) {
    totals.writes += client.stats.writes;
    totals.reads += client.stats.reads;
    totals.indeterminate += client.stats.indeterminate;
    totals.failed += client.stats.failed;
  }
  const s = cluster.stats;
  const summary = `events=${s.events} t=${cluster.nowMs.toFixed(0)}ms terms=${cluster.invariants.leaders.size}`
    + ` committed=${cluster.invariants.committedMax} writes=${totals.writes} reads=${totals.reads}`
    + ` indeterminate=${totals.indeterminate} failed=${totals.failed} crashes=${s.crashes}`
    + ` confChanges=${faults.confChanges} transfers=${faults.transfers} partitions=${faults.partitions}`
    + ` snapshots=${s.snapshotsSent}/${s.snapshotsInstalled} compactions=${s.compactions}`
    + ` msgs=${s.messagesSent} dropped=${s.messagesDropped}`;
  return { seed: options.seed, ok: failure === null, failure, params, summary, history };
}

