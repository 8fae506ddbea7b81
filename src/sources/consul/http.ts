// Every request the router sends to Consul goes through here, within `consul.max_connections`
// connections: blocking or not, catalog, health or K/V, the router never holds more than that (an
// agent limits each client address to limits.http_max_conns_per_client, shared with every other
// local client). Over http:// that is one keep-alive agent of HTTP/1.1 sockets. Over https:// the
// first request negotiates ALPN: when the agent speaks h2, every read becomes a stream on a few
// HTTP/2 connections (h2.ts) and the HTTP/1.1 agent keeps WRITE_SOCKETS sockets for the writes of
// the `consul` package; otherwise everything stays on HTTP/1.1 (said once through onTransport). A connection the agent refuses (reset before any answer,
// or 429) is retried with backoff and counted; requests and bytes are counted so the cost of a
// change can be measured.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { ConfigError, ConsulUnavailableError, errorMessage } from '../../errors.js';
import { Backoff } from '../../util/backoff.js';
import { Http2Pool, Http2UnsupportedError, type Http2Counters } from './h2.js';
import { asRefusal, ConsulRefusedError, refusedAnswer } from './refusal.js';

export type ConsulConsistency = 'default' | 'stale' | 'consistent';

export interface ConsulHttpOptions {
  address: string;
  /** Path of a CA bundle for https (CONSUL_CACERT); TLS verification is always on. */
  cacert?: string;
  token: () => string;
  /** Most sockets ever open to Consul (consul.max_connections). */
  maxConnections: number;
  /** Read consistency mode added to every GET (consul.consistency). */
  consistency?: ConsulConsistency;
  /** Tries per request when the agent refuses the connection (default 6: ~3 s of backoff). */
  refusalAttempts?: number;
  refusalBackoff?: { baseMs: number; maxMs: number };
  random?: () => number;
  /** Fewer HTTP/2 streams per connection than the agent advertises (tests of the stream accounting). */
  maxStreamsPerConnection?: number;
}

/** Sockets of the HTTP/1.1 agent left for the `consul` package's writes once reads go over HTTP/2. */
export const WRITE_SOCKETS = 2;

/** What the transport found out: `h2` or `http1` (once, after the first TLS handshake), `saturated` (every stream taken). */
export type TransportEvent = { kind: 'h2'; connections: number } | { kind: 'http1'; alpn: string } | { kind: 'saturated'; connections: number };

export interface ConsulAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** What the router has cost Consul so far (for /metrics and the bench). */
export interface ConsulTraffic extends Http2Counters {
  requests: number;
  responseBytes: number;
  /** Connections the agent refused (reset before answering, or 429), each retried. */
  refused: number;
  /** Connections open now (HTTP/1.1 sockets and HTTP/2 connections), and the most ever open at once. */
  connections: number;
  maxConnectionsHeld: number;
}

