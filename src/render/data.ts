// What the templates see: the routing model and the render settings turned into ready-to-print
// values. Pure: no I/O. Every value that ends up in haproxy.cfg or hosts.map is checked here
// against the characters HAProxy's config parser treats specially (the model validates the
// inputs; this is the last guard before a value is printed into a config line). Anything that
// cannot be printed safely throws a TemplateError naming the app and field, so the caller keeps
// the running configuration instead of emitting a broken line.
//
// Every field of every view is always present: optional model fields become `null`, never
// `undefined`. That is what lets the template helpers treat `undefined` as a misspelt field.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { posix } from 'node:path';

import { CIPHER_LIST_RE, DEFAULT_SSL_CIPHERS, DEFAULT_SSL_CIPHERSUITES } from '../config/edge-defaults.js';
import { TemplateError } from '../errors.js';
import { BACKEND_PREFIX } from '../model/backend.js';
import { PEER_NAME_RE } from '../model/peers.js';
import type { AppMode, AppRoute, HostRoute, RoutingModel, ServerRoute } from '../model/types.js';
import { cidrProblem } from '../util/cidr.js';
import { COMPRESS_TYPES, MAX_CACHE_MB } from '../model/tenant-tags.js';

export { BACKEND_PREFIX };
import { AUTH_USER_RE, REALM_RE, type AuthFailure } from '../model/auth.js';
import type { EdgeRenderSettings, RenderSettings } from './types.js';

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

/** HAProxy 2.6 keeps the first 32 characters of a cache name (and then finds no cache by the full name). */
export const MAX_CACHE_NAME = 32;
/** `max-age` of every app's cache: the longest any response is served from it, whatever its Cache-Control says. */
export const CACHE_MAX_AGE_SECONDS = 3600;
/** `max-object-size`: a 16th of the cache (at least 16 objects fit), at most 16 MiB. */
export const CACHE_MAX_OBJECT_BYTES = 16 * 1024 * 1024;

/**
 * The cache section's name of an app: its backend name when it fits, else an upper-case form no
 * app's backend name can take (app names are lower case), with a hash of the whole name.
 */
