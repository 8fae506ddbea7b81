// Dev and test certificates: self-signed X.509 certificates made with the `openssl` CLI (Node's
// crypto can parse certificates but cannot issue them). Never used by the daemon itself.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificatePair {
  /** PEM certificate. */
  certificate: string;
  /** PEM private key (PKCS#8, unencrypted). */
  privateKey: string;
}

export interface SelfSignedOptions {
  commonName: string;
  /** DNS names (wildcards allowed) and IP addresses for subjectAltName; default [commonName]. */
  altNames?: string[];
  days?: number;
  keyType?: 'ec' | 'rsa';
}

/** A self-signed certificate (also usable as its own CA, e.g. as VAULT_CACERT in tests). */
export async function selfSignedCertificate(opts: SelfSignedOptions): Promise<CertificatePair> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-pki-'));
  try {
    const names = opts.altNames ?? [opts.commonName];
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    const key = opts.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
    await run('openssl', [
      'req',
      '-x509',
      ...key,
      '-nodes',
      '-sha256',
      '-days',
      String(opts.days ?? 30),
      '-subj',
      `/CN=${opts.commonName}`,
      '-addext',
      `subjectAltName=${san}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    return { certificate: await readFile(join(dir, 'cert.pem'), 'utf8'), privateKey: await readFile(join(dir, 'key.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
