// Consul reads and writes the router makes, on one ConsulHttp (one bounded pool of sockets): every
// read returns the body with its X-Consul-Index, every failure becomes a RouterError with a stable
// code. Non-blocking reads (a start, a recovery, the targeted reads after a change) share one
// p-limit queue, so they never take the sockets the blocking watches need. The ACL token is asked
// for on each request so a token rotated in Vault is used without a restart.
import pLimit, { type LimitFunction } from 'p-limit';
import { formatMs } from '../../config/duration.js';
import { ConsulResponseError, ConsulUnavailableError, errorMessage } from '../../errors.js';
import type { BlockingResult } from './blocking.js';
import { ConsulHttp, ConsulRefusedError, type ConsulAnswer, type ConsulConsistency, type ConsulTraffic, type RequestOptions } from './http.js';

export interface ConsulClientOptions {
  address: string;
  /** Path of a CA bundle for https (CONSUL_CACERT); TLS verification is always on. */
  cacert?: string;
  token: () => string;
  /** Most sockets ever open to Consul, blocking or not (consul.max_connections, default 16). */
  maxConnections?: number;
  consistency?: ConsulConsistency;
  /** Tries per request when the agent refuses a connection (tests shorten the backoff). */
  refusalAttempts?: number;
  refusalBackoff?: { baseMs: number; maxMs: number };
}

export const DEFAULT_MAX_CONNECTIONS = 16;
const NON_BLOCKING_TIMEOUT_MS = 10_000;

/** Non-blocking reads in flight at once: half the budget, the other half is for blocking watches. */
export function nonBlockingReads(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}

export class ConsulClient {
  private readonly http: ConsulHttp;
  /** Queue of the non-blocking reads. */
  private readonly reads: LimitFunction;

  constructor(private readonly opts: ConsulClientOptions) {
    const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.http = new ConsulHttp({
      address: opts.address,
      cacert: opts.cacert,
      token: opts.token,
      maxConnections,
      consistency: opts.consistency,
      refusalAttempts: opts.refusalAttempts,
      refusalBackoff: opts.refusalBackoff,
    });
    this.reads = pLimit(nonBlockingReads(maxConnections));
  }

  get traffic(): ConsulTraffic {
    return this.http.traffic;
  }

  set onRefused(fn: (() => void) | undefined) {
    this.http.onRefused = fn;
  }

  close(): void {
    this.http.close();
  }

  /** GET /v1/catalog/services → service name → tags. */
  catalogServices(index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.readJson('catalog services', 'catalog/services', {}, index, waitMs, signal);
  }

  /** GET /v1/health/service/<name> (all instances: passing is decided by the caller). */
  healthService(name: string, index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.readJson(`health of service "${name}"`, `health/service/${encodeURIComponent(name)}`, {}, index, waitMs, signal);
  }

  /** GET /v1/health/state/<state>: the checks in that state (small while most checks pass). */
  healthState(state: 'critical' | 'warning', index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.readJson(`${state} checks`, `health/state/${state}`, {}, index, waitMs, signal);
  }

  /**
   * GET /v1/internal/ui/services: one summary per service (instance and check counts). Consul marks
   * /v1/internal as not a stable API; it is the smallest answer that tells which service lost an
   * instance (1.8 has no per-instance index to filter on). Used only after the catalog index moved
   * with no visible change.
   */
  serviceSummaries(signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.readJson('service summaries', 'internal/ui/services', {}, 0, 0, signal);
  }

  /** GET /v1/kv/<prefix>?recurse; a 404 (empty prefix) is an empty list, not an error. Values decoded. */
  async kvPrefix(prefix: string, index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    const r = await this.readJson(`K/V prefix "${prefix}"`, `kv/${encodePath(prefix)}`, { recurse: '' }, index, waitMs, signal);
    if (Array.isArray(r.data)) {
      for (const entry of r.data as { Value?: unknown }[]) {
        if (entry && typeof entry.Value === 'string') entry.Value = Buffer.from(entry.Value, 'base64').toString('utf8');
      }
    }
    return r;
  }

