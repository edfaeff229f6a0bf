import pino from 'pino';
import type { EnvLogger } from './env/env.js';

/**
 * The root logger: JSON lines on stdout by default, or human-readable lines
 * (pino-pretty) for `npm start`. Every line carries the node id; children add
 * the group id.
 */
export function createLogger(opts: { nodeId: number; level: string; format: 'json' | 'pretty' }): EnvLogger {
  const base = { node: opts.nodeId };
  if (opts.format === 'pretty') {
    return pino({
      level: opts.level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: false, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    }) as unknown as EnvLogger;
  }
  return pino({ level: opts.level, base }) as unknown as EnvLogger;
}
