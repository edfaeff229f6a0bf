#!/usr/bin/env node
/**
 * `npm start`: a local three-node cluster on 127.0.0.1:7001-7003 (peer ports
 * 17001-17003), data under ./data/node-N, readable logs. Ctrl-C stops all
 * three gracefully. Options: --nodes N (default 3), --base-port P (7001),
 * --data DIR (./data); anything else is passed to every node (e.g. --groups 32).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface LaunchPlan {
  members: string;
  nodes: Array<{ nodeId: number; args: string[] }>;
}

/** The command lines of a local cluster; shared by `npm start` and the integration tests. */
export function planLocalCluster(opts: { nodes: number; basePort: number; peerBasePort: number; dataDir: string; extra: string[] }): LaunchPlan {
  const ids = Array.from({ length: opts.nodes }, (_, i) => i + 1);
  const members = ids.map((id) => `${id}@127.0.0.1:${opts.basePort + id - 1}:${opts.peerBasePort + id - 1}`).join(',');
  return {
    members,
    nodes: ids.map((id) => ({
      nodeId: id,
      args: [
        '--node-id', String(id),
        '--port', String(opts.basePort + id - 1),
        '--peer-port', String(opts.peerBasePort + id - 1),
        '--data-dir', join(opts.dataDir, `node-${id}`),
        '--members', members,
        ...opts.extra,
      ],
    })),
  };
}

export const MAIN_JS = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

/**
 * V8 flags every node process runs with (`node ${NODE_FLAGS} dist/src/main.js`): a larger young
 * generation, so that the short-lived objects of each request die in it instead of being
 * promoted and marked by full collections (docs/decisions.md, "A larger young generation").
 * The Dockerfile's ENTRYPOINT carries the same flags (test/docker.test.ts checks it).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

function parseArgs(argv: string[]): { nodes: number; basePort: number; dataDir: string; extra: string[] } {
  const out = { nodes: 3, basePort: 7001, dataDir: './data', extra: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--nodes') out.nodes = Number(argv[++i]);
    else if (a === '--base-port') out.basePort = Number(argv[++i]);
    else if (a === '--data') out.dataDir = argv[++i];
    else out.extra.push(a);
  }
  return out;
}

function run(): void {
  const o = parseArgs(process.argv.slice(2));
  const plan = planLocalCluster({ ...o, peerBasePort: o.basePort + 10000, extra: ['--log-format', 'pretty', ...o.extra] });
  const children: ChildProcess[] = [];
  let stopping = false;
  for (const n of plan.nodes) {
    const child = spawn(process.execPath, [...NODE_FLAGS, MAIN_JS, ...n.args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`launcher: node ${n.nodeId} exited (code ${code}, signal ${signal})\n`);
      if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(stopping ? 0 : 1);
    });
    children.push(child);
  }
  process.stdout.write(`launcher: ${plan.nodes.length} nodes on 127.0.0.1:${o.basePort}-${o.basePort + plan.nodes.length - 1}; try: redis-cli -p ${o.basePort} set hello world\n`);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) run();