export function cacheName(app: string): string {
  const backend = `${BACKEND_PREFIX}${app}`;
  if (backend.length <= MAX_CACHE_NAME) return backend;
  const hash = createHash('sha256').update(app).digest('hex').slice(0, 8);
  return `APP_${app.slice(0, MAX_CACHE_NAME - 13)}_${hash}`;
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

function fail(message: string): never {
  throw new TemplateError(`cannot render: ${message}`);
}

/** Plain code-unit order: deterministic whatever the locale (localeCompare is not). */
function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Conservative character classes for values printed unquoted into haproxy.cfg / hosts.map.
const NAME = /^[a-z0-9][a-z0-9_.-]*$/;
const SERVER_NAME = /^[A-Za-z0-9_.:-]+$/;
const HOSTNAME = /^[a-z0-9][a-z0-9_.-]*$/;
const DURATION = /^[0-9]+(us|ms|s|m|h|d)?$/;
const BALANCE = /^[a-z][a-z0-9_(),.-]*( [a-z0-9_(),.-]+)*$/;
// An HTTP path: visible ASCII, none of the config parser's specials (# ' " \) and no `%[`
// (not interpreted by http-check, but kept out so the value means the same everywhere).
const HTTP_PATH = /^\/[!$%&()*+,\-./0-9:;<=>?@A-Z[\]^_`a-z{|}~]*$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9_./-]*$/;

function checkPort(port: unknown, what: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`${what} must be a port number 1-65535, got ${JSON.stringify(port)}`);
  }
  return port;
}

function checkMatch(value: unknown, re: RegExp, what: string): string {
  if (typeof value !== 'string' || !re.test(value)) {
    fail(`${what} has characters HAProxy cannot take unquoted: ${JSON.stringify(value)}`);
  }
  return value;
}

function checkPath(value: unknown, what: string): string {
  const path = checkMatch(value, ABSOLUTE_PATH, what);
  if (posix.normalize(path) !== path) fail(`${what} must be a normalised absolute path: ${JSON.stringify(path)}`);
  return path;
}

/** Strip the brackets of `[::1]`. */
function unbracket(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/**
 * A `bind` argument. `*` → `*:80`; IPv4 → `10.0.0.1:80`; IPv6 (with or without brackets) →
 * `ipv6@::1:80` (HAProxy takes the port after the last colon; the prefix forces the family).
 */
export function formatBind(bindAddress: string, port: number): string {
  checkPort(port, 'bind port');
  if (bindAddress === '*') return `*:${port}`;
  const address = unbracket(bindAddress);
  switch (isIP(address)) {
    case 4:
      return `${address}:${port}`;
    case 6:
      // `::` means every address: `v4v6` takes IPv4 too, whatever net.ipv6.bindv6only says.
      return address === '::' ? `ipv6@:::${port} v4v6` : `ipv6@${address}:${port}`;
    default:
      return fail(`bind address must be "*" or an IP address, got ${JSON.stringify(bindAddress)}`);
  }
}

/** A server address: IPv4, IPv6 (as `ipv6@addr:port`) or a host name resolved by HAProxy. */
export function formatEndpoint(address: string, port: number, what = 'server address'): string {
  checkPort(port, `${what} port`);
  const bare = unbracket(address);
  switch (isIP(bare)) {
    case 4:
      return `${bare}:${port}`;
    case 6:
      return `ipv6@${bare}:${port}`;
    default:
      return `${checkMatch(address.toLowerCase(), HOSTNAME, what)}:${port}`;
  }
}

/**
 * Cookie value identifying one server of a sticky backend: the first 16 hex digits of
 * SHA-256(`<backend>/<server>`). Stable across renders and reloads, and it does not reveal the
 * instance's address to clients. Runtime `add server` must use the same value.
 */
/** The path of maintenance.map in `configDir`: one string for every app view, not one each. */
const maintenanceMapOf = (() => {
  let last: { dir: string; path: string } | undefined;
  return (configDir: string): string => {
    if (last?.dir !== configDir) last = { dir: configDir, path: posix.join(checkPath(configDir, 'configDir'), MAINTENANCE_MAP_FILE) };
    return last.path;
  };
})();

export function serverCookie(backend: string, serverName: string): string {
  // The first 8 bytes in hex: a string of its own (a slice of the whole digest's hex keeps it alive).
  return createHash('sha256').update(`${backend}/${serverName}`).digest().toString('hex', 0, 8);
}

/**
 * Escape a value so that HAProxy's config parser reads it back as exactly one word with the same
 * bytes (configuration manual §2.2, "Quoting and escaping", unquoted column): space, `#`, quotes
 * and backslash get a backslash; other control characters, and every byte of a non-ASCII
 * character's UTF-8 form, become `\xNN` (same bytes, but the line stays printable ASCII). `$` is
 * literal outside double quotes. NUL and the empty string cannot be represented and throw.
 */
export function escapeConfigWord(value: string, what: string): string {
  if (value === '') fail(`${what} is empty`);
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code === 0) fail(`${what} contains a NUL character`);
    if (ch === ' ' || ch === '#' || ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code > 0x7f) for (const byte of Buffer.from(ch)) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

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

const CIDR = /^[0-9a-f.:]+(\/[0-9]{1,3})?$/;
const PATH_PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/** The feature fields of an AppView (router.redirect, allow, path, strip-path), checked for printing. */
function featureView(app: AppRoute, what: string): Pick<AppView, 'redirect' | 'allow' | 'path' | 'stripPathRegex'> {
  const redirect = app.redirect === undefined ? null : checkMatch(app.redirect, HOSTNAME, `${what}: redirect`);
  const allow = app.allow === undefined ? null : app.allow.map((c) => checkMatch(c, CIDR, `${what}: allow`)).join(' ');
  if (allow === '') fail(`${what}: allow is an empty list`);
  const path = app.path === undefined ? null : checkMatch(app.path, PATH_PREFIX, `${what}: path`);
  // `.` is the only regex special a prefix may hold; `[.]` needs no backslash in the config line.
  const stripPathRegex = path !== null && app.stripPath === true ? `^${path.replace(/\./g, '[.]')}/?` : null;
  return { redirect, allow, path, stripPathRegex };
}

/** The third-wave fields of an AppView (router.compress ... router.cache), checked for printing. */
function tenantView(app: AppRoute, what: string): Pick<AppView, 'compressTypes' | 'timeoutTunnel' | 'proto' | 'cache'> {
  const http = app.mode === 'http';
  let cache: CacheView | null = null;
  if (http && app.cache !== undefined) {
    const mb = app.cache;
    if (!Number.isInteger(mb) || mb < 1 || mb > MAX_CACHE_MB)
      fail(`${what}: cache size must be an integer 1..${MAX_CACHE_MB} (MiB), got ${JSON.stringify(mb)}`);
    cache = {
      name: cacheName(app.name),
      totalMaxSize: mb,
      maxObjectSize: Math.min(Math.floor((mb * 1024 * 1024) / 16), CACHE_MAX_OBJECT_BYTES),
      maxAge: CACHE_MAX_AGE_SECONDS,
    };
  }
  return {
    cache,
    compressTypes: http && app.compress === true ? COMPRESS_TYPES.join(' ') : null,
    timeoutTunnel: http && app.timeoutTunnel !== undefined ? checkMatch(app.timeoutTunnel, DURATION, `${what}: timeout-tunnel`) : null,
    proto: http && app.proto !== undefined ? (checkMatch(app.proto, /^h2$/, `${what}: proto`) as 'h2') : null,
  };
}

/** Prefix of the backend of a group member's canary (`canary_<member>`): never an app's or a spare's. */
export const CANARY_PREFIX = 'canary_';
const CANARY_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CANARY_VALUE = /^[A-Za-z0-9._~-]{1,64}$/;

/** The canary backends of a group's view: the group's section with one member's servers each. */
function canaryViews(app: AppRoute, view: AppView, what: string): AppView[] {
  if (app.mode !== 'http' || app.members === undefined) return [];
  return app.members
    .filter((m) => m.canary !== undefined)
    .map((m) => {
      const c = m.canary!;
      const member = checkMatch(m.app, NAME, `${what}: canary member`);
      const name = checkMatch(c.name, CANARY_NAME, `${what}: canary ${c.kind} name`);
      const value = checkMatch(c.value, CANARY_VALUE, `${what}: canary value`);
      const fetch =
        c.kind === 'header' ? `req.fhdr(${name})` : c.kind === 'cookie' ? `req.cook(${name})` : fail(`${what}: canary kind ${JSON.stringify(c.kind)}`);
      const own = new Set(app.servers.filter((s) => s.app === m.app).map((s) => s.name));
      // No weights: the group's weights share the group's traffic; a canary request goes to the member whatever its weight.
      const servers = view.servers.filter((s) => own.has(s.name)).map((s) => ({ ...s, weight: null }));
      const rateLimit = view.rateLimit && { ...view.rateLimit, table: view.backend };
      return { ...view, backend: `${CANARY_PREFIX}${member}`, servers, rateLimit, cache: null, canaries: [], canaryMatch: `{ ${fetch} -m str ${value} }` };
    });
}
/** Name of the `peers` section rate-limit tables are shared through. */
export const PEERS_SECTION = 'paas_router';

function rateLimitView(app: AppRoute, what: string, settings: RenderSettings): RateLimitView | null {
  const r = app.rateLimit;
  if (r === undefined || app.mode !== 'http') return null;
  if (!Number.isSafeInteger(r.requests) || r.requests < 1) fail(`${what}: rate-limit requests must be a positive integer`);
  return {
    requests: r.requests,
    period: checkMatch(r.period, DURATION, `${what}: rate-limit period`),
    retryAfter: Math.max(1, Math.ceil(r.periodMs / 1000)),
    path: r.path === undefined ? null : checkMatch(r.path, PATH_PREFIX, `${what}: rate-limit-path`),
    peers: settings.peers ? PEERS_SECTION : null,
    client: (settings.edge?.trustedProxies?.length ?? 0) > 0 ? 'var(txn.client)' : 'src',
    table: null,
  };
}

/** The `peers` section: this router's name and every router's endpoint, checked for printing. */
function peersView(settings: RenderSettings): TemplateData['peers'] {
  const p = settings.peers;
  if (!p) return null;
  const self = checkMatch(p.self, PEER_NAME_RE, 'peers: this router');
  const list = p.list.map((peer) => ({
    name: checkMatch(peer.name, PEER_NAME_RE, 'peers: name'),
    endpoint: formatEndpoint(peer.address, peer.port, `peer ${peer.name}`),
  }));
  if (!list.some((peer) => peer.name === self)) fail(`peers: this router (${self}) is not in the list`);
  return { section: PEERS_SECTION, self, list };
}

/** Prefix of the userlist of a router.auth app. */
export const USERLIST_PREFIX = 'auth_';
// A crypt hash: the scheme's alphabet, `$` separators, `rounds=`; nothing HAProxy's parser treats specially.
const CRYPT_HASH = /^\$[A-Za-z0-9./$=,]+$/;

const AUTH_UNAVAILABLE: Record<AuthFailure, string> = {
  'no-vault': 'Authentication is not configured for this app: the router has no Vault to read its users from.',
  'no-entry': 'Authentication is not configured for this app: it has no users yet.',
  invalid: 'Authentication is not configured for this app: its list of users is invalid.',
};

/** The router.auth fields of an AppView: checked realm and userlist, or the 503 text. */
function authView(app: AppRoute, what: string): Pick<AppView, 'auth' | 'authUnavailable'> {
  if (app.auth === undefined || app.mode !== 'http') return { auth: null, authUnavailable: null };
  const realm = checkMatch(app.auth.realm, REALM_RE, `${what}: auth realm`);
  if (app.auth.failure !== undefined || app.auth.users.length === 0) {
    return { auth: null, authUnavailable: AUTH_UNAVAILABLE[app.auth.failure ?? 'no-entry'] };
  }
  return { auth: { realm, userlist: `${USERLIST_PREFIX}${app.name}` }, authUnavailable: null };
}

/** The userlists of the router.auth apps; a user or hash that cannot be printed is refused (the model validated them). */
function userlistsView(apps: AppRoute[]): TemplateData['userlists'] {
  return apps
    .filter((app) => app.mode === 'http' && app.auth !== undefined && app.auth.failure === undefined && app.auth.users.length > 0)
    .map((app) => ({
      name: `${USERLIST_PREFIX}${checkMatch(app.name, NAME, 'app name')}`,
      users: app.auth!.users.map((u) => {
        if (typeof u.name !== 'string' || !AUTH_USER_RE.test(u.name)) fail(`app ${app.name}: an auth user name has characters HAProxy cannot take`);
        // Never print the hash in the error: it is a secret.
        if (typeof u.hash !== 'string' || !CRYPT_HASH.test(u.hash)) fail(`app ${app.name}: the hash of auth user ${u.name} cannot be printed`);
        return { name: u.name, hash: u.hash };
      }),
    }))
    .sort((a, b) => byString(a.name, b.name));
}

function hostViews(routes: HostRoute[]): HostView[] {
  const hosts = routes.map((route): HostView => {
    const host = checkMatch(route.host, HOSTNAME, 'host');
    return { host, backend: route.backend, app: route.app, source: route.source, key: route.key ?? null };
  });
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

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}

/** The edge fields of an AppView (docs/edge.md). */
function edgeAppView(
  app: AppRoute,
  what: string,
  settings: RenderSettings,
): Pick<AppView, 'hsts' | 'timeoutClient' | 'timeoutConnect' | 'maxBody' | 'acceptProxy'> {
  const tcp = app.mode === 'tcp';
  const duration = (value: string | undefined, key: string) => (value === undefined ? null : checkMatch(value, DURATION, `${what}: ${key}`));
  let hsts: string | null = null;
  if (app.hsts !== undefined && !tcp) {
    hsts = `max-age=${nonNegativeInteger(app.hsts, `${what}: hsts`)}${app.hstsSubdomains === true ? '; includeSubDomains' : ''}`;
  }
  const maxBody = app.maxBody === undefined || tcp ? null : nonNegativeInteger(app.maxBody, `${what}: max-body`);
  return {
    hsts,
    timeoutClient: tcp ? duration(app.timeoutClient ?? app.timeoutServer, 'timeout-client') : null,
    timeoutConnect: duration(app.timeoutConnect, 'timeout-connect'),
    maxBody,
    acceptProxy: tcp && settings.edge?.acceptProxy === true,
  };
}

/** What the templates see of the edge settings, every field defaulted and checked. */
function edgeView(edge: EdgeRenderSettings = {}): EdgeView {
  const proxies = edge.trustedProxies ?? [];
  for (const cidr of proxies) {
    const problem = typeof cidr === 'string' ? cidrProblem(cidr) : 'not a string';
    if (problem) fail(`haproxy.trusted_proxies: ${problem}`);
  }
  const chunks: string[][] = [];
  for (let i = 0; i < proxies.length; i += TRUSTED_PROXIES_PER_ACL) chunks.push(proxies.slice(i, i + TRUSTED_PROXIES_PER_ACL));
  const minVer = edge.sslMinVer ?? DEFAULT_SSL_MIN_VER;
  if (!/^TLSv1\.[0-3]$/.test(minVer)) fail(`haproxy.ssl_min_ver must be TLSv1.0-TLSv1.3, got ${JSON.stringify(minVer)}`);
  return {
    acceptProxy: edge.acceptProxy === true,
    trustedProxies: chunks,
    trusted: proxies.length > 0,
    ssl: {
      minVer,
      ciphers: checkMatch(edge.sslCiphers ?? DEFAULT_SSL_CIPHERS, CIPHER_LIST_RE, 'haproxy.ssl_ciphers'),
      ciphersuites: checkMatch(edge.sslCiphersuites ?? DEFAULT_SSL_CIPHERSUITES, CIPHER_LIST_RE, 'haproxy.ssl_ciphersuites'),
    },
  };
}

/**
 * Keeps views between renders (render/incremental.ts): an app's view while its AppRoute object is
 * the same, the host views while the model's host list is the same array.
 */
export interface TemplateDataMemo {
  app(app: AppRoute, make: () => AppView): AppView;
  hosts(routes: HostRoute[], make: () => HostView[]): HostView[];
}

const NO_MEMO: TemplateDataMemo = { app: (_app, make) => make(), hosts: (_routes, make) => make() };

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
  const httpBackends = new Set(httpApps.map((app) => app.backend));

  for (const route of model.hosts) {
    if (!httpBackends.has(route.backend)) {
      fail(`host ${safeHost(route.host)} points at ${JSON.stringify(route.backend)}, which is not the backend of an http app`);
    }
  }
  const hosts = memo.hosts(model.hosts, () => hostViews(model.hosts.filter((route) => route.path === undefined)));
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
