// The views the templates see (one per app, host, path route; the edge; the whole template
// data) and the names and files the rendered configuration uses. Types and constants only.
import type { AppMode, AppRoute, HostRoute } from '../model/types.js';

import type { RenderSettings } from './types.js';

/** Name of the backend that answers 404 when no app is routed at the request's host. */
export const DEFAULT_BACKEND = 'be_default';

/** Prefix of the spare backends (`spare_1` ...): never an app's, whatever its name. */
export const SPARE_PREFIX = 'spare_';

/** Highest `haproxy.spare_backends` (the config schema's bound). */
export const MAX_SPARE_BACKENDS = 1000;

/** Global `maxconn` when `RenderSettings.maxconn` is not set. */
export const DEFAULT_MAXCONN = 4096;

/** File names, inside `configDir`, that the rendered configuration refers to. */
export const HOSTS_MAP_FILE = 'hosts.map';

/** `app_<name>` → base64 of the maintenance text; looked up at request time (runtime `set map`, no reload). */
export const MAINTENANCE_MAP_FILE = 'maintenance.map';

export const SERVER_STATE_FILE = 'server-state';

/**
 * Hosts per `http-request redirect ... -m str <hosts> }` line. HAProxy 2.6 stops at 64 words per
 * line (MAX_LINE_ARGS, a fatal "too many words"); the rule itself takes 12, so 52 would fit.
 */
export const REDIRECT_HOSTS_PER_RULE = 40;

/** Default `haproxy.stats_bind_address`: the stats page is reached through the bastion. */
export const DEFAULT_STATS_BIND_ADDRESS = '127.0.0.1';

/** CIDR blocks per `acl trusted_proxy src ...` line (same 64-word limit as above). */
export const TRUSTED_PROXIES_PER_ACL = 40;

export const DEFAULT_SSL_MIN_VER = 'TLSv1.2';

export interface ServerView {
  /** HAProxy server name (from the model). */
  name: string;
  /** Consul ServiceID (informational; not printed by the shipped templates). */
  id: string;
  address: string;
  port: number;
  /** All checks passing. The shipped templates render the others `disabled`. */
  passing: boolean;
  /** `address:port` in HAProxy syntax; IPv6 as `ipv6@<addr>:<port>`. */
  endpoint: string;
  /** Value of the persistence cookie for sticky apps: a hash, never the address. See serverCookie(). */
  cookie: string;
  /** Group routes: the server's weight (0..256; changed at runtime with `set server weight`), else `null`. */
  weight: number | null;
}

