// Every `router.<key>` tag, declared once: its name, parser, the setting its winning value fills,
// how that setting lands on the app's route, whether a group's members must agree on it and
// whether it can change through HAProxy's runtime API. The tag parser and vote (tags.ts), the
// app's draft (stages.ts), the group check (groups.ts), the fuzzer's list of keys and the docs'
// tag table (docs/tags.md, checked by test/model/tag-table.test.ts) all read this table.
import type { AppMode, AppRoute, ModelSettings } from './types.js';
import {
  BALANCE_ALGORITHMS,
  BOOL_ALLOWED,
  HEALTHCHECK_ALLOWED,
  MAX_BODY_ALLOWED,
  MAX_HSTS,
  MAX_MAXCONN,
  oneOf,
  parseBool,
  parseHealthcheck,
  parseHsts,
  parseMaxBody,
  parseMaxconn,
  parsePort,
  type ParseResult,
} from './tag-values.js';
import {
  ALLOW_ALLOWED,
  GROUP_ALLOWED,
  PATH_ALLOWED,
  RATE_LIMIT_ALLOWED,
  RATE_LIMIT_PATH_ALLOWED,
  REALM_ALLOWED,
  parseAllow,
  parseGroupName,
  parsePathPrefix,
  parseRateLimit,
  parseRealm,
  parseRedirect,
  rateLimitOf,
} from './feature-tags.js';
import { CACHE_ALLOWED, CANARY_ALLOWED, PROTO_ALLOWED, parseCacheSize, parseCacheTag, parseCanary, parseCanaryTag } from './tenant-tags.js';
import { TIMEOUT_ALLOWED, parseTimeout } from './timeout-tag.js';

export const TAG_PREFIX = 'router.';

/** Which apps a tag applies to; on the others it is rejected and ignored. */
export type TagScope = 'any' | 'http' | 'tcp';

/** Names of the settings tags fill: AppRoute fields, and those only the model reads (a group's name, a member's canary). */
export type SettingName = keyof AppRoute | 'group' | 'canary' | 'rateLimitPath';

/** The doc page that tells a tag's story at length. */
export type TagPage = 'routing.md' | 'edge.md' | 'features.md';

interface TagBase {
  /** Human list of allowed values, for reasons and the docs. */
  allowed: string;
  /** Value a bare `router.<key>` stands for; absent when the key needs a value. */
  bare?: string;
  scope: TagScope;
  /** The value is a space-separated list (Marathon's `tags` label is split on commas): single spaces allowed. */
  list?: boolean;
  /** Normalises a raw value (whitespace and control characters already excluded), or says why not. */
  parse(value: string, settings: ModelSettings): ParseResult;
  /** `agree`: every member of a router.group must have the same setting (or is rejected); `own`: each member keeps its own. */
  group: 'agree' | 'own';
  /** A change of the setting goes through HAProxy's runtime API (no reload). */
  runtime: boolean;
  doc: { effect: string; unset: string; page: TagPage };
}

interface SettingTag extends TagBase {
  setting: SettingName;
  /** The winning value (parse's normalised text) as the setting; undefined leaves the setting unset. */
  read(value: string): unknown;
  /** The value an app without the tag has (the setting is then always present). */
  default?: string;
  /** The setting means nothing without another tag's: without it, the tags are rejected with `why` and ignored. */
  needs?: { tag: string; why: string };
  /**
   * How the setting lands on the app's route: absent, the AppRoute field of the same name; null,
   * not at all (the model reads it); else these fields, given the route built so far (table order).
   */
  route?: ((value: never, route: Partial<AppRoute>) => Partial<AppRoute>) | null;
}

/** router.expose and router.skip decide whether a service is routed at all (services.ts); they fill no setting. */
interface SelectionTag extends TagBase {
  setting: null;
}

export type TagSpec = SettingTag | SelectionTag;

const bool = (scope: TagScope) => ({ allowed: BOOL_ALLOWED, bare: 'true', scope, parse: parseBool });
/** An opt-in: `true` fills the setting, `false` is the same as no tag. */
const onlyTrue = (v: string): true | undefined => (v === 'true' ? true : undefined);
const timeout = (scope: TagScope) => ({ allowed: TIMEOUT_ALLOWED, scope, parse: parseTimeout, read: (v: string) => v });
const fixed = { group: 'agree', runtime: false } as const;

