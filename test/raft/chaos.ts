// Test helper (no tests here): a seeded fault schedule over the in-memory
// network, checking safety invariants at every step.
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/env/random.js';
import { Network, bytes } from './network.js';
import { ConfChangeType, type Message, Role } from '../../src/raft/types.js';

export interface RunResult {
  trace: string;
  leadersByTerm: Map<number, Set<number>>;
  readsServed: number;
}

export function run(seed: number, steps: number, net = new Network([1, 2, 3, 4, 5], { seed })): RunResult {
  const rnd = new SeededRandom(seed ^ 0x5eed);
  const leadersByTerm = new Map<number, Set<number>>();
  let dropRate = 0.1;
  let partitioned: number[] = [];
  net.drop = (m: Message) => partitioned.includes(m.from) !== partitioned.includes(m.to) || rnd.chance(dropRate);
  let proposals = 0;
  const readFloor = new Map<string, number>();
  const committed = new Map<number, { term: number; seenInTerm: number }>();
  let readsServed = 0;
  const ids = [...net.members.keys()];
  for (let step = 0; step < steps; step++) {
    const roll = rnd.next();
    if (roll < 0.5) {
      for (const id of ids) net.node(id).tick();
    } else if (roll < 0.75) {
      const leader = net.leaders()[0];
      if (leader !== undefined) net.node(leader).propose(bytes(`p${proposals++}`));
    } else if (roll < 0.8) {
      partitioned = rnd.chance(0.5) ? [] : [rnd.pick(ids)];
      dropRate = rnd.pick([0, 0.05, 0.2]);
    } else if (roll < 0.83) {
      const id = rnd.pick(ids);
      if (rnd.chance(0.5)) {
        // A clean restart: everything handed out was persisted.
        while (net.handleReady(id) !== null) { /* drain */ }
        const before = net.node(id).status();
        const after = net.restart(id).status();
        // Membership is rebuilt from the store's compaction point plus applied conf changes.
        assert.deepEqual(after.confState, before.confState, `node ${id}: membership changed across restart`);
        assert.deepEqual([after.applied, after.commit, after.lastIndex, after.term], [before.applied, before.commit, before.lastIndex, before.term]);
      } else {
        net.restart(id); // a crash: whatever was not persisted is lost
      }
    } else if (roll < 0.86) {
      const id = rnd.pick(ids);
      const st = net.node(id).status();
      if (st.applied >= st.firstIndex) net.compact(id, rnd.int(st.firstIndex, st.applied));
    } else if (roll < 0.88) {
      const leader = net.leaders()[0];
      if (leader !== undefined) {
        const target = rnd.pick(ids);
        const conf = net.node(leader).status().confState;
        const type = conf.voters.includes(target) ? ConfChangeType.RemoveNode
          : conf.learners.includes(target) ? ConfChangeType.AddVoter : ConfChangeType.AddLearner;
        if (!(type === ConfChangeType.RemoveNode && conf.voters.length <= 3)) {
          net.node(leader).proposeConfChange({ type, nodeId: target, context: new Uint8Array(0) });
        }
      }
    } else if (roll < 0.9) {
      const leader = net.leaders()[0];
      if (leader !== undefined) net.node(leader).transferLeader(rnd.pick(ids));
    } else if (roll < 0.93) {
      const id = rnd.pick(ids);
      // Linearizable reads: the read index covers everything committed anywhere before the read began.
      readFloor.set(`r${step}`, Math.max(...ids.map((i) => net.node(i).status().commit)));
      net.node(id).readIndex(bytes(`r${step}`), rnd.chance(0.5) ? 'lease' : 'readIndex');
    } else {
      // Take a Ready now and persist it only later: input keeps arriving meanwhile.
      net.beginReady(rnd.pick(ids));
    }
    // Deliver in small doses so messages interleave with ticks.
    if (rnd.chance(0.8)) net.readyAll();
    if (rnd.chance(0.7)) net.deliverOnce();
    for (const id of ids) {
      const st = net.node(id).status();
      if (st.role === Role.Leader) {
        const set = leadersByTerm.get(st.term) ?? new Set();
        set.add(id);
        leadersByTerm.set(st.term, set);
      }
    }
    checkStateMachineSafety(net);
    checkLeaderCompleteness(net, committed);
    for (const id of ids) {
      for (const rs of net.get(id).readStates.splice(0)) {
        const ctx = new TextDecoder().decode(rs.context);
        const floor = readFloor.get(ctx);
        assert.ok(floor !== undefined, `unknown read ${ctx}`);
        assert.ok(rs.index >= floor, `read ${ctx} on ${id}: index ${rs.index} < commit ${floor} before it began`);
        readsServed++;
      }
    }
  }
  net.heal();
  net.drop = () => false;
  for (let i = 0; i < 60; i++) net.tickAll();
  checkStateMachineSafety(net);
  const trace = JSON.stringify(net.sent.map((m) => [m.type, m.from, m.to, m.term, m.index, m.logTerm, m.commit, m.reject,
    m.entries.map((e) => [e.index, e.term]), m.snapshot?.meta.index ?? -1]));
  return { trace, leadersByTerm, readsServed };
}

/** Every member's applied state machine is a prefix of the longest one. */
export function checkStateMachineSafety(net: Network): void {
  const sms = [...net.members.values()].map((m) => m.sm);
  const longest = sms.reduce((a, b) => (b.length > a.length ? b : a));
  for (const sm of sms) assert.deepEqual(sm, longest.slice(0, sm.length), 'state machines diverged');
}


interface LogView {
  term(index: number): number | undefined;
  committed: number;
  snapIndex: number;
  lastIndex(): number;
}

/** Reaches into the core's log: tests only. */
function logOf(net: Network, id: number): LogView {
  return (net.node(id) as unknown as { raft: { log: LogView } }).raft.log;
}

/**
 * Leader completeness (§5.4): an entry committed in term T is in the log of
 * every leader of a term > T (unless compacted). `committed` maps an index to
 * its entry's term and the term of the node that first saw it committed (>= T).
 */
export function checkLeaderCompleteness(net: Network, committed: Map<number, { term: number; seenInTerm: number }>): void {
  for (const id of net.members.keys()) {
    const log = logOf(net, id);
    const nodeTerm = net.node(id).status().term;
    for (let i = Math.max(log.snapIndex + 1, 1); i <= log.committed; i++) {
      const t = log.term(i)!;
      const seen = committed.get(i);
      assert.ok(seen === undefined || seen.term === t, `node ${id}: committed entry ${i} has term ${t}, elsewhere ${seen?.term}`);
      if (seen === undefined) committed.set(i, { term: t, seenInTerm: nodeTerm });
    }
  }
  for (const id of net.leaders()) {
    const log = logOf(net, id);
    const leaderTerm = net.node(id).status().term;
    for (const [i, c] of committed) {
      if (i <= log.snapIndex || leaderTerm <= c.seenInTerm) continue;
      assert.equal(log.term(i), c.term, `leader ${id} (term ${leaderTerm}) lacks committed entry ${i}/${c.term}`);
    }
  }
}
