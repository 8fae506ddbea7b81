// What the templates see: the routing model and the render settings turned into ready-to-print
// values. Pure: no I/O. Every value that ends up in haproxy.cfg or hosts.map is checked here
// against the characters HAProxy's config parser treats specially (the model validates the
// inputs; this is the last guard before a value is printed into a config line). Anything that
// cannot be printed safely throws a TemplateError naming the app and field, so the caller keeps
// the running configuration instead of emitting a broken line.
//
// Every field of every view is always present: optional model fields become `null`, never
// `undefined`. That is what lets the template helpers treat `undefined` as a misspelt field.
//
// The types of the views and the names and files they use are in views.ts, the checks of HAProxy's
// syntax in haproxy-syntax.ts, the parts tags decide in feature-views.ts; here, the app, host and
// whole template data are put together.
import { posix } from 'node:path';

import { BACKEND_PREFIX } from '../model/backend.js';
import type { AppRoute, HostRoute, RoutingModel, ServerRoute } from '../model/types.js';

import type { RenderSettings } from './types.js';
import {
  fail,
  byString,
  NAME,
  SERVER_NAME,
  HOSTNAME,
  DURATION,
  BALANCE,
  HTTP_PATH,
  checkPort,
  checkMatch,
  checkPath,
  formatBind,
  formatEndpoint,
  serverCookie,
  escapeConfigWord,
} from './haproxy-syntax.js';
import {
  DEFAULT_BACKEND,
  SPARE_PREFIX,
  MAX_SPARE_BACKENDS,
  DEFAULT_MAXCONN,
  HOSTS_MAP_FILE,
  MAINTENANCE_MAP_FILE,
  SERVER_STATE_FILE,
  REDIRECT_HOSTS_PER_RULE,
  DEFAULT_STATS_BIND_ADDRESS,
  type ServerView,
  type AppView,
  type PathRouteView,
  type HostView,
  type TemplateData,
  type TemplateDataMemo,
} from './views.js';
import {
  PATH_PREFIX,
  featureView,
  tenantView,
  canaryViews,
  rateLimitView,
  peersView,
  authView,
  userlistsView,
  edgeAppView,
  edgeView,
} from './feature-views.js';

/** The path of maintenance.map in `configDir`: one string for every app view, not one each. */
const maintenanceMapOf = (() => {
  let last: { dir: string; path: string } | undefined;
  return (configDir: string): string => {
    if (last?.dir !== configDir) last = { dir: configDir, path: posix.join(checkPath(configDir, 'configDir'), MAINTENANCE_MAP_FILE) };
    return last.path;
  };
})();

/** `stats auth <user>:<password>`: HAProxy splits at the first colon, so the user may not have one. */
function statsAuth(stats: RenderSettings['stats']): string | null {
  if (stats === undefined) return null;
  if (typeof stats.user !== 'string' || typeof stats.password !== 'string') fail('stats credentials must be strings');
  if (stats.user.includes(':')) fail('the stats user name contains ":", which "stats auth" cannot represent');
  return `${escapeConfigWord(stats.user, 'the stats user name')}:${escapeConfigWord(stats.password, 'the stats password')}`;
}

/** The same credentials as words of a `userlist` (the Prometheus exporter on the stats listener asks for them). */
function statsUserlist(stats: RenderSettings['stats']): { user: string | null; password: string | null } {
  if (stats === undefined) return { user: null, password: null };
  return { user: escapeConfigWord(stats.user, 'the stats user name'), password: escapeConfigWord(stats.password, 'the stats password') };
}

function serverView(app: AppRoute, server: ServerRoute): ServerView {
  const what = `app ${app.name}: server ${JSON.stringify(server.name)}`;
  checkMatch(server.name, SERVER_NAME, `${what} name`);
  if (typeof server.passing !== 'boolean') fail(`${what}: "passing" must be a boolean`);
  const weight = server.weight ?? null;
  if (weight !== null && (!Number.isInteger(weight) || weight < 0 || weight > 256))
    fail(`${what}: weight must be an integer 0..256, got ${JSON.stringify(weight)}`);
  return {
    name: server.name,
    id: server.id,
    address: server.address,
    port: server.port,
    passing: server.passing,
    endpoint: formatEndpoint(server.address, server.port, `${what} address`),
    cookie: serverCookie(app.backend, server.name),
    weight,
  };
}

