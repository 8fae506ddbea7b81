// The value parsers of the routing and edge tags (router.mode ... router.max-body): each turns a raw
// value (whitespace and control characters already excluded) into its normalised text, or fails.
// The tag table (tag-table.ts) names which parser each tag uses.
import type { ModelSettings } from './types.js';
import { formatPortRanges, inPortRanges } from './port-ranges.js';

/**
 * `why`: a reason more precise than "bad value; allowed: ..." (e.g. which CIDR of a list); `reason`:
 * the whole reason instead (the value is fine, but not the tenant's to take).
 */
export type ParseResult = { ok: true; value: string } | { ok: false; why?: string; reason?: string };

export const ok = (value: string): ParseResult => ({ ok: true, value });
export const no = (why?: string): ParseResult => (why === undefined ? { ok: false } : { ok: false, why });

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

export const HEALTHCHECK_ALLOWED =
  `an HTTP path starting with "/", at most ${MAX_HEALTHCHECK} characters of ` + 'A-Z a-z 0-9 . _ ~ ! * + , = : @ / ? & - and %XX escapes';
export const MAX_BODY_ALLOWED = 'a size <integer>[k|m|g] (bytes, KiB, MiB, GiB) greater than 0 and at most 64g, e.g. 20m';
export const BOOL_ALLOWED = 'true, false';

/** One of `values`, case-insensitive, lowercased. */
export const oneOf =
  (values: readonly string[]) =>
  (v: string): ParseResult => {
    const lower = v.toLowerCase();
    return values.includes(lower) ? ok(lower) : no();
  };

export const parseBool = oneOf(['true', 'false']);

/** Positive integer without leading zeros, at most `max`. */
export function intIn(v: string, min: number, max: number): number | undefined {
  if (!/^[1-9][0-9]{0,8}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

/** A tcp app's frontend port: not the router's own, inside `haproxy.tcp_ports` when set. */
export function parsePort(v: string, settings: ModelSettings): ParseResult {
  const n = intIn(v, 1, 65535);
  if (n === undefined) return no();
  if (settings.reservedPorts.includes(n)) {
    const reserved = [...settings.reservedPorts].sort((a, b) => a - b).join(', ');
    return { ok: false, reason: `port ${n} is reserved by the router (reserved: ${reserved})` };
  }
  if (!inPortRanges(n, settings.tcpPorts))
    return { ok: false, reason: `port ${n} is outside haproxy.tcp_ports (${formatPortRanges(settings.tcpPorts ?? [])}), the ports the load balancer forwards` };
  return ok(String(n));
}

export function parseHealthcheck(v: string): ParseResult {
  return v.length <= MAX_HEALTHCHECK && HEALTHCHECK_RE.test(v) ? ok(v) : no();
}

export function parseMaxconn(v: string): ParseResult {
  const n = intIn(v, 1, MAX_MAXCONN);
  return n === undefined ? no() : ok(String(n));
}

export function parseHsts(v: string): ParseResult {
  const n = v === '0' ? 0 : intIn(v, 1, MAX_HSTS);
  return n === undefined ? no() : ok(String(n));
}

/** `20m` → its size in bytes, as text. */
export function parseMaxBody(v: string): ParseResult {
  const m = /^([1-9][0-9]{0,10})([kmg]?)$/.exec(v.toLowerCase());
  if (!m) return no();
  const bytes = Number(m[1]) * SIZE_UNIT[m[2]!]!;
  return bytes <= MAX_BODY ? ok(String(bytes)) : no();
}
