/**
 * Real node processes for fault tests, on top of the integration harness: every node runs
 * with RAFTIS_FAULT_INJECTION=1, so the test can cut links (RAFTIS.FAULT DROP), jump clocks
 * and read group digests, besides kill -9 / restart and SIGSTOP / SIGCONT of processes.
 */
import { Redis } from 'ioredis';
import { TestCluster } from '../integration/harness.js';

export interface GroupView {
  groupId: number;
  leader: number;
  /** Voters and learners as the answering node sees them. */
  members: number[];
  voters: number[];
  commit: number;
  applied: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function toMap(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

export interface FaultClusterOptions {
  nodes: number;
  groups: number;
  /** More node flags. */
  extra?: string[];
}

export class FaultCluster {
  readonly cluster: TestCluster;
  private readonly admins = new Map<number, Redis>();
  readonly paused = new Set<number>();
  /** Nodes this harness is killing (their exit is expected). */
  private readonly killing = new Set<number>();
  /** Nodes that exited by themselves: a crash is a bug. */
  readonly crashes: string[] = [];
  /** The drift bound each node enforces on clock jumps: leaseDriftTicks (2) * tickMs (20). */
  readonly driftBoundMs = 40;
  /** Election timeout in ms (10 ticks of 20 ms). */
  readonly electionMs = 200;

  constructor(readonly opts: FaultClusterOptions) {
    this.cluster = new TestCluster({
      nodes: opts.nodes,
      env: { RAFTIS_FAULT_INJECTION: '1' },
      // Compaction after 200 entries, so restarted and cut-off replicas catch up by snapshot too.
      extra: ['--groups', String(opts.groups), '--request-timeout-ms', '2000', '--gossip-ms', '100', '--compact-entries', '200',
        ...(opts.extra ?? [])],
    });
  }

  get dataDir(): string {
    return this.cluster.dataDir;
  }

  nodeIds(): number[] {
    return this.cluster.nodeIds();
  }

  port(nodeId: number): number {
    return this.cluster.port(nodeId);
  }

  async start(): Promise<void> {
    for (const id of this.nodeIds()) this.watchFor(id);
    await this.cluster.start();
  }

  /** Starts a node and notes it if it later exits without being killed. */
  private startWatched(nodeId: number): void {
    this.cluster.startNode(nodeId);
    this.watchFor(nodeId);
  }

  private watchFor(nodeId: number): void {
    // exitCode must be taken after startNode (it follows the running process); start() calls
    // startNode itself, so defer to the next turn.
    setImmediate(() => {
      void this.cluster.exitCode(nodeId).then((code) => {
        if (this.killing.delete(nodeId)) return;
        this.crashes.push(`node ${nodeId} exited by itself (code ${code}); see node-${nodeId}.log`);
      });
    });
  }

  /** A connection for admin and fault commands: no retries, short timeout, no offline queue. */
  admin(nodeId: number): Redis {
    let c = this.admins.get(nodeId);
    if (c === undefined) {
      c = new Redis({
        port: this.port(nodeId), host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false, commandTimeout: 2000, retryStrategy: () => 100, lazyConnect: false,
      });
      c.on('error', () => {});
      this.admins.set(nodeId, c);
    }
    return c;
  }

  /** The admin connection of a node once it is ready (waits up to `timeoutMs`). */
  async adminReady(nodeId: number, timeoutMs = 5000): Promise<Redis> {
    const c = this.admin(nodeId);
    if (c.status === 'ready') return c;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`node ${nodeId}: admin connection not ready`)), timeoutMs);
      c.once('ready', () => { clearTimeout(t); resolve(); });
    });
    return c;
  }

  /** Runs a command on a node; undefined when the node does not answer. */
  async tryCall(nodeId: number, ...args: Array<string | number>): Promise<unknown> {
    if (!this.cluster.isRunning(nodeId) || this.paused.has(nodeId)) return undefined;
    try {
      const c = this.admin(nodeId);
      if (c.status !== 'ready') {
        // A fresh or reconnecting connection: wait for it rather than fail at once (no offline queue).
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('not ready')), 1500);
          c.once('ready', () => { clearTimeout(t); resolve(); });
        });
      }
      return await c.call(String(args[0]), ...args.slice(1).map(String));
    } catch {
      return undefined;
    }
  }

  /** Live and not paused. */
  responsive(): number[] {
    return this.nodeIds().filter((id) => this.cluster.isRunning(id) && !this.paused.has(id));
  }

  /** The groups as a responsive node sees them (undefined if none answers). */
  async groups(): Promise<GroupView[] | undefined> {
    for (const id of this.responsive()) {
      const rows = (await this.tryCall(id, 'RAFTIS', 'GROUPS')) as unknown[][] | undefined;
      if (!rows) continue;
      return rows.map((r) => {
        const m = toMap(r);
        const members = (m.get('members') as unknown[][]).map(toMap);
        return {
          groupId: m.get('group') as number,
          leader: m.get('leader') as number,
          members: members.map((x) => x.get('node') as number),
          voters: members.filter((x) => x.get('role') !== 'learner').map((x) => x.get('node') as number),
          commit: m.get('commit') as number,
          applied: m.get('applied') as number,
        };
      });
    }
    return undefined;
  }

  /** Replaces every responsive node's link rules: Raft messages and RPCs on from -> to are dropped. */
  async dropLinks(links: Array<[number, number]>): Promise<void> {
    const flat = links.flatMap(([a, b]) => [a, b]);
    await Promise.all(this.responsive().map((id) => this.tryCall(id, 'RAFTIS.FAULT', 'DROP', ...flat)));
  }

  async heal(): Promise<void> {
    await Promise.all(this.responsive().map((id) => this.tryCall(id, 'RAFTIS.FAULT', 'HEAL')));
  }

  async kill(nodeId: number): Promise<void> {
    this.paused.delete(nodeId);
    this.admins.get(nodeId)?.disconnect();
    this.admins.delete(nodeId);
    if (this.cluster.isRunning(nodeId)) this.killing.add(nodeId);
    await this.cluster.kill(nodeId, 'SIGKILL');
  }

  restart(nodeId: number): void {
    if (!this.cluster.isRunning(nodeId)) this.startWatched(nodeId);
  }

  pause(nodeId: number): void {
    if (!this.cluster.isRunning(nodeId)) return;
    this.paused.add(nodeId);
    this.cluster.signal(nodeId, 'SIGSTOP');
  }

  resume(nodeId: number): void {
    if (!this.paused.delete(nodeId)) return;
    this.cluster.signal(nodeId, 'SIGCONT');
  }

  /** Resumes paused nodes, restarts dead ones and clears every link rule. */
  async healAll(): Promise<void> {
    for (const id of [...this.paused]) this.resume(id);
    for (const id of this.nodeIds()) this.restart(id);
    await this.heal();
  }

  /** Waits until every node answers and sees a leader for every group it hosts. */
  async waitAllReady(timeoutMs = 60000): Promise<void> {
    for (const id of this.nodeIds()) await this.cluster.waitReady(id, timeoutMs);
  }

  /**
   * Waits until every replica of every group has applied the same index, and returns the groups
   * whose replicas then disagree on the digest of their state (empty when all agree).
   */
  async compareDigests(timeoutMs = 30000): Promise<{ groups: number; mismatches: string[] }> {
    const deadline = Date.now() + timeoutMs;
    const views = (await this.groups()) ?? [];
    const mismatches: string[] = [];
    for (const g of views) {
      let last = '';
      for (;;) {
        const answers = await Promise.all(g.members.map(async (id) => [id, await this.tryCall(id, 'RAFTIS.FAULT', 'DIGEST', g.groupId)] as const));
        const applied = new Set(answers.map(([, a]) => (Array.isArray(a) ? a[0] : -1)));
        last = answers.map(([id, a]) => `node ${id}: ${Array.isArray(a) ? `applied=${a[0]} digest=${String(a[1]).slice(0, 16)}` : 'no answer'}`).join(', ');
        if (applied.size === 1 && !applied.has(-1)) {
          const digests = new Set(answers.map(([, a]) => (a as unknown[])[1]));
          if (digests.size !== 1) mismatches.push(`group ${g.groupId}: ${last}`);
          break;
        }
        if (Date.now() > deadline) {
          mismatches.push(`group ${g.groupId}: replicas did not reach one applied index: ${last}`);
          break;
        }
        await sleep(100);
      }
    }
    return { groups: views.length, mismatches };
  }

  async stop(keepData: boolean): Promise<void> {
    for (const id of [...this.paused]) this.resume(id);
    for (const id of this.nodeIds()) if (this.cluster.isRunning(id)) this.killing.add(id);
    for (const c of this.admins.values()) c.disconnect();
    this.admins.clear();
    await this.cluster.stop(keepData);
  }
}