/** In the order of AppRoute's fields: the draft (and its JSON) follows it. */
export const TAGS = {
  mode: {
    allowed: 'http, tcp',
    scope: 'any',
    parse: oneOf(['http', 'tcp']),
    setting: 'mode',
    read: (v: string): AppMode => (v === 'tcp' ? 'tcp' : 'http'),
    default: 'http',
    ...fixed,
    doc: { effect: 'tcp apps get a `listen` on `router.port` and no host names', unset: 'http', page: 'routing.md' },
  },
  port: {
    allowed: 'an integer 1..65535 not used by the router itself',
    scope: 'tcp',
    parse: parsePort,
    setting: 'port',
    read: Number,
    ...fixed,
    doc: {
      effect: 'frontend port of a tcp app, inside `haproxy.tcp_ports`; a tcp app without a valid port is not routed',
      unset: 'none (required for tcp)',
      page: 'edge.md',
    },
  },
  balance: {
    allowed: BALANCE_ALGORITHMS.join(', '),
    scope: 'any',
    parse: oneOf(BALANCE_ALGORITHMS),
    setting: 'balance',
    read: (v: string) => v,
    default: 'roundrobin',
    ...fixed,
    doc: { effect: 'HAProxy `balance` algorithm', unset: 'roundrobin', page: 'routing.md' },
  },
  healthcheck: {
    allowed: HEALTHCHECK_ALLOWED,
    scope: 'any',
    parse: parseHealthcheck,
    setting: 'healthcheck',
    read: (v: string) => v,
    ...fixed,
    doc: { effect: "HAProxy's own HTTP check of each server (sent with the app's default host)", unset: 'no check', page: 'routing.md' },
  },
  'https-only': {
    ...bool('http'),
    setting: 'httpsOnly',
    read: (v: string) => v === 'true',
    default: 'false',
    ...fixed,
    doc: { effect: 'redirect HTTP to HTTPS (hosts with a certificate)', unset: 'false', page: 'routing.md' },
  },
  sticky: {
    ...bool('http'),
    setting: 'sticky',
    read: (v: string) => v === 'true',
    default: 'false',
    ...fixed,
    doc: { effect: 'cookie-based persistence (a cookie naming the server)', unset: 'false', page: 'routing.md' },
  },
  maxconn: {
    allowed: `an integer 1..${MAX_MAXCONN}`,
    scope: 'any',
    parse: parseMaxconn,
    setting: 'maxconn',
    read: Number,
    ...fixed,
    doc: { effect: 'per-server connection limit', unset: 'no limit', page: 'routing.md' },
  },
  'timeout-server': {
    ...timeout('any'),
    setting: 'timeoutServer',
    ...fixed,
    doc: { effect: '`timeout server` of the app', unset: '30s', page: 'routing.md' },
  },
  hsts: {
    allowed: `a max-age in seconds, an integer 0..${MAX_HSTS} (0 tells browsers to forget it)`,
    scope: 'http',
    parse: parseHsts,
    setting: 'hsts',
    read: Number,
    ...fixed,
    doc: { effect: "`Strict-Transport-Security: max-age=<n>` on the app's HTTPS responses", unset: 'no header', page: 'edge.md' },
  },
  'hsts-subdomains': {
    ...bool('http'),
    setting: 'hstsSubdomains',
    read: onlyTrue,
    needs: { tag: 'hsts', why: 'router.hsts-subdomains needs router.hsts=<max-age>' },
    ...fixed,
    doc: { effect: 'adds `; includeSubDomains` to the HSTS header', unset: 'false', page: 'edge.md' },
  },
  // HAProxy 2.6 has one client timeout per frontend, shared by every http app: tcp apps only.
  'timeout-client': {
    ...timeout('tcp'),
    setting: 'timeoutClient',
    ...fixed,
    doc: { effect: "`timeout client` of the app's listen", unset: 'router.timeout-server, else 30s', page: 'edge.md' },
  },
  'timeout-connect': {
    ...timeout('any'),
    setting: 'timeoutConnect',
    ...fixed,
    doc: { effect: "`timeout connect` of the app's backend", unset: '5s', page: 'edge.md' },
  },
  'max-body': {
    allowed: MAX_BODY_ALLOWED,
    scope: 'http',
    parse: parseMaxBody,
    setting: 'maxBody',
    read: Number,
    ...fixed,
    doc: { effect: '413 when `Content-Length` is larger (411 without a length)', unset: 'no limit', page: 'edge.md' },
  },
  redirect: {
    allowed: "one of the app's own host names (its default host or a custom domain)",
    scope: 'http',
    parse: parseRedirect,
    setting: 'redirect',
    read: (v: string) => v,
    ...fixed,
    doc: { effect: 'every other host of the app answers 308 to this one', unset: 'no redirect', page: 'features.md' },
  },
  allow: {
    allowed: ALLOW_ALLOWED,
    scope: 'any',
    list: true,
    parse: parseAllow,
    setting: 'allow',
    read: (v: string) => v.split(' '),
    ...fixed,
    doc: { effect: 'only these networks reach the app (403; tcp: connection refused)', unset: 'every client', page: 'features.md' },
  },
  path: {
    allowed: PATH_ALLOWED,
    scope: 'http',
    parse: parsePathPrefix,
    setting: 'path',
    read: (v: string) => v,
    route: (path: string) => ({ path, stripPath: false }),
    ...fixed,
    doc: { effect: "the app is served under this prefix on each of its hosts (the host's owner delegates it)", unset: 'the whole host', page: 'features.md' },
  },
  'strip-path': {
    ...bool('http'),
    setting: 'stripPath',
    read: onlyTrue,
    needs: { tag: 'path', why: 'router.strip-path needs router.path=/prefix' },
    ...fixed,
    doc: { effect: 'the app receives the path without the prefix', unset: 'false', page: 'features.md' },
  },
  auth: {
    allowed: REALM_ALLOWED,
    scope: 'http',
    parse: parseRealm,
    setting: 'auth',
    read: (v: string) => v,
    // Until applyAuth gives it its users (every build), a router.auth app is one that answers 503.
    route: (realm: string) => ({ auth: { realm, path: '', users: [], failure: 'no-entry' } }),
    ...fixed,
    doc: { effect: 'basic auth against the users in Vault `<kv_prefix>auth/<app>` (503 while there are none)', unset: 'no auth', page: 'features.md' },
  },
  'rate-limit': {
    allowed: RATE_LIMIT_ALLOWED,
    scope: 'http',
    parse: parseRateLimit,
    setting: 'rateLimit',
    read: rateLimitOf,
    ...fixed,
    doc: { effect: 'at most n requests per client address per period, shared by the routers; past it 429', unset: 'no limit', page: 'features.md' },
  },
  'rate-limit-path': {
    allowed: RATE_LIMIT_PATH_ALLOWED,
    scope: 'http',
    parse: parsePathPrefix,
    setting: 'rateLimitPath',
    read: (v: string) => v,
    needs: { tag: 'rate-limit', why: 'router.rate-limit-path needs router.rate-limit=<requests>/<period>' },
    route: (path: string, route: Partial<AppRoute>) => (route.rateLimit ? { rateLimit: { ...route.rateLimit, path } } : {}),
    ...fixed,
    doc: { effect: 'only requests under this prefix are counted and limited', unset: 'every request', page: 'features.md' },
  },
  compress: {
    ...bool('http'),
    setting: 'compress',
    read: onlyTrue,
    ...fixed,
    doc: { effect: 'gzip text responses for clients that accept it, unless the app compressed them', unset: 'false', page: 'features.md' },
  },
  // HAProxy's `timeout tunnel`: how long an upgraded connection (WebSocket) may idle. http apps only:
  // a tcp app's connection is a tunnel from the start, bounded by timeout-client/-server.
  'timeout-tunnel': {
    ...timeout('http'),
    setting: 'timeoutTunnel',
    ...fixed,
    doc: { effect: 'how long an upgraded connection (WebSocket) may idle', unset: '1h', page: 'features.md' },
  },
  // h2 is cleartext HTTP/2 with prior knowledge to the servers (gRPC, h2c); clients keep what they negotiated.
  proto: {
    allowed: PROTO_ALLOWED,
    scope: 'http',
    parse: oneOf(['h1', 'h2']),
    setting: 'proto',
    read: (v: string): 'h2' | undefined => (v === 'h2' ? 'h2' : undefined),
    ...fixed,
    doc: { effect: 'HAProxy speaks cleartext HTTP/2 to the servers (gRPC)', unset: 'h1', page: 'features.md' },
  },
  // HAProxy's cache for the app's cacheable responses; all apps' sizes are bounded by haproxy.cache_max_size (cache-budget.ts).
  cache: {
    allowed: CACHE_ALLOWED,
    scope: 'http',
    parse: parseCacheTag,
    setting: 'cache',
    read: (v: string) => parseCacheSize(v)!,
    ...fixed,
    doc: { effect: "an HAProxy cache of this size for the app's cacheable responses, within `haproxy.cache_max_size`", unset: 'no cache', page: 'features.md' },
  },
  // The group's route is built from its members (groups.ts): the name is each member's own.
  group: {
    allowed: GROUP_ALLOWED,
    scope: 'any',
    parse: parseGroupName,
    setting: 'group',
    read: (v: string) => v,
    route: null,
    group: 'own',
    runtime: false,
    doc: { effect: 'several apps served as one route, weighted by `paas-router/weights/<group>`', unset: 'no group', page: 'features.md' },
  },
  // A member of a router.group that takes the requests carrying this header or cookie (groups.ts).
  canary: {
    allowed: CANARY_ALLOWED,
    scope: 'http',
    parse: parseCanaryTag,
    setting: 'canary',
    read: (v: string) => parseCanary(v)!,
    needs: { tag: 'group', why: 'router.canary is for a member of a router.group (the requests that carry it go to that member)' },
    route: null,
    group: 'own',
    runtime: false,
    doc: { effect: 'requests carrying it go to this member of the group only, whatever the weights', unset: 'no canary', page: 'features.md' },
  },
  expose: {
    ...bool('any'),
    setting: null,
    group: 'own',
    runtime: false,
    doc: { effect: 'route a service that was not registered by the Marathon bridge', unset: 'false', page: 'routing.md' },
  },
  skip: {
    ...bool('any'),
    setting: null,
    group: 'own',
    runtime: false,
    doc: { effect: 'never route this service', unset: 'false', page: 'routing.md' },
  },
} satisfies Record<string, TagSpec>;