export interface RequestOptions {
  method?: 'GET' | 'PUT' | 'DELETE';
  query?: Record<string, string | undefined>;
  body?: string | Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class ConsulHttp {
  private readonly agent: HttpAgent;
  private readonly base: URL;
  private readonly send: typeof httpRequest;
  private readonly sockets = new Set<Socket>();
  readonly traffic: ConsulTraffic = {
    requests: 0,
    responseBytes: 0,
    refused: 0,
    connections: 0,
    maxConnectionsHeld: 0,
    goaway: 0,
    streamResets: 0,
    refusedStreams: 0,
    streams: 0,
    maxStreamsHeld: 0,
  };
  /** Called on every refusal (metrics count them). */
  onRefused: (() => void) | undefined;
  /** Told which protocol the reads use over https, and when every HTTP/2 stream is taken. */
  onTransport: ((event: TransportEvent) => void) | undefined;
  /** Over https until ALPN is known: 'unknown'; the HTTP/2 pool then, or HTTP/1.1 for good. */
  private protocol: 'unknown' | 'h2' | 'http1';
  private negotiating: Promise<void> | undefined;
  private readonly h2: Http2Pool | undefined;
  private h2Sessions = 0;

  constructor(private readonly opts: ConsulHttpOptions) {
    this.base = new URL(opts.address);
    const secure = this.base.protocol === 'https:';
    const limits = { keepAlive: true, maxSockets: opts.maxConnections, maxTotalSockets: opts.maxConnections, maxFreeSockets: opts.maxConnections };
    const ca = secure ? readConsulCa(opts.cacert) : undefined;
    this.agent = secure ? new HttpsAgent({ ...limits, ca }) : new HttpAgent(limits);
    this.protocol = secure ? 'unknown' : 'http1';
    this.h2 = secure
      ? new Http2Pool({
          origin: this.base,
          ca,
          maxSessions: Math.max(1, opts.maxConnections - WRITE_SOCKETS),
          maxStreamsPerSession: opts.maxStreamsPerConnection,
          counters: this.traffic,
          onSessions: (n) => {
            this.h2Sessions = n;
            this.countConnections();
          },
          onSaturated: () => this.onTransport?.({ kind: 'saturated', connections: this.h2Sessions }),
          onRefusedConnection: () => {
            this.traffic.refused += 1;
            this.onRefused?.();
          },
        })
      : undefined;
    if (this.h2) this.h2.bytes = (n) => (this.traffic.responseBytes += n);
    this.send = secure ? (httpsRequest as unknown as typeof httpRequest) : httpRequest;
    // Every socket of the pool is followed, whoever's request opened it (reads here, writes in writes.ts).
    const agent = this.agent as HttpAgent & { createConnection: (...args: unknown[]) => Socket };
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (...args: unknown[]) => {
      const socket = create(...args);
      if (socket) this.track(socket);
      return socket;
    };
  }

  close(): void {
    this.agent.destroy();
    this.h2?.close();
  }

  /** 'h2' once the reads go over HTTP/2 (https, and the agent chose h2); 'unknown' over https before the first answer. */
  get transport(): 'h2' | 'http1' | 'unknown' {
    return this.protocol;
  }

  /** Over https, the first request asks for h2; the answer holds for the life of the client. */
  private async useHttp2(): Promise<boolean> {
    if (this.protocol === 'unknown' && this.h2) {
      const pool = this.h2;
      this.negotiating ??= pool
        .open()
        .then(
          () => {
            this.protocol = 'h2';
            // The HTTP/1.1 agent now serves only the writes: the rest of the budget is HTTP/2 connections.
            Object.assign(this.agent, { maxSockets: WRITE_SOCKETS, maxTotalSockets: WRITE_SOCKETS, maxFreeSockets: WRITE_SOCKETS });
            this.onTransport?.({ kind: 'h2', connections: Math.max(1, this.opts.maxConnections - WRITE_SOCKETS) });
          },
          (err: unknown) => {
            if (!(err instanceof Http2UnsupportedError)) throw err; // no answer yet: ask again next time
            this.protocol = 'http1';
            this.onTransport?.({ kind: 'http1', alpn: err.alpn });
          },
        )
        .finally(() => (this.negotiating = undefined));
      await this.negotiating;
    }
    return this.protocol === 'h2';
  }

  /** GET/PUT/DELETE `path` (under /v1), retrying refused connections with backoff. */
  request(path: string, opts: RequestOptions): Promise<ConsulAnswer> {
    return this.retryRefused(() => this.once(path, opts), opts.signal);
  }

  /** The pool every request goes through (the `consul` package's writes share it: src/sources/consul/writes.ts). */
  get sharedAgent(): HttpAgent {
    return this.agent;
  }

  /** Counts a request sent by another client on the shared agent, and follows its sockets. */
  countRequest(): void {
    this.traffic.requests += 1;
  }

  /**
   * Runs `attempt` again, with backoff, while it fails with ConsulRefusedError; counts each refusal.
   * Not async (see ConsulClient.readJson): a held blocking read keeps one `then` here, and the
   * backoff exists only once a refusal needs it.
   */
  retryRefused<T>(attempt: () => Promise<T>, signal?: AbortSignal, backoff?: Backoff): Promise<T> {
    return attempt().then(undefined, (err: unknown) => {
      if (!(err instanceof ConsulRefusedError) || signal?.aborted) throw err;
      this.traffic.refused += 1;
      this.onRefused?.();
      const steps = backoff ?? new Backoff({ ...(this.opts.refusalBackoff ?? { baseMs: 50, maxMs: 1_000 }), random: this.opts.random });
      if (steps.count + 1 >= (this.opts.refusalAttempts ?? 6)) throw err;
      return pause(steps.next(), signal).then(() => this.retryRefused(attempt, signal, steps));
    });
  }

  /** One request; a refusal (a reset before any answer, or 429) rejects with ConsulRefusedError. */
  private once(path: string, opts: RequestOptions): Promise<ConsulAnswer> {
    const url = new URL(`/v1/${path}`, this.base);
    const query = { ...opts.query };
    const method = opts.method ?? 'GET';
    const consistency = this.opts.consistency ?? 'default';
    // A read that asks for its own mode (the ACME lock reads consistently) keeps it.
    if (method === 'GET' && consistency !== 'default' && !('stale' in query) && !('consistent' in query)) query[consistency] = '';
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = {};
    const token = this.opts.token();
    if (token) headers['X-Consul-Token'] = token;
    this.traffic.requests += 1;
    const overHttp2 = () => this.h2!.request(url.pathname + url.search, { method, headers, body: opts.body, timeoutMs: opts.timeoutMs, signal: opts.signal });
    if (this.protocol === 'h2') return overHttp2();
    if (this.protocol === 'unknown') return this.useHttp2().then((h2) => (h2 ? overHttp2() : this.overHttp1(url, method, headers, opts)));
    return this.overHttp1(url, method, headers, opts);
  }

  private overHttp1(url: URL, method: string, headers: Record<string, string>, opts: RequestOptions): Promise<ConsulAnswer> {
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      let answered = false;
      let abandoned = false;
      const req = this.send(url, { method, headers, agent: this.agent }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (!abandoned) chunks.push(chunk);
          this.traffic.responseBytes += chunk.length;
        });
        res.on('end', () => {
          const refused = refusedAnswer(res.statusCode);
          if (refused) reject(refused);
          else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new ConsulUnavailableError('Consul closed the connection in the middle of its answer')));
      });
      req.setTimeout(opts.timeoutMs, () => req.destroy(new ConsulUnavailableError(`no answer within ${opts.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A reset before any answer is how an agent past http_max_conns_per_client refuses.
        reject(answered ? err : asRefusal(err));
      });
      // An aborted request that the agent has whole is left to finish, and its answer dropped: the
      // agent counts its connection against limits.http_max_conns_per_client until the blocking
      // query ends (up to the wait), closed or not, so closing it would free a socket here only to
      // open one more there. Its socket stays in the budget until then, and back in the pool after.
      // A request not yet written costs the agent nothing: it is destroyed.
      if (signal) {
        const abandon = (): void => {
          abandoned = true;
          if (!req.writableFinished) req.destroy();
          reject(signal.reason);
        };
        if (signal.aborted) return abandon();
        signal.addEventListener('abort', abandon, { once: true });
        req.once('close', () => signal.removeEventListener('abort', abandon));
      }
      req.end(opts.body);
    });
  }

  private track(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    this.countConnections();
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.countConnections();
    });
  }

  private countConnections(): void {
    this.traffic.connections = this.sockets.size + this.h2Sessions;
    this.traffic.maxConnectionsHeld = Math.max(this.traffic.maxConnectionsHeld, this.traffic.connections);
  }
}

/** The CA bundle of consul.cacert / CONSUL_CACERT, or undefined (the system's CAs) when none is set. */
export function readConsulCa(path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`consul.cacert (CONSUL_CACERT): cannot read the CA file "${path}" (${errorMessage(err)})`, { cause: err });
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
