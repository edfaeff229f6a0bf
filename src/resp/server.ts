/** The client-facing TCP server: accepts connections, enforces maxclients, owns the Connections. */
import { createServer, type Server, type Socket } from 'node:net';
import type { EnvLogger } from '../env/env.js';
import { Connection, type ClientContext, type CommandHandler } from './connection.js';
import type { DecoderLimits } from './decoder.js';
import { encodeReply } from './encoder.js';
import { errMaxClients } from './replies.js';

export interface RespServerOptions {
  handler: CommandHandler;
  logger: EnvLogger;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (see `address()`). */
  port: number;
  /** Redis maxclients (default 10000). */
  maxClients?: number;
  decoderLimits?: DecoderLimits;
  pendingRepliesMax?: number;
  outputBytesHighWater?: number;
  /** Defers flushing of async replies to the end of the turn (default setImmediate). */
  soon?: (fn: () => void) => void;
}

export interface RespServer {
  /** Resolves once listening. */
  listen(): Promise<void>;
  /** The bound address (valid after listen). */
  address(): { host: string; port: number };
  /** Connected clients, oldest first. */
  clients(): ClientContext[];
  /**
   * Stops accepting and reading; clients get the replies they are owed for up
   * to `graceMs` (default 0), then every connection still open is destroyed.
   * Resolves when the listener is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** Creates (but does not start) a RESP server. */
export function createRespServer(opts: RespServerOptions): RespServer {
  const host = opts.host ?? '127.0.0.1';
  const maxClients = opts.maxClients ?? 10000;
  const soon = opts.soon ?? ((fn: () => void) => { setImmediate(fn); });
  const log = opts.logger.child({ component: 'resp' });
  const connections = new Map<number, Connection>();
  let nextClientId = 1;

  const onSocket = (socket: Socket): void => {
    if (connections.size >= maxClients) {
      // As Redis acceptCommonHandler: reply, then close.
      socket.on('error', () => {});
      socket.end(encodeReply(errMaxClients()));
      socket.resume(); // Read (and drop) until the client's FIN so the socket closes fully.
      log.warn({ maxClients }, 'rejected client: max number of clients reached');
      return;
    }
    const id = nextClientId++;
    const conn = new Connection(id, socket, {
      handler: opts.handler,
      logger: log,
      soon,
      ...(opts.decoderLimits ? { decoderLimits: opts.decoderLimits } : {}),
      ...(opts.pendingRepliesMax !== undefined ? { pendingRepliesMax: opts.pendingRepliesMax } : {}),
      ...(opts.outputBytesHighWater !== undefined ? { outputBytesHighWater: opts.outputBytesHighWater } : {}),
      onClose: () => connections.delete(id),
    });
    connections.set(id, conn);
  };

  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, onSocket);
  server.on('error', (err) => log.error({ err: err.message }, 'server error'));

  return {
    listen: () => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    }),
    address() {
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('server is not listening');
      return { host: a.address, port: a.port };
    },
    clients: () => [...connections.values()],
    close: async (graceMs = 0) => {
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of connections.values()) conn.drain();
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const conn of connections.values()) conn.destroy();
      await listenerClosed;
    },
  };
}
