// Test certificates made with the openssl CLI into a temp dir: a cluster CA with two leaf
// certificates (for 127.0.0.1 and localhost, usable as server and client), the first key also
// encrypted with a passphrase, and a rogue CA with a leaf of its own. EC P-256 keeps it fast.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caCert: string;
  cert: string;
  key: string;
  /** `key`, encrypted with `keyPass`. */
  encryptedKey: string;
  keyPass: string;
  /** A second identity from the same CA (for reloads). */
  cert2: string;
  key2: string;
  /** A CA the cluster does not trust, and an identity it issued. */
  rogueCaCert: string;
  rogueCert: string;
  rogueKey: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=${name}`]);
}

function makeLeaf(dir: string, ca: string, name: string): void {
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '3650', '-extfile', 'leaf.ext']);
}

/** Generates a fresh set (about 100 ms). */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'raftis-tls-'));
  writeFileSync(join(dir, 'leaf.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  makeCa(dir, 'ca');
  makeLeaf(dir, 'ca', 'node');
  makeLeaf(dir, 'ca', 'node2');
  makeCa(dir, 'rogue-ca');
  makeLeaf(dir, 'rogue-ca', 'rogue');
  const keyPass = 'pass-phrase-for-tests';
  openssl(dir, ['pkey', '-in', 'node.key', '-aes256', '-passout', `pass:${keyPass}`, '-out', 'node-enc.key']);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    cert: p('node.crt'),
    key: p('node.key'),
    encryptedKey: p('node-enc.key'),
    keyPass,
    cert2: p('node2.crt'),
    key2: p('node2.key'),
    rogueCaCert: p('rogue-ca.crt'),
    rogueCert: p('rogue.crt'),
    rogueKey: p('rogue.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
