/**
 * The faults a fault run schedules at random from its seed. Each one is applied, held for a
 * while under load, and healed before the next; none of them needs the cluster to be healthy
 * to heal (a node killed is restarted, a paused one resumed, link rules cleared).
 */
import type { SeededRandom } from '../../src/env/random.js';
import { sleep, type FaultCluster } from './harness.js';

export interface FaultContext {
  cluster: FaultCluster;
  random: SeededRandom;
  /** Appends a line to the run's fault log. */
  note(line: string): void;
  /**
   * Opens a recorded connection to a node (before the node is paused); `read()` then sends a
   * GET of every key at once, recorded with its invocation time, completing whenever the node
   * answers. This is how a read can be invoked while its node stands still.
   */
  probe(nodeId: number): Promise<{ read(): void; close(): void }>;
}

export type Fault = (ctx: FaultContext) => Promise<void>;

/** A copy of `items` in an order drawn from `random`. */
export function shuffle<T>(random: SeededRandom, items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The leader of a random data group, or a random node when none is known. */
async function someLeader(ctx: FaultContext): Promise<{ groupId: number; leader: number }> {
  const groups = ((await ctx.cluster.groups()) ?? []).filter((g) => g.groupId !== 0 && g.leader !== 0);
  if (groups.length === 0) return { groupId: 1, leader: ctx.random.pick(ctx.cluster.nodeIds()) };
  const g = ctx.random.pick(groups);
  return { groupId: g.groupId, leader: g.leader };
}

/** Every directed link between the two sides. */
function cut(a: number[], b: number[]): Array<[number, number]> {
  const links: Array<[number, number]> = [];
  for (const x of a) for (const y of b) links.push([x, y], [y, x]);
  return links;
}

async function holdPartition(ctx: FaultContext, links: Array<[number, number]>, what: string): Promise<void> {
  const ms = ctx.random.int(600, 2500);
  ctx.note(`${what} for ${ms} ms`);
  await ctx.cluster.dropLinks(links);
  await sleep(ms);
  await ctx.cluster.heal();
}

async function killAndRestart(ctx: FaultContext, nodes: number[], what: string): Promise<void> {
  const ms = ctx.random.int(300, 2000);
  ctx.note(`${what}: kill -9 ${nodes.join(',')}, restart after ${ms} ms`);
  for (const id of nodes) await ctx.cluster.kill(id);
  await sleep(ms);
  for (const id of nodes) ctx.cluster.restart(id);
}

export const FAULTS: Record<string, Fault> = {
  'kill-one': (ctx) => killAndRestart(ctx, [ctx.random.pick(ctx.cluster.nodeIds())], 'one node'),
  'kill-leader': async (ctx) => {
    const { groupId, leader } = await someLeader(ctx);
    await killAndRestart(ctx, [leader], `leader of group ${groupId}`);
  },
  'kill-majority': (ctx) => {
    const ids = ctx.cluster.nodeIds();
    return killAndRestart(ctx, shuffle(ctx.random, ids).slice(0, Math.floor(ids.length / 2) + 1), 'a majority');
  },
  pause: async (ctx) => {
    const target = ctx.random.chance(0.5) ? (await someLeader(ctx)).leader : ctx.random.pick(ctx.cluster.nodeIds());
    // Longer than the election timeout, so the others elect new leaders meanwhile.
    const ms = ctx.random.int(ctx.cluster.electionMs * 2, ctx.cluster.electionMs * 10);
    ctx.note(`SIGSTOP node ${target} for ${ms} ms`);
    const probe = await ctx.probe(target);
    ctx.cluster.pause(target);
    await sleep(ms * 0.8);
    probe.read();
    await sleep(ms * 0.2);
    ctx.cluster.resume(target);
    setTimeout(() => probe.close(), 4000);
  },
  'pause-isolated-leader': async (ctx) => {
    // A leader is cut off and then paused past the election timeout; it resumes still cut off.
    // The others elect a new leader and take writes meanwhile, so the old one must not serve
    // reads from a lease that ran out while its process stood still.
    const { groupId, leader } = await someLeader(ctx);
    const others = ctx.cluster.nodeIds().filter((id) => id !== leader);
    const ms = ctx.random.int(ctx.cluster.electionMs * 3, ctx.cluster.electionMs * 8);
    ctx.note(`isolate node ${leader} (leader of group ${groupId}), SIGSTOP it for ${ms} ms, resume it still isolated`);
    const probe = await ctx.probe(leader);
    await ctx.cluster.dropLinks(cut([leader], others));
    ctx.cluster.pause(leader);
    await sleep(ms * 0.8);
    probe.read();
    await sleep(ms * 0.2);
    ctx.cluster.resume(leader);
    setTimeout(() => probe.close(), 4000);
    await sleep(ctx.random.int(300, 1000));
    await ctx.cluster.heal();
  },
  'partition-halves': (ctx) => {
    const ids = shuffle(ctx.random, ctx.cluster.nodeIds());
    const k = Math.floor(ids.length / 2);
    const [a, b] = [ids.slice(0, k), ids.slice(k)];
    return holdPartition(ctx, cut(a, b), `partition ${a.join(',')} | ${b.join(',')}`);
  },
  'isolate-leader': async (ctx) => {
    const { groupId, leader } = await someLeader(ctx);
    const others = ctx.cluster.nodeIds().filter((id) => id !== leader);
    await holdPartition(ctx, cut([leader], others), `isolate node ${leader} (leader of group ${groupId})`);
  },
  bridge: (ctx) => {
    // Two sides that cannot talk to each other, and one node that talks to both.
    const ids = shuffle(ctx.random, ctx.cluster.nodeIds());
    const bridge = ids[0]!;
    const rest = ids.slice(1);
    const k = Math.floor(rest.length / 2);
    const [a, b] = [rest.slice(0, k), rest.slice(k)];
    return holdPartition(ctx, cut(a, b), `bridge: ${a.join(',')} | ${b.join(',')} joined only through node ${bridge}`);
  },
  'one-way': async (ctx) => {
    // One node's outgoing (or incoming) messages are lost, the other direction works.
    const { leader } = await someLeader(ctx);
    const target = ctx.random.chance(0.5) ? leader : ctx.random.pick(ctx.cluster.nodeIds());
    const others = ctx.cluster.nodeIds().filter((id) => id !== target);
    const outgoing = ctx.random.chance(0.5);
    const links = others.map((o) => (outgoing ? [target, o] : [o, target]) as [number, number]);
    await holdPartition(ctx, links, `one-way loss ${outgoing ? 'from' : 'to'} node ${target}`);
  },
  'clock-jump': async (ctx) => {
    const target = ctx.random.pick(ctx.cluster.nodeIds());
    const bound = ctx.cluster.driftBoundMs;
    const ms = ctx.random.chance(0.5) ? (ctx.random.chance(0.5) ? bound : -bound) : ctx.random.int(-bound, bound);
    ctx.note(`clock jump of ${ms} ms on node ${target}`);
    await ctx.cluster.tryCall(target, 'RAFTIS.FAULT', 'CLOCK-JUMP', ms);
    await sleep(ctx.random.int(200, 1000));
  },
  'transfer-leader': async (ctx) => {
    const groups = ((await ctx.cluster.groups()) ?? []).filter((g) => g.groupId !== 0 && g.leader !== 0);
    if (groups.length === 0) return ctx.note('transfer-leader: no group with a leader');
    const g = ctx.random.pick(groups);
    const to = ctx.random.pick(g.voters.filter((v) => v !== g.leader).concat(g.voters.length === 1 ? [g.leader] : []));
    if (ctx.random.chance(0.5)) {
      ctx.note(`RAFTIS TRANSFER-LEADER ${g.groupId} ${to} (from ${g.leader})`);
      await ctx.cluster.tryCall(g.leader, 'RAFTIS', 'TRANSFER-LEADER', g.groupId, to);
    } else {
      ctx.note(`CLUSTER FAILOVER on node ${to}`);
      await ctx.cluster.tryCall(to, 'CLUSTER', 'FAILOVER');
    }
    await sleep(ctx.random.int(200, 1000));
  },
  'move-replica': async (ctx) => {
    // A membership change under load: one replica of a group moves to a node without one
    // (only when the cluster has more nodes than replicas per group).
    const groups = ((await ctx.cluster.groups()) ?? []).filter((g) => g.groupId !== 0 && g.leader !== 0);
    const candidates = groups.filter((g) => g.members.length < ctx.cluster.nodeIds().length);
    if (candidates.length === 0) return ctx.note('move-replica: every node holds every group');
    const g = ctx.random.pick(candidates);
    const from = ctx.random.pick(g.voters);
    const to = ctx.random.pick(ctx.cluster.nodeIds().filter((id) => !g.members.includes(id)));
    ctx.note(`RAFTIS MOVE-REPLICA ${g.groupId} ${from} ${to}`);
    const via = ctx.random.pick(ctx.cluster.responsive());
    const reply = await ctx.cluster.tryCall(via, 'RAFTIS', 'MOVE-REPLICA', g.groupId, from, to);
    ctx.note(`  -> ${String(reply)}`);
    await sleep(ctx.random.int(500, 2000));
  },
  combo: async (ctx) => {
    // Two faults at once (a kill during a partition, a pause during a leadership transfer...).
    const names = Object.keys(FAULTS).filter((n) => n !== 'combo');
    const [a, b] = [ctx.random.pick(names), ctx.random.pick(names)];
    ctx.note(`combo: ${a} + ${b}`);
    await Promise.all([FAULTS[a]!(ctx), sleep(ctx.random.int(0, 500)).then(() => FAULTS[b]!(ctx))]);
  },
};
