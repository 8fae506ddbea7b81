// The /v1 endpoints: path and method matching, query parameters, and the call into the
// catalog or KV store. Reads return a re-runnable query so the server can block on it.
import type { AclNeed } from './acl.js';
import { parseJsonBody } from './decode.js';
import { parseDeregistration, parseRegistration } from './registration.js';
import { HttpError, empty, json, type QueryResult, type Reply } from './reply.js';
import type { DevConsulState } from './state.js';

export interface RouteRequest {
  method: string;
  /** Path after the route's prefix, percent-decoded (a service name or a KV key). */
  param: string;
  query: URLSearchParams;
  body: Buffer;
  /** The ACL check chose to filter everything out (anonymous request, 'filter' mode). */
  filtered: boolean;
}

/**
 * `peek`, when given, returns the index `query` would report, cheaply: a blocked query re-runs the
 * full query only when it moved (like Consul's per-table watch channels), so one write does not
 * re-evaluate every blocked query of a large catalog.
 */
export type Handled = { kind: 'read'; query: () => QueryResult; peek?: () => number } | { kind: 'write'; apply: () => Reply };

export interface Route {
  methods: readonly string[];
  acl(req: RouteRequest): AclNeed;
  handle(req: RouteRequest, state: DevConsulState): Handled;
}

const KV_MAX_VALUE_SIZE = 512 * 1024;

const read = (query: () => QueryResult, peek?: () => number): Handled => ({ kind: 'read', query, peek });
const write = (apply: () => Reply): Handled => ({ kind: 'write', apply });
const found = (index: number, body: unknown): QueryResult => ({ index, notFound: false, reply: json(body) });
const notFound = (index: number): QueryResult => ({ index, notFound: true, reply: empty(404) });

