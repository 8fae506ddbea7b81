// Pure: which names the ACME issuer orders or renews, from the routing model and the
// certificates in Vault. Every valid custom domain of a routed http app (the model already
// applied its validation and conflict rules), never a name of the cluster zone (the operator's
// `tls/default` wildcard covers those), and never a name a hand-placed certificate covers.
import { X509Certificate } from 'node:crypto';
import { isUnderDomain } from '../model/fqdn.js';
import type { RoutingModel } from '../model/types.js';
import type { CertificateSecret } from '../sources/vault/types.js';

export const ACME_SOURCE = 'acme';

export type NameAction = 'order' | 'renew' | 'none';

export interface NamePlan {
  host: string;
  app: string;
  /** The certificate that serves the host now, and where it came from. */
  certificate: { source: 'vault' | 'acme'; name: string; notAfter: string } | null;
  action: NameAction;
  /** Why: `no certificate`, `expires within renew_before`, `hand-placed certificate tls/x wins`... */
  reason: string;
}

interface Parsed {
  leaf: X509Certificate;
  notAfterMs: number;
}

function parse(secret: CertificateSecret): Parsed | undefined {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(secret.certificate)?.[0];
  if (!block) return undefined;
  try {
    const leaf = new X509Certificate(block);
    return { leaf, notAfterMs: new Date(leaf.validTo).getTime() };
  } catch {
    return undefined;
  }
}

const isAcme = (secret: CertificateSecret): boolean => secret.source === ACME_SOURCE;

export interface NamesInput {
  model: RoutingModel;
  /** The secrets snapshot's certificates (`tls/<name>` → certificate, key, source). */
  certificates: Record<string, CertificateSecret>;
  /** `<cluster>.<base_domain>`. */
  clusterDomain: string;
  renewBeforeMs: number;
  now: number;
}

/** One plan per custom domain of a routed http app, sorted by host. */
export function planNames(input: NamesInput): NamePlan[] {
  const { model, certificates, clusterDomain, renewBeforeMs, now } = input;
  const parsed = new Map<string, Parsed | undefined>();
  const parsedOf = (name: string) => {
    if (!parsed.has(name)) parsed.set(name, parse(certificates[name]!));
    return parsed.get(name);
  };
  // Hand-placed certificates that may cover other names: wildcards and the default.
  const handCovering = Object.keys(certificates)
    .filter((name) => !isAcme(certificates[name]!) && (name === 'default' || name.startsWith('*.')))
    .sort();
  const httpApps = new Set(model.apps.filter((a) => a.mode === 'http').map((a) => a.name));
  const plans: NamePlan[] = [];
  const seen = new Set<string>();
  for (const route of model.hosts) {
    if (route.source !== 'kv' || !httpApps.has(route.app) || isUnderDomain(route.host, clusterDomain) || seen.has(route.host)) continue;
    seen.add(route.host);
    plans.push(planOne(route.host, route.app, certificates, parsedOf, handCovering, renewBeforeMs, now));
  }
  return plans.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

function planOne(
  host: string,
  app: string,
  certificates: Record<string, CertificateSecret>,
  parsedOf: (name: string) => Parsed | undefined,
  handCovering: string[],
  renewBeforeMs: number,
  now: number,
): NamePlan {
  const own = certificates[host];
  if (own && !isAcme(own)) {
    const p = parsedOf(host);
    return {
      host,
      app,
      certificate: p ? { source: 'vault', name: host, notAfter: iso(p.notAfterMs) } : null,
      action: 'none',
      reason: `hand-placed certificate tls/${host} wins over ACME`,
    };
  }
  for (const name of handCovering) {
    const p = parsedOf(name);
    if (p && p.notAfterMs > now && p.leaf.checkHost(host) !== undefined) {
      return {
        host,
        app,
        certificate: { source: 'vault', name, notAfter: iso(p.notAfterMs) },
        action: 'none',
        reason: `hand-placed certificate tls/${name} covers it`,
      };
    }
  }
  if (!own) return { host, app, certificate: null, action: 'order', reason: 'no certificate in Vault' };
  const p = parsedOf(host);
  if (!p || p.leaf.checkHost(host) === undefined)
    return { host, app, certificate: null, action: 'order', reason: `the ACME certificate tls/${host} in Vault is unusable` };
  const certificate = { source: 'acme' as const, name: host, notAfter: iso(p.notAfterMs) };
  if (p.notAfterMs - now <= renewBeforeMs)
    return { host, app, certificate, action: 'renew', reason: p.notAfterMs <= now ? 'expired' : 'expires within renew_before' };
  return { host, app, certificate, action: 'none', reason: 'valid' };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** When the ACME certificate of `plan` should be renewed (undefined: nothing to renew later). */
export function renewAt(plan: NamePlan, renewBeforeMs: number): number | undefined {
  if (plan.certificate?.source !== 'acme') return undefined;
  return new Date(plan.certificate.notAfter).getTime() - renewBeforeMs;
}
