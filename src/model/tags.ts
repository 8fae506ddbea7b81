// `router.<key>=<value>` tags: parsing, validation, majority vote across instances, per-app settings.
import type { ServiceInstance } from '../sources/types.js';
import type { AppMode, AppRoute, ModelSettings, Rejection } from './types.js';
import { parseDuration } from '../config/duration.js';
import { reject } from './rejections.js';
import { CONTROL_RE, WHITESPACE_RE, cmp, safeText } from './text.js';

export const TAG_PREFIX = 'router.';

export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random', 'uri'];
export const MAX_HEALTHCHECK = 200;
export const MAX_MAXCONN = 100000;
const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

// Health check path allow-list: `/` then unreserved and a few sub-delims, plus %XX escapes:
//   A-Z a-z 0-9 . _ ~ ! * + , = : @ / ? & -
// Left out on purpose: whitespace, quotes, `#` (comment), `\`, `$` (HAProxy expands $VAR in
// quoted strings), `(` `)` `;` `'` (shell/log-format risk), and `%` not followed by two hex digits.
const HEALTHCHECK_RE = /^\/(?:[A-Za-z0-9._~!*+,=:@/?&-]|%[0-9A-Fa-f]{2})*$/;

type ParseResult = { ok: true; value: string } | { ok: false };

interface KeySpec {
  /** Human list of allowed values, for reasons. */
  allowed: string;
  /** Value a bare `router.<key>` stands for; undefined when the key needs a value. */
  bare?: string;
  /** Which apps the key applies to. */
  scope: 'any' | 'http' | 'tcp';
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
      return n === undefined || settings.reservedPorts.includes(n) ? no : ok(String(n));
    },
  },
  balance: { allowed: BALANCE_ALGORITHMS.join(', '), scope: 'any', parse: oneOf(BALANCE_ALGORITHMS) },
  healthcheck: {
    allowed:
      `an HTTP path starting with "/", at most ${MAX_HEALTHCHECK} characters of ` +
      'A-Z a-z 0-9 . _ ~ ! * + , = : @ / ? & - and %XX escapes',
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
  'timeout-server': {
    allowed: 'a duration <integer><ms|s|m|h> greater than 0 and at most 24h, e.g. 120s',
    scope: 'any',
    parse: (v) => {
      const m = /^([1-9][0-9]{0,8})(ms|s|m|h)$/.exec(v.toLowerCase());
      if (!m) return no;
      return parseDuration(m[0])! <= MAX_TIMEOUT_MS ? ok(m[0]) : no;
    },
  },
  expose: boolSpec('any'),
  skip: boolSpec('any'),
} satisfies Record<string, KeySpec>;

export type TagKey = keyof typeof SPECS;
const KEYS = Object.keys(SPECS).sort(cmp) as TagKey[];

function isKey(k: string): k is TagKey {
  return Object.prototype.hasOwnProperty.call(SPECS, k);
}

export type ParsedTag =
  | { ok: true; key: TagKey; value: string }
  | { ok: false; key?: TagKey; reason: string };

/** Parses one Consul tag; undefined when it is not a `router.` tag (those are not ours). */
export function parseRouterTag(tag: string, settings: ModelSettings): ParsedTag | undefined {
  if (!tag.startsWith(TAG_PREFIX)) return undefined;
  const body = tag.slice(TAG_PREFIX.length);
  const eq = body.indexOf('=');
  const rawKey = eq === -1 ? body : body.slice(0, eq);
  const key = isKey(rawKey) ? rawKey : undefined;
  const fail = (reason: string): ParsedTag => (key ? { ok: false, key, reason } : { ok: false, reason });
  if (WHITESPACE_RE.test(tag) || CONTROL_RE.test(tag)) {
    return fail('tag contains whitespace or control characters');
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
    let reason = `router.${key}: ${what}; allowed: ${spec.allowed}`;
    const port = key === 'port' ? intIn(raw, 1, 65535) : undefined;
    if (port !== undefined && settings.reservedPorts.includes(port)) {
      const reserved = [...settings.reservedPorts].sort((a, b) => a - b).join(', ');
      reason = `router.${key}: port ${port} is reserved by the router (reserved: ${reserved})`;
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
export type AppSettings = Pick<AppRoute, 'mode' | 'port' | 'balance' | 'healthcheck' | 'httpsOnly' | 'sticky' | 'maxconn' | 'timeoutServer'>;

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

  let routable = true;
  if (mode === 'tcp') {
    const port = pick('port');
    if (port === undefined) {
      routable = false;
      const modeTags = [...(votes.get('mode')?.get('tcp')?.tags ?? ['router.mode=tcp'])].sort(cmp);
      rejections.push(
        reject('tag', app, modeTags[0]!, 'router.mode=tcp needs a valid router.port=<1..65535>; app not routed'),
      );
    } else {
      out.port = Number(port);
    }
  }
  return { routable, settings: out, rejections };
}
