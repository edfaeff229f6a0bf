/** The client-facing TCP server: accepts connections, enforces maxclients, owns the Connections. */
import { createServer, type Server, type Socket } from 'node:net';
import type { EnvLogger } from '../env/env.js';
import { Connection, type ClientContext, type CommandHandler, type ConnectionOptions } from './connection.js';
import type { DecoderLimits } from './decoder.js';
import { encodeReply, type Reply } from './encoder.js';
import { errMaxClients } from './replies.js';

export interface RespServerOptions {
  handler: CommandHandler;
  logger: EnvLogger;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (see `address()`). */
  port: number;
  /** Redis maxclients (default 10000); a function is read at every accept (CONFIG SET maxclients). */
  maxClients?: number | (() => number);
  /**
   * Decides at accept whether a client is served (protected mode): null admits it, a reply is
   * written to it before the connection is closed.
   */
  admit?: (remoteAddress: string | undefined) => Reply | null;
  /** Called for each connection refused (maxclients or admit), for INFO rejected_connections. */
  onReject?: () => void;
  /** Passed to every Connection (see ConnectionOptions). */
  authRequired?: ConnectionOptions['authRequired'];
  nowMs?: ConnectionOptions['nowMs'];
  outputLimit?: ConnectionOptions['outputLimit'];
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
  clients(): Connection[];
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
  const maxClientsOpt = opts.maxClients ?? 10000;
  const maxClients = typeof maxClientsOpt === 'number' ? () => maxClientsOpt : maxClientsOpt;
  const soon = opts.soon ?? ((fn: () => void) => { setImmediate(fn); });
  const log = opts.logger.child({ component: 'resp' });
  const connections = new Map<number, Connection>();
  let nextClientId = 1;

  const refuse = (socket: Socket, reply: Reply): void => {
    // As Redis acceptCommonHandler: reply, then close.
    socket.on('error', () => {});
    socket.end(encodeReply(reply));
    socket.resume(); // Read (and drop) until the client's FIN so the socket closes fully.
    opts.onReject?.();
  };
  const onSocket = (socket: Socket): void => {
    if (connections.size >= maxClients()) {
      refuse(socket, errMaxClients());
      log.warn({ maxClients: maxClients() }, 'rejected client: max number of clients reached');
      return;
    }
    const denied = opts.admit?.(socket.remoteAddress) ?? null;
    if (denied !== null) {
      refuse(socket, denied);
      log.warn({ addr: socket.remoteAddress }, 'rejected client: protected mode');
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
      ...(opts.authRequired ? { authRequired: opts.authRequired } : {}),
      ...(opts.nowMs ? { nowMs: opts.nowMs } : {}),
      ...(opts.outputLimit ? { outputLimit: opts.outputLimit } : {}),
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