function hostViews(routes: HostRoute[], memo: TemplateDataMemo): HostView[] {
  const hosts = routes.map((route) =>
    memo.host(route, (): HostView => {
      const host = checkMatch(route.host, HOSTNAME, 'host');
      return { host, backend: route.backend, app: route.app, source: route.source, key: route.key ?? null };
    }),
  );
  hosts.sort((a, b) => byString(a.host, b.host));
  for (let i = 1; i < hosts.length; i++) {
    if (hosts[i]?.host === hosts[i - 1]?.host) fail(`host ${hosts[i]?.host} is routed twice`);
  }
  return hosts;
}

/** A host for an error message: checked first, so a hostile one is reported as such. */
function safeHost(host: string): string {
  return checkMatch(host, HOSTNAME, 'host');
}

function appView(app: AppRoute, settings: RenderSettings): AppView {
  const name = checkMatch(app.name, NAME, 'app name');
  const what = `app ${name}`;
  if (app.backend !== `${BACKEND_PREFIX}${name}`) {
    fail(`${what}: backend must be ${JSON.stringify(BACKEND_PREFIX + name)}, got ${JSON.stringify(app.backend)}`);
  }
  if (app.mode !== 'http' && app.mode !== 'tcp') fail(`${what}: unknown mode ${JSON.stringify(app.mode)}`);
  const tcp = app.mode === 'tcp';
  const port = tcp ? checkPort(app.port, `${what}: router.port`) : null;
  const maxconn = app.maxconn ?? null;
  if (maxconn !== null && (!Number.isInteger(maxconn) || maxconn < 1)) {
    fail(`${what}: maxconn must be a positive integer, got ${JSON.stringify(maxconn)}`);
  }
  const defaultHost = tcp ? null : checkMatch(app.defaultHost, HOSTNAME, `${what}: default host`);
  const servers = app.servers.map((server) => serverView(app, server));
  servers.sort((a, b) => byString(a.name, b.name));
  for (let i = 1; i < servers.length; i++) {
    if (servers[i]?.name === servers[i - 1]?.name) fail(`${what}: two servers are named ${servers[i]?.name}`);
  }
  const view: AppView = {
    name,
    backend: app.backend,
    mode: app.mode,
    port,
    bind: port === null ? null : formatBind(settings.bindAddress, port),
    balance: checkMatch(app.balance, BALANCE, `${what}: balance`),
    healthcheck: app.healthcheck === undefined ? null : checkMatch(app.healthcheck, HTTP_PATH, `${what}: healthcheck`),
    httpsOnly: app.httpsOnly === true,
    sticky: app.sticky === true,
    maxconn,
    timeoutServer: app.timeoutServer === undefined ? null : checkMatch(app.timeoutServer, DURATION, `${what}: timeout-server`),
    defaultHost,
    hosts: tcp ? [] : app.hosts.map((host) => checkMatch(host, HOSTNAME, `${what}: host`)),
    servers,
    ...edgeAppView(app, what, settings),
    ...featureView(app, what),
    ...authView(app, what),
    ...tenantView(app, what),
    rateLimit: rateLimitView(app, what, settings),
    maintenanceMap: maintenanceMapOf(settings.configDir),
    canaries: [],
    canaryMatch: null,
  };
  view.canaries = canaryViews(app, view, what);
  return view;
}

const NO_MEMO: TemplateDataMemo = { app: (_app, make) => make(), hosts: (_routes, make) => make(), host: (_route, make) => make() };