export type TagKey = keyof typeof TAGS;

/** Every key, in the table's order. */
export const TAG_KEYS = Object.keys(TAGS) as TagKey[];

/** The tags that fill no setting: they decide whether a service is routed at all (router.expose, router.skip). */
export type FlagKey = { [K in TagKey]: (typeof TAGS)[K]['setting'] extends null ? K : never }[TagKey];

type Entry = (typeof TAGS)[TagKey];
type SettingEntry = Extract<Entry, { setting: SettingName }>;
type ValueOf<E> = E extends { read(value: string): infer V } ? Exclude<V, undefined> : never;

/** What an app's tags decide: one field per setting of the table, present when the tag (or its default) fills it. */
export type AppSettings = { [E in SettingEntry as E extends { default: string } ? E['setting'] : never]: ValueOf<E> } & {
  [E in SettingEntry as E extends { default: string } ? never : E['setting']]?: ValueOf<E>;
};

/** The settings every member of a group must share. */
export type AgreedSetting = Extract<SettingEntry, { group: 'agree' }>['setting'];

/** The settings a change of which HAProxy's runtime API applies without a reload (none of the tags' today). */
export type RuntimeSetting = Extract<SettingEntry, { runtime: true }>['setting'];

const settingEntries = Object.values(TAGS).filter((spec: Entry): spec is SettingEntry => spec.setting !== null);

