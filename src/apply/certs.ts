// TLS certificates from Vault → files HAProxy loads and its running memory.
//
// - prepareCertificates(): pure. Checks every Vault certificate (X.509 parses, the key matches, it
//   covers the FQDN it is stored under), makes one canonical PEM per certificate (leaf, chain, key)
//   and the crt-list: `default` first (HAProxy serves the first entry when no SNI filter matches),
//   then one line per FQDN with that FQDN as its SNI filter.
// - hostsCoveredBy() / tlsStatusOf(): which hosts a certificate covers (the https-only redirect
//   applies only to those), and which are served on plain HTTP only (status and logs).
// - CertificateStore: writes `<configDir>/certs/*.pem` (0600, directory 0700) and
//   `<configDir>/crt-list` atomically, then reconciles HAProxy's memory with them through the
//   runtime API (`new/set/commit ssl cert`, `add/del ssl crt-list`, `del ssl cert`): adding,
//   rotating and removing a certificate needs no reload. What the runtime API cannot do (replace
//   or remove the default certificate, which HAProxy refuses to delete while a bind uses it) falls
//   back to a reload through the master CLI; the files on disk are already right for it.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WriteFailedError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { HostRoute, RoutingModel } from '../model/types.js';
import type { CertificateSecret } from '../sources/vault/types.js';
import { reloadThroughMaster } from './reload.js';
import { sendSocketCommand, sendSocketPayload } from './socket.js';

export const CERTS_DIR = 'certs';
export const CRT_LIST_FILE = 'crt-list';
export const DEFAULT_CERTIFICATE = 'default';

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
  /** Content of the crt-list file. */
  crtList: string;
}

