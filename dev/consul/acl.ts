// ACL check with one token that may do everything (Consul docs: api-docs/index "Authentication";
// source: acl/errors.go for the 403 texts, agent/http.go parseToken for where tokens come from).
import type { IncomingHttpHeaders } from 'node:http';

/**
 * How a request without a token is treated on list endpoints. 'deny' (the default) answers
 * 403 everywhere. 'filter' is what a real Consul with default_policy=deny does: list reads
 * answer 200 with everything filtered out and X-Consul-Results-Filtered-By-Acls: true,
 * which looks like "no services" to a careless client.
 */
export type AnonymousMode = 'deny' | 'filter';

/** The permission an endpoint needs, as Consul names it in 403 texts. */
export interface AclNeed {
  resource: 'service' | 'key' | 'node' | 'session';
  level: 'read' | 'write' | 'list';
  name?: string;
  /** Consul filters list results instead of refusing them. */
  filterable: boolean;
}

export type AclDecision = { kind: 'allow' } | { kind: 'filter' } | { kind: 'deny'; message: string };

/** Token from ?token= (deprecated), X-Consul-Token, or Authorization: Bearer, in that order. */
export function requestToken(headers: IncomingHttpHeaders, query: URLSearchParams): string {
  const fromQuery = query.get('token');
  if (fromQuery) return fromQuery;
  const header = headers['x-consul-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = headers.authorization?.trim().split(/\s+/) ?? [];
  if (auth.length > 1 && auth[0]?.toLowerCase() === 'bearer') return auth[1] ?? '';
  return '';
}

export function decideAcl(required: string | undefined, presented: string, need: AclNeed, mode: AnonymousMode): AclDecision {
  if (required === undefined) return { kind: 'allow' };
  if (presented === '') {
    if (mode === 'filter' && need.filterable) return { kind: 'filter' };
    return { kind: 'deny', message: anonymousDenied(need) };
  }
  if (presented !== required) return { kind: 'deny', message: 'ACL not found' };
  return { kind: 'allow' };
}

function anonymousDenied(need: AclNeed): string {
  const on = need.name !== undefined ? ` on ${JSON.stringify(need.name)}` : '';
  return (
    `Permission denied: anonymous token lacks permission '${need.resource}:${need.level}'${on}. ` +
    'The anonymous token is used implicitly when a request does not specify a token.'
  );
}
