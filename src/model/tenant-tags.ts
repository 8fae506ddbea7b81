// Third-wave tags that tenants asked for (issue 22): router.compress, router.timeout-tunnel,
// router.proto, router.canary, router.cache. Declared here once: the syntax of each value, and the AppRoute
// field its winning vote fills (tenantFields). Group agreement follows from AppSettings
// (groups.ts compares every setting but PER_MEMBER ones); what changes at runtime follows from
// the rendered backend (src/apply/runtime/): all of these are backend lines, so a change reloads.
// router.cache is also bounded across apps by haproxy.cache_max_size (cache-budget.ts).
import type { KeySpec, ParseResult } from './tags.js';
import type { AppRoute, CanaryRule } from './types.js';
import { TIMEOUT_ALLOWED, parseTimeout } from './timeout-tag.js';

const ok = (value: string): ParseResult => ({ ok: true, value });
const no: ParseResult = { ok: false };

/** The response types router.compress gzips (HAProxy matches them before any `;` parameter). */
export const COMPRESS_TYPES = ['text/html', 'text/css', 'text/plain', 'text/javascript', 'application/javascript', 'application/json', 'image/svg+xml'];

/** A header name (a token of letters, digits and `-`), a cookie name (also `_`), a value: nothing HAProxy or HTTP treats specially. */
const CANARY_RE = /^(header|cookie):([A-Za-z0-9_-]{1,64})=([A-Za-z0-9._~-]{1,64})$/;
export const CANARY_ALLOWED =
  'header:<Name>=<value> or cookie:<name>=<value>: a name of 1..64 A-Z a-z 0-9 - (cookies also _), a value of 1..64 A-Z a-z 0-9 . _ ~ -';

/** `header:X-Canary=1` / `cookie:canary=yes` → the rule (header names lowercased: HTTP ignores their case). */
export function parseCanary(v: string): CanaryRule | undefined {
  const m = CANARY_RE.exec(v);
  if (!m) return undefined;
  const kind = m[1] as 'header' | 'cookie';
  if (kind === 'header' && m[2]!.includes('_')) return undefined;
  return { kind, name: kind === 'header' ? m[2]!.toLowerCase() : m[2]!, value: m[3]! };
}

export function formatCanary(c: CanaryRule): string {
  return `${c.kind}:${c.name}=${c.value}`;
}

/** HAProxy 2.6 `total-max-size` is in MB, at most 4095. */
export const MAX_CACHE_MB = 4095;
export const CACHE_ALLOWED = `a size <integer>m or <integer>g (MiB, GiB) of at least 1m and at most ${MAX_CACHE_MB}m, e.g. 64m`;

/** `64m` / `1G` → MiB; undefined for anything else (no bare number, no k, no 0, no leading zero, past 4095m). */
export function parseCacheSize(v: string): number | undefined {
  const m = /^([1-9][0-9]{0,3})([mg])$/.exec(v.toLowerCase());
  if (!m) return undefined;
  const mb = Number(m[1]) * (m[2] === 'g' ? 1024 : 1);
  return mb <= MAX_CACHE_MB ? mb : undefined;
}

export const TENANT_SPECS = {
  compress: {
    allowed: 'true, false',
    bare: 'true',
    scope: 'http',
    parse: (v) => (['true', 'false'].includes(v.toLowerCase()) ? ok(v.toLowerCase()) : no),
  },
  // HAProxy's `timeout tunnel`: how long an upgraded connection (WebSocket) may idle. http apps only:
  // a tcp app's connection is a tunnel from the start, bounded by timeout-client/-server.
  'timeout-tunnel': { allowed: TIMEOUT_ALLOWED, scope: 'http', parse: parseTimeout },
  // The protocol HAProxy speaks to the app's servers: h2 is cleartext HTTP/2 with prior knowledge
  // (gRPC servers, h2c); h1 is HTTP/1.1, the default. Clients keep whatever they negotiated.
  proto: {
    allowed: 'h2 (the servers speak cleartext HTTP/2, e.g. gRPC), h1 (HTTP/1.1, the default)',
    scope: 'http',
    parse: (v) => (['h1', 'h2'].includes(v.toLowerCase()) ? ok(v.toLowerCase()) : no),
  },
  // A member of a router.group that takes the requests carrying this header or cookie (groups.ts).
  canary: {
    allowed: CANARY_ALLOWED,
    scope: 'http',
    parse: (v) => {
      const c = parseCanary(v);
      return c ? ok(formatCanary(c)) : no;
    },
  },
  // HAProxy's cache for the app's cacheable responses (a `cache` section of this size); the sizes
  // of all apps together are bounded by haproxy.cache_max_size (cache-budget.ts).
  cache: {
    allowed: CACHE_ALLOWED,
    scope: 'http',
    parse: (v) => {
      const mb = parseCacheSize(v);
      if (mb !== undefined) return ok(`${mb}m`);
      if (/^0+[kmg]?$/i.test(v)) return { ok: false, why: 'a cache of size 0 is no cache (leave the tag out)' };
      const big = /^([0-9]{1,12})([mg])$/i.exec(v);
      if (big && Number(big[1]) * (big[2]!.toLowerCase() === 'g' ? 1024 : 1) > MAX_CACHE_MB)
        return { ok: false, why: `HAProxy caches are at most ${MAX_CACHE_MB}m` };
      return no;
    },
  },
} satisfies Record<string, KeySpec>;

type TenantKey = keyof typeof TENANT_SPECS;

/** The AppRoute fields the third-wave tags decide. */
export type TenantSettings = Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto' | 'cache'> & {
  /** `router.canary` of a group member (the group's members keep their own: PER_MEMBER in groups.ts). */
  canary?: CanaryRule;
};

/** The settings from the winning vote of each key (unset fields stay absent). */
export function tenantSettings(pick: (key: TenantKey) => string | undefined): TenantSettings {
  const out: TenantSettings = {};
  if (pick('compress') === 'true') out.compress = true;
  const tunnel = pick('timeout-tunnel');
  if (tunnel !== undefined) out.timeoutTunnel = tunnel;
  if (pick('proto') === 'h2') out.proto = 'h2';
  const canary = pick('canary');
  if (canary !== undefined) out.canary = parseCanary(canary)!;
  const cache = pick('cache');
  if (cache !== undefined) out.cache = parseCacheSize(cache)!;
  return out;
}

/** The tenant fields of an app's route that are set (AppRoute keeps unset fields absent; a canary is its group's business). */
export function tenantFields(t: TenantSettings): Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto' | 'cache'> {
  const out: Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto' | 'cache'> = {};
  if (t.compress !== undefined) out.compress = t.compress;
  if (t.timeoutTunnel !== undefined) out.timeoutTunnel = t.timeoutTunnel;
  if (t.proto !== undefined) out.proto = t.proto;
  if (t.cache !== undefined) out.cache = t.cache;
  return out;
}
