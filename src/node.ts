import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { NodeConfig } from './config.js';
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
import type { KeyedCommand } from './commands/spec.js';
import { array, bulk } from './resp/encoder.js';
import { infoSections } from './node-info.js';

export const VERSION = '7.0.15';

export interface Node {
  readonly config: NodeConfig;
  readonly host: Host;
  readonly placement: Placement;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound client port (useful with port 0). */
  clientPort(): number;
}

/** All keyed commands raftis implements, by lowercase name. */
export function keyedCommands(): Map<string, KeyedCommand> {
  return new Map([...STRING_COMMANDS, ...KEY_COMMANDS].map((c) => [c.name, c]));
}

/**
 * Wires every layer of one node: storage, the multi-raft host, the peer
 * transport, routing and the RESP listener. The same call serves production
 * (real Env) and tests.
 */
export async function createNode(env: Env, config: NodeConfig): Promise<Node> {
  const log = env.logger;
  mkdirSync(config.dataDir, { recursive: true });
  const logStore: LogStore = new SegmentedLogStore(join(config.dataDir, 'log'));
  const smStore: StateMachineStore = new LevelStateMachineStore(join(config.dataDir, 'state'));
  await logStore.open();
  await smStore.open();

  const placement = initialPlacement(config.members, config.groups, config.replicas);
  const localGroups = placement.groupsOn(config.nodeId);
  const commands = keyedCommands();
  const sm = new KvStateMachine(smStore, commands);
  await sm.init(localGroups.map((g) => g.groupId));

  const transport = new PeerTransport({
    env,
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    listenHost: config.bind,
    listenPort: config.peerPort,
  });
  for (const m of config.members) if (m.nodeId !== config.nodeId) transport.addPeer(m.nodeId, m.host, m.peerPort);

  const host = new Host(env, {
    nodeId: config.nodeId,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    leaseDriftTicks: config.leaseDriftTicks,
    tickMs: config.tickMs,
    readMode: config.readMode === 'readindex' ? 'readIndex' : 'lease',
    compactEntries: config.compactEntries,
    batchOpsMax: 4096,
  }, logStore, sm, transport);
  host.onLeaderChange = (groupId: GroupId, leader, role) => {
    log.info({ group: groupId, leader, role: Object.keys(Role)[role] }, 'group leadership changed');
  };
  transport.onMessages((_from, messages) => host.step(messages));
  transport.onUnreachable((nodeId) => host.reportUnreachable(nodeId));

  for (const g of localGroups) {
    const persisted = logStore.groups().includes(g.groupId) ? logStore.load(g.groupId) : undefined;
    host.addGroup({ groupId: g.groupId, voters: g.replicas, persisted });
  }

  const router = new Router(env, {
    nodeId: config.nodeId,
    redirect: config.redirect,
    requestTimeoutMs: config.requestTimeoutMs,
    retryMs: config.tickMs,
  }, host, placement, transport, (groupId, nowMs) => ({ ks: sm.reader(groupId), nowMs }));

  const startedAtMs = env.clock.nowMs();
  let server: RespServer | null = null;
  const registry = buildRegistry(commands, SERVER_COMMANDS);
  const info: ServerInfo = {
    version: VERSION,
    nodeId: config.nodeId,
    tcpPort: config.port,
    startedAtMs,
    nowMs: () => env.clock.nowMs(),
    clients: () => server?.clients() ?? [],
    sections: () => infoSections({ config, host, placement, sm }),
    stats: { commandsProcessed: 0, connectionsReceived: 0 },
    dbSize: async () => {
      let total = 0;
      for (const g of placement.dataGroups()) {
        if (!g.replicas.includes(config.nodeId)) continue;
        const r = await host.read(g.groupId, 'readIndex');
        if (r.kind !== 'ok') throw new Error('CLUSTERDOWN The cluster is down');
        total += sm.keyCount(g.groupId);
      }
      return total;
    },
    commandCount: () => registry.size,
    commandInfo: (names) => registry.commandInfoReply(names ?? []),
    commandDocs: (names) => registry.commandDocsReply(names ?? []),
    commandList: () => array(registry.list().map((c) => bulk(c.spec.name))),
    commandGetKeys: (args) => getKeysReply(registry, args),
  };
  const dispatcher = new Dispatcher(registry, info, router, placement);
  transport.onRequest((_from, payload) => router.serveForwarded(payload, dispatcher.lookupForwarded));

  server = createRespServer({
    handler: dispatcher.handle,
    logger: log,
    host: config.bind,
    port: config.port,
    maxClients: config.maxClients,
    soon: (fn) => env.timers.soon(fn),
  });

  let boundPort = config.port;
  return {
    config,
    host,
    placement,
    clientPort: () => boundPort,
    async start() {
      await transport.listen();
      host.start();
      await server!.listen();
      boundPort = server!.address().port;
      log.info({ port: boundPort, peerPort: config.peerPort, groups: localGroups.length, dataDir: config.dataDir }, 'raftis node ready');
    },
    async stop() {
      // Stop accepting and reading, let in-flight requests finish (up to the
      // request timeout), then stop the groups and close storage.
      await server!.close(config.requestTimeoutMs);
      await host.stop();
      await transport.close();
      await logStore.close();
      await smStore.close();
      log.info({}, 'raftis node stopped');
    },
  };
}
