/**
 * The client-facing server: a plain TCP listener, a TLS listener (Redis's
 * tls-port), or both; accepts connections, enforces maxclients across both,
 * owns the Connections. The TLS listener asks every client for a
 * certificate and applies the tls-auth-clients policy after the handshake,
 * so the policy, like the certificate (reloaded through TlsCredentials),
 * can change at run time for new connections.
 */
import { createServer, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import type { EnvLogger } from '../env/env.js';
import { clientCertAccepted, type TlsAuthClients, type TlsCredentials } from '../transport/tls.js';
import { Connection, type ClientContext, type CommandHandler, type ConnectionOptions } from './connection.js';
import type { DecoderLimits } from './decoder.js';
import { encodeReply, type Reply } from './encoder.js';
import { errMaxClients } from './replies.js';

export interface RespServerOptions {
  handler: CommandHandler;
  logger: EnvLogger;
  /** Default 127.0.0.1. */
  host?: string;
  /** Plain TCP port; 0 picks a free port (see `address()`); null = no plain listener. */
  port: number | null;
  /** A TLS listener too (or only, with `port` null). */
  tls?: {
    /** 0 picks a free port (see `tlsAddress()`). */
    port: number;
    credentials: TlsCredentials;
    /** Read at each connection, so CONFIG SET tls-auth-clients applies to the next one. */
    authClients: () => TlsAuthClients;
  };
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
  /** The bound address of the plain listener, or of the TLS one when there is no plain one (valid after listen). */
  address(): { host: string; port: number };
  /** The bound address of the TLS listener (null without one). */
  tlsAddress(): { host: string; port: number } | null;
  /** Connected clients, oldest first. */
  clients(): Connection[];
  /**
   * Stops accepting and reading; clients get the replies they are owed for up
   * to `graceMs` (default 0), then every connection still open is destroyed.
   * Resolves when the listener is closed.
   */
  close(graceMs?: number): Promise<void>;
}

const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

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

  const listeners: Server[] = [];
  let plain: Server | null = null;
  let secure: tls.Server | null = null;
  /** Raw sockets of the TLS listener, handshaken or not: close() must end those that never became Connections. */
  const tlsSockets = new Set<Socket>();
  if (opts.port !== null) {
    plain = createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, onSocket);
    listeners.push(plain);
  }
  if (opts.tls !== undefined) {
    const t = opts.tls;
    const server = tls.createServer({
      ...t.credentials.current().options,
      allowHalfOpen: true,
      // Ask for a certificate always, judge it below: the policy can change at run time.
      requestCert: true,
      rejectUnauthorized: false,
      // A client that goes silent (or half-closes) mid-handshake is dropped by then.
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    });
    server.on('connection', (raw: Socket) => {
      tlsSockets.add(raw);
      raw.once('close', () => tlsSockets.delete(raw));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const verdict = clientCertAccepted(socket, t.authClients());
      if (!verdict.ok) {
        log.info({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: verdict.reason }, 'refused TLS client');
        socket.on('error', () => {});
        socket.destroy();
        return;
      }
      onSocket(socket);
    });
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      log.debug({ remote: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'TLS handshake with a client failed');
    });
    t.credentials.onReload((material) => server.setSecureContext(material.options));
    secure = server;
    listeners.push(server);
  }
  for (const l of listeners) l.on('error', (err) => log.error({ err: err.message }, 'server error'));

  const listenOn = (server: Server, port: number): Promise<void> => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const boundAddress = (server: Server): { host: string; port: number } => {
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('server is not listening');
    return { host: a.address, port: a.port };
  };

  return {
    listen: async () => {
      if (plain !== null) await listenOn(plain, opts.port!);
      if (secure !== null) await listenOn(secure, opts.tls!.port);
    },
    address: () => boundAddress(plain ?? secure!),
    tlsAddress: () => (secure === null ? null : boundAddress(secure)),
    clients: () => [...connections.values()],
    close: async (graceMs = 0) => {
      const listenersClosed = Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
      for (const conn of connections.values()) conn.drain();
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const conn of connections.values()) conn.destroy();
      for (const raw of tlsSockets) raw.destroy();
      await listenersClosed;
    },
  };
}
