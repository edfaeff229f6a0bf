/**
 * TLS material shared by the client listener (src/resp/server.ts) and the
 * peer transport: certificate, key (with an optional passphrase) and CA,
 * read from files named in the config, validated before use, and reloadable
 * at run time (CONFIG SET of a tls-* file option, or SIGHUP). A reload
 * re-reads every file and swaps the material only when all of it is valid,
 * so a half-written certificate never replaces a working one.
 *
 * Secrets (the key passphrase) live only here, inside `options`; nothing in
 * this file logs them.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Passphrase of an encrypted key file ('' for none). */
  keyFilePass: string;
  /** CA bundle that peer and client certificates must chain to. */
  caCertFile: string;
}

/** What Node's TLS APIs take: the file contents plus a prepared context. */
export interface TlsMaterial {
  options: { cert: Buffer; key: Buffer; passphrase?: string; ca: Buffer };
  context: tls.SecureContext;
}

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

function read(file: string, what: string): Buffer {
  if (!file) throw new TlsConfigError(`${what} is not set`);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Reads and checks the files; throws TlsConfigError (never mentioning the passphrase) when they do not form a usable identity. */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const options = {
    cert: read(files.certFile, 'tls-cert-file'),
    key: read(files.keyFile, 'tls-key-file'),
    ca: read(files.caCertFile, 'tls-ca-cert-file'),
    ...(files.keyFilePass ? { passphrase: files.keyFilePass } : {}),
  };
  let context: tls.SecureContext;
  try {
    // Parses the certificate and the key, decrypts the key and checks that they match.
    context = tls.createSecureContext(options);
  } catch (err) {
    // OpenSSL's text (e.g. "bad decrypt", "key values mismatch") names no secret.
    throw new TlsConfigError(`cannot use the certificate and key: ${(err as Error).message}`);
  }
  return { options, context };
}

/** The current TLS material; listeners are told when a reload swaps it. */
export class TlsCredentials {
  private material: TlsMaterial;
  private readonly listeners: Array<(m: TlsMaterial) => void> = [];

  constructor(private files: TlsFiles) {
    this.material = loadTlsMaterial(files);
  }

  current(): TlsMaterial {
    return this.material;
  }

  fileNames(): TlsFiles {
    return { ...this.files };
  }

  /** Called after every successful reload (new connections then use the new material). */
  onReload(fn: (m: TlsMaterial) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Re-reads the files (with `changes` applied to their names first). On
   * failure throws TlsConfigError and keeps both the old names and the old
   * material; established connections are never touched either way.
   */
  reload(changes: Partial<TlsFiles> = {}): void {
    const files = { ...this.files, ...changes };
    const material = loadTlsMaterial(files);
    this.files = files;
    this.material = material;
    for (const fn of this.listeners) fn(material);
  }
}

/** Client-certificate policy of the client listener, Redis's tls-auth-clients. */
export type TlsAuthClients = 'yes' | 'no' | 'optional';

/**
 * Whether a client that completed the TLS handshake may stay: `yes` needs a
 * certificate that chains to the CA, `optional` refuses only a certificate
 * that does not, `no` takes anyone. The server asks every client for a
 * certificate and checks it here, so the policy can change at run time.
 */
export function clientCertAccepted(socket: tls.TLSSocket, policy: TlsAuthClients): { ok: true } | { ok: false; reason: string } {
  if (policy === 'no') return { ok: true };
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (!presented) return policy === 'optional' ? { ok: true } : { ok: false, reason: 'no client certificate' };
  if (socket.authorized) return { ok: true };
  return { ok: false, reason: `client certificate refused: ${String(socket.authorizationError)}` };
}
