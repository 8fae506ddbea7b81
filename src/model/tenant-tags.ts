// The value parsers of the third-wave tags that tenants asked for (issue 22): router.compress,
// router.timeout-tunnel, router.proto, router.canary, router.cache. The tag table (tag-table.ts)
// names which parser each tag uses, the setting it fills, and whether a group must agree on it.
// router.cache is also bounded across apps by haproxy.cache_max_size (cache-budget.ts).
import type { CanaryRule } from './types.js';
import { no, ok, type ParseResult } from './tag-values.js';

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

export const PROTO_ALLOWED = 'h2 (the servers speak cleartext HTTP/2, e.g. gRPC), h1 (HTTP/1.1, the default)';

export function parseCanaryTag(v: string): ParseResult {
  const c = parseCanary(v);
  return c ? ok(formatCanary(c)) : no();
}

/** A cache size as `<MiB>m`, with the reason a size HAProxy cannot take is refused. */
export function parseCacheTag(v: string): ParseResult {
  const mb = parseCacheSize(v);
  if (mb !== undefined) return ok(`${mb}m`);
  if (/^0+[kmg]?$/i.test(v)) return no('a cache of size 0 is no cache (leave the tag out)');
  const big = /^([0-9]{1,12})([mg])$/i.exec(v);
  if (big && Number(big[1]) * (big[2]!.toLowerCase() === 'g' ? 1024 : 1) > MAX_CACHE_MB) return no(`HAProxy caches are at most ${MAX_CACHE_MB}m`);
  return no();
}
