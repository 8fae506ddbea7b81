// `paas-router explain <host>`: which app serves a host, why, and through which servers, or why
// no app does. Reads Consul once and builds the model with the daemon's own code (no templates).
import { acmeEnabled } from '../acme/config.js';
import type { Config } from '../config/config.js';
import { consulClientFrom, modelSettingsFrom, vaultSourceFrom } from '../daemon.js';
import { createLogger } from '../log.js';
import { readSecrets } from '../sources/vault/secrets-source.js';
import type { SecretsSnapshot } from '../sources/vault/types.js';
import { buildModel, clusterDomain, isUnderDomain, parseDomainValue, validateFqdn } from '../model/index.js';
import { serviceOfKey } from '../model/domains.js';
import { describeFeatures } from '../model/describe.js';
import { routingOf } from '../model/services.js';
import type { Rejection, RoutingModel } from '../model/types.js';
import { modelInputOf, type CandidateInputs } from '../runner/candidate.js';
import { readCatalogOnce, readDomainsOnce } from '../sources/consul/read-once.js';
import type { CatalogSnapshot, DomainClaim } from '../sources/types.js';
import { EXIT_OK, EXIT_USAGE } from './common.js';

export interface LiveView {
  catalog: CatalogSnapshot;
  claims: DomainClaim[];
  /** K/V entries under the weights and maintenance prefixes. */
  weights: DomainClaim[];
  maintenance: DomainClaim[];
  /** Ownership records and path delegations (who holds each shared name). */
  records: DomainClaim[];
  delegations: DomainClaim[];
  /** Vault's secrets, when read (`vault`). */
  secrets?: SecretsSnapshot;
  model: RoutingModel;
}

/**
 * The secrets in Vault, read once like the daemon does (router.auth entries, the Consul token);
 * undefined without Vault. Hashes stay in memory: only names, counts and reasons are ever printed.
 */
export async function readSecretsOnce(config: Config): Promise<SecretsSnapshot | undefined> {
  const source = vaultSourceFrom(config, createLogger('silent'));
  if (!source) return undefined;
  try {
    return await readSecrets(await source.authorizedClient(), config.vault.kvPrefix, { acme: acmeEnabled(config) });
  } finally {
    await source.stop();
  }
}

/**
 * One consistent read of Consul (catalog, health, domains, weights, maintenance) and the model the
 * daemon would build. With `vault`, also the router.auth users from Vault (explain, render):
 * without them every router.auth app would look like it answers 503.
 */
export async function readLiveView(config: Config, opts: { vault?: boolean } = {}): Promise<LiveView> {
  const secrets = opts.vault ? await readSecretsOnce(config) : undefined;
  // With Vault, the Consul token is the one in Vault, as for the daemon.
  const client = consulClientFrom(config, secrets?.consulToken !== undefined ? () => secrets.consulToken! : undefined);
  try {
    const [catalog, domains, weights, maintenance, records, delegations] = await Promise.all([
      readCatalogOnce(client),
      readDomainsOnce(client, config.consul.domainsPrefix),
      readDomainsOnce(client, config.consul.weightsPrefix),
      readDomainsOnce(client, config.consul.maintenancePrefix),
      readDomainsOnce(client, config.consul.claimsPrefix),
      readDomainsOnce(client, config.consul.pathsPrefix),
    ]);
    // The daemon's model input (runner/candidate.ts), from this one read.
    const inputs: CandidateInputs = {
      services: catalog.services,
      claims: domains.claims,
      weights: weights.claims,
      maintenance: maintenance.claims,
      claimRecords: records.claims,
      delegations: delegations.claims,
      secrets,
    };
    const model = buildModel(modelInputOf(inputs, modelSettingsFrom(config)));
    return {
      secrets,
      catalog,
      claims: domains.claims,
      weights: weights.claims,
      maintenance: maintenance.claims,
      records: records.claims,
      delegations: delegations.claims,
      model,
    };
  } finally {
    client.close();
  }
}

/** Accepts `host`, `host:port` or a URL; returns the normal host name or why it is not one. */
export function hostFromArgument(arg: string): { ok: true; host: string } | { ok: false; reason: string } {
  let candidate = arg.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(candidate)) {
    try {
      candidate = new URL(candidate).hostname;
    } catch {
      return { ok: false, reason: 'not a valid URL' };
    }
  } else {
    candidate = candidate.replace(/:\d{1,5}$/, '');
  }
  const result = validateFqdn(candidate);
  return result.ok ? { ok: true, host: result.fqdn } : { ok: false, reason: result.reason };
}

