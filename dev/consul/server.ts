// A Consul HTTP API dev server for tests and `paas-router dev` (dev-only; never imported by
// src/). It serves the catalog, health and KV endpoints with Consul's shapes, blocking
// queries, index bookkeeping, ACL token checks and error texts, plus test controls: index
// reset (snapshot restore), stop/start on the same port, fault modes and a request counter.
// Behaviour notes and deviations from a real Consul: dev/consul/README.md.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { decideAcl, requestToken, type AnonymousMode } from './acl.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { blockingQuery, parseBlockingParams, type BlockingParams, type WaitTime } from './blocking.js';
import { SLOW_EXTRA_MS, immediateFault, isFaultMode, truncateReply, type FaultMode } from './faults.js';
import { HttpError, type Reply } from './reply.js';
import { parseRegistration } from './registration.js';
import { findRoute, type Handled } from './routes.js';
import { DevConsulState, reportedIndex } from './state.js';

export type { FaultMode } from './faults.js';
export type { AnonymousMode } from './acl.js';

export interface DevConsulOptions {
  /** 0 or absent: a free port, kept across stop()/start(). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** When set, every /v1 request needs this token (X-Consul-Token or Authorization: Bearer). */
  aclToken?: string;
  /** How requests without a token are treated when aclToken is set; default 'deny'. */
  anonymous?: AnonymousMode;
  /** Default dc1. */
  datacenter?: string;
  /** Register the server's own node and `consul` service, as a real agent does; default true. */
  registerSelf?: boolean;
  /**
   * limits.http_max_conns_per_client: connections one client address may hold at once; past it a
   * new connection is reset before it is read, as the real agent does. Default 200 (Consul's); 0 = none.
   */
  maxConnsPerClient?: number;
  /** Time for blocking waits and the 'slow' fault; the system clock by default (tests pass a manual one). */
  clock?: Clock;
  /** The jitter's randomness, in [0, 1); Math.random by default. */
  random?: () => number;
}

export interface DevConsul {
  /** http://HOST:PORT */
  readonly url: string;
  readonly port: number;
  /** Current raft index (the last write's index). */
  readonly index: number;
  /** /v1 requests received since start, whatever their outcome. */
  readonly requestCount: number;
  /** Requests held right now: blocked queries waiting for a change, or held by the 'slow' fault. */
  readonly waiting: number;
  readonly fault: FaultMode;
  readonly running: boolean;
  /** Snapshot restore: the raft index goes back to `to` and blocked queries wake. */
  resetIndex(to?: number): void;
  setFault(mode: FaultMode): void;
  /** A fault for /v1/health/service/<name> only ('none' clears it): one service whose reads fail. */
  setServiceFault(name: string, mode: FaultMode): void;
  /** Require another token from now on; undefined turns ACLs off. */
  setAclToken(token: string | undefined): void;
  /** Close the listener and every open connection; all data is kept. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** Final shutdown. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const SELF_NODE = 'dev-consul';

export async function startDevConsul(opts: DevConsulOptions = {}): Promise<DevConsul> {
  const server = new DevConsulServer(opts);
  if (opts.registerSelf !== false) server.registerSelf();
  await server.start();
  return server;
}

class DevConsulServer implements DevConsul {
  private readonly state: DevConsulState;
  private readonly host: string;
  private listenPort: number;
  private aclToken: string | undefined;
  private readonly anonymous: AnonymousMode;
  private httpServer: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly perClient = new Map<string, number>();
  private readonly maxConnsPerClient: number;
  /** Connections reset because their client was past maxConnsPerClient. */
  refusedConnections = 0;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  fault: FaultMode = 'none';
  requestCount = 0;
  waiting = 0;
  private readonly time: WaitTime;

  constructor(opts: DevConsulOptions) {
    this.state = new DevConsulState(opts.datacenter ?? 'dc1');
    this.host = opts.host ?? '127.0.0.1';
    this.listenPort = opts.port ?? 0;
    this.aclToken = opts.aclToken;
    this.anonymous = opts.anonymous ?? 'deny';
    this.maxConnsPerClient = opts.maxConnsPerClient ?? 200;
    this.time = { clock: opts.clock ?? systemClock, random: opts.random ?? Math.random };
  }

