// Every request the router sends to Consul goes through here, on one keep-alive agent capped at
// `consul.max_connections` sockets: blocking or not, catalog, health or K/V, the router never holds
// more connections than that (an agent limits each client address to limits.http_max_conns_per_client,
// shared with every other local client). A connection the agent refuses (reset before any answer,
// or 429) is retried with backoff and counted; requests and bytes are counted so the cost of a
// change can be measured.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { ConfigError, ConsulUnavailableError, RouterError, errorMessage } from '../../errors.js';
import { Backoff } from '../../util/backoff.js';

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
}

export interface ConsulAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** What the router has cost Consul so far (for /metrics and the bench). */
export interface ConsulTraffic {
  requests: number;
  responseBytes: number;
  /** Connections the agent refused (reset before answering, or 429), each retried. */
  refused: number;
  /** Sockets open now, and the most ever open at once. */
  connections: number;
  maxConnectionsHeld: number;
}

/** The agent cut the connection before answering, or answered 429: worth a retry after a pause. */
export class ConsulRefusedError extends RouterError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('CONSUL_REFUSED', message);
  }
}

/** A reset before any answer is how an agent past http_max_conns_per_client refuses. */
export const REFUSAL_CODES = new Set(['ECONNRESET', 'EPIPE']);

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
  readonly traffic: ConsulTraffic = { requests: 0, responseBytes: 0, refused: 0, connections: 0, maxConnectionsHeld: 0 };
  /** Called on every refusal (metrics count them). */
  onRefused: (() => void) | undefined;

  constructor(private readonly opts: ConsulHttpOptions) {
    this.base = new URL(opts.address);
    const secure = this.base.protocol === 'https:';
    const limits = { keepAlive: true, maxSockets: opts.maxConnections, maxTotalSockets: opts.maxConnections, maxFreeSockets: opts.maxConnections };
    this.agent = secure ? new HttpsAgent({ ...limits, ca: readConsulCa(opts.cacert) }) : new HttpAgent(limits);
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
  }

  /** GET/PUT/DELETE `path` (under /v1), retrying refused connections with backoff. */
  request(path: string, opts: RequestOptions): Promise<ConsulAnswer> {
    return this.retryRefused(async () => {
      const answer = await this.once(path, opts);
      if (answer.status === 429) throw new ConsulRefusedError('Consul answered 429 Too Many Requests', 429);
      return answer;
    }, opts.signal);
  }

  /** The pool every request goes through (the `consul` package's writes share it: src/sources/consul/writes.ts). */
  get sharedAgent(): HttpAgent {
    return this.agent;
  }

  /** Counts a request sent by another client on the shared agent, and follows its sockets. */
  countRequest(): void {
    this.traffic.requests += 1;
  }

  /** Runs `attempt` again, with backoff, while it fails with ConsulRefusedError; counts each refusal. */
  async retryRefused<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const attempts = this.opts.refusalAttempts ?? 6;
    const backoff = new Backoff({ ...(this.opts.refusalBackoff ?? { baseMs: 50, maxMs: 1_000 }), random: this.opts.random });
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof ConsulRefusedError) || signal?.aborted) throw err;
        this.traffic.refused += 1;
        this.onRefused?.();
        if (backoff.count + 1 >= attempts) throw err;
        await pause(backoff.next(), signal);
      }
    }
  }

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
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    this.traffic.requests += 1;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = this.send(url, { method, headers, agent: this.agent, signal: opts.signal }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          this.traffic.responseBytes += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('aborted', () => reject(new ConsulUnavailableError('Consul closed the connection in the middle of its answer')));
      });
      req.setTimeout(opts.timeoutMs, () => req.destroy(new ConsulUnavailableError(`no answer within ${opts.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A reset before any answer is how an agent past http_max_conns_per_client refuses.
        if (!answered && err.code && REFUSAL_CODES.has(err.code)) reject(new ConsulRefusedError(`Consul reset the connection (${err.code})`));
        else reject(err);
      });
      req.end(opts.body);
    });
  }

  private track(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    this.traffic.connections = this.sockets.size;
    this.traffic.maxConnectionsHeld = Math.max(this.traffic.maxConnectionsHeld, this.sockets.size);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.traffic.connections = this.sockets.size;
    });
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
