// Custom domains from Consul K/V: key → app, value → FQDNs, then first-claim-wins per host.
import type { DomainClaim } from '../sources/types.js';
import type { AppMode, ModelSettings, OwnedName, Rejection } from './types.js';
import { claimKey, decideOwner, heldBy, type ClaimRecord } from './claims.js';
import { pairKey, type Delegations } from './delegations.js';
import { isUnderDomain, parseDomainValue } from './fqdn.js';
import { nameOfKey } from './kv-keys.js';
import { reject } from './rejections.js';
import { cmp, numCmp, safeText } from './text.js';

export interface CustomHost {
  host: string;
  key: string;
}

type KeyCheck = { ok: true; service: string } | { ok: false; service: string; reason: string } | { folder: true };

/** `<prefix><service>` with a non-empty, exact (lowercase) service and no further `/`. */
export function serviceOfKey(key: string, prefix: string, value: string): KeyCheck {
  const k = nameOfKey(key, prefix, value, 'service');
  if ('folder' in k) return k;
  return k.ok ? { ok: true, service: k.name } : { ok: false, service: k.name, reason: k.reason };
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

/** An app's setting by app name (undefined: no such app, or no such setting). */
export interface Lookup<T> {
  get(app: string): T | undefined;
}

/** What decides who holds a host: the records, and the paths each owner gives away. */
export interface HostOwnership {
  records: Map<string, ClaimRecord>;
  delegations: Delegations;
  claimsPrefix: string;
  pathsPrefix: string;
}

/**
 * The global part: `parsed` in compareClaims order. A host belongs to its recorded owner (while
 * nothing is recorded, to the app whose key was created first); another app serves a path on it
 * only when the owner delegates that (host, path) pair to it.
 */
export function resolveParsedClaims(
  parsed: ParsedClaim[],
  apps: Lookup<AppMode>,
  reservedDomain: string,
  /** Apps served as part of a `router.group` (their claims belong under the group's key). */
  memberOf: Map<string, string>,
  /** `router.path` of the apps that have one: their claim is a (host, prefix) pair. */
  paths: Lookup<string>,
  domainsPrefix: string,
  own: HostOwnership,
): { hosts: Map<string, CustomHost[]>; rejections: Rejection[]; owners: OwnedName[] } {
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
      byHost.set(host, [...(byHost.get(host) ?? []), { app: service, key: claim.key, createIndex: claim.createIndex }]);
    }
  }

  const hosts = new Map<string, CustomHost[]>();
  const owners: OwnedName[] = [];
  for (const [host, list] of [...byHost].sort((a, b) => cmp(a[0], b[0]))) {
    // Nothing recorded yet: the key created first (a cluster's winners of today, recorded as they are).
    list.sort((a, b) => numCmp(a.createIndex, b.createIndex) || cmp(a.key, b.key));
    const held = decideOwner(
      'host',
      host,
      own.claimsPrefix,
      list.map((c) => ({ claimant: c.app })),
      own.records.get(claimKey(own.claimsPrefix, 'host', host)),
    )!;
    owners.push(held);
    const given = own.delegations.get(held.owner);
    const served = new Map<string, string>();
    // The owner's own pairs first: a delegation never takes them.
    for (const c of [...list].sort((a, b) => Number(b.app === held.owner) - Number(a.app === held.owner))) {
      const path = paths.get(c.app);
      const pair = pairKey(host, path);
      const where = `host ${host}${path ? ` path ${path}` : ''}`;
      if (served.get(pair) === c.app) continue; // two keys of one app naming one host
      let why: string | undefined;
      if (!held.ownerAsks) why = heldBy(held, `host ${host}`);
      else if (c.app !== held.owner && given?.get(pair) !== c.app) {
        const first = list.find((o) => o.app === held.owner);
        const index = first && Number.isFinite(first.createIndex) ? `CreateIndex ${first.createIndex}` : 'first claim';
        why = held.record?.valid
          ? heldBy(held, `host ${host}`)
          : `host${path ? ` and path ${path}` : ''} already claimed by service ${held.owner} (key ${safeText(first?.key ?? '')}, ${index})`;
        // A path app may be given its prefix by the owner: say how.
        if (path !== undefined) why += `; only the host's owner gives a path on it to another app: ${own.pathsPrefix}${held.owner} = "${host}${path}=${c.app}"`;
      } else if (served.has(pair)) why = `${where} is already served by app ${served.get(pair)}`;
      if (why) {
        rejections.push(reject('conflict', c.app, host, why, c.key));
        continue;
      }
      served.set(pair, c.app);
      hosts.set(c.app, [...(hosts.get(c.app) ?? []), { host, key: c.key }]);
    }
  }
  for (const list of hosts.values()) list.sort((a, b) => cmp(a.host, b.host));
  return { hosts, rejections, owners };
}
