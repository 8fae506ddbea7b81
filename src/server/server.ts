// The operator's HTTP listener (`listen`, loopback by default): the status page (static HTML, CSS
// and JS from src/server/static, no build step), /status (JSON), /metrics (Prometheus) and
// /healthz. Everything but /healthz needs HTTP Basic credentials whenever a CredentialsProvider is
// configured, which is mandatory off loopback (see auth.ts). Read-only: no endpoint changes state.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RouterError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Runner } from '../runner.js';
import { parseBasicAuth, type CredentialsProvider } from './auth.js';
import { allowedHosts, hostAllowed } from './hosts.js';
import type { RouterMetrics } from './metrics.js';
import type { Rank } from './status-page.js';
import { parseStatusQuery, StatusQueryError } from './status-query.js';
import { evaluateHealth, statusDocument, type StatusInfo } from './status.js';
import type { Timeline } from './timeline.js';
import { trafficSeriesDocument, withTraffic, type TrafficSource } from './traffic-view.js';

export const STATIC_DIR = join(PACKAGE_ROOT, 'src', 'server', 'static');

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/static/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/static/traffic.js': { file: 'traffic.js', type: 'text/javascript; charset=utf-8' },
  '/static/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export class ListenError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LISTEN_FAILED', message, options);
  }
}

export interface StatusServerOptions {
  listen: { host: string; port: number };
  runner: Runner;
  metrics: RouterMetrics;
  info: Omit<StatusInfo, 'listen' | 'auth'>;
  credentials?: CredentialsProvider;
  /** `listen_hosts`: Host headers answered; empty or absent = the `listen` address and loopback names. */
  hosts?: readonly string[];
  log: Logger;
  now?: () => number;
  /** Traffic sampled from HAProxy and the change timeline (docs/traffic.md). */
  traffic?: TrafficSource;
  timeline?: Timeline;
}

export class StatusServer {
  private server: Server | undefined;
  private files = new Map<string, Buffer>();
  private bound: AddressInfo | undefined;

  constructor(private readonly opts: StatusServerOptions) {}

