import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { tlsEnabled, tlsFiles, type NodeConfig } from './config.js';
import { TlsCredentials } from './transport/tls.js';
import { defineTlsParams } from './commands/tls-params.js';
import type { Env } from './env/env.js';
import { Host } from './host/host.js';
import { Role, type GroupId } from './raft/types.js';
import { PeerTransport } from './transport/peer-transport.js';
import { SegmentedLogStore } from './storage/segmented-log-store.js';
import { LevelStateMachineStore } from './storage/level-state-machine-store.js';
import type { LogStore, StateMachineStore } from './storage/types.js';
import { createRespServer, type RespServer } from './resp/server.js';
import { initialPlacement, type Placement } from './cluster/placement.js';
import { Router } from './cluster/router.js';
import { KvStateMachine } from './commands/apply.js';
import { buildRegistry, Dispatcher, getKeysReply } from './commands/dispatch.js';
import { SERVER_COMMANDS, type ServerInfo } from './commands/server.js';
import { STRING_COMMANDS } from './commands/strings.js';
import { KEY_COMMANDS } from './commands/keys.js';
import { HASH_COMMANDS } from './commands/hashes.js';
import { internalCommands } from './commands/internal.js';
import { RuntimeConfig } from './commands/config-params.js';
import { ExpirySweeper } from './commands/expiry-sweeper.js';
import { evictCommand, Evictor, type Policy } from './commands/eviction.js';
import { memoryCommands } from './commands/memory-commands.js';
import type { KeyedCommand } from './commands/spec.js';
import { array, bulk, type Reply } from './resp/encoder.js';
import { isLoopback } from './resp/connection.js';
import { errDenied } from './resp/replies.js';
import { infoSections } from './node-info.js';
import { Topology, GOSSIP_REQUEST } from './cluster/topology.js';
import { LeaderBalancer, LeaderLoad } from './cluster/balancer.js';
import { ClusterCommands } from './cluster/cluster-commands.js';
import { Placement as PlacementClass, META_GROUP } from './cluster/placement.js';
import { Reconciler } from './cluster/reconciler.js';
import { ADMIN_REQUEST, MembershipAdmin } from './cluster/membership-admin.js';
import { placementCommand, PLACEMENT_KEY, PLACEMENT_OP, readPlacement } from './cluster/meta.js';
import { ACL_KEY, ACL_OP, ACL_READ_OP, aclOpCommand, aclReadCommand, AclService } from './commands/acl.js';
import { asReply } from './commands/reply-parse.js';

/** First byte of an ACL push on the peer link (1 forward, 2 gossip, 3 admin). */
const ACL_REQUEST = 4;
import type { ClockControl } from './env/real.js';
import { faultCommand } from './fault/fault-hook.js';

export const VERSION = '7.0.15';

/**
 * Redis's protected mode (networking.c acceptCommonHandler): while the default user needs no
 * password, only loopback clients are served; others get this reply and are closed.
 */
export function protectedModeDenial(remoteAddress: string | undefined, acl: AclService): Reply | null {
  if (!acl.defaultNeedsNoAuth() || isLoopback(remoteAddress)) return null;
  return errDenied();
}

export interface Node {
  readonly config: NodeConfig;
  readonly host: Host;
  readonly placement: Placement;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound client port (the TLS one when the plain port is off). */
  clientPort(): number;
  /** Re-reads the TLS certificate, key and CA (SIGHUP); throws TlsConfigError and keeps the old ones on failure. */
  reloadTls(): void;
}

/** All keyed commands raftis implements, by lowercase name. */
export function keyedCommands(): Map<string, KeyedCommand> {
  return new Map([...STRING_COMMANDS, ...KEY_COMMANDS, ...HASH_COMMANDS].map((c) => [c.name, c]));
}

/** Keyed commands plus the internal ones only nodes send (transactions, expiry, flush, scans). */
export function stateMachineCommands(): { all: Map<string, KeyedCommand>; internal: Map<string, KeyedCommand> } {
  const all = keyedCommands();
  const internal = new Map([...internalCommands(() => all), evictCommand].map((c) => [c.name, c]));
  for (const [name, c] of internal) all.set(name, c);
  return { all, internal };
}