/** Build what the templates see. Throws TemplateError when a value cannot be printed safely. */
export function buildTemplateData(model: RoutingModel, settings: RenderSettings, memo: TemplateDataMemo = NO_MEMO): TemplateData {
  const configDir = checkPath(settings.configDir, 'configDir');
  const runtimeSocket = checkPath(settings.runtimeSocket, 'runtimeSocket');
  const runtimeSocketGroup = settings.runtimeSocketGroup ? checkMatch(settings.runtimeSocketGroup, /^[a-z_][a-z0-9_-]{0,31}$/, 'runtimeSocketGroup') : null;
  const user = settings.user ? checkMatch(settings.user, /^[a-z_][a-z0-9_-]{0,31}$/, 'user') : null;
  const group = settings.group ? checkMatch(settings.group, /^[a-z_][a-z0-9_-]{0,31}$/, 'group') : null;
  const hardStopAfter = checkMatch(settings.hardStopAfter, DURATION, 'hardStopAfter');
  const maxconn = settings.maxconn ?? DEFAULT_MAXCONN;
  const maxOldWorkers = settings.maxOldWorkers ?? null;
  if (maxOldWorkers !== null && (!Number.isInteger(maxOldWorkers) || maxOldWorkers < 1)) fail(`maxOldWorkers must be a positive integer, got ${maxOldWorkers}`);
  if (!Number.isInteger(maxconn) || maxconn < 1) fail(`maxconn must be a positive integer, got ${maxconn}`);
  const binds = {
    http: formatBind(settings.bindAddress, settings.httpPort),
    https: formatBind(settings.bindAddress, settings.httpsPort),
    stats: formatBind(settings.edge?.statsBindAddress ?? DEFAULT_STATS_BIND_ADDRESS, settings.statsPort),
  };

  const apps = model.apps.map((app) => memo.app(app, () => appView(app, settings))).sort((a, b) => byString(a.name, b.name));
  // Two listeners on one port pass `haproxy -c` (it does not bind) but fail the reload.
  const ports = new Map<number, string>();
  const listen = (port: number, owner: string): void => {
    const taken = ports.get(port);
    if (taken !== undefined) fail(`${owner} wants port ${port}, which is already used by ${taken}`);
    ports.set(port, owner);
  };
  listen(settings.httpPort, 'the HTTP listener');
  listen(settings.httpsPort, 'the HTTPS listener');
  listen(settings.statsPort, 'the stats listener');
  const backends = new Set<string>();
  for (const app of apps) {
    if (backends.has(app.backend)) fail(`two apps are named ${app.name}`);
    backends.add(app.backend);
    if (app.port !== null) listen(app.port, `app ${app.name}`);
  }
  const httpApps = apps.filter((app) => app.mode === 'http');
  const canaryRoutes = httpApps.flatMap((app) => app.canaries.map((c) => ({ backend: c.backend, group: app.backend, match: c.canaryMatch! })));
  for (const c of canaryRoutes) {
    if (backends.has(c.backend)) fail(`${c.backend} is the backend of two canaries`);
    backends.add(c.backend);
  }
  // Checked when the host list is another: the model gives the same list while no app's name,
  // mode or hosts changed (the structure is kept), and then these checks hold as they did.
  const hosts = memo.hosts(model.hosts, () => {
    const httpBackends = new Set(httpApps.map((app) => app.backend));
    for (const route of model.hosts) {
      if (!httpBackends.has(route.backend)) {
        fail(`host ${safeHost(route.host)} points at ${JSON.stringify(route.backend)}, which is not the backend of an http app`);
      }
    }
    return hostViews(
      model.hosts.filter((route) => route.path === undefined),
      memo,
    );
  });
  // router.path routes are frontend rules, not hosts.map entries.
  const pathRoutes = pathRoutesView(model.hosts);

  let tls: TemplateData['tls'] = null;
  const httpsRedirects: TemplateData['httpsRedirects'] = [];
  if (settings.tls !== undefined) {
    tls = { crtList: checkPath(settings.tls.crtList, 'tls.crtList') };
    const covered = new Set(settings.tls.coveredHosts);
    for (const app of httpApps) {
      const hosts = app.httpsOnly ? app.hosts.filter((host) => covered.has(host)) : [];
      // One rule per chunk: HAProxy refuses a line of more than 64 words.
      for (let i = 0; i < hosts.length; i += REDIRECT_HOSTS_PER_RULE) {
        httpsRedirects.push({ app: app.name, hosts: hosts.slice(i, i + REDIRECT_HOSTS_PER_RULE) });
      }
    }
  }

  return {
    settings: {
      configDir,
      runtimeSocket,
      runtimeSocketGroup,
      user,
      group,
      bindAddress: settings.bindAddress,
      httpPort: settings.httpPort,
      httpsPort: settings.httpsPort,
      statsPort: settings.statsPort,
      hardStopAfter,
      maxOldWorkers,
      maxconn,
    },
    binds,
    stats: { auth: statsAuth(settings.stats), ...statsUserlist(settings.stats) },
    apps,
    httpApps,
    tcpApps: apps.filter((app) => app.mode === 'tcp'),
    spares: spareViews(settings),
    hosts,
    hostsMapPath: posix.join(configDir, HOSTS_MAP_FILE),
    serverStatePath: posix.join(configDir, SERVER_STATE_FILE),
    defaultBackend: DEFAULT_BACKEND,
    tls,
    httpsRedirects,
    edge: edgeView(settings.edge),
    maintenanceMapPath: posix.join(configDir, MAINTENANCE_MAP_FILE),
    maintenance: model.apps
      .filter((app) => app.maintenance !== undefined && app.mode === 'http')
      .map((app) => ({ backend: app.backend, message64: Buffer.from(app.maintenance!.message, 'utf8').toString('base64') })),
    pathRoutes,
    canaryRoutes,
    userlists: userlistsView(model.apps),
    acme: acmeData(settings.acme),
    peers: peersView(settings),
  };
}

