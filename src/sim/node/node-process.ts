/**
 * One simulated raftis process: the same pieces `createNode` (src/node.ts) wires — placement,
 * `KvStateMachine`, the multi-raft `Host`, `Router` and `Dispatcher` — over in-memory storage
 * (`MemoryLogStore`, a crashable `MemoryStateMachineStore`) and the simulated network, on a
 * simulated Env. `createNode` itself opens LevelDB and binds TCP, so it cannot be called
 * here; the wiring below follows it line by line (see docs/simulator.md).
 *
 * A crash kills the incarnation (its timers, `soon` callbacks and sockets), loses the log
 * writes not covered by a completed sync, and, on power loss, a suffix of the unflushed
 * state-machine writes. A restart builds a fresh incarnation from what the stores kept.
 */
import { AclService } from '../../commands/acl.js';
import { errorReply } from '../../resp/encoder.js';
import type { SeededRandom } from '../../env/random.js';
import type { Env } from '../../env/env.js';
import type { PeerAddress } from '../../config.js';
import { Host } from '../../host/host.js';
import type { GroupId, NodeId, Role } from '../../raft/types.js';
import { MemoryLogStore } from '../../storage/memory-log-store.js';
import { initialPlacement, type Placement } from '../../cluster/placement.js';
import { Router } from '../../cluster/router.js';
import { KvStateMachine } from '../../commands/apply.js';
import { buildRegistry, Dispatcher, getKeysReply } from '../../commands/dispatch.js';
import { SERVER_COMMANDS, type ServerInfo } from '../../commands/server.js';
import { keyedCommands, stateMachineCommands, VERSION } from '../../node.js';
import { RuntimeConfig } from '../../commands/config-params.js';
import { array, bulk } from '../../resp/encoder.js';
import { CrashableStateMachineStore } from './crash-store.js';
import type { ApplyLedger } from './ledger.js';
import { SimTransport, type SimNetwork } from './network.js';
import { createNodeEnv, createSimLogger, Incarnation, type NodeClockParams, type SimWorld } from './world.js';

/** The node settings the simulator varies (the rest of NodeConfig does not apply without sockets). */
export interface SimNodeConfig {
  nodeId: NodeId;
  members: PeerAddress[];
  groups: number;
  replicas: number;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  leaseDriftTicks: number;
  readMode: 'lease' | 'readIndex';
  followerLeases: boolean;
  requestTimeoutMs: number;
  compactEntries: number;
  /** Most virtual milliseconds one log write takes. */
  diskDelayMsMax: number;
}

export type ProcessState = 'down' | 'booting' | 'up';

export class SimNodeProcess {
  readonly logStore: MemoryLogStore;
  readonly smStore = new CrashableStateMachineStore();
  readonly placement: Placement;
  state: ProcessState = 'down';
  incarnation: Incarnation | null = null;
  env: Env | null = null;
  host: Host | null = null;
  dispatcher: Dispatcher | null = null;
  private incarnations = 0;
  private pendingCrash: Promise<void> = Promise.resolve();
  private readonly diskRandom: SeededRandom;

  constructor(
    private readonly world: SimWorld,
    private readonly net: SimNetwork,
    readonly config: SimNodeConfig,
    private readonly clock: NodeClockParams,
    private readonly random: SeededRandom,
    private readonly ledger: ApplyLedger,
  ) {
    this.diskRandom = random.fork('disk');
    this.logStore = new MemoryLogStore({
      // A log write takes virtual time on the incarnation that issued it; if that one dies
      // first, the write never completes (and crash() has discarded it anyway).
      delay: () => {
        const env = this.env;
        const ms = this.diskRandom.next() * this.config.diskDelayMsMax;
        return new Promise<void>((resolve) => env!.timers.after(ms, resolve));
      },
    });
    this.placement = initialPlacement(config.members, config.groups, config.replicas);
  }

  get nodeId(): NodeId {
    return this.config.nodeId;
  }