export interface AppView {
  name: string;
  /** `app_<name>`. */
  backend: string;
  mode: AppMode;
  /** tcp apps: frontend port. `null` for http apps. */
  port: number | null;
  /** tcp apps: `bind` argument (`<bindAddress>:<port>` in HAProxy syntax). `null` for http apps. */
  bind: string | null;
  /** e.g. `roundrobin`, `leastconn`, `source`. */
  balance: string;
  /** HTTP path of HAProxy's health check, or `null` (no `check` on servers). */
  healthcheck: string | null;
  httpsOnly: boolean;
  sticky: boolean;
  /** Per-server `maxconn`, or `null`. */
  maxconn: number | null;
  /** HAProxy duration (`120s`), or `null`. */
  timeoutServer: string | null;
  /** `<name>.<cluster>.<baseDomain>` for http apps; `null` for tcp apps. */
  defaultHost: string | null;
  /** Every host routed to the app (default first, then custom FQDNs). Empty for tcp apps. */
  hosts: string[];
  /** Sorted by name. */
  servers: ServerView[];
  // Edge (docs/edge.md).
  /** `Strict-Transport-Security` value (`max-age=<n>[; includeSubDomains]`), or `null`. */
  hsts: string | null;
  /** tcp apps: `timeout client` (router.timeout-client, else router.timeout-server), or `null`. */
  timeoutClient: string | null;
  /** `timeout connect` (router.timeout-connect), or `null`. */
  timeoutConnect: string | null;
  /** Request body limit in bytes (router.max-body), or `null`. */
  maxBody: number | null;
  /** tcp apps: the bind takes PROXY protocol (`haproxy.accept_proxy`). */
  acceptProxy: boolean;
  /** `router.redirect` target host (other hosts answer 308), or `null`. */
  redirect: string | null;
  /** `router.allow` networks, space-separated (an ACL `src` list), or `null`. */
  allow: string | null;
  /** `router.path` prefix, or `null`. */
  path: string | null;
  /** `router.strip-path`: the `regsub` pattern removing the prefix (`^/forum/?`), or `null`. */
  stripPathRegex: string | null;
  /** Absolute path of maintenance.map, which the backend looks itself up in. */
  maintenanceMap: string;
  /** `router.auth` with its users: the realm and the userlist (`auth_<name>`) requests are checked against; else `null`. */
  auth: { realm: string; userlist: string } | null;
  /** `router.auth` without usable users: the text of the 503 every request gets (never a path or a hash); else `null`. */
  authUnavailable: string | null;
  // Third wave (partials/backend-tenant.hbs).
  /** `router.compress`: the response types HAProxy gzips (`compression type`), space-separated; else `null`. */
  compressTypes: string | null;
  /** `router.timeout-tunnel`: `timeout tunnel` of the backend (upgraded connections, WebSockets), or `null` (the defaults' 1h). */
  timeoutTunnel: string | null;
  /** `router.proto`: `h2` when the servers speak cleartext HTTP/2 (`proto h2` on each server line), or `null` (HTTP/1.1). */
  proto: 'h2' | null;
  /**
   * `router.cache`: the app's `cache` section (name, `total-max-size` in MiB, `max-object-size` in
   * bytes, `max-age` in seconds) used by its backend; `null` without the tag, past
   * `haproxy.cache_max_size`, and on canary backends (which never share the group's cache).
   */
  cache: CacheView | null;
  /**
   * `router.canary` members of a group: one more backend each (`canary_<member>`), rendered like the
   * group's with only that member's servers (no weights); empty for every other app.
   */
  canaries: AppView[];
  /** A canary backend's ACL condition (`{ req.fhdr(x-canary) -m str 1 }`), else `null`. */
  canaryMatch: string | null;
  /** `router.rate-limit`: the stick-table and the 429 rule of the app's backend; else `null`. */
  rateLimit: RateLimitView | null;
}

export interface CacheView {
  /** `app_<name>`, or for a name too long for HAProxy's 32-character cache names `APP_<first 19>_<8 hex of its hash>`. */
  name: string;
  totalMaxSize: number;
  maxObjectSize: number;
  maxAge: number;
}

export interface RateLimitView {
  requests: number;
  /** HAProxy duration: the rate's period and the table's expiry. */
  period: string;
  /** Seconds of `Retry-After` (the period, rounded up). */
  retryAfter: number;
  /** `router.rate-limit-path` prefix, or `null` (every request counts). */
  path: string | null;
  /** The `peers` section the table is shared through, or `null` (this router counts alone). */
  peers: string | null;
  /** Behind trusted proxies the client is `var(txn.client)` (set by the frontends), else `src`. */
  client: string;
  /** A canary backend (router.canary) counts in its group's table, so the canary header buys no extra requests; else `null`. */
  table: string | null;
}

/** One (host, path prefix) route; the frontends test them longest prefix first, before hosts.map. */
export interface PathRouteView {
  host: string;
  path: string;
  backend: string;
}

export interface HostView {
  host: string;
  backend: string;
  app: string;
  source: 'default' | 'kv';
  /** K/V key of a custom FQDN, or `null`. */
  key: string | null;
}

/** The render settings as templates see them (the stats credentials only via `stats.auth`). */
export type SettingsView = Pick<RenderSettings, 'configDir' | 'runtimeSocket' | 'bindAddress' | 'httpPort' | 'httpsPort' | 'statsPort' | 'hardStopAfter'> & {
  /** `mworker-max-reloads`: reloads an old worker may survive, or `null` for HAProxy's default. */
  maxOldWorkers: number | null;
  /** Runtime socket group (mode 660), or `null` (mode 600). */
  runtimeSocketGroup: string | null;
  /** User and group of the workers, or `null`: not changed. */
  user: string | null;
  group: string | null;
  /** Global `maxconn` (default DEFAULT_MAXCONN). */
  maxconn: number;
};

