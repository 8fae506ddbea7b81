// What /status, the status page and /healthz show: a plain JSON document derived from the
// runner's state. Pure (state + clock in, document out) so every rule is table-testable.
import { edgeFields } from '../model/tags.js';
import type { AcmeView } from '../acme/view.js';
import type { TlsStatus } from '../render/certificates.js';
import type { ApplyReport } from '../apply/applier.js';
import { runningChecksumOf } from '../apply/deployment.js';
import { describeFeatures } from '../model/describe.js';
import type { AppRoute, GroupMember, Rejection, RoutingModel } from '../model/types.js';
import type { SourceStatus } from '../sources/source.js';
import type { RouterState } from '../state.js';
import { HOSTS_PER_APP, pageApps, pageRejections, type Rank, type RejectionPage } from './status-page.js';
import { DEFAULT_QUERY, type StatusQuery } from './status-query.js';
import type { AppTrafficView, ServerTrafficView, TimelineView, TrafficStatusView } from './traffic-view.js';

/** Tenant-made lists in the summary (failing reads, https-only hosts, ACME hosts) show this many, then a count. */
export const SUMMARY_LIST_MAX = 20;
/** Names quoted in one health warning. */
const WARNING_NAMES = 5;

/** `a, b, c and 12 more`: a warning stays one short line whatever the list's length. */
function names(list: readonly string[], max = WARNING_NAMES): string {
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

/** Sources that must have synced for the router to be healthy; others (e.g. Vault, whose
 *  secrets are cached) are shown and warned about but do not fail /healthz. */
export const REQUIRED_SOURCES = ['consul-catalog', 'consul-domains', 'templates'] as const;

export interface StatusInfo {
  version: string;
  pid: number;
  cluster: string;
  /** `<cluster>.<base_domain>`: the zone of default hosts. */
  clusterDomain: string;
  configDir: string;
  consulAddress: string;
  /** Where the status listener is bound, host:port. */
  listen: string;
  /** How the listener authenticates ('none' on loopback without credentials). */
  auth: string;
}

export interface Health {
  ok: boolean;
  /** Why the router is not healthy (503). */
  reasons: string[];
  /** Worth a look, but routing works with the latest good configuration. */
  warnings: string[];
}

/** Apply outcomes after which HAProxy does not run the latest valid candidate. */
const NOT_LOADED: Record<string, string> = {
  'haproxy-unreachable': 'the latest validated configuration is on disk but HAProxy has not loaded it (HAProxy not reachable)',
  'reload-failed': 'HAProxy failed to reload the latest validated configuration; it still runs the previous one',
  'write-failed': 'the latest configuration could not be written to disk',
};

/**
 * `decisive` is the last apply report that was not 'already-refused' (that report repeats the
 * refused checksum and says nothing new).
 */
export function evaluateHealth(state: RouterState, now: number, decisive?: ApplyReport): Health {
  const starting = startupLine(state);
  const reasons: string[] = starting ? [starting] : [];
  const warnings: string[] = [];
  const required = new Set<string>(REQUIRED_SOURCES);
  for (const name of REQUIRED_SOURCES) {
    const s = state.sources[name];
    if (!s || s.lastSyncAt === undefined) reasons.push(`source ${name} has not synced yet${s?.lastError ? `: ${s.lastError.message}` : ''}`);
    else if (s.state !== 'ok')
      reasons.push(`source ${name} is ${s.state}${s.lastError ? `: ${s.lastError.message}` : ''} (last sync ${ageText(now - s.lastSyncAt)} ago)`);
  }
  for (const s of Object.values(state.sources)) {
    if (required.has(s.name) || s.state === 'ok') continue;
    warnings.push(`source ${s.name} is ${s.state}${s.lastError ? `: ${s.lastError.message}` : ''}`);
  }
  for (const s of Object.values(state.sources)) {
    const failing = s.failing ?? [];
    if (failing.length === 0) continue;
    const shown = failing
      .slice(0, 5)
      .map((f) => `${f.subject} (${f.message})`)
      .join('; ');
    warnings.push(`source ${s.name}: ${failing.length} read(s) failing, their last known data stays in use: ${shown}${failing.length > 5 ? '; …' : ''}`);
  }

  const last = state.lastApply;
  const running = runningChecksumOf(state.deployment);
  if (!last) {
    if (reasons.length === 0) reasons.push(state.lastBuildError ? `no configuration built: ${state.lastBuildError.message}` : 'no configuration applied yet');
  } else if (running === undefined) {
    const why = NOT_LOADED[(decisive ?? last).status];
    reasons.push(why ? `${why}: ${(decisive ?? last).error?.message ?? ''}`.replace(/: $/, '') : 'HAProxy runs no configuration validated by paas-router yet');
  } else if (last.checksum !== running) {
    const d = decisive ?? last;
    if (d.status === 'refused') {
      warnings.push(`the latest candidate was refused by haproxy -c; the last good configuration keeps running: ${d.error?.message ?? ''}`);
    } else {
      const why = NOT_LOADED[d.status] ?? 'HAProxy does not run the latest configuration';
      reasons.push(d.error ? `${why}: ${d.error.message}` : why);
    }
  }
  if (state.held) {
    warnings.push(
      `a change is held by the never-shrink guard since ${ageText(now - state.held.since)} ago (${state.held.reason}); the current routes keep serving until a fresh read confirms it`,
    );
  }
  const httpOnly = (state.tls?.httpOnlyHosts ?? []).filter((h) => h.httpsOnly);
  if (httpOnly.length > 0) {
    warnings.push(`${httpOnly.length} host(s) of https-only apps have no certificate and are served on plain HTTP: ${names(httpOnly.map((h) => h.host))}`);
  }
  warnings.push(...acmeWarnings(state));
  warnings.push(...(state.hostWarnings ?? []));
  if (state.lastBuildError)
    warnings.push(`the latest build failed (${state.lastBuildError.code}); the last good configuration keeps running: ${state.lastBuildError.message}`);
  return { ok: reasons.length === 0, reasons, warnings };
}

/** ACME: no account key, or custom domains whose last order failed and that have no certificate. */
function acmeWarnings(state: RouterState): string[] {
  const acme = state.acme;
  if (!acme) return [];
  const out: string[] = [];
  if (acme.accountError) out.push(`ACME: no account key yet: ${acme.accountError}`);
  const failing = acme.hosts.filter((h) => h.certificateSource === null && h.lastResult !== null && h.lastResult !== 'issued');
  if (failing.length > 0)
    out.push(
      `ACME: ${failing.length} custom domain(s) without a certificate after a failed attempt (see acme.hosts): ${names(failing.map((h) => `${h.host} (${h.lastResult})`))}`,
    );
  return out;
}

export function ageText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
const seconds = (ms: number): number => Math.round(ms) / 1000;

export interface SourceView {
  name: string;
  state: SourceStatus['state'];
  required: boolean;
  lastSyncAt: string | null;
  syncAgeSeconds: number | null;
  lastError: { code: string; message: string; at: string | null } | null;
  /** Parts failing to read while the source works (Consul services whose health read fails). */
  failing: { subject: string; code: string; message: string; at: string | null }[];
  /** Failing reads beyond the SUMMARY_LIST_MAX shown. */
  failingMore: number;
}

export interface ServerView {
  name: string;
  id: string;
  address: string;
  port: number;
  state: 'up' | 'down';
  /** What HAProxy counts for this server (traffic sampling, docs/traffic.md); null before a sample. */
  traffic?: ServerTrafficView | null;
}

export interface AppView {
  name: string;
  backend: string;
  mode: AppRoute['mode'];
  port: number | null;
  balance: string;
  hosts: { host: string; source: 'default' | 'kv'; key: string | null }[];
  /** Hosts beyond the HOSTS_PER_APP shown in a page (`?app=<name>` shows them all). */
  hostsMore: number;
  servers: ServerView[];
  serversUp: number;
  serversDown: number;
  settings: Record<string, string | number | boolean>;
  /** Per-app features in words (redirects, allow-list, path, group weights, maintenance). */
  features: string[];
  /** Group routes: the member apps with their weights; `null` for a plain app. */
  members: readonly GroupMember[] | null;
  maintenance: { key: string; message: string; since: string | null } | null;
  /** router.auth: realm, where the users come from, their names (never a hash), why it answers 503; null without router.auth. */
  auth: { realm: string; path: string; users: string[]; failure: string | null } | null;
  /** router.cache: the size of the app's HAProxy cache (its hits and misses are in `traffic.cache`); null without one. */
  cache: { sizeMb: number } | null;
  /** Sampled from HAProxy's `show stat` (docs/traffic.md); null until the first sample has the app. */
  traffic?: AppTrafficView | null;
  /**
   * A brand-new app HAProxy serves from a spare backend until the next reload gives it `backend`
   * (docs/incremental.md): the spare's name, else `null`.
   */
  spare: string | null;
}

export interface RejectionView {
  kind: Rejection['kind'];
  service: string;
  subject: string;
  reason: string;
  key: string | null;
}

export interface StatusDocument {
  generatedAt: string;
  router: StatusInfo & { startedAt: string; uptimeSeconds: number };
  health: Health;
  sources: SourceView[];
  haproxy: {
    runningChecksum: string | null;
    lastApply: { status: string; at: string | null; checksum: string; error: { code: string; message: string } | null } | null;
    lastReloadAt: string | null;
    lastRuntimeChangeAt: string | null;
    lastBuildError: { code: string; message: string; at: string | null } | null;
    lastRenderMs: number | null;
    /** The latest build differs from what HAProxy serves (a change is pending or was refused). */
    pendingChanges: boolean;
    /** A change the never-shrink guard holds back until a fresh read confirms it. */
    held: { since: string | null; reason: string; routesBefore: number; routesAfter: number } | null;
    /** Spare backends (haproxy.spare_backends) of the running configuration, and the apps on them. */
    spares: { total: number; free: number; apps: { app: string; backend: string; spare: string; since: string | null }[] };
    counters: Record<string, number>;
  };
  /** `serving`: what HAProxy runs; `latest-build`: nothing applied yet, the last build shown. */
  routesFrom: 'serving' | 'latest-build' | 'none';
  /** The first read of the Consul catalog; null before the service list is read. */
  startup: { read: number; total: number; done: boolean; line: string | null } | null;
  /** Everything of the latest served (or built) model, whatever the page holds. */
  counts: { apps: number; hosts: number; customDomains: number; rejections: number; conflicts: number };
  /** The page asked for (DESIGN §5): `apps` holds `limit` apps after `after`, in `sort` order, matching `q`. */
  query: { limit: number; after: string | null; q: string | null; app: string | null; sort: string; rejectionsAfter: string | null };
  /** Apps matching the query (every app without `q`). */
  total: number;
  /** The app name to pass as `after` for the next page; null on the last page. */
  next: string | null;
  /** One page of apps. */
  apps: AppView[];
  /** The hosts of the apps of this page (as capped per app). */
  hosts: { host: string; app: string; backend: string; source: 'default' | 'kv'; key: string | null }[];
  customDomains: { host: string; app: string; key: string }[];
  /** One page of the inputs rejected by the latest build (bad tags, bad FQDNs, unroutable services...). */
  rejections: RejectionView[];
  /** Hosts or ports claimed twice, and claims of reserved names (paged with `rejections`). */
  conflicts: RejectionView[];
  /** Totals by kind, and how to get the next page of rejections and conflicts. */
  rejectionsPage: RejectionPage['summary'];
  /** TLS from Vault (null without Vault): certificates in use (no key material), rejected ones, HTTP-only hosts. */
  tls: (TlsStatus & { httpOnlyHostsMore?: number }) | null;
  /** The traffic sampler's state (docs/traffic.md). */
  traffic?: TrafficStatusView;
  /** Recent changes, newest first (docs/traffic.md). */
  timeline?: TimelineView[];
  /** ACME (null when off): lock holder, per custom domain certificate source, expiry, last order, next try. */
  acme: (AcmeView & { hostsMore?: number }) | null;
}

/** The model's host routes by app, built once per document (a filter per app is quadratic at 10 000 apps). */
function hostsByApp(model: RoutingModel): Map<string, RoutingModel['hosts']> {
  const out = new Map<string, RoutingModel['hosts']>();
  for (const h of model.hosts) {
    const list = out.get(h.app);
    if (list) list.push(h);
    else out.set(h.app, [h]);
  }
  return out;
}

function appView(app: AppRoute, routes: Map<string, RoutingModel['hosts']>, spares: ReadonlyMap<string, string>, hostCap: number): AppView {
  const servers: ServerView[] = app.servers.map((s) => ({ name: s.name, id: s.id, address: s.address, port: s.port, state: s.passing ? 'up' : 'down' }));
  const settings: Record<string, string | number | boolean> = { httpsOnly: app.httpsOnly, sticky: app.sticky };
  if (app.healthcheck !== undefined) settings.healthcheck = app.healthcheck;
  if (app.maxconn !== undefined) settings.maxconn = app.maxconn;
  if (app.timeoutServer !== undefined) settings.timeoutServer = app.timeoutServer;
  Object.assign(settings, edgeFields(app));
  const hosts = new Map((routes.get(app.name) ?? []).map((h) => [h.host, h]));
  const shownHosts = app.hosts.length > hostCap ? app.hosts.slice(0, hostCap) : app.hosts;
  const onSpare = spares.get(app.name);
  return {
    spare: onSpare ?? null,
    name: app.name,
    backend: app.backend,
    mode: app.mode,
    port: app.port ?? null,
    balance: app.balance,
    hosts: shownHosts.map((host) => {
      const route = hosts.get(host);
      return { host, source: route?.source ?? 'default', key: route?.key ?? null };
    }),
    hostsMore: app.hosts.length - shownHosts.length,
    servers,
    serversUp: servers.filter((s) => s.state === 'up').length,
    serversDown: servers.filter((s) => s.state === 'down').length,
    settings,
    features: onSpare === undefined ? describeFeatures(app) : [spareLine(app, onSpare), ...describeFeatures(app)],
    members: app.members ?? null,
    maintenance: app.maintenance
      ? {
          key: app.maintenance.key,
          message: app.maintenance.message,
          since: app.maintenance.since !== undefined ? new Date(app.maintenance.since).toISOString() : null,
        }
      : null,
    auth: app.auth ? { realm: app.auth.realm, path: app.auth.path, users: app.auth.users.map((u) => u.name), failure: app.auth.failure ?? null } : null,
    cache: app.cache !== undefined ? { sizeMb: app.cache } : null,
  };
}

function appViews(apps: readonly AppRoute[], model: RoutingModel, spares: ReadonlyMap<string, string>, hostCap: number): AppView[] {
  if (apps.length === 0) return [];
  // Only the hosts of the page's apps: the cost follows the page, not the model.
  const wanted = new Set(apps.map((a) => a.name));
  const routes = hostsByApp({ ...model, hosts: model.hosts.filter((h) => wanted.has(h.app)) });
  return apps.map((a) => appView(a, routes, spares, hostCap));
}

/** The page, /status and the logs say it the same way: the app first, the spare as where it runs. */
export function spareLine(app: { name: string; backend: string }, spare: string): string {
  return `served from spare backend ${spare} (added without a reload) until the next reload gives it ${app.backend}`;
}

const rejectionView = (r: Rejection): RejectionView => ({ kind: r.kind, service: r.service, subject: r.subject, reason: r.reason, key: r.key ?? null });

/**
 * The /status document for `query` (default: the first page). `rank` orders apps by traffic for
 * the sorts other than by name. Throws StatusQueryError for an `after` unknown in a traffic order.
 */
export function statusDocument(
  state: RouterState,
  info: StatusInfo,
  now: number,
  decisive?: ApplyReport,
  query: StatusQuery = DEFAULT_QUERY,
  rank?: Rank,
): StatusDocument {
  const required = new Set<string>(REQUIRED_SOURCES);
  const names = [...new Set([...REQUIRED_SOURCES, ...Object.keys(state.sources)])];
  const sources: SourceView[] = names.map((name) => {
    const s = state.sources[name];
    return {
      name,
      state: s?.state ?? 'starting',
      required: required.has(name),
      lastSyncAt: iso(s?.lastSyncAt),
      syncAgeSeconds: s?.lastSyncAt === undefined ? null : seconds(now - s.lastSyncAt),
      lastError: s?.lastError ? { code: s.lastError.code, message: s.lastError.message, at: iso(s.lastError.at) } : null,
      failing: (s?.failing ?? []).slice(0, SUMMARY_LIST_MAX).map((f) => ({ subject: f.subject, code: f.code, message: f.message, at: iso(f.at) })),
      failingMore: Math.max(0, (s?.failing ?? []).length - SUMMARY_LIST_MAX),
    };
  });
  const { deployment } = state;
  const model = deployment?.model ?? state.builtModel;
  const routesFrom = deployment?.model ? 'serving' : state.builtModel ? 'latest-build' : 'none';
  const latest = state.builtModel;
  const last = state.lastApply;
  const spareApps = deployment?.spares.list() ?? [];
  const spareTotal = deployment?.spareTotal ?? 0;
  const onSpares = new Map(spareApps.map((a) => [a.app, a.spare]));
  const page = pageApps(model?.apps ?? [], query, rank);
  const apps = model ? appViews(page.apps, model, onSpares, query.app !== null ? Number.POSITIVE_INFINITY : HOSTS_PER_APP) : [];
  const rejected = pageRejections(latest?.rejections ?? [], query);
  const backends = new Map(apps.map((a) => [a.name, a.backend]));
  // At most HOSTS_PER_APP per app here even with `?app=`, whose own `hosts` is whole: no copy of 10 000 hosts.
  const hosts = apps.flatMap((a) =>
    a.hosts.slice(0, HOSTS_PER_APP).map((h) => ({ host: h.host, app: a.name, backend: backends.get(a.name)!, source: h.source, key: h.key })),
  );
  let customDomains = 0;
  for (const h of model?.hosts ?? []) if (h.source === 'kv') customDomains += 1;
  return {
    generatedAt: new Date(now).toISOString(),
    router: { ...info, startedAt: new Date(state.startedAt).toISOString(), uptimeSeconds: seconds(now - state.startedAt) },
    health: evaluateHealth(state, now, decisive),
    sources,
    haproxy: {
      runningChecksum: runningChecksumOf(deployment) ?? null,
      lastApply: last
        ? { status: last.status, at: iso(last.at), checksum: last.checksum, error: last.error ? { code: last.error.code, message: last.error.message } : null }
        : null,
      lastReloadAt: iso(state.lastReloadAt),
      lastRuntimeChangeAt: iso(state.lastRuntimeChangeAt),
      lastBuildError: state.lastBuildError ? { ...state.lastBuildError, at: iso(state.lastBuildError.at) } : null,
      lastRenderMs: state.lastRenderMs === undefined ? null : Math.round(state.lastRenderMs * 1000) / 1000,
      pendingChanges: state.builtChecksum !== undefined && state.builtChecksum !== deployment?.checksum,
      held: state.held
        ? { since: iso(state.held.since), reason: state.held.reason, routesBefore: state.held.routesBefore, routesAfter: state.held.routesAfter }
        : null,
      counters: { ...state.counters },
      spares: {
        total: spareTotal,
        free: Math.max(0, spareTotal - spareApps.length),
        apps: spareApps.map((a) => ({ app: a.app, backend: a.backend, spare: a.spare, since: iso(a.since) })),
      },
    },
    routesFrom,
    startup: state.startup ? { ...state.startup, line: startupLine(state) ?? null } : null,
    counts: {
      apps: model?.apps.length ?? 0,
      hosts: model?.hosts.length ?? 0,
      customDomains,
      rejections: rejected.summary.total - (rejected.summary.byKind.conflict ?? 0),
      conflicts: rejected.summary.byKind.conflict ?? 0,
    },
    query: { ...query },
    total: page.total,
    next: page.next,
    apps,
    hosts,
    customDomains: hosts.filter((h) => h.source === 'kv').map((h) => ({ host: h.host, app: h.app, key: h.key ?? '' })),
    rejections: rejected.rejections.map(rejectionView),
    conflicts: rejected.conflicts.map(rejectionView),
    rejectionsPage: rejected.summary,
    tls: state.tls ? tlsView(state.tls) : null,
    acme: state.acme ? acmeView(state.acme) : null,
  };
}

/** Custom domains of tenants decide these lists' length: the first ones, then a count. */
function tlsView(tls: TlsStatus): TlsStatus & { httpOnlyHostsMore?: number } {
  if (tls.httpOnlyHosts.length <= SUMMARY_LIST_MAX) return tls;
  return { ...tls, httpOnlyHosts: tls.httpOnlyHosts.slice(0, SUMMARY_LIST_MAX), httpOnlyHostsMore: tls.httpOnlyHosts.length - SUMMARY_LIST_MAX };
}

function acmeView(acme: AcmeView): AcmeView & { hostsMore?: number } {
  if (acme.hosts.length <= SUMMARY_LIST_MAX) return acme;
  // Failing ones first: they are what an operator looks for.
  const failing = acme.hosts.filter((h) => h.lastResult !== null && h.lastResult !== 'issued');
  const rest = acme.hosts.filter((h) => !(h.lastResult !== null && h.lastResult !== 'issued'));
  return { ...acme, hosts: [...failing, ...rest].slice(0, SUMMARY_LIST_MAX), hostsMore: acme.hosts.length - SUMMARY_LIST_MAX };
}

/** `10 000`: thousands apart, as `systemctl status` shows them. */
export function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/**
 * Until the first configuration is applied: how far the start is (`starting: 4 200 of 10 000
 * services read`); undefined once something was applied.
 */
export function startupLine(state: RouterState): string | undefined {
  if (state.lastApply) return undefined;
  const p = state.startup;
  if (!p) return state.sources['consul-catalog']?.lastSyncAt === undefined ? 'starting: listing the services of the Consul catalog' : undefined;
  if (!p.done) return `starting: ${grouped(p.read)} of ${grouped(p.total)} services read`;
  return `starting: ${grouped(p.total)} services read; building and applying the first configuration`;
}

/** One line for systemd's STATUS= and logs. */
export function statusLine(state: RouterState, now: number, decisive?: ApplyReport): string {
  const starting = startupLine(state);
  if (starting) return starting;
  const model = state.deployment?.model;
  const health = evaluateHealth(state, now, decisive);
  const serving = model ? `serving ${model.apps.length} apps, ${model.hosts.length} hosts` : 'no configuration applied yet';
  const rejected = state.builtModel?.rejections.length ? `; ${state.builtModel.rejections.length} rejected inputs` : '';
  return `${serving}${rejected}; ${health.ok ? 'healthy' : `unhealthy: ${health.reasons[0]}`}`;
}
