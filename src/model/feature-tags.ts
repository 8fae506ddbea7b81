// The value parsers of the per-app feature tags: router.redirect, router.allow, router.auth,
// router.group, router.path, router.strip-path, router.rate-limit, router.rate-limit-path. Only the
// syntax of each value is checked here; what needs the whole model (a redirect target among the
// app's own hosts, group agreement, path claims) is checked in features.ts and groups.ts. The tag
// table (tag-table.ts) names which parser each tag uses.
import { MAX_REALM, REALM_RE } from './auth.js';
import { MAX_LABEL, labelsProblem, validateFqdn } from './fqdn.js';
import { parseDuration } from '../config/duration.js';
import type { RateLimit } from './types.js';
import { parseCidr } from '../util/cidr.js';
import { no, ok, type ParseResult } from './tag-values.js';

/** At most this many networks per `router.allow` (HAProxy stops at 64 words per config line). */
export const MAX_ALLOW = 32;
export const MAX_PATH = 128;
/** Most requests a `router.rate-limit` may allow per period. */
export const MAX_RATE_REQUESTS = 1_000_000;
/** A path prefix: `/seg[/seg...]`, segments of unreserved characters, no `.`/`..` segment, no trailing `/`. */
const PATH_RE = /^(?:\/[A-Za-z0-9._~-]+)+$/;

export const ALLOW_ALLOWED = `1..${MAX_ALLOW} IPv4/IPv6 addresses or CIDR networks separated by single spaces, e.g. 10.0.0.0/8 2001:db8::/32`;
export const REALM_ALLOWED = `a realm name of 1..${MAX_REALM} characters A-Z a-z 0-9 . _ ~ - (the users come from Vault <kv_prefix>auth/<app>)`;
export const GROUP_ALLOWED = `a group name usable as a host label (a-z, 0-9, -; at most ${MAX_LABEL} characters per label)`;
export const PATH_ALLOWED = `a path prefix /segment[/segment...] of A-Z a-z 0-9 . _ ~ -, no "." or ".." segment, no trailing "/", at most ${MAX_PATH} characters`;
export const RATE_LIMIT_ALLOWED = `<requests>/<period>: 1..${MAX_RATE_REQUESTS} requests per client address in a period of 1s..24h, e.g. 20/10s`;
export const RATE_LIMIT_PATH_ALLOWED = `a path prefix /segment[/segment...] of A-Z a-z 0-9 . _ ~ -, at most ${MAX_PATH} characters (only requests under it are counted and limited)`;

/** A path prefix (`router.path`, `router.rate-limit-path`, a delegation's path). */
export function parsePathPrefix(v: string): ParseResult {
  if (v.length > MAX_PATH || !PATH_RE.test(v)) return no();
  if (v.split('/').some((seg) => seg === '.' || seg === '..')) return no('"." and ".." segments are not allowed');
  return ok(v);
}

export function parseRedirect(v: string): ParseResult {
  const fqdn = validateFqdn(v);
  return fqdn.ok ? ok(fqdn.fqdn) : no(fqdn.reason);
}

/** Networks separated by single spaces, each normalised, duplicates dropped. */
export function parseAllow(v: string): ParseResult {
  const items = v.split(' ');
  if (items.length > MAX_ALLOW) return no(`${items.length} networks (max ${MAX_ALLOW})`);
  const out: string[] = [];
  for (const item of items) {
    const c = parseCidr(item);
    if (!c.ok) return no(c.reason);
    if (!out.includes(c.cidr)) out.push(c.cidr);
  }
  return ok(out.join(' '));
}

export function parseRealm(v: string): ParseResult {
  return v.length <= MAX_REALM && REALM_RE.test(v) ? ok(v) : no();
}

export function parseGroupName(v: string): ParseResult {
  const name = v.toLowerCase();
  if (/[^\x00-\x7f]/.test(v)) return no('non-ASCII characters');
  const problem = labelsProblem(name);
  return problem ? no(problem) : ok(name);
}

export function parseRateLimit(v: string): ParseResult {
  const m = /^([1-9][0-9]{0,6})\/([1-9][0-9]*(?:ms|s|m|h))$/.exec(v.toLowerCase());
  const periodMs = m ? parseDuration(m[2]!) : undefined;
  if (!m || periodMs === undefined || Number(m[1]) > MAX_RATE_REQUESTS) return no();
  if (periodMs < 1_000 || periodMs > 86_400_000) return no('the period must be 1s..24h');
  return ok(`${m[1]}/${m[2]}`);
}

/** `20/10s` → its parts (the value already passed parseRateLimit); the path comes from router.rate-limit-path. */
export function rateLimitOf(value: string): RateLimit {
  const [requests, period] = value.split('/') as [string, string];
  return { requests: Number(requests), period, periodMs: parseDuration(period)! };
}