  /** http://host:port of the bound listener. */
  get url(): string {
    const a = this.bound;
    if (!a) throw new ListenError('status server not started');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  get port(): number {
    return this.bound?.port ?? 0;
  }

  async start(): Promise<void> {
    for (const { file } of Object.values(STATIC_FILES)) {
      if (!this.files.has(file)) this.files.set(file, await readFile(join(STATIC_DIR, file)));
    }
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.opts.log.error({ err, url: req.url }, 'status listener: request failed');
        if (!res.headersSent) this.send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    const { host, port } = this.opts.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new ListenError(`cannot listen on ${host}:${port} for the status page: ${errorMessage(err)}`, { cause: err }));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.log.error({ err }, 'status listener error'));
    this.server = server;
    this.bound = server.address() as AddressInfo;
    this.opts.log.info({ url: this.url, auth: this.opts.credentials?.description ?? 'none' }, 'status page listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private info(): StatusInfo {
    const { host, port } = this.opts.listen;
    return {
      ...this.opts.info,
      listen: `${host.includes(':') ? `[${host}]` : host}:${this.bound?.port ?? port}`,
      auth: this.opts.credentials ? `basic (${this.opts.credentials.description})` : 'none (loopback only)',
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    const path = url.pathname;
    // Before anything else, /healthz included: a page of a hostile domain resolving to 127.0.0.1 must read nothing.
    if (!hostAllowed(req.headers.host, this.hosts, this.port)) {
      const shown = (req.headers.host ?? '').slice(0, 100);
      return this.send(
        res,
        421,
        'text/plain; charset=utf-8',
        `misdirected request: this listener does not answer for host ${JSON.stringify(shown)} (see listen_hosts)\n`,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: this listener is read-only\n');
    }
    const now = (this.opts.now ?? Date.now)();
    const { runner, metrics } = this.opts;
    if (path === '/healthz') {
      const health = evaluateHealth(runner.state, now, metrics.lastDecisiveReport);
      const body = { status: health.ok ? 'ok' : 'unavailable', reasons: health.reasons, warnings: health.warnings };
      return this.send(res, health.ok ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(body, null, 2)}\n`);
    }
    const known = path === '/status' || path === '/metrics' || path === '/traffic' || path in STATIC_FILES;
    if (!known) return this.send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /status, /traffic, /metrics or /healthz\n');
    if (this.opts.credentials && !(await this.authorized(req))) {
      res.setHeader('www-authenticate', 'Basic realm="paas-router", charset="UTF-8"');
      return this.send(res, 401, 'text/plain; charset=utf-8', 'authentication required\n');
    }
    if (path === '/status') {
      let doc: ReturnType<typeof statusDocument>;
      try {
        doc = statusDocument(runner.state, this.info(), now, metrics.lastDecisiveReport, parseStatusQuery(url.searchParams), this.rank());
      } catch (err) {
        if (err instanceof StatusQueryError) return this.send(res, 400, 'text/plain; charset=utf-8', `bad /status query: ${err.message}\n`);
        throw err;
      }
      return this.send(
        res,
        200,
        'application/json; charset=utf-8',
        `${JSON.stringify(withTraffic(doc, this.opts.traffic, this.opts.timeline?.list()), null, 2)}\n`,
      );
    }
    if (path === '/traffic') return this.sendTraffic(req, res);
    if (path === '/metrics') return this.send(res, 200, metrics.contentType, await metrics.metrics());
    const file = STATIC_FILES[path]!;
    return this.send(res, 200, file.type, this.files.get(file.file)!);
  }

  private get hosts(): readonly string[] {
    return allowedHosts(this.opts.listen.host, this.opts.hosts ?? []);
  }

  /** Apps ranked by their latest traffic sample, for the sorts other than by name. */
  private rank(): Rank | undefined {
    const traffic = this.opts.traffic;
    if (!traffic) return undefined;
    return (app, sort) => {
      const { backend } = app;
      // 5xx: over the last minute of samples, not one interval (often none in a short one).
      if (sort === 'errors') return traffic.ring.recentErrors(backend, Math.max(1, Math.round(60_000 / traffic.status.intervalMs))) ?? -1;
      const t = traffic.ring.traffic(backend);
      return (sort === 'rate' ? t?.rate : t?.responseMs) ?? -1;
    };
  }

  /** `/traffic?since=<unix ms>`: the chart series after `since` (the whole window without it). */
  private sendTraffic(req: IncomingMessage, res: ServerResponse): void {
    const since = new URL(req.url ?? '/', 'http://status.invalid').searchParams.get('since');
    const sinceMs = since === null || since === '' ? -Infinity : Number(since);
    if (since !== null && since !== '' && !Number.isFinite(sinceMs))
      return this.send(res, 400, 'text/plain; charset=utf-8', `since must be a time in unix milliseconds, got ${JSON.stringify(since)}\n`);
    const traffic = this.opts.traffic;
    if (!traffic) return this.send(res, 404, 'text/plain; charset=utf-8', 'traffic sampling is off (no runtime socket)\n');
    const { state } = this.opts.runner;
    const doc = trafficSeriesDocument(traffic, state.deployment?.model ?? state.builtModel, sinceMs);
    return this.send(res, 200, 'application/json; charset=utf-8', JSON.stringify(doc));
  }

  private async authorized(req: IncomingMessage): Promise<boolean> {
    const given = parseBasicAuth(req.headers.authorization);
    if (!given) return false;
    const ok = await this.opts.credentials!.verify(given.user, given.password);
    if (!ok) this.opts.log.warn({ user: given.user, remote: req.socket.remoteAddress }, 'status listener: bad credentials');
    return ok;
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': buf.length });
    res.end(res.req.method === 'HEAD' ? undefined : buf);
  }
}
