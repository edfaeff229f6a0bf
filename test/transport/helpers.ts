// Shared fixtures for the transport tests: a capturing logger, transports on ephemeral ports,
// and message builders.
import { createRealEnv } from '../../src/env/real.js';
import type { EnvLogger } from '../../src/env/env.js';
import { PeerTransport, type PeerTransportOptions } from '../../src/transport/peer-transport.js';
import { MessageType, type Message } from '../../src/raft/types.js';

export interface LogLine {
  level: string;
  msg: string;
  obj: object;
}

export function captureLogger(lines: LogLine[] = [], bindings: object = {}): EnvLogger {
  const at = (level: string) => (obj: object, msg: string): void => {
    lines.push({ level, msg, obj: { ...bindings, ...obj } });
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => captureLogger(lines, { ...bindings, ...more }),
  };
}

export interface Node {
  transport: PeerTransport;
  port: number;
  logs: LogLine[];
  received: Array<{ from: number; messages: Message[] }>;
  unreachable: number[];
}

const started: PeerTransport[] = [];

/** Closes every transport `startNode` created (idempotent; for afterEach). */
export async function closeStarted(): Promise<void> {
  const all = started.splice(0);
  await Promise.all(all.map((t) => t.close()));
}

/** A listening transport whose inbound batches and unreachability reports are recorded. */
export async function startNode(nodeId: number, options: Partial<PeerTransportOptions> = {}): Promise<Node> {
  const logs: LogLine[] = [];
  const env = createRealEnv(captureLogger(logs), nodeId);
  const transport = new PeerTransport({
    env, nodeId, clusterId: 'test-cluster', backoffBaseMs: 5, backoffMaxMs: 40, closeGraceMs: 200, ...options,
  });
  started.push(transport);
  const port = await transport.listen();
  const node: Node = { transport, port, logs, received: [], unreachable: [] };
  transport.onMessages((from, messages) => node.received.push({ from, messages }));
  transport.onUnreachable((nodeId) => node.unreachable.push(nodeId));
  return node;
}

export function connectAll(nodes: Node[]): void {
  for (const a of nodes) {
    for (const b of nodes) {
      if (a !== b) a.transport.addPeer(b.transport.nodeId, '127.0.0.1', b.port);
    }
  }
}

/** Resolves once `predicate` holds, checking after each turn of the event loop (the test's own timeout bounds it). */
export async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 2));
}

export function heartbeat(from: number, to: number, groupId: number, commit = 0): Message {
  return {
    type: MessageType.Heartbeat, groupId, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit,
    reject: false, rejectHint: 0, context: new Uint8Array(0), snapshot: null,
  };
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);