/**
 * The spare backends: the view of an http app with no tags (what the model gives a service without
 * `router.*` tags), renamed, with no host and no server.
 */
function spareViews(settings: RenderSettings): AppView[] {
  const count = settings.spareBackends ?? 0;
  if (!Number.isInteger(count) || count < 0 || count > MAX_SPARE_BACKENDS) fail(`spareBackends must be an integer 0..${MAX_SPARE_BACKENDS}, got ${count}`);
  const spares: AppView[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `${SPARE_PREFIX}${i}`;
    const plain: AppRoute = {
      name,
      backend: `${BACKEND_PREFIX}${name}`,
      mode: 'http',
      balance: 'roundrobin',
      httpsOnly: false,
      sticky: false,
      hosts: [],
      servers: [],
    };
    spares.push({ ...appView({ ...plain, defaultHost: `${name}.invalid` }, settings), backend: name, defaultHost: null });
  }
  return spares;
}

/** (host, prefix) routes, longest prefix first per host; a pair routed twice cannot be printed. */
function pathRoutesView(routes: HostRoute[]): PathRouteView[] {
  const out = routes
    .filter((route) => route.path !== undefined)
    .map((route) => ({
      host: checkMatch(route.host, HOSTNAME, 'host'),
      path: checkMatch(route.path, PATH_PREFIX, `host ${route.host}: path`),
      backend: route.backend,
    }));
  out.sort((a, b) => byString(a.host, b.host) || b.path.length - a.path.length || byString(a.path, b.path));
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.host === out[i - 1]!.host && out[i]!.path === out[i - 1]!.path) fail(`host ${out[i]!.host} path ${out[i]!.path} is routed twice`);
  }
  return out;
}

// A JWK SHA-256 thumbprint: 43 base64url characters, safe inside a quoted log-format string.
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

function acmeData(acme: RenderSettings['acme']): TemplateData['acme'] {
  if (acme === undefined) return null;
  if (!THUMBPRINT.test(acme.thumbprint)) fail(`acme.thumbprint ${JSON.stringify(acme.thumbprint)} is not a base64url SHA-256 JWK thumbprint`);
  return { thumbprint: acme.thumbprint };
}
