// Shared helpers for the resp tests: a silent logger, a toy command handler, a raw socket client and a real redis-server.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import type { EnvLogger } from '../../src/env/env.js';
import type { ClientContext, CommandHandler } from '../../src/resp/connection.js';
import { bulk, integer, map, ok, simple, array, type Reply } from '../../src/resp/encoder.js';
import { errNoProto, errUnknownCommand, errWrongArgs } from '../../src/resp/replies.js';
import { createRespServer, type RespServer, type RespServerOptions } from '../../src/resp/server.js';

export const silentLogger: EnvLogger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};

/** A logger that records error lines, to check that failures are logged. */
export function recordingLogger(): EnvLogger & { errors: string[] } {
  const errors: string[] = [];
  const logger: EnvLogger & { errors: string[] } = {
    errors, debug() {}, info() {}, warn() {},
    error(_obj, msg) { errors.push(msg); },
    child() { return logger; },
  };
  return logger;
}

/** PING/ECHO/GET/SET/DEL/HELLO over an in-memory map, with Redis's arity and unknown-command errors. */
export function toyHandler(store = new Map<string, Buffer>()): CommandHandler {
  return (ctx: ClientContext, args: Buffer[]): Reply => {
    const name = args[0]!.toString('latin1').toLowerCase();
    const arity = (n: number): boolean => args.length === n;
    switch (name) {
      case 'ping':
        if (args.length > 2) return errWrongArgs(name);
        return args.length === 2 ? bulk(args[1]!) : simple('PONG');
      case 'echo':
        return arity(2) ? bulk(args[1]!) : errWrongArgs(name);
      case 'get':
        return arity(2) ? bulk(store.get(args[1]!.toString('latin1')) ?? null) : errWrongArgs(name);
      case 'set':
        if (args.length < 3) return errWrongArgs(name);
        store.set(args[1]!.toString('latin1'), Buffer.from(args[2]!));
        return ok();
      case 'del': {
        if (args.length < 2) return errWrongArgs(name);
        let n = 0;
        for (const k of args.slice(1)) if (store.delete(k.toString('latin1'))) n++;
        return integer(n);
      }
      case 'hello': {
        if (args.length >= 2) {
          const v = args[1]!.toString();
          if (v !== '2' && v !== '3') return errNoProto();
          ctx.protocol = v === '3' ? 3 : 2;
        }
        return map([[bulk('server'), bulk('redis')], [bulk('proto'), integer(ctx.protocol)], [bulk('modules'), array([])]]);
      }
      default:
        return errUnknownCommand(args);
    }
  };
}

/** Starts a raftis RESP server on a free port. */
export async function startServer(opts: Partial<RespServerOptions> = {}): Promise<RespServer & { port: number }> {
  const server = createRespServer({ handler: toyHandler(), logger: silentLogger, port: 0, ...opts });
  await server.listen();
  return Object.assign(server, { port: server.address().port });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export function connectRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends bytes, half-closes, and collects everything until the server closes; marks a close with `<CLOSED>`. */
export async function exchange(port: number, input: Buffer, halfClose = true): Promise<Buffer> {
  const s = await connectRaw(port);
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.write(input);
    if (halfClose) s.end();
  });
}

/** Reads from a socket until `predicate(all bytes so far)` holds. */
export function readUntil(s: Socket, predicate: (data: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      data = Buffer.concat([data, c]);
      if (predicate(data)) { s.off('data', onData); resolve(data); }
    };
    s.on('data', onData);
  });
}

export interface RealRedis {
  port: number;
  stop(): Promise<void>;
}

/** Starts a real redis-server (no persistence) on a free port and waits until it accepts connections. */
export async function startRealRedis(): Promise<RealRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore' });
  for (;;) {
    try {
      const s = await connectRaw(port);
      s.destroy();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    port,
    stop: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
