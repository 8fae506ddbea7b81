// TLS certificates from Vault → the files HAProxy loads (pure).
//
// - prepareCertificates(): checks every Vault certificate (X.509 parses, the key matches, it covers
//   the FQDN it is stored under) and makes one canonical PEM per certificate (leaf, chain, key).
// - certificateFiles(): the plan as files of a config directory: `certs/<name>.pem` and the
//   crt-list (`default` first: HAProxy serves the first entry when no SNI filter matches, then one
//   line per FQDN with that FQDN as its SNI filter). They join the candidate like every other
//   rendered file, so `haproxy -c` checks them in the staging directory before they go live.
// - hostsCoveredBy() / tlsStatusOf(): which hosts a certificate covers (the https-only redirect
//   applies only to those), and which are served on plain HTTP only (status and logs).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { WriteFailedError } from '../errors.js';
import type { HostRoute, RoutingModel } from '../model/types.js';
import type { CertificateSecret } from '../sources/vault/types.js';
import type { RenderedFiles } from './types.js';

export const CERTS_DIR = 'certs';
export const CRT_LIST_FILE = 'crt-list';
export const DEFAULT_CERTIFICATE = 'default';

/** The candidate's files that hold certificates (0600 in a 0700 directory; synced at runtime, not by the runtime plan). */
export function isCertificateFile(name: string): boolean {
  return name === CRT_LIST_FILE || name.startsWith(`${CERTS_DIR}/`);
}

export interface PreparedCertificate {
  /** `default`, an FQDN, or `*.<domain>`: the name under `tls/` in Vault. */
  name: string;
  /** Absolute path of its PEM file (what HAProxy and the runtime API call it). */
  file: string;
  /** Leaf certificate, chain, then the private key (PKCS#8): the file's content. */
  pem: string;
  /** SHA-1 of the leaf, upper-case hex without colons (as `show ssl cert` prints it). */
  sha1: string;
  /** SHA-256 of the leaf, as node's X509Certificate.fingerprint256 prints it. */
  sha256: string;
  subject: string;
  /** DNS names of the subjectAltName (or the CN when there is none). */
  names: string[];
  notAfter: string;
  expired: boolean;
  /** The crt-list SNI filter; null for the default certificate. */
  sni: string | null;
}

export interface CertificatePlan {
  /** The default certificate first (when there is one), then by name. */
  entries: PreparedCertificate[];
  /** Certificates in Vault that cannot be used, with the reason (never the PEM). */
  rejected: { name: string; reason: string }[];
  /** Content of the crt-list file (for the directory the plan was prepared for). */
  crtList: string;
}

const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const SAFE_PATH = /^\/[A-Za-z0-9_./-]*$/;

/** File name inside the certs directory: `*.example.org` → `_wildcard.example.org.pem` (`_` is no host character). */
export function certificateFileName(name: string): string {
  return name.startsWith('*.') ? `_wildcard.${name.slice(2)}.pem` : `${name}.pem`;
}

