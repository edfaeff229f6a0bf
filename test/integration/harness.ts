/**
 * Starts real raftis nodes as separate processes (the same command lines as
 * `npm start`), each with its own data directory on loopback ports, and
 * drives them for integration tests.
 *
 * With `tls: true` (or RAFTIS_IT_TLS=1 in the environment, which turns it on
 * for every cluster a test file starts), the nodes speak only TLS: each
 * node's client port is its tls-port (the plain port is off), peer links use
 * mutual TLS, and client(), redisCli(), cliTlsArgs() and rawConnect() bring
 * the test CA and a client certificate.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, createWriteStream, readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MAIN_JS, NODE_FLAGS, planLocalCluster } from '../../src/launcher.js';
import { makeTestCerts, type TestCerts } from '../transport/tls-certs.js';

export interface ClusterOptions {
  nodes?: number;
  extra?: string[];
  /** Clients and peers over TLS only (default: RAFTIS_IT_TLS=1 in the environment). */
  tls?: boolean;
  /** Extra environment variables of every node (e.g. RAFTIS_CLUSTER_SECRET kept off the command line, RAFTIS_FAULT_INJECTION=1). */
  env?: Record<string, string>;
}

export class TestCluster {
  readonly dataDir: string;
  readonly basePort: number;
  private readonly procs = new Map<number, ChildProcess>();
  private readonly args = new Map<number, string[]>();
  private readonly clients: Redis[] = [];
  private readonly members: string;
  private readonly extra: string[];
  /** Certificates when the cluster runs over TLS. */
  readonly certs: TestCerts | null;

