// The feature builders: the parts of an app's view that its router.* tags decide (redirect,
// allow-list, paths, compression, tunnels, HTTP/2, cache, canaries, rate limits and peers, basic
// auth and its userlists) and the edge's settings, each checked before it is printed.
import { createHash } from 'node:crypto';

import { CIPHER_LIST_RE, DEFAULT_SSL_CIPHERS, DEFAULT_SSL_CIPHERSUITES } from '../config/edge-defaults.js';
import { BACKEND_PREFIX } from '../model/backend.js';
import { PEER_NAME_RE } from '../model/peers.js';
import type { AppRoute } from '../model/types.js';
import { cidrProblem } from '../util/cidr.js';
import { COMPRESS_TYPES, MAX_CACHE_MB } from '../model/tenant-tags.js';

import { AUTH_USER_RE, REALM_RE, type AuthFailure } from '../model/auth.js';
import type { EdgeRenderSettings, RenderSettings } from './types.js';
import { fail, byString, NAME, HOSTNAME, DURATION, checkMatch, formatEndpoint, nonNegativeInteger } from './haproxy-syntax.js';
import { TRUSTED_PROXIES_PER_ACL, DEFAULT_SSL_MIN_VER, type AppView, type CacheView, type RateLimitView, type TemplateData, type EdgeView } from './views.js';

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

export const CIDR = /^[0-9a-f.:]+(\/[0-9]{1,3})?$/;

export const PATH_PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/** The feature fields of an AppView (router.redirect, allow, path, strip-path), checked for printing. */
export function featureView(app: AppRoute, what: string): Pick<AppView, 'redirect' | 'allow' | 'path' | 'stripPathRegex'> {
  const redirect = app.redirect === undefined ? null : checkMatch(app.redirect, HOSTNAME, `${what}: redirect`);
  const allow = app.allow === undefined ? null : app.allow.map((c) => checkMatch(c, CIDR, `${what}: allow`)).join(' ');
  if (allow === '') fail(`${what}: allow is an empty list`);
  const path = app.path === undefined ? null : checkMatch(app.path, PATH_PREFIX, `${what}: path`);
  // `.` is the only regex special a prefix may hold; `[.]` needs no backslash in the config line.
  const stripPathRegex = path !== null && app.stripPath === true ? `^${path.replace(/\./g, '[.]')}/?` : null;
  return { redirect, allow, path, stripPathRegex };
}

/** The third-wave fields of an AppView (router.compress ... router.cache), checked for printing. */
export function tenantView(app: AppRoute, what: string): Pick<AppView, 'compressTypes' | 'timeoutTunnel' | 'proto' | 'cache'> {
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
export function canaryViews(app: AppRoute, view: AppView, what: string): AppView[] {
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

export function rateLimitView(app: AppRoute, what: string, settings: RenderSettings): RateLimitView | null {
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
export function peersView(settings: RenderSettings): TemplateData['peers'] {
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
export function authView(app: AppRoute, what: string): Pick<AppView, 'auth' | 'authUnavailable'> {
  if (app.auth === undefined || app.mode !== 'http') return { auth: null, authUnavailable: null };
  const realm = checkMatch(app.auth.realm, REALM_RE, `${what}: auth realm`);
  if (app.auth.failure !== undefined || app.auth.users.length === 0) {
    return { auth: null, authUnavailable: AUTH_UNAVAILABLE[app.auth.failure ?? 'no-entry'] };
  }
  return { auth: { realm, userlist: `${USERLIST_PREFIX}${app.name}` }, authUnavailable: null };
}

/** The userlists of the router.auth apps; a user or hash that cannot be printed is refused (the model validated them). */
export function userlistsView(apps: AppRoute[]): TemplateData['userlists'] {
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

/** The edge fields of an AppView (docs/edge.md). */
export function edgeAppView(
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
export function edgeView(edge: EdgeRenderSettings = {}): EdgeView {
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