function rejectReason(name: string, secret: CertificateSecret, now: number): string | PreparedCertificate {
  if (name !== DEFAULT_CERTIFICATE && (name.length > 253 || !HOST_NAME.test(name))) {
    return 'the name under tls/ must be "default" or a lowercase FQDN (optionally "*.<domain>")';
  }
  const blocks = secret.certificate.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return '"certificate" holds no PEM certificate';
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch {
    return '"certificate" is not a valid X.509 PEM certificate';
  }
  const leaf = chain[0]!;
  let keyPem: string;
  try {
    const key = createPrivateKey({ key: secret.privateKey, format: 'pem' });
    if (!leaf.checkPrivateKey(key)) return '"private_key" does not belong to the certificate';
    keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    return '"private_key" is not an unencrypted PEM private key';
  }
  if (name !== DEFAULT_CERTIFICATE) {
    const probe = name.startsWith('*.') ? `paas-router-probe.${name.slice(2)}` : name;
    if (leaf.checkHost(probe) === undefined) return `the certificate does not cover ${name} (subjectAltName: ${leaf.subjectAltName ?? 'none'})`;
  }
  const names = (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
  return {
    name,
    file: '',
    pem: `${chain.map((c) => c.toString().trim()).join('\n')}\n${keyPem.trim()}\n`,
    sha1: leaf.fingerprint.replace(/:/g, '').toUpperCase(),
    sha256: leaf.fingerprint256,
    subject: leaf.subject.replace(/\n/g, ', '),
    names: names.length > 0 ? names : cn ? [cn] : [],
    notAfter: new Date(leaf.validTo).toISOString(),
    expired: new Date(leaf.validTo).getTime() < now,
    sni: name === DEFAULT_CERTIFICATE ? null : name,
  };
}

/** Pure: Vault certificates → checked PEM files and the crt-list for `certsDir`. */
export function prepareCertificates(certificates: Record<string, CertificateSecret>, certsDir: string, now = Date.now()): CertificatePlan {
  if (!SAFE_PATH.test(certsDir))
    throw new WriteFailedError(`the certificates directory ${JSON.stringify(certsDir)} must be an absolute path of plain characters`);
  const entries: PreparedCertificate[] = [];
  const rejected: CertificatePlan['rejected'] = [];
  const names = Object.keys(certificates).sort((a, b) => (a === DEFAULT_CERTIFICATE ? -1 : b === DEFAULT_CERTIFICATE ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const result = rejectReason(name, certificates[name]!, now);
    if (typeof result === 'string') rejected.push({ name, reason: result });
    else entries.push({ ...result, file: join(certsDir, certificateFileName(name)) });
  }
  return { entries, rejected, crtList: crtListFor(entries, certsDir) };
}

function crtListFor(entries: PreparedCertificate[], certsDir: string): string {
  const lines = entries.map((e) => {
    const file = join(certsDir, certificateFileName(e.name));
    return e.sni ? `${file} ${e.sni}` : file;
  });
  return `# Generated by paas-router from the certificates in Vault. Do not edit.\n${lines.join('\n')}\n`;
}

/**
 * The plan as files of `configDir` (names relative to it): `certs/<name>.pem` and `crt-list`,
 * whose lines point at `<configDir>/certs/`. None without a certificate (no HTTPS frontend then).
 */
export function certificateFiles(plan: CertificatePlan, configDir: string): RenderedFiles {
  if (plan.entries.length === 0) return {};
  const files: RenderedFiles = {};
  for (const entry of plan.entries) files[`${CERTS_DIR}/${certificateFileName(entry.name)}`] = entry.pem;
  files[CRT_LIST_FILE] = crtListFor(plan.entries, join(configDir, CERTS_DIR));
  return files;
}

/** `*.example.org` matches exactly one more label (`www.example.org`), as TLS wildcards do. */
function wildcardMatch(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  const label = host.endsWith(suffix) ? host.slice(0, host.length - suffix.length) : '';
  return label !== '' && !label.includes('.');
}

/**
 * The hosts a client reaching them over HTTPS gets a valid certificate for: a certificate whose SNI
 * filter matches the host, or the certificate HAProxy serves when none matches (the first entry)
 * when its names cover the host.
 */
export function hostsCoveredBy(plan: CertificatePlan, hosts: string[]): Set<string> {
  const covered = new Set<string>();
  const first = plan.entries[0];
  const fallback = first ? new X509Certificate(first.pem.match(PEM_CERT)![0]) : undefined;
  for (const host of hosts) {
    if (plan.entries.some((e) => e.sni !== null && wildcardMatch(e.sni, host))) covered.add(host);
    else if (fallback && fallback.checkHost(host) !== undefined) covered.add(host);
  }
  return covered;
}

export interface TlsStatus {
  /** The certificates in use (no key material). */
  certificates: Omit<PreparedCertificate, 'pem' | 'file'>[];
  rejected: CertificatePlan['rejected'];
  /** Routed hosts no certificate covers: served on plain HTTP only, even for https-only apps. */
  httpOnlyHosts: { host: string; app: string; source: HostRoute['source']; httpsOnly: boolean }[];
}

export function tlsStatusOf(model: RoutingModel, plan: CertificatePlan, covered: Set<string>): TlsStatus {
  const httpsOnly = new Set(model.apps.filter((a) => a.httpsOnly).map((a) => a.name));
  return {
    certificates: plan.entries.map(({ pem: _pem, file: _file, ...rest }) => rest),
    rejected: plan.rejected,
    httpOnlyHosts: model.hosts
      .filter((h) => !covered.has(h.host))
      .map((h) => ({ host: h.host, app: h.app, source: h.source, httpsOnly: httpsOnly.has(h.app) })),
  };
}
