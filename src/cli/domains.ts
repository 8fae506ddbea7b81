// `paas-router domains list|add|remove`: custom FQDNs in Consul K/V (`<domains_prefix><app>`),
// validated with the daemon's own rules (validateFqdn, the reserved `<cluster>.<base_domain>` zone,
// one app per host) and written with check-and-set so a concurrent edit is never lost: on a CAS
// miss the key is read again and the whole check is redone, a few times, then exit 1.
import type { Config } from '../config/config.js';
import { consulClientFrom } from '../daemon.js';
import { clusterDomain, isUnderDomain, parseDomainValue, validateFqdn } from '../model/index.js';
import { serviceOfKey } from '../model/domains.js';
import { labelsProblem } from '../model/fqdn.js';
import type { ConsulClient } from '../sources/consul/client.js';
import { parseCatalogServices } from '../sources/consul/parse.js';
import { readDomainsOnce } from '../sources/consul/read-once.js';
import type { DomainClaim } from '../sources/types.js';
import { casLoop, readEntry, usage, type KvIo } from './cas.js';
import { claimKey, parseRecordValue } from '../model/claims.js';
import { EXIT_OK } from './common.js';
import { readLiveView } from './explain.js';

export { CasConflictError } from './cas.js';
/** The streams and CAS attempts of the K/V commands (domains, weights, maintenance). */
export type DomainsIo = KvIo;

type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** The app part of the key: a lowercase service name usable in a host name, no `/`. */
export function checkApp(app: string): Checked<string> {
  const name = app.trim().toLowerCase();
  if (name === '') return { ok: false, message: 'the app (Consul service name) is empty' };
  if (name.includes('/'))
    return { ok: false, message: `app ${JSON.stringify(app)}: a Consul service name has no "/" (mesos-consul turns /group/app into app-group)` };
  const problem = labelsProblem(name);
  if (problem) return { ok: false, message: `app ${JSON.stringify(app)} is not a valid service name: ${problem}` };
  return { ok: true, value: name };
}

/** validateFqdn plus the reserved zone of default hosts: the daemon would refuse either. */
export function checkFqdn(fqdn: string, config: Config): Checked<string> {
  const result = validateFqdn(fqdn);
  if (!result.ok) return { ok: false, message: `${JSON.stringify(fqdn)} is not a valid host name: ${result.reason}` };
  const zone = clusterDomain(config);
  if (isUnderDomain(result.fqdn, zone)) {
    return {
      ok: false,
      message: `${result.fqdn} is reserved for default host names (${zone} and *.${zone}): it could take an app's default host`,
    };
  }
  return { ok: true, value: result.fqdn };
}

function tokens(value: string): string[] {
  return value.split(/[,\s]+/).filter((t) => t !== '');
}

/** Joins tokens the way the value already separates them (commas or newlines). */
function joinLike(original: string, list: string[]): string {
  return list.join(/,/.test(original) && !/\n/.test(original) ? ', ' : '\n');
}

function sameHost(token: string, host: string): boolean {
  const v = validateFqdn(token);
  return v.ok ? v.fqdn === host : token.toLowerCase() === host.toLowerCase();
}

/** Other apps' keys whose value names `host` (valid tokens only, as the daemon reads them). */
function otherClaims(claims: DomainClaim[], prefix: string, app: string, host: string): DomainClaim[] {
  return claims.filter((c) => {
    const check = serviceOfKey(c.key, prefix, c.value);
    if ('folder' in check || !check.ok || check.service === app) return false;
    return parseDomainValue(c.value).fqdns.includes(host);
  });
}

async function warnIfUnregistered(client: ConsulClient, app: string, io: DomainsIo): Promise<void> {
  try {
    const services = parseCatalogServices((await client.catalogServices(0, 0)).data);
    if (!Object.keys(services).some((n) => n.toLowerCase() === app)) {
      io.err.write(`note: no Consul service named ${app} is registered yet; the domain is served once the app is deployed\n`);
    }
  } catch {
    // Only a hint: the write itself succeeded.
  }
}

export async function domainsAdd(config: Config, appArg: string, fqdnArg: string, io: DomainsIo): Promise<number> {
  const app = checkApp(appArg);
  if (!app.ok) return usage(io, app.message);
  const fqdn = checkFqdn(fqdnArg, config);
  if (!fqdn.ok) return usage(io, fqdn.message);
  const prefix = config.consul.domainsPrefix;
  const key = `${prefix}${app.value}`;
  const host = fqdn.value;
  const client = consulClientFrom(config);
  try {
    const code = await casLoop(io, `adding ${host} to ${key}`, async () => {
      const { claims } = await readDomainsOnce(client, prefix);
      const taken = otherClaims(claims, prefix, app.value, host);
      if (taken.length > 0) {
        const names = taken.map((c) => `${c.key} (CreateIndex ${c.createIndex})`).join(', ');
        return usage(io, `${host} is already claimed by ${names}: a host belongs to one app; remove it there first`);
      }
      const record = await readEntry(client, config.consul.claimsPrefix, claimKey(config.consul.claimsPrefix, 'host', host));
      const holder = record ? parseRecordValue(record.value) : undefined;
      if (holder?.ok && holder.value.owner !== app.value) {
        return usage(
          io,
          `${host} belongs to app ${holder.value.owner} (recorded in ${record!.key}); an operator can give it away: paas-router domains transfer host ${host} ${app.value}`,
        );
      }
      const own = claims.find((c) => c.key === key);
      if (own && parseDomainValue(own.value).fqdns.includes(host)) {
        io.out.write(`${host} is already a custom domain of ${app.value} (${key}); nothing to do\n`);
        return EXIT_OK;
      }
      const value = own && tokens(own.value).length > 0 ? joinLike(own.value, [...tokens(own.value), host]) : host;
      const written = await client.kvSetCas(key, value, own ? own.modifyIndex : 0);
      if (!written) return 'retry';
      io.out.write(`added ${host} to ${app.value} (${key})\n`);
      return EXIT_OK;
    });
    if (code === EXIT_OK) await warnIfUnregistered(client, app.value, io);
    return code;
  } finally {
    client.close();
  }
}

