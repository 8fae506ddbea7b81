// Third-wave tags that tenants asked for (issue 22): router.compress, router.timeout-tunnel,
// router.proto, router.canary. Declared here once: the syntax of each value, and the AppRoute
// field its winning vote fills (tenantFields). Group agreement follows from AppSettings
// (groups.ts compares every setting but PER_MEMBER ones); what changes at runtime follows from
// the rendered backend (src/apply/runtime/): all of these are backend lines, so a change reloads.
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
} satisfies Record<string, KeySpec>;

type TenantKey = keyof typeof TENANT_SPECS;

/** The AppRoute fields the third-wave tags decide. */
export type TenantSettings = Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto'> & {
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
  return out;
}

/** The tenant fields of an app's route that are set (AppRoute keeps unset fields absent; a canary is its group's business). */
export function tenantFields(t: TenantSettings): Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto'> {
  const out: Pick<AppRoute, 'compress' | 'timeoutTunnel' | 'proto'> = {};
  if (t.compress !== undefined) out.compress = t.compress;
  if (t.timeoutTunnel !== undefined) out.timeoutTunnel = t.timeoutTunnel;
  if (t.proto !== undefined) out.proto = t.proto;
  return out;
}