  /** Counts a held request in `waiting` while `hold` runs. */
  private async held<T>(hold: Promise<T>): Promise<T> {
    this.waiting += 1;
    try {
      return await hold;
    } finally {
      this.waiting -= 1;
    }
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.listenPort}`;
  }

  get index(): number {
    return this.state.index;
  }

  get running(): boolean {
    return this.httpServer !== undefined;
  }

  registerSelf(): void {
    const body = {
      Node: SELF_NODE,
      Address: this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host,
      Service: { ID: 'consul', Service: 'consul', Port: 8300 },
      Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Output: 'Agent alive and reachable' },
    };
    this.state.write((index) => ({ result: undefined, changed: this.state.catalog.register(parseRegistration(body), index) }));
  }

  resetIndex(to = 1): void {
    this.state.resetIndex(to);
  }

  setFault(mode: FaultMode): void {
    if (!isFaultMode(mode)) throw new RangeError(`unknown fault mode: ${String(mode)}`);
    this.fault = mode;
    this.faultsChanged();
  }

  /** Requests held by the 'hold' fault look again at their fault when one changes. */
  private holds = new Set<() => void>();

  private faultsChanged(): void {
    for (const wake of [...this.holds]) wake();
  }

  /**
   * The 'hold' fault: 200 and the read headers at once, then a space every second (JSON allows
   * leading whitespace) so that no client's idle timeout ends the hold, and the body, read at
   * that moment, once the fault is cleared.
   */
  private async holdThenSend(res: ServerResponse, handled: Handled, current: () => FaultMode, signal: AbortSignal): Promise<void> {
    setReadMeta(res, this.state.index, 'leader');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const keepAlive = setInterval(() => res.write(' '), 1_000);
    try {
      await this.held(this.untilReleased(current, signal));
    } finally {
      clearInterval(keepAlive);
    }
    if (signal.aborted || res.destroyed) return;
    const reply = handled.kind === 'read' ? handled.query().reply : handled.apply();
    res.end(reply.kind === 'json' ? JSON.stringify(reply.body) : reply.kind === 'text' ? reply.body : '');
  }

  /** Resolves once `current()` is no longer 'hold' (or the request is gone). */
  private untilReleased(current: () => FaultMode, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        if (current() === 'hold' && !signal.aborted) return;
        this.holds.delete(wake);
        resolve();
      };
      this.holds.add(wake);
      signal.addEventListener('abort', wake, { once: true });
      wake();
    });
  }

  private readonly serviceFaults = new Map<string, FaultMode>();

  setServiceFault(name: string, mode: FaultMode): void {
    if (!isFaultMode(mode)) throw new RangeError(`unknown fault mode: ${String(mode)}`);
    if (mode === 'none') this.serviceFaults.delete(name);
    else this.serviceFaults.set(name, mode);
    this.faultsChanged();
  }

  setAclToken(token: string | undefined): void {
    this.aclToken = token === '' ? undefined : token;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('dev consul: closed for good');
    if (this.httpServer) return;
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket: Socket) => {
      const client = socket.remoteAddress ?? '';
      const held = (this.perClient.get(client) ?? 0) + 1;
      if (this.maxConnsPerClient > 0 && held > this.maxConnsPerClient) {
        this.refusedConnections += 1;
        socket.resetAndDestroy();
        return;
      }
      this.perClient.set(client, held);
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        const left = (this.perClient.get(client) ?? 1) - 1;
        if (left > 0) this.perClient.set(client, left);
        else this.perClient.delete(client);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === 'object') this.listenPort = address.port;
    this.httpServer = server;
  }

  async stop(): Promise<void> {
    const server = this.httpServer;
    if (!server) return;
    this.httpServer = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const controller of this.inFlight) controller.abort();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    await this.stop();
    this.state.sessions.close();
    this.closed = true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    res.on('close', () => {
      controller.abort();
      this.inFlight.delete(controller);
    });
    try {
      const url = new URL(req.url ?? '/', 'http://dev-consul');
      if (url.pathname.startsWith('/v1/')) await this.handleApi(req, res, url, controller.signal);
      else if (url.pathname.startsWith('/dev/')) this.handleDev(req, res, url);
      else if (url.pathname === '/') send(res, { kind: 'text', status: 200, body: 'Consul Agent' });
      else send(res, { kind: 'empty', status: 404 });
    } catch (error) {
      if (error instanceof HttpError) {
        send(res, { kind: 'text', status: error.status, body: error.message, headers: error.headers });
      } else {
        send(res, { kind: 'text', status: 500, body: String(error) });
      }
    }
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL, signal: AbortSignal): Promise<void> {
    this.requestCount += 1;
    const faultNow = () =>
      (url.pathname.startsWith('/v1/health/service/')
        ? this.serviceFaults.get(decodeURIComponent(url.pathname.slice('/v1/health/service/'.length)))
        : undefined) ?? this.fault;
    const fault = faultNow();
    // Responses since Consul 1.9 carry the default policy even with ACLs off.
    res.setHeader('X-Consul-Default-Acl-Policy', this.aclToken === undefined ? 'allow' : 'deny');
    const immediate = immediateFault(fault);
    if (immediate) {
      if (immediate.status === 200) setReadMeta(res, this.state.index, 'leader');
      return send(res, immediate);
    }

    const match = findRoute(url.pathname);
    if (!match) return send(res, { kind: 'empty', status: 404 });
    const { route, param } = match;
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.setHeader('Allow', ['OPTIONS', ...route.methods].join(','));
      return send(res, { kind: 'empty', status: 200 });
    }
    if (!route.methods.includes(method)) {
      throw new HttpError(405, `method ${method} not allowed`, { Allow: ['OPTIONS', ...route.methods].join(',') });
    }

    const query = url.searchParams;
    const body = await readBody(req);
    const dc = query.get('dc');
    if (dc && dc !== this.state.datacenter) throw new HttpError(500, 'No path to datacenter');
    const isRead = method === 'GET';
    const consistency = isRead ? parseConsistency(query) : 'leader';
    const blocking: BlockingParams = isRead ? parseBlockingParams(query) : { minIndex: 0, waitMs: 0 };

    const routeReq = { method, param, query, body, filtered: false };
    const decision = decideAcl(this.aclToken, requestToken(req.headers, query), route.acl(routeReq), this.anonymous);
    if (decision.kind === 'deny') throw new HttpError(403, decision.message);
    routeReq.filtered = decision.kind === 'filter';
    const handled = route.handle(routeReq, this.state);
    if (fault === 'hold') return this.holdThenSend(res, handled, faultNow, signal);

    if (fault === 'slow') {
      await this.held(delay((blocking.minIndex > 0 ? blocking.waitMs : 0) + SLOW_EXTRA_MS, signal, this.time.clock));
      if (signal.aborted) return; // stopped or client gone: the request never ran
    }

    let reply: Reply;
    if (handled.kind === 'read') {
      const result =
        fault === 'none' && blocking.minIndex > 0
          ? await this.held(blockingQuery(handled.query, blocking, this.state.subscribe, signal, handled.peek, this.time))
          : handled.query();
      if (signal.aborted) return; // stopped or client gone while blocked
      setReadMeta(res, result.index, consistency);
      if (routeReq.filtered) res.setHeader('X-Consul-Results-Filtered-By-Acls', 'true');
      reply = result.reply;
    } else {
      reply = handled.apply();
    }
    if (fault === 'truncated') reply = truncateReply(reply);
    send(res, reply, query.has('pretty'));
  }

  /** Dev-only controls for the shell: GET /dev/status, PUT /dev/fault/<mode>, PUT /dev/reset-index?to=N. */
  private handleDev(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const path = url.pathname;
    if (req.method === 'GET' && path === '/dev/status') {
      const body = { index: this.index, requestCount: this.requestCount, fault: this.fault, acl: this.aclToken !== undefined };
      return send(res, { kind: 'json', status: 200, body });
    }
    if (req.method === 'PUT' && path.startsWith('/dev/fault/')) {
      const mode = path.slice('/dev/fault/'.length);
      if (!isFaultMode(mode)) throw new HttpError(400, `unknown fault mode: ${mode}`);
      this.setFault(mode);
      return send(res, { kind: 'json', status: 200, body: true });
    }
    if (req.method === 'PUT' && path === '/dev/reset-index') {
      const to = Number(url.searchParams.get('to') ?? '1');
      if (!Number.isSafeInteger(to) || to < 1) throw new HttpError(400, 'to must be an integer >= 1');
      this.resetIndex(to);
      return send(res, { kind: 'json', status: 200, body: true });
    }
    send(res, { kind: 'empty', status: 404 });
  }
}

/** Query meta headers Consul sets on every read (agent/http.go setMeta). */
function setReadMeta(res: ServerResponse, index: number, consistency: string): void {
  res.setHeader('X-Consul-Index', String(reportedIndex(index)));
  res.setHeader('X-Consul-KnownLeader', 'true');
  res.setHeader('X-Consul-LastContact', '0');
  res.setHeader('X-Consul-Effective-Consistency', consistency);
}

function parseConsistency(query: URLSearchParams): string {
  const stale = query.has('stale');
  const consistent = query.has('consistent');
  if (stale && consistent) throw new HttpError(400, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
  return stale ? 'stale' : consistent ? 'consistent' : 'leader';
}

function send(res: ServerResponse, reply: Reply, pretty = false): void {
  if (res.writableEnded || res.destroyed) return;
  res.statusCode = reply.status;
  if (reply.kind === 'json') {
    res.setHeader('Content-Type', 'application/json');
    res.end(pretty ? `${JSON.stringify(reply.body, null, 4)}\n` : JSON.stringify(reply.body));
  } else if (reply.kind === 'text') {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    res.end(reply.body);
  } else {
    res.end();
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body too large, max size: ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function delay(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