export async function domainsRemove(config: Config, appArg: string, fqdnArg: string, io: DomainsIo): Promise<number> {
  const app = checkApp(appArg);
  if (!app.ok) return usage(io, app.message);
  // A token that is not a valid name can be removed too (that is how a bad value gets cleaned up).
  const valid = validateFqdn(fqdnArg.trim());
  const host = valid.ok ? valid.fqdn : fqdnArg.trim();
  if (host === '' || /[,\s]/.test(host)) return usage(io, `${JSON.stringify(fqdnArg)}: give one host name`);
  const prefix = config.consul.domainsPrefix;
  const key = `${prefix}${app.value}`;
  const client = consulClientFrom(config);
  try {
    return await casLoop(io, `removing ${host} from ${key}`, async () => {
      const { claims } = await readDomainsOnce(client, prefix);
      const own = claims.find((c) => c.key === key);
      const current = own ? tokens(own.value) : [];
      const remaining = current.filter((t) => !sameHost(t, host));
      if (!own || remaining.length === current.length) {
        io.err.write(`${host} is not a custom domain of ${app.value} (${key}); nothing to do\n`);
        return EXIT_OK;
      }
      const done =
        remaining.length === 0 ? await client.kvDeleteCas(key, own.modifyIndex) : await client.kvSetCas(key, joinLike(own.value, remaining), own.modifyIndex);
      if (!done) return 'retry';
      io.out.write(remaining.length === 0 ? `removed ${host}; ${key} had no other domain and was deleted\n` : `removed ${host} from ${app.value} (${key})\n`);
      return EXIT_OK;
    });
  } finally {
    client.close();
  }
}

export interface DomainListEntry {
  app: string;
  host: string;
  key: string;
  /** active: served; rejected: invalid name, reserved, lost a conflict, app not routed. */
  status: 'active' | 'rejected';
  reason?: string;
  createIndex: number;
  modifyIndex: number;
}

/** Every claim under the prefix, judged exactly as the daemon judges it (catalog included). */
export async function listDomains(config: Config, appArg?: string): Promise<DomainListEntry[]> {
  const prefix = config.consul.domainsPrefix;
  const filter = appArg === undefined ? undefined : appArg.trim().toLowerCase();
  const { claims, model } = await readLiveView(config);
  const entries: DomainListEntry[] = [];
  for (const claim of claims) {
    const check = serviceOfKey(claim.key, prefix, claim.value);
    if ('folder' in check) continue;
    if (filter !== undefined && check.service !== filter) continue;
    const base = { app: check.service, key: claim.key, createIndex: claim.createIndex, modifyIndex: claim.modifyIndex };
    const keyProblem = model.rejections.find((r) => r.subject === claim.key && r.key === claim.key);
    const { fqdns, rejected } = parseDomainValue(claim.value);
    for (const host of fqdns) {
      const active = model.hosts.some((h) => h.host === host && h.source === 'kv' && h.key === claim.key);
      const problem = model.rejections.find((r) => r.subject === host && r.key === claim.key) ?? keyProblem;
      entries.push({ ...base, host, status: active ? 'active' : 'rejected', ...(active ? {} : { reason: problem?.reason ?? 'not served' }) });
    }
    for (const bad of rejected) entries.push({ ...base, host: bad.fqdn, status: 'rejected', reason: bad.reason });
  }
  return entries;
}

export async function domainsList(config: Config, appArg: string | undefined, opts: { json?: boolean }, io: DomainsIo): Promise<number> {
  if (appArg !== undefined) {
    const app = checkApp(appArg);
    if (!app.ok) return usage(io, app.message);
  }
  const entries = await listDomains(config, appArg);
  if (opts.json) {
    io.out.write(`${JSON.stringify(entries, null, 2)}\n`);
    return EXIT_OK;
  }
  if (entries.length === 0) {
    io.err.write(appArg === undefined ? `no custom domain under ${config.consul.domainsPrefix}\n` : `no custom domain for ${appArg.trim().toLowerCase()}\n`);
    return EXIT_OK;
  }
  const w = (list: string[]) => Math.max(...list.map((s) => s.length));
  const appW = Math.max(3, w(entries.map((e) => e.app)));
  const hostW = Math.max(4, w(entries.map((e) => e.host)));
  io.out.write(`${'APP'.padEnd(appW)}  ${'HOST'.padEnd(hostW)}  STATUS\n`);
  for (const e of entries) {
    io.out.write(`${e.app.padEnd(appW)}  ${e.host.padEnd(hostW)}  ${e.status}${e.reason ? `: ${e.reason}` : ''}\n`);
  }
  return EXIT_OK;
}
