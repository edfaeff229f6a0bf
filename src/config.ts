import { readFileSync } from 'node:fs';
import { loadTlsMaterial, TlsConfigError, type TlsFiles } from './transport/tls.js';
import { parseMemory } from './commands/config-params.js';

/** One member of the cluster as named in the bootstrap list. */
export interface PeerAddress {
  nodeId: number;
  host: string;
  /** Client (RESP) port. */
  port: number;
  /** Peer (Raft transport) port. */
  peerPort: number;
}

export interface NodeConfig {
  nodeId: number;
  /** Address other nodes and clients reach this node at (also in MOVED replies). */
  host: string;
  /** Address the client and peer listeners bind to (default: host). */
  bind: string;
  port: number;
  peerPort: number;
  dataDir: string;
  /** Initial members; nodes started with the same list form one cluster. Includes this node. */
  members: PeerAddress[];
  clusterId: string;
  /** Number of data groups created at bootstrap (slots are split evenly). */
  groups: number;
  /** Replicas per data group (capped at the number of members). */
  replicas: number;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Lease = (electionTicks - leaseDriftTicks) ticks. */
  leaseDriftTicks: number;
  readMode: 'lease' | 'readindex';
  /** yes: followers holding a read lease serve lease reads locally (commits then wait for them). */
  followerReads: 'yes' | 'no';
  /** forward: any node serves any key; moved: answer -MOVED for keys led elsewhere. */
  redirect: 'forward' | 'moved';
  /**
   * yes: this node joins a running cluster (RAFTIS ADD-NODE): it hosts no
   * group until the placement from group 0 assigns it some. `members` names
   * the nodes to reach (at least one running member, and this node).
   */
  join: 'no' | 'yes';
  /** How often each node gossips its groups' leaders and progress to the others. */
  gossipMs: number;
  /** Time between automatic leader-balancing rounds; 0 turns balancing off. */
  balanceMs: number;
  /** yes: leadership of a group moves to the node whose clients send most of its requests (docs/cluster.md). */
  followLoad: 'yes' | 'no';
  /** How long a request waits for a leader or a commit before an error. */
  requestTimeoutMs: number;
  maxClients: number;
  /** Redis protected mode: with no password for the default user, serve loopback clients only. */
  protectedMode: 'yes' | 'no';
  /** The default user's password on this node (CONFIG SET requirepass changes it; never logged). */
  requirepass: string;
  /** A group's log is compacted once this many applied entries precede its first index. */
  compactEntries: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: 'json' | 'pretty';
  /** Client port that speaks TLS (Redis's tls-port); 0 = none. With `port` 0 it is the only client port. */
  tlsPort: number;
  /** PEM certificate this node presents to clients and peers. */
  tlsCertFile: string;
  /** PEM private key of `tlsCertFile`. */
  tlsKeyFile: string;
  /** Passphrase of an encrypted `tlsKeyFile` (secret: never logged or shown by CONFIG GET). */
  tlsKeyFilePass: string;
  /** PEM CA bundle: client certificates and peers' certificates must chain to it. */
  tlsCaCertFile: string;
  /** Client certificates on the TLS port: yes = required, optional = checked if sent, no = not asked for. */
  tlsAuthClients: 'yes' | 'no' | 'optional';
  /** yes: peer links use mutual TLS with the same certificate, key and CA. */
  tlsCluster: 'yes' | 'no';
  /** Shared secret peers prove in the handshake (HMAC challenge/response); '' = none (secret: never logged). */
  clusterSecret: string;
  /** Bytes of data this node may hold (0: no limit); units as Redis (100mb, 1gb). docs/eviction.md. */
  maxmemory: number;
  maxmemoryPolicy: 'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'allkeys-random' | 'volatile-lru' | 'volatile-lfu' | 'volatile-random' | 'volatile-ttl';
  /** Keys sampled per eviction pick (Redis's maxmemory-samples). */
  maxmemorySamples: number;
}