/** The root object every top-level template (and, by default, every partial) is rendered with. */
export interface TemplateData {
  settings: SettingsView;
  /** `bind` arguments, in HAProxy syntax (`*:80`, `10.0.0.1:80`, `ipv6@::1:80`). */
  binds: { http: string; https: string; stats: string };
  /** Stats listener: `auth` is `user:password` escaped for a config line, or `null` (read-only page). */
  stats: { auth: string | null; user: string | null; password: string | null };
  /** Every app, sorted by name. */
  apps: AppView[];
  /** The http apps of `apps`, in the same order. */
  httpApps: AppView[];
  /** The tcp apps of `apps`, in the same order. */
  tcpApps: AppView[];
  /**
   * `haproxy.spare_backends` backends with the settings of an http app without tags, no host and
   * no server (`spare_1` ...): a brand-new app takes one with `add map` + `add server`, no reload.
   */
  spares: AppView[];
  /** Host → backend, sorted by host (the content of hosts.map). */
  hosts: HostView[];
  /** Absolute path of hosts.map (`<configDir>/hosts.map`). */
  hostsMapPath: string;
  /** Absolute path of the server state file (`<configDir>/server-state`). */
  serverStatePath: string;
  /** `be_default`. */
  defaultBackend: string;
  /** HTTPS frontend (`bind ... ssl crt-list <crtList>`), or `null` when there is no certificate. */
  tls: { crtList: string } | null;
  /**
   * https-only apps and their hosts that a certificate covers (HTTP → HTTPS redirect), sorted by
   * app. Hosts without a certificate are left out: they stay on plain HTTP. At most
   * REDIRECT_HOSTS_PER_RULE hosts per entry: an app with more has several consecutive entries.
   */
  httpsRedirects: { app: string; hosts: string[] }[];
  /** The production edge (docs/edge.md). */
  edge: EdgeView;
  /** Absolute path of maintenance.map (`<configDir>/maintenance.map`). */
  maintenanceMapPath: string;
  /** Routes in maintenance (the content of maintenance.map): backend and base64 of the text. */
  maintenance: { backend: string; message64: string }[];
  /** Routes of apps with `router.path`, sorted by host, then longest prefix first. Not in hosts.map. */
  pathRoutes: PathRouteView[];
  /** `router.canary` rules, tested after the path routes and before hosts.map: the canary backend, its group's backend, the condition. */
  canaryRoutes: { backend: string; group: string; match: string }[];
  /**
   * One userlist per router.auth app with users (`userlist auth_<name>`), sorted by app. HAProxy 2.6
   * has no runtime API for userlists: a change here is a (hitless) reload.
   */
  userlists: { name: string; users: { name: string; hash: string }[] }[];
  /** ACME on: the account thumbprint HTTP-01 challenges are answered with (`acme-challenge` partial); else `null`. */
  acme: { thumbprint: string } | null;
  /** The routers sharing rate-limit tables (`peers` section, `localpeer`); `null` while this router is alone. */
  peers: { section: string; self: string; list: { name: string; endpoint: string }[] } | null;
}

export interface EdgeView {
  /** Public binds (http, https, tcp apps) take PROXY protocol v1/v2. */
  acceptProxy: boolean;
  /** `haproxy.trusted_proxies` in chunks of TRUSTED_PROXIES_PER_ACL (one `acl` line each). */
  trustedProxies: string[][];
  /** True when there is at least one trusted proxy (the `trusted_proxy` ACL exists). */
  trusted: boolean;
  /** `ssl-default-bind-*` values. */
  ssl: { minVer: string; ciphers: string; ciphersuites: string };
}

/**
 * Keeps views between renders (render/incremental.ts): an app's view while its AppRoute object is
 * the same, the host views while the model's host list is the same array.
 */
export interface TemplateDataMemo {
  app(app: AppRoute, make: () => AppView): AppView;
  /** The host views (checked) while the model's host list is the same array. */
  hosts(routes: HostRoute[], make: () => HostView[]): HostView[];
  /** One host's view while its route is the same object. */
  host(route: HostRoute, make: () => HostView): HostView;
}