  constructor(readonly opts: ClusterOptions = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'raftis-it-'));
    this.certs = (opts.tls ?? process.env.RAFTIS_IT_TLS === '1') ? makeTestCerts() : null;
    // Spread runs over the port space so parallel test files do not collide, and stay below
    // the kernel's ephemeral range (32768+ on Linux): an outgoing connection's local port
    // there can take a node's port first (seen as EADDRINUSE under load).
    this.basePort = 20000 + Math.floor(Math.random() * 1270) * 10;
    const plan = planLocalCluster({
      nodes: opts.nodes ?? 3,
      basePort: this.basePort,
      peerBasePort: this.basePort + 5,
      dataDir: this.dataDir,
      extra: ['--log-level', 'info', '--tick-ms', '20', ...(opts.extra ?? [])],
    });
    for (const n of plan.nodes) this.args.set(n.nodeId, [...n.args, ...this.tlsArgs(n.nodeId)]);
    this.members = plan.members;
    this.extra = ['--log-level', 'info', '--tick-ms', '20', ...(opts.extra ?? [])];
  }

  /** Node flags for TLS mode: the member's client port becomes its tls-port, the plain one is off. */
  private tlsArgs(nodeId: number): string[] {
    const c = this.certs;
    if (c === null) return [];
    return ['--port', '0', '--tls-port', String(this.port(nodeId)), '--tls-cluster', 'yes',
      '--tls-cert-file', c.cert, '--tls-key-file', c.encryptedKey, '--tls-ca-cert-file', c.caCert];
  }

  /** The environment of a node process (the key passphrase goes there, not on the command line). */
  private nodeEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...(this.certs === null ? {} : { RAFTIS_TLS_KEY_FILE_PASS: this.certs.keyPass }), ...this.opts.env };
  }

  peerPort(nodeId: number): number {
    return this.basePort + 5 + nodeId - 1;
  }

  /** Sends a signal to a running node without waiting for it to exit (SIGHUP, SIGSTOP, ...). */
  signal(nodeId: number, signal: NodeJS.Signals): void {
    this.procs.get(nodeId)?.kill(signal);
  }

  /** What the node has logged so far. */
  logOf(nodeId: number): string {
    return readFileSync(join(this.dataDir, `node-${nodeId}.log`), 'utf8');
  }

  /** redis-cli flags to reach a node (TLS with the test CA and a client certificate, or nothing). */
  cliTlsArgs(): string[] {
    const c = this.certs;
    return c === null ? [] : ['--tls', '--cacert', c.caCert, '--cert', c.cert2, '--key', c.key2];
  }

  /** A raw socket to a node's client port (TLS in TLS mode); writes before the connection opens are buffered. */
  rawConnect(nodeId: number): Socket {
    const c = this.certs;
    if (c === null) return netConnect(this.port(nodeId), '127.0.0.1');
    return tlsConnect({ port: this.port(nodeId), host: '127.0.0.1', ca: readFileSync(c.caCert),
      cert: readFileSync(c.cert2), key: readFileSync(c.key2) });
  }

  /**
   * Plans a node that joins the running cluster (`--join yes`) and returns the
   * arguments of RAFTIS ADD-NODE for it; start it with startNode.
   */
  planJoiningNode(nodeId: number): string[] {
    const port = this.port(nodeId);
    const peerPort = this.basePort + 5 + nodeId - 1;
    this.args.set(nodeId, [
      '--node-id', String(nodeId), '--port', String(port), '--peer-port', String(peerPort),
      '--data-dir', join(this.dataDir, `node-${nodeId}`),
      '--members', `${this.members},${nodeId}@127.0.0.1:${port}:${peerPort}`, '--join', 'yes', ...this.extra,
      ...this.tlsArgs(nodeId),
    ]);
    return [String(nodeId), '127.0.0.1', String(port), String(peerPort)];
  }

  port(nodeId: number): number {
    return this.basePort + nodeId - 1;
  }

  nodeIds(): number[] {
    return [...this.args.keys()];
  }

  startNode(nodeId: number): void {
    const log = createWriteStream(join(this.dataDir, `node-${nodeId}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...NODE_FLAGS, MAIN_JS, ...this.args.get(nodeId)!], { stdio: ['ignore', 'pipe', 'pipe'], env: this.nodeEnv() });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.procs.set(nodeId, child);
    // A node that exits by itself (a crash) is no longer running, so it can be started again.
    child.once('exit', () => {
      if (this.procs.get(nodeId) === child) this.procs.delete(nodeId);
    });
  }

  async start(): Promise<void> {
    for (const id of this.nodeIds()) this.startNode(id);
    for (const id of this.nodeIds()) await this.waitReady(id);
  }

  /** Waits until the node answers PING and every group it hosts has a leader. */
  async waitReady(nodeId: number, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const c = this.client(nodeId);
    for (;;) {
      try {
        const info = (await c.info('raft')) as string;
        const groups = info.split('\r\n').filter((l) => l.startsWith('group'));
        if (groups.length > 0 && groups.every((l) => !l.includes('leader=0,'))) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`node ${nodeId} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  client(nodeId: number): Redis {
    const certs = this.certs;
    const c = new Redis({ port: this.port(nodeId), host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 20,
      retryStrategy: () => 100, enableOfflineQueue: true,
      ...(certs === null ? {} : { tls: { ca: readFileSync(certs.caCert), cert: readFileSync(certs.cert2), key: readFileSync(certs.key2) } }) });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  redisCli(nodeId: number, ...args: string[]): string {
    const r = spawnSync('redis-cli', ['-p', String(this.port(nodeId)), ...this.cliTlsArgs(), ...args], { encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0) throw new Error(`redis-cli failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Node currently leading `groupId`, read from INFO raft of any live node. */
  async leaderOf(groupId: number): Promise<number> {
    for (const id of this.nodeIds()) {
      if (!this.procs.has(id)) continue;
      try {
        const info = (await this.client(id).info('raft')) as string;
        const line = info.split('\r\n').find((l) => l.startsWith(`group${groupId}:`));
        const m = line && /leader=(\d+)/.exec(line);
        if (m && m[1] !== '0') return Number(m[1]);
      } catch {
        // try the next node
      }
    }
    return 0;
  }

  /** True while the node's process is running (started and not killed). */
  isRunning(nodeId: number): boolean {
    return this.procs.has(nodeId);
  }

  /** Resolves with the node process's exit code once it exits. */
  exitCode(nodeId: number): Promise<number | null> {
    const p = this.procs.get(nodeId);
    if (!p) return Promise.resolve(null);
    if (p.exitCode !== null) return Promise.resolve(p.exitCode);
    return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
  }

  kill(nodeId: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(nodeId);
    if (!p) return Promise.resolve();
    this.procs.delete(nodeId);
    return new Promise((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  /** Stops every node; the data directory (with the node logs) stays when `keepData` or RAFTIS_KEEP_DATA. */
  async stop(keepData = false): Promise<void> {
    for (const c of this.clients) c.disconnect();
    await Promise.all(this.nodeIds().map((id) => this.kill(id, 'SIGTERM')));
    if (!keepData && !process.env.RAFTIS_KEEP_DATA) {
      rmSync(this.dataDir, { recursive: true, force: true });
      this.certs?.remove();
    }
  }
}

/**
 * SETs `${prefix}${i}` to `i` for i = 0, 1, ... through `client` until `stopped()`. Acknowledged
 * writes go into `acked`; an error is indeterminate, not an acknowledgement, and is not retried.
 */
export async function writeUntil(client: Redis, prefix: string, acked: Map<string, string>, stopped: () => boolean): Promise<void> {
  for (let i = 0; !stopped(); i++) {
    const k = `${prefix}${i}`;
    try {
      await client.set(k, String(i));
      acked.set(k, String(i));
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
