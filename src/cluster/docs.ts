import type { ArgumentDoc, CommandDocs, CommandSpec } from '../commands/table.js';

/** COMMAND DOCS of the cluster commands (Redis 7.0's words) and of raftis's own RAFTIS and CLIENT CONSISTENCY. */
const str = (name: string, extra: Partial<ArgumentDoc> = {}): ArgumentDoc => ({ name, type: 'string', ...extra });
const int = (name: string, extra: Partial<ArgumentDoc> = {}): ArgumentDoc => ({ name, type: 'integer', ...extra });
const token = (name: string, t: string): ArgumentDoc => ({ name, type: 'pure-token', token: t });
const cluster = (summary: string, since: string, extra: Partial<CommandDocs> = {}): CommandDocs =>
  ({ summary, since, group: 'cluster', complexity: 'O(1)', ...extra });

export const CLUSTER_DOCS: Record<string, CommandDocs> = {
  cluster: cluster('A container for Redis Cluster commands', '3.0.0', { complexity: 'Depends on subcommand.' }),
  'cluster|slots': cluster('Get array of cluster slot to node mappings', '3.0.0', { complexity: 'O(N) where N is the total number of Cluster nodes' }),
  'cluster|shards': cluster('Get array of cluster slots to node mappings', '7.0.0', { complexity: 'O(N) where N is the total number of cluster nodes' }),
  'cluster|nodes': cluster('Get cluster config for the node', '3.0.0', { complexity: 'O(N) where N is the total number of Cluster nodes' }),
  'cluster|info': cluster('Provides info about Redis Cluster node state', '3.0.0'),
  'cluster|myid': cluster('Return the node id', '3.0.0'),
  'cluster|myshardid': cluster('Return the node shard id (raftis: the lowest-numbered group the node hosts)', '7.2.0'),
  'cluster|keyslot': cluster('Returns the hash slot of the specified key', '3.0.0', { complexity: 'O(N) where N is the number of bytes in the key', arguments: [str('key')] }),
  'cluster|countkeysinslot': cluster('Return the number of local keys in the specified hash slot', '3.0.0', { arguments: [int('slot')] }),
  'cluster|getkeysinslot': cluster('Return local key names in the specified hash slot', '3.0.0', { complexity: 'O(log(N)) where N is the number of requested keys', arguments: [int('slot'), int('count')] }),
  'cluster|failover': cluster('Forces a replica to perform a manual failover of its master (raftis: a Raft leadership transfer of its shard group)', '3.0.0', {
    arguments: [{ name: 'options', type: 'oneof', flags: ['optional'], arguments: [token('force', 'FORCE'), token('takeover', 'TAKEOVER')] }],
  }),
  readonly: cluster('Enables read queries for a connection to a cluster replica node (raftis: follower reads through ReadIndex)', '3.0.0'),
  readwrite: cluster('Disables read queries for a connection to a cluster replica node', '3.0.0'),
  asking: cluster('Sent by cluster clients after an -ASK redirect', '3.0.0'),
  'client|consistency': {
    summary: 'Set (or get) how this connection\'s reads are served: LINEARIZABLE (ReadIndex), LEASE or STALE (local) (raftis)',
    since: '7.0.0', group: 'connection', complexity: 'O(1)',
    arguments: [{ name: 'level', type: 'oneof', flags: ['optional'], arguments: [
      token('linearizable', 'LINEARIZABLE'), token('lease', 'LEASE'), token('stale', 'STALE'), token('default', 'DEFAULT'),
    ] }],
  },
  raftis: { summary: 'A container for raftis administration commands', since: '7.0.0', group: 'server', complexity: 'Depends on subcommand.' },
  'raftis|groups': { summary: 'List every Raft group: leader, term, commit and applied index, members and their lag', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of groups' },
  'raftis|transfer-leader': { summary: 'Transfer leadership of a group to one of its voters', since: '7.0.0', group: 'server', complexity: 'O(1)', arguments: [int('group'), int('node')] },
  'raftis|balance': { summary: 'Run one round of leader balancing on this node now', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of groups' },
  'raftis|placement': { summary: 'Show the placement in force: version, members, leaving nodes, replicas of every group', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of groups' },
  'raftis|add-node': { summary: 'Add a node; replicas move to it (learner, snapshot, promotion) until the load is even', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of groups', arguments: [int('node'), str('host'), int('port'), int('peer-port')] },
  'raftis|remove-node': { summary: 'Remove a node once its replicas have moved to other nodes; refused if a group would lose its quorum', since: '7.0.0', group: 'server', complexity: 'O(N) where N is the number of groups', arguments: [int('node')] },
  'raftis|move-replica': { summary: 'Move one replica of a group from one node to another', since: '7.0.0', group: 'server', complexity: 'O(1)', arguments: [int('group'), int('from'), int('to')] },
};

const ADMIN = ['admin', 'stale'];
export const CLUSTER_SUBCOMMAND_SPECS: Record<string, Partial<Omit<CommandSpec, 'name'>>> = {
  'cluster|slots': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|shards': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|nodes': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|info': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|myid': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|myshardid': { arity: 2, flags: ['loading', 'stale'] },
  'cluster|keyslot': { arity: 3, flags: ['loading', 'stale'] },
  'cluster|countkeysinslot': { arity: 3, flags: ['loading', 'stale'] },
  'cluster|getkeysinslot': { arity: 4, flags: ['loading', 'stale'] },
  'cluster|failover': { arity: -2, flags: ['admin', 'noscript', 'loading', 'stale'] },
  'client|consistency': { arity: -2, flags: ['noscript', 'loading', 'stale'] },
  raftis: { arity: -2, flags: ADMIN },
  'raftis|groups': { arity: 2, flags: ADMIN },
  'raftis|transfer-leader': { arity: 4, flags: ADMIN },
  'raftis|balance': { arity: 2, flags: ADMIN },
  'raftis|placement': { arity: 2, flags: ADMIN },
  'raftis|add-node': { arity: 6, flags: ADMIN },
  'raftis|remove-node': { arity: 3, flags: ADMIN },
  'raftis|move-replica': { arity: 5, flags: ADMIN },
};