export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`invalid config: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULTS: Omit<NodeConfig, 'nodeId' | 'members'> = {
  host: '127.0.0.1',
  bind: '',
  port: 7001,
  peerPort: 17001,
  dataDir: './data/node',
  clusterId: 'raftis',
  groups: 16,
  replicas: 3,
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  leaseDriftTicks: 2,
  readMode: 'lease',
  followerReads: 'yes',
  redirect: 'forward',
  join: 'no',
  gossipMs: 200,
  balanceMs: 3000,
  followLoad: 'yes',
  requestTimeoutMs: 5000,
  maxClients: 10000,
  protectedMode: 'yes',
  requirepass: '',
  compactEntries: 10000,
  logLevel: 'info',
  logFormat: 'json',
  tlsPort: 0,
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsKeyFilePass: '',
  tlsCaCertFile: '',
  tlsAuthClients: 'yes',
  tlsCluster: 'no',
  clusterSecret: '',
  maxmemory: 0,
  maxmemoryPolicy: 'noeviction',
  maxmemorySamples: 5,
};

/** 'text' is a string that may be empty (an option that is off until set). */
type FieldKind = 'int' | 'string' | 'text' | 'members' | 'memory' | { oneOf: readonly string[] };

const FIELDS: Record<keyof NodeConfig, FieldKind> = {
  nodeId: 'int',
  host: 'string',
  bind: 'string',
  port: 'int',
  peerPort: 'int',
  dataDir: 'string',
  members: 'members',
  clusterId: 'string',
  groups: 'int',
  replicas: 'int',
  tickMs: 'int',
  electionTicks: 'int',
  heartbeatTicks: 'int',
  leaseDriftTicks: 'int',
  readMode: { oneOf: ['lease', 'readindex'] },
  followerReads: { oneOf: ['yes', 'no'] },
  redirect: { oneOf: ['forward', 'moved'] },
  join: { oneOf: ['no', 'yes'] },
  gossipMs: 'int',
  balanceMs: 'int',
  followLoad: { oneOf: ['yes', 'no'] },
  requestTimeoutMs: 'int',
  maxClients: 'int',
  protectedMode: { oneOf: ['yes', 'no'] },
  requirepass: 'string',
  compactEntries: 'int',
  logLevel: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'silent'] },
  logFormat: { oneOf: ['json', 'pretty'] },
  tlsPort: 'int',
  tlsCertFile: 'text',
  tlsKeyFile: 'text',
  tlsKeyFilePass: 'text',
  tlsCaCertFile: 'text',
  tlsAuthClients: { oneOf: ['yes', 'no', 'optional'] },
  tlsCluster: { oneOf: ['yes', 'no'] },
  clusterSecret: 'text',
  maxmemory: 'memory',
  maxmemoryPolicy: { oneOf: ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] },
  maxmemorySamples: 'int',
};

/** `nodeId` -> `node-id` (flags) and `NODE_ID` (env, after the RAFTIS_ prefix). */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Parses "1@127.0.0.1:7001:17001,2@..." into member addresses. */
export function parseMembers(text: string, field = 'members'): PeerAddress[] {
  const out: PeerAddress[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)@([^:]+):(\d+):(\d+)$/.exec(part);
    if (!m) throw new ConfigError(field, `"${part}" is not of the form id@host:port:peerPort`);
    out.push({ nodeId: Number(m[1]), host: m[2], port: Number(m[3]), peerPort: Number(m[4]) });
  }
  return out;
}

function coerce(field: keyof NodeConfig, raw: unknown): unknown {
  const kind = FIELDS[field];
  if (kind === 'int') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n)) throw new ConfigError(field, `expected an integer, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (kind === 'memory') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseMemory(raw.trim()) : undefined;
    if (n === undefined || !Number.isSafeInteger(n) || n < 0) throw new ConfigError(field, `expected a byte count such as 1048576 or 100mb, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (kind === 'string') {
    if (typeof raw !== 'string' || raw.length === 0) throw new ConfigError(field, `expected a non-empty string, got ${JSON.stringify(raw)}`);
    return raw;
  }
  if (kind === 'text') {
    // No value in the message: these fields include secrets.
    if (typeof raw !== 'string') throw new ConfigError(field, 'expected a string');
    return raw;
  }
  if (kind === 'members') {
    if (typeof raw === 'string') return parseMembers(raw, field);
    if (!Array.isArray(raw)) throw new ConfigError(field, 'expected a list of members');
    return raw.map((m, i) => {
      if (typeof m === 'string') return parseMembers(m, `${field}[${i}]`)[0];
      const o = m as Record<string, unknown>;
      for (const k of ['nodeId', 'port', 'peerPort']) {
        if (!Number.isSafeInteger(o?.[k])) throw new ConfigError(`${field}[${i}].${k}`, 'expected an integer');
      }
      if (typeof o.host !== 'string') throw new ConfigError(`${field}[${i}].host`, 'expected a string');
      return { nodeId: o.nodeId, host: o.host, port: o.port, peerPort: o.peerPort } as PeerAddress;
    });
  }
  if (typeof raw !== 'string' || !kind.oneOf.includes(raw)) {
    throw new ConfigError(field, `expected one of ${kind.oneOf.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/**
 * Builds a node config from, in increasing precedence: defaults, a JSON file
 * (`--config path` or RAFTIS_CONFIG), environment variables (RAFTIS_NODE_ID,
 * RAFTIS_PORT, ...) and command-line flags (`--node-id 1`, `--port=7001`).
 * Throws ConfigError naming the offending field.
 */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): NodeConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new ConfigError(a, 'unexpected argument');
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      if (i + 1 >= argv.length) throw new ConfigError(a.slice(2), 'missing value');
      flags.set(a.slice(2), argv[++i]);
    }
  }
  const merged: Record<string, unknown> = { ...DEFAULTS };
  const file = flags.get('config') ?? env.RAFTIS_CONFIG;
  flags.delete('config');
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError('config', `cannot read ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new ConfigError('config', `${file} must hold a JSON object`);
    for (const [k, v] of Object.entries(parsed)) {
      if (!(k in FIELDS)) throw new ConfigError(k, `unknown option in ${file}`);
      merged[k] = coerce(k as keyof NodeConfig, v);
    }
  }
  for (const field of Object.keys(FIELDS) as Array<keyof NodeConfig>) {
    const envName = 'RAFTIS_' + kebab(field).replace(/-/g, '_').toUpperCase();
    const value = env[envName];
    if (value !== undefined && value !== '') merged[field] = coerce(field, value);
  }
  for (const [flag, value] of flags) {
    const field = (Object.keys(FIELDS) as Array<keyof NodeConfig>).find((f) => kebab(f) === flag);
    if (!field) throw new ConfigError(flag, 'unknown option');
    merged[field] = coerce(field, value);
  }
  return validate(merged);
}

function validate(c: Record<string, unknown>): NodeConfig {
  const cfg = c as unknown as NodeConfig;
  if (cfg.nodeId === undefined) throw new ConfigError('nodeId', 'is required');
  if (cfg.nodeId < 1) throw new ConfigError('nodeId', 'must be >= 1');
  for (const f of ['port', 'peerPort', 'tlsPort'] as const) {
    if (cfg[f] < 0 || cfg[f] > 65535) throw new ConfigError(f, 'must be a TCP port (0-65535)');
  }
  validateTls(cfg);
  if (cfg.balanceMs < 0) throw new ConfigError('balanceMs', 'must be >= 0 (0 turns balancing off)');
  const positive = ['gossipMs', 'groups', 'replicas', 'tickMs', 'electionTicks', 'heartbeatTicks', 'requestTimeoutMs', 'maxClients', 'compactEntries'] as const;
  for (const f of positive) if (cfg[f] < 1) throw new ConfigError(f, 'must be >= 1');
  if (cfg.maxmemorySamples < 1) throw new ConfigError('maxmemorySamples', 'must be >= 1');
  if (cfg.groups > 16384) throw new ConfigError('groups', 'must be <= 16384 (one slot per group at most)');
  if (cfg.heartbeatTicks >= cfg.electionTicks) throw new ConfigError('heartbeatTicks', 'must be < electionTicks');
  if (cfg.leaseDriftTicks < 0 || cfg.leaseDriftTicks >= cfg.electionTicks) {
    throw new ConfigError('leaseDriftTicks', 'must be in [0, electionTicks)');
  }
  if (!cfg.bind) cfg.bind = cfg.host;
  if (cfg.members === undefined) {
    cfg.members = [{ nodeId: cfg.nodeId, host: cfg.host, port: cfg.port || cfg.tlsPort, peerPort: cfg.peerPort }];
  }
  const ids = new Set<number>();
  for (const m of cfg.members) {
    if (ids.has(m.nodeId)) throw new ConfigError('members', `node ${m.nodeId} is listed twice`);
    ids.add(m.nodeId);
  }
  if (!ids.has(cfg.nodeId)) throw new ConfigError('members', `must include this node (${cfg.nodeId})`);
  return cfg;
}

/** The TLS files as TlsCredentials takes them. */
export function tlsFiles(cfg: NodeConfig): TlsFiles {
  return { certFile: cfg.tlsCertFile, keyFile: cfg.tlsKeyFile, keyFilePass: cfg.tlsKeyFilePass, caCertFile: cfg.tlsCaCertFile };
}

/** True when this node needs TLS material (a TLS client port or TLS peer links). */
export function tlsEnabled(cfg: NodeConfig): boolean {
  return cfg.tlsPort > 0 || cfg.tlsCluster === 'yes';
}

/**
 * Port 0 turns the plain client listener off, as in Redis, which leaves
 * tls-port as the only one. Using TLS needs the certificate, key and CA,
 * and they must load (read, decrypt, match) now rather than at the first
 * connection.
 */
function validateTls(cfg: NodeConfig): void {
  if (cfg.port === 0 && cfg.tlsPort === 0) throw new ConfigError('port', '0 turns the plain client port off; set tlsPort (tls-port) then');
  if (cfg.port !== 0 && cfg.port === cfg.tlsPort) throw new ConfigError('tlsPort', 'must differ from port (set port 0 for TLS only)');
  if (!tlsEnabled(cfg)) return;
  for (const f of ['tlsCertFile', 'tlsKeyFile', 'tlsCaCertFile'] as const) {
    if (cfg[f] === '') throw new ConfigError(f, 'is required with tlsPort or tlsCluster yes');
  }
  try {
    loadTlsMaterial(tlsFiles(cfg));
  } catch (err) {
    if (!(err instanceof TlsConfigError)) throw err;
    const field = /tls-cert-file/.test(err.message) ? 'tlsCertFile' : /tls-ca-cert-file/.test(err.message) ? 'tlsCaCertFile' : 'tlsKeyFile';
    throw new ConfigError(field, err.message);
  }
}
