/**
 * The TLS and peer-authentication parameters of CONFIG GET / SET, with
 * Redis's names. Setting a tls-*-file option (or tls-key-file-pass) reloads
 * the certificate, key and CA at once, as Redis does; several of them in one
 * CONFIG SET reload once, and a reload that fails (unreadable file, key that
 * does not match, wrong passphrase) refuses the whole command and keeps the
 * old material. New connections, client and peer, use the new material;
 * established ones keep theirs. tls-port, tls-cluster and cluster-secret
 * are fixed at start. Secrets (tls-key-file-pass, cluster-secret) read back
 * as '' here and never reach a log.
 */
import type { NodeConfig } from '../config.js';
import { TlsConfigError, type TlsAuthClients, type TlsCredentials, type TlsFiles } from '../transport/tls.js';
import type { RuntimeConfig } from './config-params.js';

const FILE_PARAMS: Record<string, keyof TlsFiles> = {
  'tls-cert-file': 'certFile',
  'tls-key-file': 'keyFile',
  'tls-key-file-pass': 'keyFilePass',
  'tls-ca-cert-file': 'caCertFile',
};

/** Live TLS settings the client listener reads for each new connection. */
export interface TlsRuntime {
  authClients: TlsAuthClients;
}

export function defineTlsParams(runtime: RuntimeConfig, config: NodeConfig, credentials: TlsCredentials | null): TlsRuntime {
  const live: TlsRuntime = { authClients: config.tlsAuthClients };
  const files = credentials?.fileNames() ?? { certFile: '', keyFile: '', keyFilePass: '', caCertFile: '' };
  const any = (v: string) => ({ ok: v });
  for (const [name, key] of Object.entries(FILE_PARAMS)) {
    runtime.define(name, { value: files[key], set: any, sensitive: key === 'keyFilePass' });
  }
  runtime.define('tls-port', { value: String(config.tlsPort) });
  runtime.define('tls-cluster', { value: config.tlsCluster });
  runtime.define('tls-auth-clients', {
    value: config.tlsAuthClients,
    set: (v) => {
      const lower = v.toLowerCase();
      return lower === 'yes' || lower === 'no' || lower === 'optional' ? { ok: lower } : { error: 'argument(s) must be one of the following: no, yes, optional' };
    },
  });
  runtime.define('cluster-secret', { value: config.clusterSecret, sensitive: true });

  runtime.onSet((updates) => {
    const changes: Partial<TlsFiles> = {};
    let first = '';
    for (const [name, key] of Object.entries(FILE_PARAMS)) {
      const v = updates.get(name);
      if (v === undefined) continue;
      changes[key] = v;
      first ||= name;
    }
    if (first !== '') {
      if (credentials === null) return { name: first, error: 'TLS is off on this node (tls-port 0 and tls-cluster no)' };
      try {
        credentials.reload(changes);
      } catch (err) {
        if (!(err instanceof TlsConfigError)) throw err;
        return { name: first, error: `Unable to update TLS configuration: ${err.message}` };
      }
    }
    const auth = updates.get('tls-auth-clients');
    if (auth !== undefined) live.authClients = auth as TlsAuthClients;
    return undefined;
  });
  return live;
}
