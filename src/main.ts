#!/usr/bin/env node
/**
 * Process entry: one raftis node from a config file, environment variables and
 * flags (see src/config.ts). Exits non-zero with an error naming the field on
 * an invalid config; shuts down gracefully on SIGTERM/SIGINT; SIGHUP reloads
 * the TLS certificate, key and CA.
 */
import { ConfigError, loadConfig } from './config.js';
import { createFaultableRealEnv, createRealEnv } from './env/real.js';
import { faultInjectionEnabled } from './fault/fault-hook.js';
import { createLogger } from './logger.js';
import { createNode } from './node.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`raftis: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ nodeId: config.nodeId, level: config.logLevel, format: config.logFormat });
  // Fault injection (test-only, docs/fault-injection.md) needs a clock it can jump.
  const faultable = faultInjectionEnabled(process.env) ? createFaultableRealEnv(logger) : null;
  const env = faultable?.env ?? createRealEnv(logger);
  const node = await createNode(env, config, faultable ? { faultClock: faultable.clock } : {});
  await node.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // SIGHUP re-reads the TLS files (as CONFIG SET of a tls-*-file option does); a failed reload keeps the old ones.
  process.on('SIGHUP', () => {
    try {
      node.reloadTls();
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'TLS reload failed; keeping the current certificate');
    }
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`raftis: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
