// `router.<key>=<value>` tags: parsing, validation, majority vote across instances, per-app settings.
import type { ServiceInstance } from '../sources/types.js';
import type { AppMode, AppRoute, ModelSettings, Rejection } from './types.js';
import { formatPortRanges, inPortRanges } from './port-ranges.js';
import { FEATURE_SPECS, featureSettings } from './feature-tags.js';
import { TENANT_SPECS, type TenantSettings, tenantSettings } from './tenant-tags.js';
import { TIMEOUT_ALLOWED, parseTimeout } from './timeout-tag.js';
import { reject } from './rejections.js';
import { CONTROL_RE, WHITESPACE_RE, cmp, safeText } from './text.js';

export const TAG_PREFIX = 'router.';

export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random', 'uri'];
export const MAX_HEALTHCHECK = 200;
export const MAX_MAXCONN = 100000;
/** `router.hsts` upper bound: two years, in seconds. */
export const MAX_HSTS = 63_072_000;
/** `router.max-body` upper bound: 64 GiB. */
export const MAX_BODY = 64 * 1024 ** 3;
const SIZE_UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

// Health check path allow-list: `/` then unreserved and a few sub-delims, plus %XX escapes:
//   A-Z a-z 0-9 . _ ~ ! * + , = : @ / ? & -
// Left out on purpose: whitespace, quotes, `#` (comment), `\`, `$` (HAProxy expands $VAR in
// quoted strings), `(` `)` `;` `'` (shell/log-format risk), and `%` not followed by two hex digits.
const HEALTHCHECK_RE = /^\/(?:[A-Za-z0-9._~!*+,=:@/?&-]|%[0-9A-Fa-f]{2})*$/;

/** `why`: a reason more precise than "bad value; allowed: ..." (e.g. which CIDR of a list). */
export type ParseResult = { ok: true; value: string } | { ok: false; why?: string };

export interface KeySpec {
  /** Human list of allowed values, for reasons. */
  allowed: string;
  /** Value a bare `router.<key>` stands for; undefined when the key needs a value. */
  bare?: string;
  /** Which apps the key applies to. */
  scope: 'any' | 'http' | 'tcp';
  /** The value is a space-separated list (Marathon's `tags` label is split on commas): single spaces allowed. */
  list?: boolean;
  /** Normalises a raw value (whitespace/control already excluded), or fails. */
  parse(value: string, settings: ModelSettings): ParseResult;
}

const ok = (value: string): ParseResult => ({ ok: true, value });
const no: ParseResult = { ok: false };

const oneOf =
  (values: string[]) =>
  (v: string): ParseResult => {
    const lower = v.toLowerCase();
    return values.includes(lower) ? ok(lower) : no;
  };

const boolSpec = (scope: KeySpec['scope']): KeySpec => ({
  allowed: 'true, false',
  bare: 'true',
  scope,
  parse: oneOf(['true', 'false']),
});