const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const SAFE_PATH = /^\/[A-Za-z0-9_.\/-]*$/;

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
  if (!SAFE_PATH.test(certsDir)) throw new WriteFailedError(`the certificates directory ${JSON.stringify(certsDir)} must be an absolute path of plain characters`);
  const entries: PreparedCertificate[] = [];
  const rejected: CertificatePlan['rejected'] = [];
  const names = Object.keys(certificates).sort((a, b) => (a === DEFAULT_CERTIFICATE ? -1 : b === DEFAULT_CERTIFICATE ? 1 : a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const result = rejectReason(name, certificates[name]!, now);
    if (typeof result === 'string') rejected.push({ name, reason: result });
    else entries.push({ ...result, file: join(certsDir, certificateFileName(name)) });
  }
  const lines = entries.map((e) => (e.sni ? `${e.file} ${e.sni}` : e.file));
  const crtList = `# Generated by paas-router from the certificates in Vault. Do not edit.\n${lines.join('\n')}\n`;
  return { entries, rejected, crtList };
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

export interface CertificateStoreOptions {
  configDir: string;
  runtimeSocket: string;
  masterSocket: string;
  reloadTimeoutMs: number;
  log: Logger;
}

export interface RuntimeCertReport {
  /** `not-loaded`: HAProxy runs no frontend with our crt-list (the next reload loads the files). */
  status: 'in-step' | 'updated' | 'reloaded' | 'not-loaded' | 'unreachable' | 'failed';
  /** `add www.example.org`, `rotate default`, `remove old.example.org`. */
  ops: string[];
  error?: string;
}

interface LoadedEntry {
  file: string;
  sni: string[];
}

export class CertificateStore {
  readonly certsDir: string;
  readonly crtListPath: string;

  constructor(private readonly opts: CertificateStoreOptions) {
    this.certsDir = join(opts.configDir, CERTS_DIR);
    this.crtListPath = join(opts.configDir, CRT_LIST_FILE);
  }

  prepare(certificates: Record<string, CertificateSecret>): CertificatePlan {
    return prepareCertificates(certificates, this.certsDir);
  }

  /**
   * Writes the certificate files and the crt-list (before the configuration that uses them is
   * validated: `haproxy -c` loads them), and removes certificate files no longer in Vault. With no
   * certificate at all nothing is touched here: see cleanUp().
   */
  async write(plan: CertificatePlan): Promise<void> {
    if (plan.entries.length === 0) return;
    try {
      await mkdir(this.certsDir, { recursive: true, mode: 0o700 });
      await chmod(this.certsDir, 0o700);
      for (const entry of plan.entries) await writeIfChanged(entry.file, entry.pem);
      await writeIfChanged(this.crtListPath, plan.crtList);
      await this.removeStale(new Set(plan.entries.map((e) => e.file)));
    } catch (err) {
      throw new WriteFailedError(`cannot write the TLS certificates into ${this.certsDir}: ${errorMessage(err)}`);
    }
  }

  /** With no certificate left, once HAProxy no longer uses them: remove the files. */
  async cleanUp(plan: CertificatePlan): Promise<void> {
    if (plan.entries.length > 0) return;
    await rm(this.crtListPath, { force: true });
    await this.removeStale(new Set()).catch(() => undefined);
  }

  private async removeStale(keep: Set<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.certsDir);
    } catch {
      return;
    }
    for (const name of names) {
      const file = join(this.certsDir, name);
      if ((name.endsWith('.pem') || name.endsWith('.tmp')) && !keep.has(file)) await rm(file, { force: true });
    }
  }

  /** Makes HAProxy's memory match `plan` through the runtime API (reload only as a last resort). */
  async syncRuntime(plan: CertificatePlan): Promise<RuntimeCertReport> {
    const ops: string[] = [];
    const socket = this.opts.runtimeSocket;
    let lists: string;
    try {
      lists = await sendSocketCommand(socket, 'show ssl crt-list');
    } catch (err) {
      return { status: 'unreachable', ops, error: `runtime API ${socket}: ${errorMessage(err)}` };
    }
    if (!lists.split('\n').some((l) => l.trim() === this.crtListPath)) return { status: 'not-loaded', ops };

    let reloadReason: string | undefined;
    try {
      const loaded = parseCrtList(await sendSocketCommand(socket, `show ssl crt-list -n ${this.crtListPath}`));
      const wanted = new Map(plan.entries.map((e) => [e.file, e]));
      const first = plan.entries[0];
      if (first && loaded[0]?.file !== first.file) reloadReason = `${first.name} must be the first (default) certificate`;
      for (const entry of plan.entries) {
        const current = loaded.find((l) => l.file === entry.file);
        if (!current) {
          if (reloadReason) break;
          await this.addCertificate(entry);
          ops.push(`add ${entry.name}`);
          continue;
        }
        if ((current.sni[0] ?? null) !== entry.sni || current.sni.length > 1) {
          reloadReason = `the SNI filter of ${entry.name} changed`;
          break;
        }
        if ((await this.loadedFingerprint(entry.file)) !== entry.sha1) {
          await this.replaceCertificate(entry);
          ops.push(`rotate ${entry.name}`);
        }
      }
      if (!reloadReason) {
        for (const stale of loaded.filter((l) => !wanted.has(l.file))) {
          const deleted = await sendSocketCommand(socket, `del ssl crt-list ${this.crtListPath} ${stale.file}`);
          if (!/deleted/i.test(deleted)) {
            reloadReason = `HAProxy would not remove ${stale.file} at runtime (${firstLine(deleted)})`;
            break;
          }
          const freed = await sendSocketCommand(socket, `del ssl cert ${stale.file}`);
          if (!/deleted/i.test(freed)) this.opts.log.warn({ file: stale.file, answer: firstLine(freed) }, 'HAProxy kept a removed certificate in memory');
          ops.push(`remove ${stale.file}`);
        }
      }
    } catch (err) {
      reloadReason = errorMessage(err);
    }
    if (!reloadReason) return { status: ops.length > 0 ? 'updated' : 'in-step', ops };

    this.opts.log.info({ reason: reloadReason, done: ops }, 'certificates: the runtime API cannot apply this change; reloading HAProxy');
    try {
      await reloadThroughMaster(this.opts.masterSocket, this.opts.reloadTimeoutMs);
      return { status: 'reloaded', ops: [...ops, 'reload'] };
    } catch (err) {
      return { status: 'failed', ops, error: `${reloadReason}; reload failed: ${errorMessage(err)}` };
    }
  }

  private async loadedFingerprint(file: string): Promise<string | undefined> {
    const answer = await sendSocketCommand(this.opts.runtimeSocket, `show ssl cert ${file}`);
    return /SHA1 FingerPrint:\s*([0-9A-F]+)/i.exec(answer)?.[1]?.toUpperCase();
  }

  private async addCertificate(entry: PreparedCertificate): Promise<void> {
    const socket = this.opts.runtimeSocket;
    const stores = await sendSocketCommand(socket, 'show ssl cert');
    if (!stores.split('\n').some((l) => l.trim() === entry.file)) {
      const created = await sendSocketCommand(socket, `new ssl cert ${entry.file}`);
      if (!/New empty certificate store/i.test(created)) throw new Error(`new ssl cert ${entry.file}: ${firstLine(created)}`);
    }
    await this.replaceCertificate(entry);
    const added = await sendSocketPayload(socket, `add ssl crt-list ${this.crtListPath}`, `${entry.file} ${entry.sni ?? ''}`.trim());
    if (!/Success!/.test(added)) throw new Error(`add ssl crt-list ${entry.file}: ${firstLine(added)}`);
  }

  private async replaceCertificate(entry: PreparedCertificate): Promise<void> {
    const socket = this.opts.runtimeSocket;
    const set = await sendSocketPayload(socket, `set ssl cert ${entry.file}`, entry.pem);
    if (!/Transaction (created|updated)/i.test(set)) {
      await sendSocketCommand(socket, `abort ssl cert ${entry.file}`).catch(() => undefined);
      throw new Error(`set ssl cert ${entry.file}: ${firstLine(set)}`);
    }
    const commit = await sendSocketCommand(socket, `commit ssl cert ${entry.file}`);
    if (!/Success!/.test(commit)) {
      await sendSocketCommand(socket, `abort ssl cert ${entry.file}`).catch(() => undefined);
      throw new Error(`commit ssl cert ${entry.file}: ${firstLine(commit)}`);
    }
  }
}

/** `show ssl crt-list -n <file>`: `# <file>` then `<cert>:<line> [options] [sni...]` per entry. */
export function parseCrtList(answer: string): LoadedEntry[] {
  const entries: LoadedEntry[] = [];
  for (const raw of answer.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const withoutOptions = line.replace(/\[[^\]]*\]/g, ' ');
    const [first, ...rest] = withoutOptions.split(/\s+/).filter(Boolean);
    if (!first) continue;
    entries.push({ file: first.replace(/:\d+$/, ''), sni: rest });
  }
  return entries;
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 200) ?? 'no answer';
}

async function writeIfChanged(path: string, content: string): Promise<void> {
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing === content) {
    await chmod(path, 0o600);
    return;
  }
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** A short, stable id of a plan's certificates (for logs and change detection). */
export function planDigest(plan: CertificatePlan): string {
  return createHash('sha256').update(plan.entries.map((e) => `${e.name}:${e.sha256}`).join('\n')).digest('hex').slice(0, 16);
}