/** Sorted by name: the first one two members differ on is the one a rejection names. */
export const AGREED_SETTINGS: readonly AgreedSetting[] = settingEntries
  .filter((spec): spec is Extract<SettingEntry, { group: 'agree' }> => spec.group === 'agree')
  .map((spec) => spec.setting)
  .sort();

/** Whether HAProxy's runtime API applies a change of `setting` without a reload (the planner's question). */
export function isRuntimeSetting(setting: SettingName): setting is RuntimeSetting {
  return settingEntries.some((spec) => spec.setting === setting && spec.runtime);
}

// Checked by the compiler: a setting copied to the route fits the AppRoute field of its name, and
// a route function takes the setting's value.
type CopyFits<E> = E extends { setting: null } | { route: unknown }
  ? true
  : E extends { setting: infer S extends keyof AppRoute }
    ? ValueOf<E> extends AppRoute[S]
      ? true
      : false
    : false;
type RouteTakes<E> = E extends { route: (value: infer P, route: Partial<AppRoute>) => unknown } ? (ValueOf<E> extends P ? true : false) : true;
type Fits<E> = CopyFits<E> extends true ? RouteTakes<E> : false;
type AllTrue<T extends true> = T;
export type TableFitsRoute = AllTrue<{ [K in TagKey]: Fits<(typeof TAGS)[K]> }[TagKey]>;

/** The spec of a key, as the common shape (the table's entries are each their own type). */
export function tagSpec(key: TagKey): TagSpec {
  return TAGS[key];
}

/** The settings with a default: always present. */
type DefaultedSetting = Extract<SettingEntry, { default: string }>['setting'];

/** The fields of an app's route its settings decide (those with a default always). */
export type RouteFields = Partial<AppRoute> & Pick<AppRoute, DefaultedSetting>;

/** The fields of an app's route its settings decide, in the table's order. */
export function routeFields(settings: AppSettings): RouteFields {
  const out: Partial<AppRoute> = {};
  const values = settings as Partial<Record<SettingName, unknown>>;
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null || spec.route === null) continue;
    const value = values[spec.setting];
    if (value === undefined) continue;
    if (spec.route === undefined) Object.assign(out, { [spec.setting]: value });
    else Object.assign(out, (spec.route as (value: unknown, route: Partial<AppRoute>) => Partial<AppRoute>)(value, out));
  }
  // The defaulted settings are always in `settings`, so always copied.
  return out as RouteFields;
}