/** Positive integer without leading zeros, at most `max`. */
function intIn(v: string, min: number, max: number): number | undefined {
  if (!/^[1-9][0-9]{0,8}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

const SPECS = {
  mode: { allowed: 'http, tcp', scope: 'any', parse: oneOf(['http', 'tcp']) },
  port: {
    allowed: 'an integer 1..65535 not used by the router itself',
    scope: 'tcp',
    parse: (v, settings) => {
      const n = intIn(v, 1, 65535);
      return n === undefined || settings.reservedPorts.includes(n) || !inPortRanges(n, settings.tcpPorts) ? no : ok(String(n));
    },
  },
  balance: { allowed: BALANCE_ALGORITHMS.join(', '), scope: 'any', parse: oneOf(BALANCE_ALGORITHMS) },
  healthcheck: {
    allowed: `an HTTP path starting with "/", at most ${MAX_HEALTHCHECK} characters of ` + 'A-Z a-z 0-9 . _ ~ ! * + , = : @ / ? & - and %XX escapes',
    scope: 'any',
    parse: (v) => (v.length <= MAX_HEALTHCHECK && HEALTHCHECK_RE.test(v) ? ok(v) : no),
  },
  'https-only': boolSpec('http'),
  sticky: boolSpec('http'),
  maxconn: {
    allowed: `an integer 1..${MAX_MAXCONN}`,
    scope: 'any',
    parse: (v) => {
      const n = intIn(v, 1, MAX_MAXCONN);
      return n === undefined ? no : ok(String(n));
    },
  },
  'timeout-server': { allowed: TIMEOUT_ALLOWED, scope: 'any', parse: parseTimeout },
  expose: boolSpec('any'),
  skip: boolSpec('any'),
  // Edge (docs/edge.md).
  hsts: {
    allowed: `a max-age in seconds, an integer 0..${MAX_HSTS} (0 tells browsers to forget it)`,
    scope: 'http',
    parse: (v) => {
      const n = v === '0' ? 0 : intIn(v, 1, MAX_HSTS);
      return n === undefined ? no : ok(String(n));
    },
  },
  'hsts-subdomains': boolSpec('http'),
  // HAProxy 2.6 has one client timeout per frontend, shared by every http app: tcp apps only.
  'timeout-client': { allowed: TIMEOUT_ALLOWED, scope: 'tcp', parse: parseTimeout },
  'timeout-connect': { allowed: TIMEOUT_ALLOWED, scope: 'any', parse: parseTimeout },
  'max-body': {
    allowed: 'a size <integer>[k|m|g] (bytes, KiB, MiB, GiB) greater than 0 and at most 64g, e.g. 20m',
    scope: 'http',
    parse: (v) => {
      const m = /^([1-9][0-9]{0,10})([kmg]?)$/.exec(v.toLowerCase());
      if (!m) return no;
      const bytes = Number(m[1]) * SIZE_UNIT[m[2]!]!;
      return bytes <= MAX_BODY ? ok(String(bytes)) : no;
    },
  },
  // Second wave, per-app features (redirect, allow, group, path): see feature-tags.ts.
  ...FEATURE_SPECS,
  // Third wave (compress, timeout-tunnel, proto, canary): see tenant-tags.ts.
  ...TENANT_SPECS,
} satisfies Record<string, KeySpec>;

export type TagKey = keyof typeof SPECS;
const KEYS = Object.keys(SPECS).sort(cmp) as TagKey[];

function isKey(k: string): k is TagKey {
  return Object.hasOwn(SPECS, k);
}

export type ParsedTag = { ok: true; key: TagKey; value: string } | { ok: false; key?: TagKey; reason: string };

/** Parses one Consul tag; undefined when it is not a `router.` tag (those are not ours). */
export function parseRouterTag(tag: string, settings: ModelSettings): ParsedTag | undefined {
  if (!tag.startsWith(TAG_PREFIX)) return undefined;
  const body = tag.slice(TAG_PREFIX.length);
  const eq = body.indexOf('=');
  const rawKey = eq === -1 ? body : body.slice(0, eq);
  const key = isKey(rawKey) ? rawKey : undefined;
  const fail = (reason: string): ParsedTag => (key ? { ok: false, key, reason } : { ok: false, reason });
  // List values may hold single spaces between items; nothing else may hold whitespace.
  const listValue = key !== undefined && (SPECS[key] as KeySpec).list === true && eq !== -1;
  const spaced = listValue ? `${body.slice(0, eq)}${body.slice(eq + 1).replace(/(?<=\S) (?=\S)/g, '')}` : tag;
  if (WHITESPACE_RE.test(spaced) || CONTROL_RE.test(tag)) {
    return fail(
      listValue ? 'tag contains control characters or whitespace other than single spaces between items' : 'tag contains whitespace or control characters',
    );
  }
  if (rawKey === '') return fail(`empty key: expected router.<key>=<value> with key one of ${KEYS.join(', ')}`);
  if (!key) {
    return fail(`unknown key "${safeText(rawKey, 64)}": known keys are ${KEYS.join(', ')}`);
  }
  const spec: KeySpec = SPECS[key];
  if (eq === -1) {
    if (spec.bare !== undefined) return { ok: true, key, value: spec.bare };
    return fail(`router.${key} needs a value (router.${key}=<value>); allowed: ${spec.allowed}`);
  }
  const raw = body.slice(eq + 1);
  const parsed = raw === '' ? no : spec.parse(raw, settings);
  if (!parsed.ok) {
    const what = raw === '' ? 'empty value' : `bad value "${safeText(raw, 64)}"`;
    let reason = `router.${key}: ${what}; ${!parsed.ok && parsed.why ? `${parsed.why}; ` : ''}allowed: ${spec.allowed}`;
    const port = key === 'port' ? intIn(raw, 1, 65535) : undefined;
    if (port !== undefined && settings.reservedPorts.includes(port)) {
      const reserved = [...settings.reservedPorts].sort((a, b) => a - b).join(', ');
      reason = `router.${key}: port ${port} is reserved by the router (reserved: ${reserved})`;
    } else if (port !== undefined && !inPortRanges(port, settings.tcpPorts)) {
      reason = `router.${key}: port ${port} is outside haproxy.tcp_ports (${formatPortRanges(settings.tcpPorts ?? [])}), the ports the load balancer forwards`;
    }
    return fail(reason);
  }
  return { ok: true, key, value: parsed.value };
}

/** True when a valid `router.<flag>` / `router.<flag>=true` appears on any instance. */
export function hasFlag(instances: ServiceInstance[], flag: 'expose' | 'skip', settings: ModelSettings): boolean {
  return instances.some((inst) => tagsHaveFlag(inst.tags, flag, settings));
}

/** Flags are plain booleans: their parsing reads no setting (sources call this without a model). */
const FLAG_SETTINGS = { reservedPorts: [] } as Partial<ModelSettings> as ModelSettings;

/** True when `tags` hold a valid `router.<flag>` or `router.<flag>=true` (`=false` and bad values do not count). */
export function tagsHaveFlag(tags: readonly string[], flag: 'expose' | 'skip', settings: ModelSettings = FLAG_SETTINGS): boolean {
  return tags.some((tag) => {
    const p = parseRouterTag(tag, settings);
    return p?.ok === true && p.key === flag && p.value === 'true';
  });
}

/** Malformed `router.<flag>` tags; used to report a `router.expose=yes` that failed to expose. */
export function badFlagTags(instances: ServiceInstance[], flag: 'expose' | 'skip', settings: ModelSettings) {
  const out = new Map<string, string>();
  for (const inst of instances) {
    for (const tag of inst.tags) {
      const p = parseRouterTag(tag, settings);
      if (p && !p.ok && p.key === flag) out.set(tag, p.reason);
    }
  }
  return out;
}

/** What the tags decide about an app: exactly these fields of its AppRoute. */
export type AppSettings = Pick<
  AppRoute,
  'mode' | 'port' | 'balance' | 'healthcheck' | 'httpsOnly' | 'sticky' | 'maxconn' | 'timeoutServer' | 'redirect' | 'allow' | 'path' | 'stripPath' | 'rateLimit'
> &
  EdgeSettings &
  TenantSettings & {
    /** `router.group`: the app is served as part of this group's route. */
    group?: string;
    /** `router.auth`: the realm (the users come from Vault). */
    auth?: string;
  };

/** The edge fields of AppRoute (docs/edge.md). */
export type EdgeSettings = Pick<AppRoute, 'hsts' | 'hstsSubdomains' | 'timeoutClient' | 'timeoutConnect' | 'maxBody'>;

/** The edge fields of an app's settings that are set (AppRoute keeps unset fields absent). */
export function edgeFields(t: EdgeSettings): EdgeSettings {
  const out: EdgeSettings = {};
  if (t.hsts !== undefined) out.hsts = t.hsts;
  if (t.hstsSubdomains !== undefined) out.hstsSubdomains = t.hstsSubdomains;
  if (t.timeoutClient !== undefined) out.timeoutClient = t.timeoutClient;
  if (t.timeoutConnect !== undefined) out.timeoutConnect = t.timeoutConnect;
  if (t.maxBody !== undefined) out.maxBody = t.maxBody;
  return out;
}

export interface TagResult {
  /** False when the app cannot be routed at all (tcp without a usable port). */
  routable: boolean;
  settings: AppSettings;
  rejections: Rejection[];
}

interface Vote {
  count: number;
  tags: Set<string>;
}

/**
 * Resolves an app's settings from the union of its instances' tags. Bad tags are rejected and
 * take no part in the vote; among valid values the one carried by most instances wins (ties:
 * smallest value), so one stale instance during a redeploy cannot flip the app.
 */
export function resolveTags(app: string, instances: ServiceInstance[], settings: ModelSettings): TagResult {
  const rejections: Rejection[] = [];
  const votes = new Map<TagKey, Map<string, Vote>>();
  for (const inst of instances) {
    const counted = new Set<string>();
    for (const tag of inst.tags) {
      const p = parseRouterTag(tag, settings);
      if (!p) continue;
      if (!p.ok) {
        rejections.push(reject('tag', app, tag, p.reason));
        continue;
      }
      const values = votes.get(p.key) ?? new Map<string, Vote>();
      votes.set(p.key, values);
      const vote = values.get(p.value) ?? { count: 0, tags: new Set<string>() };
      values.set(p.value, vote);
      vote.tags.add(tag);
      // One vote per instance and value, even if the tag is repeated or spelled twice (`router.sticky`, `=true`).
      const id = `${p.key}=${p.value}`;
      if (!counted.has(id)) {
        counted.add(id);
        vote.count++;
      }
    }
  }

  const pick = (key: TagKey): string | undefined => {
    let best: [string, Vote] | undefined;
    for (const entry of votes.get(key) ?? []) {
      if (!best || entry[1].count > best[1].count || (entry[1].count === best[1].count && cmp(entry[0], best[0]) < 0)) {
        best = entry;
      }
    }
    return best?.[0];
  };

  const mode: AppMode = pick('mode') === 'tcp' ? 'tcp' : 'http';

  // Keys that do not apply to this mode are reported and ignored.
  for (const key of KEYS) {
    const scope = SPECS[key].scope;
    if (scope === 'any' || scope === mode) continue;
    for (const vote of votes.get(key)?.values() ?? []) {
      for (const tag of vote.tags) {
        rejections.push(reject('tag', app, tag, `router.${key} is only valid with router.mode=${scope}; ignored`));
      }
    }
    votes.delete(key);
  }

  const out: AppSettings = {
    mode,
    balance: pick('balance') ?? 'roundrobin',
    httpsOnly: pick('https-only') === 'true',
    sticky: pick('sticky') === 'true',
  };
  const healthcheck = pick('healthcheck');
  if (healthcheck !== undefined) out.healthcheck = healthcheck;
  const maxconn = pick('maxconn');
  if (maxconn !== undefined) out.maxconn = Number(maxconn);
  const timeout = pick('timeout-server');
  if (timeout !== undefined) out.timeoutServer = timeout;
  resolveEdgeTags(app, pick, votes, out, rejections);
  Object.assign(out, featureSettings(pick));
  Object.assign(out, tenantSettings(pick));
  if (out.path === undefined) {
    for (const tag of [...(votes.get('strip-path')?.values() ?? [])].flatMap((v) => [...v.tags])) {
      rejections.push(reject('tag', app, tag, 'router.strip-path needs router.path=/prefix; ignored'));
    }
  }
  if (out.rateLimit === undefined) {
    for (const tag of [...(votes.get('rate-limit-path')?.values() ?? [])].flatMap((v) => [...v.tags])) {
      rejections.push(reject('tag', app, tag, 'router.rate-limit-path needs router.rate-limit=<requests>/<period>; ignored'));
    }
  }

  if (out.canary !== undefined && out.group === undefined) {
    delete out.canary;
    for (const tag of [...(votes.get('canary')?.values() ?? [])].flatMap((v) => [...v.tags]).sort(cmp)) {
      rejections.push(reject('tag', app, tag, 'router.canary is for a member of a router.group (the requests that carry it go to that member); ignored'));
    }
  }

  let routable = true;
  if (mode === 'tcp') {
    const port = pick('port');
    if (port === undefined) {
      routable = false;
      const modeTags = [...(votes.get('mode')?.get('tcp')?.tags ?? ['router.mode=tcp'])].sort(cmp);
      rejections.push(
        reject(
          'tag',
          app,
          modeTags[0]!,
          `router.mode=tcp needs a valid router.port=<${settings.tcpPorts ? `a port in ${formatPortRanges(settings.tcpPorts)}` : '1..65535'}>; app not routed`,
        ),
      );
    } else {
      out.port = Number(port);
    }
  }
  return { routable, settings: out, rejections };
}

/** The edge keys' share of resolveTags: winners of the vote into `out`, inconsistencies rejected. */
function resolveEdgeTags(
  app: string,
  pick: (key: TagKey) => string | undefined,
  votes: Map<TagKey, Map<string, Vote>>,
  out: AppSettings,
  rejections: Rejection[],
): void {
  const hsts = pick('hsts');
  if (hsts !== undefined) out.hsts = Number(hsts);
  if (pick('hsts-subdomains') === 'true') {
    if (hsts !== undefined) out.hstsSubdomains = true;
    else {
      for (const tag of [...(votes.get('hsts-subdomains')?.get('true')?.tags ?? [])].sort(cmp)) {
        rejections.push(reject('tag', app, tag, 'router.hsts-subdomains needs router.hsts=<max-age>; ignored'));
      }
    }
  }
  const timeoutClient = pick('timeout-client');
  if (timeoutClient !== undefined) out.timeoutClient = timeoutClient;
  const timeoutConnect = pick('timeout-connect');
  if (timeoutConnect !== undefined) out.timeoutConnect = timeoutConnect;
  const maxBody = pick('max-body');
  if (maxBody !== undefined) out.maxBody = Number(maxBody);
}