export interface Explanation {
  host: string;
  served: boolean;
  app?: string;
  backend?: string;
  source?: 'default' | 'kv';
  key?: string;
  /** Why the host goes to this app, or why to none. */
  reasons: string[];
  servers: { address: string; port: number; id: string; state: 'up' | 'down'; checks: string }[];
  /** What HAProxy answers for the host. */
  answer: string;
  /** The app's features in words (redirect, allow-list, path, group weights, maintenance), and other path routes on the host. */
  features: string[];
  /** The spare backend the running daemon serves the app from until the next reload (its /status), if any. */
  spare?: string;
}

/** The local daemon's /status, from `listen` (a wildcard address is reached on loopback). */
export function statusUrlOf(config: Config): string {
  const { host, port } = config.listen;
  const address = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${address}:${port}`;
}

/**
 * The spare backend the running daemon serves `app` from (a brand-new app until the next reload),
 * read from its /status. Best effort: no daemon, credentials required, or a timeout give undefined.
 */
export async function spareOf(statusUrl: string, app: string): Promise<string | undefined> {
  try {
    // One app whole (`?app=`): the answer stays small however many apps the daemon routes.
    const res = await fetch(`${statusUrl}/status?app=${encodeURIComponent(app)}`, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) return undefined;
    const doc = (await res.json()) as { haproxy?: { spares?: { apps?: { app: string; spare: string }[] } } };
    return doc.haproxy?.spares?.apps?.find((a) => a.app === app)?.spare;
  } catch {
    return undefined;
  }
}

function rejectionText(r: Rejection): string {
  return `${r.kind} ${JSON.stringify(r.subject)} of ${r.service}${r.key ? ` (key ${r.key})` : ''}: ${r.reason}`;
}

export function explainHost(view: LiveView, config: Config, host: string): Explanation {
  const { model, claims, catalog } = view;
  const zone = clusterDomain(config);
  const prefix = config.consul.domainsPrefix;
  // The app at the root of the host first; apps under a router.path prefix are listed as features.
  const route = model.hosts.find((h) => h.host === host && h.path === undefined) ?? model.hosts.find((h) => h.host === host);
  const claimsOfHost = claims.filter((c) => parseDomainValue(typeof c.value === 'string' ? c.value : '').fqdns.includes(host));
  const others = model.rejections.filter((r) => r.subject === host);

  if (route) {
    const app = model.apps.find((a) => a.name === route.app)!;
    const instances = catalog.services[Object.keys(catalog.services).find((n) => n.toLowerCase() === app.name) ?? ''] ?? [];
    const reasons: string[] = [];
    if (route.source === 'default') {
      reasons.push(`${host} is the default host of service ${app.name}: <service>.${zone}`);
    } else {
      const claim = claims.find((c) => c.key === route.key);
      reasons.push(`custom domain from Consul K/V key ${route.key}${claim ? ` (CreateIndex ${claim.createIndex})` : ''}`);
      const owned = model.owners?.find((o) => o.kind === 'host' && o.name === host);
      if (owned)
        reasons.push(`the host belongs to app ${owned.owner}: ${owned.record?.valid ? `recorded in ${owned.key}` : 'its first claimant (not recorded yet)'}`);
      if (others.length > 0) reasons.push('later claims are refused:');
    }
    for (const r of others) reasons.push(`  ${rejectionText(r)}`);
    for (const claim of claimsOfHost.filter((c) => c.key !== route.key && !others.some((r) => r.key === c.key))) {
      const why = model.rejections.find((r) => r.subject === claim.key);
      reasons.push(`also named by key ${claim.key}, which does not count${why ? `: ${why.reason}` : ''}`);
    }
    const ignored = model.rejections.filter(
      (r) => r.service === app.name && r.subject !== host && (r.kind === 'tag' || r.kind === 'service' || r.kind === 'auth'),
    );
    if (ignored.length > 0) reasons.push('inputs of this app that were ignored:');
    for (const r of ignored) reasons.push(`  ${rejectionText(r)}`);
    const servers = app.servers.map((s) => {
      const inst = instances.find((i) => i.id === s.id);
      const failing = (inst?.checks ?? []).filter((c) => c.status !== 'passing').map((c) => `${c.id} ${c.status}`);
      return {
        address: s.address,
        port: s.port,
        id: s.id,
        state: s.passing ? ('up' as const) : ('down' as const),
        checks: failing.length ? failing.join(', ') : 'all checks passing',
      };
    });
    const up = servers.filter((s) => s.state === 'up').length;
    const balanced =
      servers.length === 0
        ? 'no instance is registered: HAProxy answers 503'
        : up === 0
          ? 'no instance passes its checks: HAProxy answers 503'
          : `HAProxy balances ${app.balance} over ${up} of ${servers.length} servers`;
    const authFailed = app.auth !== undefined && (app.auth.failure !== undefined || app.auth.users.length === 0);
    const answer = app.maintenance
      ? `in maintenance: HAProxy answers 503 "${app.maintenance.message}" with Retry-After: 120`
      : app.redirect && app.redirect !== host
        ? `HAProxy answers 308 to ${app.redirect} (same scheme, path and query)`
        : authFailed
          ? 'HAProxy answers 503: authentication is not configured for this app (router.auth, see features)'
          : app.auth
            ? `HAProxy asks for basic auth (realm ${app.auth.realm}, 401 without valid credentials), then ${balanced.replace(/^HAProxy /, '')}`
            : balanced;
    const features = describeFeatures(app);
    if (route.path !== undefined) features.unshift(`${host}${route.path} is the route (router.path); outside the prefix this app does not answer`);
    for (const other of model.hosts.filter((h) => h.host === host && h !== route && h.path !== undefined))
      features.push(`also on this host: ${other.path} → app ${other.app}`);
    return {
      host,
      served: true,
      app: app.name,
      backend: app.backend,
      source: route.source,
      ...(route.key ? { key: route.key } : {}),
      reasons,
      servers,
      answer,
      features,
    };
  }

  const reasons: string[] = [];
  for (const r of others) reasons.push(rejectionText(r));
  for (const claim of claimsOfHost) {
    for (const r of model.rejections.filter((x) => x.subject === claim.key)) reasons.push(rejectionText(r));
  }
  if (isUnderDomain(host, zone)) {
    const name = host === zone ? '' : host.slice(0, -(zone.length + 1));
    const original = Object.keys(catalog.services).find((n) => n.toLowerCase() === name);
    const app = model.apps.find((a) => a.name === name);
    if (!name) reasons.push(`${zone} itself is no app's host: default hosts are <service>.${zone}`);
    else if (app && app.mode === 'tcp') reasons.push(`service ${name} is a tcp app (router.mode=tcp): it is reached on port ${app.port}, not by host name`);
    else if (!original) reasons.push(`no routed Consul service is named ${name} (not registered, or tagged router.skip)`);
    else {
      const own = model.rejections.filter((r) => (r.service === original || r.service === name) && (r.kind === 'service' || r.kind === 'tag'));
      if (own.length > 0) for (const r of own) reasons.push(rejectionText(r));
      else if (routingOf(original, catalog.services[original] ?? [], modelSettingsFrom(config)) !== 'routed') {
        reasons.push(
          `service ${original} is registered but not routed: no ServiceID starts with ${config.consul.serviceIdPrefixes.join(' or ')} and it has no router.expose tag`,
        );
      } else reasons.push(`service ${original} is not routed`);
    }
  } else if (claimsOfHost.length === 0) {
    reasons.push(`no key under ${prefix} claims it (add one with: paas-router domains add <app> ${host})`);
  }
  for (const claim of claimsOfHost) {
    const check = serviceOfKey(claim.key, prefix, claim.value);
    if ('folder' in check || !check.ok) continue;
    if (!model.apps.some((a) => a.name === check.service) && !reasons.some((r) => r.includes(claim.key))) {
      reasons.push(`claimed by key ${claim.key}, but service ${check.service} is not routed`);
    }
  }
  if (reasons.length === 0) reasons.push('no app claims it');
  return { host, served: false, reasons, servers: [], answer: 'HAProxy answers 404 from its default backend', features: [] };
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  if (e.served) {
    const where = e.spare ? `backend ${e.backend}; HAProxy serves it from spare backend ${e.spare} until the next reload` : `backend ${e.backend}`;
    lines.push(`${e.host} is served by app ${e.app} (${where})`);
    lines.push('why:');
    for (const r of e.reasons) lines.push(`  ${r}`);
    lines.push(`servers: ${e.answer}`);
    for (const s of e.servers) lines.push(`  ${s.state.padEnd(4)}  ${`${s.address}:${s.port}`.padEnd(21)}  ${s.id}  (${s.checks})`);
    if (e.features.length > 0) lines.push('features:');
    for (const f of e.features) lines.push(`  ${f}`);
  } else {
    lines.push(`${e.host} is not routed: ${e.answer}`);
    lines.push('why:');
    for (const r of e.reasons) lines.push(`  ${r}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Returns the exit code: 0 with an explanation (routed or not), 2 when the host is not a host name. */
export async function explainCommand(
  config: Config,
  arg: string,
  opts: { json?: boolean },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const parsed = hostFromArgument(arg);
  if (!parsed.ok) {
    err.write(`paas-router: ${JSON.stringify(arg)} is not a valid host name: ${parsed.reason}\n`);
    return EXIT_USAGE;
  }
  const view = await readLiveView(config, { vault: true });
  const e = explainHost(view, config, parsed.host);
  const spare = e.served && e.app ? await spareOf(statusUrlOf(config), e.app) : undefined;
  if (spare) e.spare = spare;
  out.write(opts.json ? `${JSON.stringify(e, null, 2)}\n` : formatExplanation(e));
  return EXIT_OK;
}