export interface NodeOptions {
  /** Test-only: registers RAFTIS.FAULT over this clock (RAFTIS_FAULT_INJECTION=1, docs/fault-injection.md). */
  faultClock?: ClockControl;
}

/**
 * Wires every layer of one node: storage, the multi-raft host, the peer
 * transport, routing and the RESP listener. The same call serves production
 * (real Env) and tests.
 */
export async function createNode(env: Env, config: NodeConfig, options: NodeOptions = {}): Promise<Node> {
  const log = env.logger;
  mkdirSync(config.dataDir, { recursive: true });
  const logStore: LogStore = new SegmentedLogStore(join(config.dataDir, 'log'));
  const smStore: StateMachineStore = new LevelStateMachineStore(join(config.dataDir, 'state'), { timers: env.timers });
  await logStore.open();
  await smStore.open();

  // The bootstrap placement; group 0's committed placement replaces it (docs/cluster.md).
  // A joining node starts with none and learns it from its peers.
  const bootstrap = initialPlacement(config.members, config.groups, config.replicas);
  const placement = config.join === 'yes' ? new PlacementClass(config.members, []) : initialPlacement(config.members, config.groups, config.replicas);
  // Groups with state on disk are reopened too: this node may have joined them after bootstrap.
  const localGroupIds = [...new Set([...placement.groupsOn(config.nodeId).map((g) => g.groupId), ...logStore.groups()])].sort((a, b) => a - b);
  const { all: smCommands, internal } = stateMachineCommands();
  smCommands.set(PLACEMENT_OP, placementCommand);
  for (const c of [aclOpCommand, aclReadCommand]) {
    smCommands.set(c.name, c);
    internal.set(c.name, c);
  }
  const commands = keyedCommands();
  const statsRandom = env.random.fork('key-stats');
  const sm = new KvStateMachine(smStore, smCommands, () => statsRandom.next(), () => env.clock.nowMs());
  const runtimeConfig = new RuntimeConfig({
    maxClients: config.maxClients, requirepass: config.requirepass, protectedMode: config.protectedMode === 'yes',
    maxmemory: config.maxmemory, maxmemoryPolicy: config.maxmemoryPolicy, maxmemorySamples: config.maxmemorySamples,
  });
  const maxmemory = {
    maxmemoryBytes: () => Number(runtimeConfig.get('maxmemory') ?? 0),
    policy: () => (runtimeConfig.get('maxmemory-policy') ?? 'noeviction') as Policy,
    samples: () => Number(runtimeConfig.get('maxmemory-samples') ?? 5),
  };
  for (const c of memoryCommands(sm, maxmemory)) commands.set(c.name, c);
  await sm.init(localGroupIds);

  // One set of TLS material for the client port and the peer links; reloads reach both.
  const tlsCredentials = tlsEnabled(config) ? new TlsCredentials(tlsFiles(config)) : null;
  const transport = new PeerTransport({
    env,
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    listenHost: config.bind,
    listenPort: config.peerPort,
    clusterSecret: config.clusterSecret,
    tls: config.tlsCluster === 'yes' ? tlsCredentials : null,
  });
  const peers = new Map<number, string>();
  const syncPeers = (members: typeof config.members) => {
    const want = new Map(members.filter((m) => m.nodeId !== config.nodeId).map((m) => [m.nodeId, `${m.host}:${m.peerPort}`]));
    for (const [nodeId, addr] of want) {
      if (peers.get(nodeId) === addr) continue;
      const m = members.find((x) => x.nodeId === nodeId)!;
      transport.addPeer(nodeId, m.host, m.peerPort);
      peers.set(nodeId, addr);
    }
    for (const nodeId of [...peers.keys()]) {
      if (!want.has(nodeId) && !config.members.some((m) => m.nodeId === nodeId)) {
        transport.removePeer(nodeId);
        peers.delete(nodeId);
      }
    }
  };
  syncPeers(config.members);

  const host = new Host(env, {
    nodeId: config.nodeId,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    leaseDriftTicks: config.leaseDriftTicks,
    tickMs: config.tickMs,
    readMode: config.readMode === 'readindex' ? 'readIndex' : 'lease',
    followerLeases: config.followerReads === 'yes',
    compactEntries: config.compactEntries,
    batchOpsMax: 4096,
  }, logStore, sm, transport);
  host.onLeaderChange = (groupId: GroupId, leader, role) => {
    log.info({ group: groupId, leader, role: Object.keys(Role)[role] }, 'group leadership changed');
  };
  transport.onMessages((_from, messages) => host.step(messages));
  transport.onUnreachable((nodeId) => host.reportUnreachable(nodeId));

  /**
   * Hosts a group: a bootstrap member with the bootstrap voters (the same
   * lists at every start), a node that joined later with none (its
   * membership comes from the snapshot it was sent, kept in its log store).
   */
  const openGroup = (groupId: GroupId) => {
    const persisted = logStore.groups().includes(groupId) ? logStore.load(groupId) : undefined;
    const boot = config.join === 'yes' ? undefined : bootstrap.group(groupId);
    const voters = boot && boot.replicas.includes(config.nodeId) ? boot.replicas : [];
    host.addGroup({ groupId, voters, persisted });
  };
  for (const g of localGroupIds) openGroup(g);

  const topology = new Topology(env, {
    nodeId: config.nodeId,
    gossipMs: config.gossipMs,
    failAfterMs: Math.max(1000, config.gossipMs * 5, config.electionTicks * config.tickMs * 2),
  }, host, placement, transport);
  // Counted on the request path only when the balancer uses it.
  const leaderLoad = config.followLoad === 'yes' ? new LeaderLoad() : undefined;
  const balancer = new LeaderBalancer(env, {
    nodeId: config.nodeId,
    load: leaderLoad,
    intervalMs: config.balanceMs,
    staysIn: (groupId, nodeId) => (placement.group(groupId)?.replicas.includes(nodeId) ?? false) && !placement.leaving.includes(nodeId),
  }, host, topology);
  const admin = new MembershipAdmin(env, { nodeId: config.nodeId, requestTimeoutMs: config.requestTimeoutMs },
    host, placement, topology, transport, () => (host.raft(META_GROUP) ? sm.reader(META_GROUP) : undefined));
  let metaRevision = -1;
  const reconciler = new Reconciler(env, { nodeId: config.nodeId, intervalMs: Math.max(50, config.gossipMs / 2), promoteLagMax: 64 },
    host, placement, topology, {
      openGroup: (groupId) => {
        openGroup(groupId);
        void sm.init([groupId]);
      },
      closeGroup: (groupId) => host.removeGroup(groupId),
      readCommitted: () => {
        if (!host.raft(META_GROUP)) return undefined;
        const reader = sm.reader(META_GROUP);
        // Parse only when the stored placement changed.
        const raw = reader.getRaw(PLACEMENT_KEY);
        if (!raw || raw.revision === metaRevision) return undefined;
        metaRevision = raw.revision;
        return readPlacement(reader);
      },
      adopted: (_prev, next) => syncPeers(next.members),
      propose: (next) => admin.propose(next),
    });
  admin.adopt = (state) => reconciler.adopt(state);
  const clusterCommands = new ClusterCommands({
    clusterId: config.clusterId, nodeId: config.nodeId, host, placement, topology, balancer, admin, store: smStore,
    nowMs: () => env.clock.nowMs(),
  });

  const evictor = new Evictor(env, host, sm, maxmemory, { intervalMs: 100, keysPerRoundMax: 1000 });
  const router = new Router(env, {
    nodeId: config.nodeId,
    redirect: config.redirect,
    requestTimeoutMs: config.requestTimeoutMs,
    retryMs: config.tickMs,
    leaderOf: (groupId) => topology.leaderOf(groupId),
    load: leaderLoad,
    admitWrite: evictor.admit,
    // LRU/LFU eviction ranks keys by the accesses their leader saw: with such a policy in force,
    // reads stay on leaders so that hot keys read through any node are not evicted as cold.
    followerReads: () => maxmemory.maxmemoryBytes() === 0 || !/-l[rf]u$/.test(maxmemory.policy()),
  }, host, placement, transport, (groupId, nowMs) => sm.readView(groupId, nowMs));

  const startedAtMs = env.clock.nowMs();
  let server: RespServer | null = null;
  const serverCommands = new Map([...SERVER_COMMANDS, ...clusterCommands.commands()]);
  if (options.faultClock) {
    log.warn({}, 'fault injection is on (RAFTIS_FAULT_INJECTION=1): RAFTIS.FAULT is available; for tests only');
    serverCommands.set('raftis.fault', faultCommand({
      clock: options.faultClock,
      driftBoundMs: config.leaseDriftTicks * config.tickMs,
      setLinkFilter: (filter) => transport.setLinkFilter(filter),
      store: smStore,
      hostsGroup: (groupId) => host.raft(groupId) !== undefined,
    }));
  }
  // Built before any ACL user: it makes raftis-only commands known to ACL rules (+@all covers them).
  const registry = buildRegistry(commands, serverCommands);
  const tlsRuntime = defineTlsParams(runtimeConfig, config, tlsCredentials);
  // ACL users live in group 0 (docs/security.md): a change is pushed to every live node before
  // ACL SETUSER/DELUSER replies, and every node also re-reads group 0 each gossip interval.
  const acl = new AclService({
    requirepass: () => runtimeConfig.requirepass(),
    propose: async (args) => asReply(await router.route(META_GROUP, 0, aclOpCommand, args, 2)),
    broadcast: async (json) => {
      const payload = Buffer.concat([Buffer.from([ACL_REQUEST]), json]);
      const others = placement.members.filter((m) => m.nodeId !== config.nodeId && topology.alive(m.nodeId));
      await Promise.allSettled(others.map((m) => transport.request(m.nodeId, payload, config.requestTimeoutMs)));
    },
    clients: () => server?.clients() ?? [],
  });
  let aclRevision = -1;
  let aclSyncing = false;
  const syncAcl = async (): Promise<void> => {
    if (aclSyncing) return;
    aclSyncing = true;
    try {
      if (host.raft(META_GROUP)) {
        const raw = sm.reader(META_GROUP).getRaw(ACL_KEY);
        if (raw && raw.revision !== aclRevision) {
          aclRevision = raw.revision;
          acl.adopt(Buffer.from(raw.value));
        }
        return;
      }
      const r = asReply(await router.route(META_GROUP, 0, aclReadCommand, [Buffer.from(ACL_READ_OP)], 2));
      if (r.kind === 'bulk' && r.value !== null) acl.adopt(Buffer.from(r.value));
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'acl sync failed');
    } finally {
      aclSyncing = false;
    }
  };
  let aclTimer: { cancel(): void } | null = null;
  const info: ServerInfo = {
    version: VERSION,
    nodeId: config.nodeId,
    tcpPort: config.port,
    startedAtMs,
    nowMs: () => env.clock.nowMs(),
    clients: () => server?.clients() ?? [],
    sections: () => [...infoSections({ config, host, placement, sm }), ['cluster', [['cluster_enabled', 1]]]],
    stats: { commandsProcessed: 0, connectionsReceived: 0 },
    commandCount: () => registry.size,
    commandInfo: (names) => registry.commandInfoReply(names ?? []),
    commandDocs: (names) => registry.commandDocsReply(names ?? []),
    commandList: () => array(registry.list().map((c) => bulk(c.spec.name))),
    commandGetKeys: (args) => getKeysReply(registry, args),
    config: runtimeConfig,
    acl,
    memory: () => {
      let usedBytes = 0;
      for (const g of host.groupIds()) if (g !== META_GROUP) usedBytes += sm.usedBytes(g);
      return { usedBytes, evictedKeys: sm.counters.evictedKeys };
    },
    commandStats: () => dispatcher.commandStats,
  };
  const dispatcher = new Dispatcher(registry, info, router, placement, {
    internal, random: () => env.random.next(), clockMs: () => env.clock.monotonicMs(),
  });
  const sweeper = new ExpirySweeper(env, host, sm, { intervalMs: 100, keysPerGroupMax: 1000 });
  transport.onRequest(async (from, payload) => {
    if (payload[0] === GOSSIP_REQUEST) return topology.serve(payload);
    if (payload[0] === ADMIN_REQUEST) return admin.serve(payload);
    if (payload[0] === ACL_REQUEST) {
      acl.adopt(Buffer.from(payload.buffer, payload.byteOffset + 1, payload.byteLength - 1));
      return Buffer.from([0]);
    }
    return router.serveForwarded(payload, dispatcher.lookupForwarded, from);
  });

  server = createRespServer({
    handler: dispatcher.handle,
    logger: log,
    host: config.bind,
    port: config.port === 0 ? null : config.port,
    ...(config.tlsPort > 0 && tlsCredentials !== null
      ? { tls: { port: config.tlsPort, credentials: tlsCredentials, authClients: () => tlsRuntime.authClients } }
      : {}),
    maxClients: () => runtimeConfig.num('maxclients'),
    admit: (remoteAddress) => (runtimeConfig.get('protected-mode') === 'yes' ? protectedModeDenial(remoteAddress, acl) : null),
    onReject: () => { info.stats.rejectedConnections = (info.stats.rejectedConnections ?? 0) + 1; },
    authRequired: (ctx) => ctx.state.get('authenticated') !== true && !acl.defaultNeedsNoAuth(),
    nowMs: () => env.clock.monotonicMs(),
    outputLimit: () => runtimeConfig.outputBufferLimit('normal'),
    decoderLimits: {
      protoMaxBulkLen: 512 * 1024 * 1024,
      get queryBufferLimitBytes() { return runtimeConfig.num('client-query-buffer-limit'); },
    },
    soon: (fn) => env.timers.soon(fn),
  });
  // Once a second, as Redis's clientsCron: close clients idle past `timeout` and those held over
  // the output buffer soft limit while they read nothing.
  let clientsCron: { cancel(): void } | null = null;
  const runClientsCron = (): void => {
    const timeoutMs = runtimeConfig.num('timeout') * 1000;
    const now = env.clock.monotonicMs();
    for (const c of server?.clients() ?? []) {
      if (c.checkOutputLimit()) continue;
      if (timeoutMs > 0 && now - c.lastInteractionMs > timeoutMs) {
        log.info({ client: c.id }, 'closing idle client');
        c.destroy();
      }
    }
  };

  let boundPort = config.port || config.tlsPort;
  return {
    config,
    host,
    placement,
    clientPort: () => boundPort,
    reloadTls() {
      if (tlsCredentials === null) return;
      tlsCredentials.reload();
      log.info({ certFile: tlsCredentials.fileNames().certFile }, 'reloaded TLS certificate, key and CA');
    },
    async start() {
      await transport.listen();
      host.start();
      sweeper.start();
      evictor.start();
      topology.start();
      balancer.start();
      reconciler.start();
      void syncAcl();
      aclTimer = env.timers.every(config.gossipMs, () => void syncAcl());
      clientsCron = env.timers.every(1000, runClientsCron);
      await server!.listen();
      boundPort = server!.address().port;
      log.info({ port: boundPort, tlsPort: config.tlsPort, tlsCluster: config.tlsCluster,
        peerAuth: config.clusterSecret !== '' ? 'secret' : 'none', peerPort: config.peerPort, groups: localGroupIds.length, dataDir: config.dataDir }, 'raftis node ready');
    },
    async stop() {
      // Stop accepting and reading, let in-flight requests finish (up to the
      // request timeout), then stop the groups and close storage.
      await server!.close(config.requestTimeoutMs);
      sweeper.stop();
      aclTimer?.cancel();
      clientsCron?.cancel();
      evictor.stop();
      reconciler.stop();
      balancer.stop();
      topology.stop();
      await host.stop();
      router.stop();
      await transport.close();
      await logStore.close();
      await smStore.close();
      log.info({}, 'raftis node stopped');
    },
  };
}