  /** Single-shot PUT with check-and-set; resolves to Consul's true/false answer. */
  async kvSetCas(key: string, value: string, cas: number): Promise<boolean> {
    const what = `writing K/V key "${key}"`;
    const answer = await this.call(what, `kv/${encodePath(key)}`, {
      method: 'PUT',
      query: { cas: String(cas) },
      body: value,
      timeoutMs: NON_BLOCKING_TIMEOUT_MS,
    });
    return this.parseBool(what, answer);
  }

  /** Single-shot DELETE with check-and-set. */
  async kvDeleteCas(key: string, cas: number): Promise<boolean> {
    const what = `deleting K/V key "${key}"`;
    const answer = await this.call(what, `kv/${encodePath(key)}`, { method: 'DELETE', query: { cas: String(cas) }, timeoutMs: NON_BLOCKING_TIMEOUT_MS });
    return this.parseBool(what, answer);
  }

  /** PUT /v1/agent/service/register on the local agent (this router's own registration). */
  async agentServiceRegister(service: { ID: string; Name: string; Port: number; Address?: string; Tags?: string[] }): Promise<void> {
    await this.call(`registering service ${service.ID}`, 'agent/service/register', {
      method: 'PUT',
      body: JSON.stringify(service),
      timeoutMs: NON_BLOCKING_TIMEOUT_MS,
    });
  }

  /** PUT /v1/agent/service/deregister/<id>. */
  async agentServiceDeregister(id: string): Promise<void> {
    await this.call(
      `deregistering service ${id}`,
      `agent/service/deregister/${encodeURIComponent(id)}`,
      { method: 'PUT', timeoutMs: NON_BLOCKING_TIMEOUT_MS },
      true,
    );
  }

  // Sessions and locks (the ACME issuer's lock, docs/acme.md), as Consul documents them.

  /** PUT /v1/session/create with a TTL and `Behavior: release`; resolves to the session id. */
  async sessionCreate(opts: { name: string; ttlMs: number; lockDelayMs: number }): Promise<string> {
    const what = 'creating a Consul session';
    const body = JSON.stringify({ Name: opts.name, TTL: formatSeconds(opts.ttlMs), LockDelay: formatSeconds(opts.lockDelayMs), Behavior: 'release' });
    const answer = await this.call(what, 'session/create', { method: 'PUT', body, timeoutMs: NON_BLOCKING_TIMEOUT_MS });
    const id = (this.parseJson(what, answer) as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== 'string' || id === '') throw new ConsulResponseError(`${what}: Consul answered without an "ID"`);
    return id;
  }

  /** PUT /v1/session/renew/<id>; false when the session no longer exists (expired or destroyed). */
  async sessionRenew(id: string): Promise<boolean> {
    const answer = await this.call(
      `renewing Consul session ${id}`,
      `session/renew/${encodeURIComponent(id)}`,
      { method: 'PUT', timeoutMs: NON_BLOCKING_TIMEOUT_MS },
      true,
    );
    return answer.status !== 404;
  }

  /** PUT /v1/session/destroy/<id> (releases every lock it holds). */
  async sessionDestroy(id: string): Promise<void> {
    await this.call(`destroying Consul session ${id}`, `session/destroy/${encodeURIComponent(id)}`, { method: 'PUT', timeoutMs: NON_BLOCKING_TIMEOUT_MS });
  }

  /** PUT /v1/kv/<key>?acquire=<session>: true when this session now holds the lock. */
  async kvAcquire(key: string, session: string, value: string): Promise<boolean> {
    const what = `acquiring the lock "${key}"`;
    return this.parseBool(
      what,
      await this.call(what, `kv/${encodePath(key)}`, { method: 'PUT', query: { acquire: session }, body: value, timeoutMs: NON_BLOCKING_TIMEOUT_MS }),
    );
  }

  /** PUT /v1/kv/<key>?release=<session>. */
  async kvRelease(key: string, session: string): Promise<boolean> {
    const what = `releasing the lock "${key}"`;
    return this.parseBool(
      what,
      await this.call(what, `kv/${encodePath(key)}`, { method: 'PUT', query: { release: session }, body: '', timeoutMs: NON_BLOCKING_TIMEOUT_MS }),
    );
  }

  /** PUT /v1/kv/<key> (last write wins). */
  async kvPut(key: string, value: string): Promise<void> {
    const what = `writing K/V key "${key}"`;
    this.parseBool(what, await this.call(what, `kv/${encodePath(key)}`, { method: 'PUT', body: value, timeoutMs: NON_BLOCKING_TIMEOUT_MS }));
  }

