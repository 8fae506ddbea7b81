// Custom domains from Consul K/V: key → app, value → FQDNs, then first-claim-wins per host.
import type { DomainClaim } from '../sources/types.js';
import type { AppMode, ModelSettings, Rejection } from './types.js';
import { isUnderDomain, parseDomainValue } from './fqdn.js';
import { reject } from './rejections.js';
import { cmp, numCmp, safeText } from './text.js';

export interface CustomHost {
  host: string;
  key: string;
}

type KeyCheck = { ok: true; service: string } | { ok: false; service: string; reason: string } | { folder: true };

/** `<prefix><service>` with a non-empty service and no further `/`; the service is lowercased. */
export function serviceOfKey(key: string, prefix: string, value: string): KeyCheck {
  // Consul UI "folders" are empty keys ending in '/': structure, not claims.
  if (key.endsWith('/') && value === '') return { folder: true };
  if (!key.startsWith(prefix)) {
    return { ok: false, service: '', reason: `key is not under the domains prefix ${prefix}` };
  }
  const rest = key.slice(prefix.length);
  if (rest === '') return { ok: false, service: '', reason: `key names no service: expected ${prefix}<service>` };
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    return {
      ok: false,
      service: rest.slice(0, slash).toLowerCase(),
      reason: `nested key: expected ${prefix}<service> with no further "/"; ignored`,
    };
  }
  // Checked before lowercasing: U+212A KELVIN SIGN lowercases to an ASCII "k" (another app's key).
  if (/[^\x00-\x7f]/.test(rest)) {
    return { ok: false, service: rest, reason: 'key names a service with non-ASCII characters; ignored' };
  }
  return { ok: true, service: rest.toLowerCase() };
}

interface Candidate {
  app: string;
  key: string;
  createIndex: number;
}

function orderIndex(n: number): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : Infinity;
}

/** One K/V claim on its own: the service its key names and the FQDNs of its value, or why not. */
export interface ParsedClaim {
  key: string;
  createIndex: number;
  /** Absent for folders and keys that name no usable service. */
  service?: string;
  fqdns: string[];
  rejections: Rejection[];
}

/** The per-key part of resolveDomains: depends on the claim and the settings only. */
export function parseClaim(claim: DomainClaim, settings: ModelSettings): ParsedClaim {
  const value = typeof claim.value === 'string' ? claim.value : '';
  const parsed: ParsedClaim = { key: claim.key, createIndex: orderIndex(claim.createIndex), fqdns: [], rejections: [] };
  const check = serviceOfKey(claim.key, settings.domainsPrefix, value);
  if ('folder' in check) return parsed;
  if (!check.ok) {
    parsed.rejections.push(reject('domain', check.service, claim.key, check.reason, claim.key));
    return parsed;
  }
  parsed.service = check.service;
  const { fqdns, rejected } = parseDomainValue(value);
  for (const bad of rejected) parsed.rejections.push(reject('domain', check.service, bad.fqdn, bad.reason, claim.key));
  parsed.fqdns = fqdns;
  return parsed;
}

export function compareClaims(a: DomainClaim, b: DomainClaim): number {
  return cmp(a.key, b.key) || numCmp(orderIndex(a.createIndex), orderIndex(b.createIndex)) || cmp(a.value, b.value);
}

/**
 * Turns K/V claims into custom hosts per app. `apps` maps every routed app to its mode.
 * `reservedDomain` is `<cluster>.<baseDomain>`: names there belong to default hosts, present
 * and future, so no claim may take one.
 */
export function resolveDomains(
  claims: DomainClaim[],
  apps: Map<string, AppMode>,
  settings: ModelSettings,
  reservedDomain: string,
): { hosts: Map<string, CustomHost[]>; rejections: Rejection[] } {
  return resolveParsedClaims(
    [...claims].sort(compareClaims).map((c) => parseClaim(c, settings)),
    apps,
    reservedDomain,
  );
}

/** The global part of resolveDomains: `parsed` in compareClaims order; first claim wins per host. */
export function resolveParsedClaims(
  parsed: ParsedClaim[],
  apps: Map<string, AppMode>,
  reservedDomain: string,
  /** Apps served as part of a `router.group` (their claims belong under the group's key). */
  memberOf: Map<string, string> = new Map(),
  /** `router.path` of the apps that have one: their claim is a (host, prefix) pair. */
  paths: Map<string, string> = new Map(),
  domainsPrefix = 'paas-router/domains/',
): { hosts: Map<string, CustomHost[]>; rejections: Rejection[] } {
  const rejections: Rejection[] = [];
  const byHost = new Map<string, Candidate[]>();
  for (const claim of parsed) {
    rejections.push(...claim.rejections);
    const service = claim.service;
    if (service === undefined || claim.fqdns.length === 0) continue;
    const mode = apps.get(service);
    const group = memberOf.get(service);
    if (mode === undefined && group !== undefined) {
      const why = `app ${safeText(service)} is served as part of group ${group}: claim its domains under ${domainsPrefix}${group}`;
      rejections.push(reject('domain', service, claim.key, `${why}; its domains are not claimed`, claim.key));
      continue;
    }
    if (mode !== 'http') {
      const why =
        mode === 'tcp'
          ? `service ${safeText(service)} is a tcp app (router.mode=tcp): custom domains apply to http apps only`
          : `service ${safeText(service)} is not routed (unknown, skipped, rejected or not registered by the bridge)`;
      rejections.push(reject('domain', service, claim.key, `${why}; its domains are not claimed`, claim.key));
      continue;
    }
    for (const host of claim.fqdns) {
      if (isUnderDomain(host, reservedDomain)) {
        rejections.push(
          reject(
            'conflict',
            service,
            host,
            `reserved for default host names (${reservedDomain} and *.${reservedDomain}): ` + "it could take an app's default host",
            claim.key,
          ),
        );
        continue;
      }
      const candidate = { app: service, key: claim.key, createIndex: claim.createIndex };
      // With router.path a claim is (host, prefix): apps under different prefixes share a host.
      const route = `${host}\0${paths.get(service) ?? ''}`;
      byHost.set(route, [...(byHost.get(route) ?? []), candidate]);
    }
  }

  const hosts = new Map<string, CustomHost[]>();
  for (const [route, list] of byHost) {
    const [host, path] = route.split('\0') as [string, string];
    // First claim (lowest CreateIndex) wins; a later `consul kv put` can never steal a live host.
    list.sort((a, b) => numCmp(a.createIndex, b.createIndex) || cmp(a.key, b.key));
    const winner = list[0]!;
    hosts.set(winner.app, [...(hosts.get(winner.app) ?? []), { host, key: winner.key }]);
    for (const loser of list.slice(1)) {
      // Two keys of the same app (e.g. `Foo` and `foo`) naming one host: nothing to arbitrate.
      if (loser.app === winner.app) continue;
      const index = Number.isFinite(winner.createIndex) ? `CreateIndex ${winner.createIndex}` : 'first claim';
      rejections.push(
        reject(
          'conflict',
          loser.app,
          host,
          `host${path ? ` and path ${path}` : ''} already claimed by service ${winner.app} (key ${safeText(winner.key)}, ${index})`,
          loser.key,
        ),
      );
    }
  }
  for (const list of hosts.values()) list.sort((a, b) => cmp(a.host, b.host));
  return { hosts, rejections };
}