/** Go's strconv.ParseBool, which Consul uses for flag-like parameters. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** A uint64 query parameter; Consul passes the strconv error through as a 500. */
function uintParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new HttpError(500, `strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  return Number(value);
}

function conflicting(query: URLSearchParams, ...flags: string[]): void {
  if (flags.filter((f) => query.has(f)).length > 1) {
    throw new HttpError(400, `Conflicting flags: ${query.toString()}\n`);
  }
}

/** Best effort: the node a catalog write names, for the 403 text. */
function bodyNode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { Node?: unknown };
    return typeof parsed.Node === 'string' ? parsed.Node : undefined;
  } catch {
    return undefined;
  }
}

const catalogServices: Route = {
  methods: ['GET'],
  acl: () => ({ resource: 'service', level: 'read', filterable: true }),
  handle: (req, state) =>
    read(
      () => {
        const { index, body } = state.catalog.listServices();
        return found(index, req.filtered ? {} : body);
      },
      () => state.catalog.servicesTableIndex(),
    ),
};

const healthService: Route = {
  methods: ['GET'],
  acl: (req) => ({ resource: 'service', level: 'read', name: req.param, filterable: true }),
  handle: (req, state) => {
    if (req.param === '') throw new HttpError(400, 'Missing service name');
    const passingParam = req.query.get('passing');
    const passing = passingParam === null ? false : passingParam === '' ? true : parseGoBool(passingParam);
    if (passing === undefined) throw new HttpError(400, 'Invalid value for ?passing');
    const tags = req.query.getAll('tag');
    return read(
      () => {
        const { index, body } = state.catalog.healthService(req.param, { passing, tags });
        return found(index, req.filtered ? [] : body);
      },
      () => state.catalog.healthIndex(req.param),
    );
  },
};

const HEALTH_STATES = ['any', 'passing', 'warning', 'critical'];

const healthState: Route = {
  methods: ['GET'],
  acl: () => ({ resource: 'service', level: 'read', filterable: true }),
  handle: (req, state) => {
    if (!HEALTH_STATES.includes(req.param)) throw new HttpError(400, `Invalid state: ${req.param}`);
    return read(
      () => {
        const { index, body } = state.catalog.checksInState(req.param);
        return found(index, req.filtered ? [] : body);
      },
      () => state.catalog.checksTableIndex(),
    );
  },
};

const uiServices: Route = {
  methods: ['GET'],
  acl: () => ({ resource: 'service', level: 'read', filterable: true }),
  handle: (req, state) =>
    read(
      () => {
        const { index, body } = state.catalog.serviceSummaries();
        return found(index, req.filtered ? [] : body);
      },
      () => state.catalog.servicesTableIndex(),
    ),
};

const catalogWrite = (op: 'register' | 'deregister'): Route => ({
  methods: ['PUT'],
  acl: (req) => ({ resource: 'node', level: 'write', name: bodyNode(req.body), filterable: false }),
  handle: (req, state) =>
    write(() => {
      const body = parseJsonBody(req.body);
      const apply =
        op === 'register'
          ? (index: number) => state.catalog.register(parseRegistration(body), index)
          : (index: number) => state.catalog.deregister(parseDeregistration(body), index);
      state.write((index) => ({ result: undefined, changed: apply(index) }));
      return json(true);
    }),
});

const kvRoute: Route = {
  methods: ['GET', 'PUT', 'DELETE'],
  acl: (req) => {
    if (req.method !== 'GET') return { resource: 'key', level: 'write', name: req.param, filterable: false };
    const list = req.query.has('recurse') || req.query.has('keys');
    return { resource: 'key', level: list ? 'list' : 'read', name: req.param, filterable: list };
  },
  handle: (req, state) => {
    const key = req.param;
    const q = req.query;
    if (req.method === 'GET') {
      if (q.has('keys')) {
        const separator = q.get('separator') ?? q.get('seperator') ?? ''; // Consul accepts its old misspelling
        return read(() => {
          const { index, keys } = state.kv.keys(key, separator);
          const shown = req.filtered ? [] : keys;
          // No 404 for the root: an empty store lists as [].
          return shown.length === 0 && key !== '' ? notFound(index) : found(index, shown);
        });
      }
      if (q.has('recurse')) {
        return read(() => {
          const { index, entries } = state.kv.list(key);
          return entries.length === 0 || req.filtered ? notFound(index) : found(index, entries);
        });
      }
      if (key === '') throw new HttpError(400, 'Missing key name');
      return read(() => {
        const { index, entry, raw } = state.kv.get(key);
        if (!entry || !raw) return notFound(index);
        if (!q.has('raw')) return found(index, [entry]);
        const headers = { 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox' };
        return { index, notFound: false, reply: { kind: 'text', status: 200, body: raw, headers } };
      });
    }
    if (req.method === 'PUT') {
      if (key === '') throw new HttpError(400, 'Missing key name');
      conflicting(q, 'cas', 'acquire', 'release');
      const lockSession = q.get('acquire') ?? q.get('release');
      const lock = q.has('acquire') ? { acquire: q.get('acquire')! } : q.has('release') ? { release: q.get('release')! } : undefined;
      const flags = uintParam(q, 'flags') ?? 0;
      const cas = uintParam(q, 'cas');
      if (req.body.length > KV_MAX_VALUE_SIZE) {
        throw new HttpError(
          413,
          `Request body(${req.body.length} bytes) too large, max size: ${KV_MAX_VALUE_SIZE} bytes. ` +
            'See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.',
        );
      }
      return write(() => {
        if (lock && (!lockSession || !state.sessions.get(lockSession))) throw new HttpError(500, `invalid session "${lockSession ?? ''}"`);
        // Within the lock-delay of a key's invalidated holder, nobody acquires it (checked before raft: no index).
        if (lock && 'acquire' in lock && state.sessions.lockDelayed(key)) return json(false);
        return json(state.write((index) => state.kv.put(key, req.body, flags, cas, index, lock)));
      });
    }
    conflicting(q, 'recurse', 'cas');
    const recurse = q.has('recurse');
    if (!recurse && key === '') throw new HttpError(400, 'Missing key name');
    const cas = uintParam(q, 'cas');
    return write(() => json(state.write((index) => state.kv.delete(key, { recurse, cas }, index))));
  },
};

const sessionCreate: Route = {
  methods: ['PUT'],
  acl: () => ({ resource: 'session', level: 'write', filterable: false }),
  handle: (req, state) =>
    write(() => {
      const body = req.body.length > 0 ? parseJsonBody(req.body) : {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'Request decode failed: expected an object');
      return json({ ID: state.write((index) => ({ result: state.sessions.create(body as Record<string, unknown>, index).ID, changed: true })) });
    }),
};

const sessionDestroy: Route = {
  methods: ['PUT'],
  acl: () => ({ resource: 'session', level: 'write', filterable: false }),
  handle: (req, state) =>
    write(() => {
      if (req.param === '') throw new HttpError(400, 'Missing session');
      state.invalidateSession(req.param);
      return json(true);
    }),
};

const sessionRenew: Route = {
  methods: ['PUT'],
  acl: () => ({ resource: 'session', level: 'write', filterable: false }),
  handle: (req, state) =>
    write(() => {
      const session = state.sessions.renew(req.param);
      if (!session) throw new HttpError(404, `Session id '${req.param}' not found`);
      return json([session]);
    }),
};

const sessionInfo: Route = {
  methods: ['GET'],
  acl: () => ({ resource: 'session', level: 'read', filterable: false }),
  handle: (req, state) =>
    read(() => {
      const session = state.sessions.get(req.param);
      return found(state.index, session ? [session] : []);
    }),
};

const sessionList: Route = {
  methods: ['GET'],
  acl: () => ({ resource: 'session', level: 'read', filterable: true }),
  handle: (req, state) => read(() => found(state.index, req.filtered ? [] : state.sessions.list())),
};

const EXACT: Record<string, Route> = {
  '/v1/catalog/services': catalogServices,
  '/v1/catalog/register': catalogWrite('register'),
  '/v1/catalog/deregister': catalogWrite('deregister'),
  '/v1/internal/ui/services': uiServices,
  '/v1/session/create': sessionCreate,
  '/v1/session/list': sessionList,
};
const PREFIXED: [string, Route][] = [
  ['/v1/health/service/', healthService],
  ['/v1/health/state/', healthState],
  ['/v1/kv/', kvRoute],
  ['/v1/session/destroy/', sessionDestroy],
  ['/v1/session/renew/', sessionRenew],
  ['/v1/session/info/', sessionInfo],
];

/** The route for a raw (still percent-encoded) path, with its decoded parameter. */
export function findRoute(rawPath: string): { route: Route; param: string } | undefined {
  const exact = EXACT[rawPath];
  if (exact) return { route: exact, param: '' };
  for (const [prefix, route] of PREFIXED) {
    if (rawPath.startsWith(prefix)) {
      try {
        return { route, param: decodeURIComponent(rawPath.slice(prefix.length)) };
      } catch {
        throw new HttpError(400, `Invalid URL path: ${rawPath}`);
      }
    }
  }
  return undefined;
}