  /** GET /v1/kv/<key> (consistent unless blocking): the entry (Value decoded), or undefined when there is none. */
  async kvGet(
    key: string,
    index = 0,
    waitMs = 0,
    signal?: AbortSignal,
  ): Promise<{ entry: { Value?: unknown; Session?: string; ModifyIndex?: number } | undefined; index: number }> {
    const r = await this.readJson(`K/V key "${key}"`, `kv/${encodePath(key)}`, index > 0 ? {} : { consistent: '' }, index, waitMs, signal);
    const first = Array.isArray(r.data) ? (r.data[0] as { Value?: unknown; Session?: string; ModifyIndex?: number } | undefined) : undefined;
    if (first && typeof first.Value === 'string') first.Value = Buffer.from(first.Value, 'base64').toString('utf8');
    return { entry: first && typeof first === 'object' ? first : undefined, index: r.index };
  }

  private parseJson(what: string, answer: ConsulAnswer): unknown {
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch (err) {
      throw new ConsulResponseError(`${what}: Consul answered with a body that is not valid JSON (${errorMessage(err)})`, { cause: err });
    }
  }

  private async readJson(
    what: string,
    path: string,
    query: Record<string, string>,
    index: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<BlockingResult<unknown>> {
    const blocking = index > 0;
    const q: Record<string, string> = { ...query };
    if (blocking) {
      q.index = String(index);
      q.wait = formatMs(waitMs);
    }
    // Consul may add up to wait/16 of jitter: allow for it before calling the server unresponsive.
    const options: RequestOptions = { query: q, signal, timeoutMs: blocking ? waitMs + waitMs / 16 + 5_000 : NON_BLOCKING_TIMEOUT_MS };
    const answer = blocking ? await this.call(what, path, options) : await this.reads(() => this.call(what, path, options));
    const resultIndex = parseIndex(what, answer);
    if (answer.status === 404) return { data: [], index: resultIndex };
    return { data: this.parseJson(what, answer), index: resultIndex };
  }

  /** `notFoundOk`: a 404 on a write is an answer (a session that is gone), not an error. */
  private async call(what: string, path: string, options: RequestOptions, notFoundOk = false): Promise<ConsulAnswer> {
    let answer: ConsulAnswer;
    try {
      answer = await this.http.request(path, options);
    } catch (err) {
      if (err instanceof ConsulRefusedError) {
        throw new ConsulUnavailableError(`${what}: Consul at ${this.opts.address} kept refusing the connection (${err.message})`, { cause: err });
      }
      throw new ConsulUnavailableError(`${what}: cannot reach Consul at ${this.opts.address} (${errorMessage(err)})`, { cause: err });
    }
    if (answer.status === 403) {
      throw new ConsulUnavailableError(`${what}: Consul refused the ACL token (403 ${bodyText(answer)})`);
    }
    if (answer.status !== 200 && !(answer.status === 404 && ((options.method ?? 'GET') === 'GET' || notFoundOk))) {
      throw new ConsulUnavailableError(`${what}: Consul answered HTTP ${answer.status} (${bodyText(answer)})`);
    }
    return answer;
  }

  private parseBool(what: string, answer: ConsulAnswer): boolean {
    const text = answer.body.toString('utf8').trim();
    if (text !== 'true' && text !== 'false')
      throw new ConsulResponseError(`${what}: expected true or false, Consul answered ${JSON.stringify(text.slice(0, 80))}`);
    return text === 'true';
  }
}

/** Consul session durations are Go durations in seconds (`15s`); lock-delay may be 0. */
function formatSeconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/** K/V keys keep their slashes; every other reserved character is escaped. */
function encodePath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function bodyText(answer: ConsulAnswer): string {
  const text = answer.body.toString('utf8').trim().slice(0, 200);
  return text || 'no body';
}

function parseIndex(what: string, res: ConsulAnswer): number {
  const header = res.headers['x-consul-index'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) throw new ConsulResponseError(`${what}: Consul answered without an X-Consul-Index header`);
  const index = Number(value);
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new ConsulResponseError(`${what}: X-Consul-Index ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return index;
}
