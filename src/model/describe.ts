// One-line descriptions of an app's features, for the status page and `explain`
// ("www.example.org → 308 to example.org", "weights web-blue 90 / web-green 10",
// "in maintenance since ..."). Pure.
import type { AppRoute } from './types.js';

export function describeFeatures(app: AppRoute): string[] {
  const lines: string[] = [];
  if (app.allow) lines.push(`only ${app.allow.join(', ')} reach it (others get ${app.mode === 'http' ? '403' : 'the connection refused'})`);
  if (app.redirect) {
    for (const host of app.hosts.filter((h) => h !== app.redirect)) lines.push(`${host} → 308 to ${app.redirect}`);
  }
  if (app.auth) lines.push(describeAuth(app));
  if (app.path) lines.push(`served under ${app.path} on each host${app.stripPath ? ` (the app gets the path without ${app.path})` : ''}`);
  if (app.members) {
    const weights = app.members.map((m) => `${m.app} ${m.weight}`).join(' / ');
    const from = app.weightsKey && app.members.some((m) => m.weightFrom !== 'default') ? ` (from ${app.weightsKey})` : ' (default: equal)';
    lines.push(`group of ${app.members.map((m) => m.app).join(', ')}: weights ${weights}${from}`);
    for (const m of app.members.filter((x) => x.weight === 0))
      lines.push(`${m.app} has weight 0: drained, no new traffic${m.canary ? ' but its canary requests' : ''}`);
    for (const m of app.members.filter((x) => x.canary))
      lines.push(`canary: requests with ${m.canary!.kind} ${m.canary!.name}=${m.canary!.value} go to ${m.app} only (while it has a passing instance)`);
  }
  if (app.compress) lines.push('gzip for text responses (html, css, plain, javascript, json, svg) when the client accepts it and the app did not compress');
  if (app.timeoutTunnel) lines.push(`upgraded connections (WebSockets) may idle ${app.timeoutTunnel}`);
  if (app.proto === 'h2') lines.push('HAProxy speaks cleartext HTTP/2 to the servers (router.proto=h2: gRPC, h2c); clients keep HTTP/1.1 or HTTP/2');
  if (app.cache !== undefined)
    lines.push(
      `HAProxy cache of ${app.cache}m for responses that say how long they are fresh (Cache-Control max-age, at most 1h); never for requests with a Cookie or Authorization, or responses with Set-Cookie`,
    );
  if (app.maintenance) {
    const since = app.maintenance.since !== undefined ? ` since ${new Date(app.maintenance.since).toISOString()}` : '';
    lines.push(`in maintenance${since} (${app.maintenance.key}): 503 "${app.maintenance.message}"`);
  }
  return lines;
}

const AUTH_FAILURE = {
  'no-vault': 'Vault is not configured',
  'no-entry': 'no users in Vault',
  invalid: 'the users in Vault are invalid (see the rejections)',
} as const;

/** router.auth in words: who may pass, or why everyone gets 503. User names at most, never a hash. */
export function describeAuth(app: AppRoute): string {
  const auth = app.auth!;
  if (auth.failure !== undefined || auth.users.length === 0) {
    return `basic auth (realm ${auth.realm}): answers 503, authentication is not configured: ${AUTH_FAILURE[auth.failure ?? 'no-entry']} (${auth.path})`;
  }
  const n = auth.users.length;
  return `basic auth (realm ${auth.realm}): ${n} user${n === 1 ? '' : 's'} from Vault ${auth.path} (${auth.users.map((u) => u.name).join(', ')}); others get 401`;
}