  /** Starts a new incarnation from whatever the stores hold (nothing on first boot). */
  async boot(): Promise<void> {
    if (this.state !== 'down') throw new Error(`node ${this.nodeId}: boot while ${this.state}`);
    this.state = 'booting';
    await this.pendingCrash;
    const inc = new Incarnation(this.nodeId, ++this.incarnations);
    const config = this.config;
    const log = createSimLogger(this.world, { node: config.nodeId });
    const env = createNodeEnv(this.world, inc, this.clock, this.random.fork(`incarnation-${inc.number}`), log);
    this.incarnation = inc;
    this.env = env;

    // From here on, as createNode in src/node.ts.
    const placement = this.placement;
    const localGroups = placement.groupsOn(config.nodeId);
    const commands = keyedCommands();
    const { all: smCommands, internal } = stateMachineCommands();
    const sm = new KvStateMachine(this.smStore, smCommands);
    await sm.init(localGroups.map((g) => g.groupId));
    if (!inc.alive) return;

    const transport = new SimTransport(config.nodeId, this.net, env, inc);
    const host = new Host(env, {
      nodeId: config.nodeId,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
      leaseDriftTicks: config.leaseDriftTicks,
      tickMs: config.tickMs,
      readMode: config.readMode,
      followerLeases: config.followerLeases,
      compactEntries: config.compactEntries,
      batchOpsMax: 4096,
    }, this.logStore, this.ledger.watch(config.nodeId, sm), transport);
    host.onLeaderChange = (groupId: GroupId, leader: NodeId, role: Role) => {
      if (!inc.alive) return;
      const term = host.raft(groupId)?.status().term ?? 0;
      this.ledger.noteRole(groupId, config.nodeId, term, role, leader);
    };
    transport.onMessages((_from, messages) => host.step(messages));
    transport.onUnreachable((nodeId) => host.reportUnreachable(nodeId));

    for (const g of localGroups) {
      const persisted = this.logStore.groups().includes(g.groupId) ? this.logStore.load(g.groupId) : undefined;
      host.addGroup({ groupId: g.groupId, voters: g.replicas, persisted });
    }

    const router = new Router(env, {
      nodeId: config.nodeId,
      redirect: 'forward',
      requestTimeoutMs: config.requestTimeoutMs,
      retryMs: config.tickMs,
    }, host, placement, transport, (groupId, nowMs) => ({ ks: sm.reader(groupId), nowMs }));

    const registry = buildRegistry(commands, SERVER_COMMANDS);
    const info: ServerInfo = {
      version: VERSION,
      nodeId: config.nodeId,
      tcpPort: 0,
      startedAtMs: env.clock.nowMs(),
      nowMs: () => env.clock.nowMs(),
      clients: () => [],
      sections: () => [],
      stats: { commandsProcessed: 0, connectionsReceived: 0 },
      commandCount: () => registry.size,
      commandInfo: (names) => registry.commandInfoReply(names ?? []),
      commandDocs: (names) => registry.commandDocsReply(names ?? []),
      commandList: () => array(registry.list().map((c) => bulk(c.spec.name))),
      commandGetKeys: (args) => getKeysReply(registry, args),
      config: new RuntimeConfig({ maxClients: 10000 }),
      // The simulator drives data commands only: one default user, ACL changes refused.
      acl: new AclService({
        requirepass: () => '', propose: async () => errorReply('ERR ACL changes are not simulated'),
        broadcast: async () => {}, clients: () => [],
      }),
      commandStats: () => dispatcher.commandStats,
    };
    const dispatcher = new Dispatcher(registry, info, router, placement, {
      internal, random: () => env.random.next(), clockMs: () => env.clock.monotonicMs(),
    });
    transport.onRequest((_from, payload) => router.serveForwarded(payload, dispatcher.lookupForwarded));

    this.net.attach(transport);
    host.start();
    this.host = host;
    this.dispatcher = dispatcher;
    this.state = 'up';
    this.world.trace(`node ${config.nodeId} up (incarnation ${inc.number}, groups ${localGroups.map((g) => `${g.groupId}@${this.smStore.applied(g.groupId)}`).join(' ')})`);
  }

  /**
   * Kills the process at once. The log store loses every write not covered by a completed
   * sync; on power loss the state machine also loses a random suffix of its unflushed writes.
   */
  crash(powerLoss: boolean): void {
    if (this.state === 'down') return;
    const inc = this.incarnation!;
    inc.alive = false;
    this.net.detach(this.nodeId);
    this.logStore.crash();
    const unflushed = this.smStore.unflushedCount();
    const keep = powerLoss ? this.diskRandom.int(0, unflushed) : unflushed;
    this.pendingCrash = this.smStore.crash(keep);
    this.host = null;
    this.dispatcher = null;
    this.env = null;
    this.state = 'down';
    this.world.trace(`node ${this.nodeId} ${powerLoss ? 'loses power' : 'crashes'} (state machine keeps ${keep}/${unflushed} unflushed writes)`);
  }
}
