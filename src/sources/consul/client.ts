// Thin adapter over the npm `consul` client: every read returns the body together with its
// X-Consul-Index, and every failure becomes a RouterError with a stable code. The ACL token is
// asked for on each request so a token rotated in Vault is used without a restart.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import Consul from 'consul';
import { ConsulResponseError, ConsulUnavailableError, errorMessage } from '../../errors.js';
import { formatMs } from '../../config/duration.js';
import type { BlockingResult } from './blocking.js';

export interface ConsulClientOptions {
  address: string;
  /**
   * Non-blocking reads in flight at once (a start, a recovery or a reread touches every service:
   * 10 000 simultaneous requests would stampede Consul). Blocking reads are not limited: each
   * watch holds exactly one.
   */
  maxConcurrentReads?: number;
  /** Path of a CA bundle for https (CONSUL_CACERT); TLS verification is always on. */
  cacert?: string;
  token: () => string;
}

type RawResponse = { statusCode: number; headers: Record<string, string | string[] | undefined> };

export class ConsulClient {
  private readonly consul: Consul;
  private readonly agent: HttpAgent;
  private readonly reads: Semaphore;

  constructor(private readonly opts: ConsulClientOptions) {
    const url = new URL(opts.address);
    const secure = url.protocol === 'https:';
    this.agent = secure
      ? new HttpsAgent({ keepAlive: true, ca: opts.cacert ? readFileSync(opts.cacert) : undefined })
      : new HttpAgent({ keepAlive: true });
    this.consul = new Consul({ baseUrl: `${url.origin}/v1`, agent: this.agent } as never);
    this.reads = new Semaphore(opts.maxConcurrentReads ?? 32);
  }

  close(): void {
    this.agent.destroy();
  }

  /** GET /v1/catalog/services → service name → tags. */
  catalogServices(index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.read('catalog services', (o) => this.consul.catalog.service.list(o as never), {}, index, waitMs, signal);
  }

  /** GET /v1/health/service/<name> (all instances: passing is decided by the caller, see README). */
  healthService(name: string, index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.read(`health of service "${name}"`, (o) => this.consul.health.service(o as never), { service: name }, index, waitMs, signal);
  }

  /** GET /v1/kv/<prefix>?recurse; a 404 (empty prefix) is an empty list, not an error. */
  kvPrefix(prefix: string, index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.read(`K/V prefix "${prefix}"`, (o) => this.consul.kv.get(o as never), { key: prefix, recurse: true }, index, waitMs, signal);
  }

  /** Single-shot PUT with check-and-set; resolves to Consul's true/false answer. */
  async kvSetCas(key: string, value: string, cas: number): Promise<boolean> {
    try {
      return Boolean(await this.consul.kv.set({ key, value, cas: String(cas), token: this.opts.token() } as never));
    } catch (err) {
      throw this.wrap(`writing K/V key "${key}"`, err);
    }
  }

  /** Single-shot DELETE with check-and-set. */
  async kvDeleteCas(key: string, cas: number): Promise<boolean> {
    try {
      return Boolean(await this.consul.kv.del({ key, cas: String(cas), token: this.opts.token() } as never));
    } catch (err) {
      throw this.wrap(`deleting K/V key "${key}"`, err);
    }
  }

  // Sessions and locks (the ACME issuer's lock, docs/acme.md), as Consul documents them.

  /** PUT /v1/session/create with a TTL and `Behavior: release`; resolves to the session id. */
  async sessionCreate(opts: { name: string; ttlMs: number; lockDelayMs: number }): Promise<string> {
    const body = await this.write('creating a Consul session', (o) =>
      this.consul.session.create({ ...o, name: opts.name, ttl: formatSeconds(opts.ttlMs), lockdelay: formatSeconds(opts.lockDelayMs), behavior: 'release' } as never),
    );
    const id = (body as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== 'string' || id === '') throw new ConsulResponseError('creating a Consul session: Consul answered without an "ID"');
    return id;
  }

  /** PUT /v1/session/renew/<id>; false when the session no longer exists (expired or destroyed). */
  async sessionRenew(id: string): Promise<boolean> {
    const answer = await this.write(`renewing Consul session ${id}`, (o) => this.consul.session.renew({ ...o, id } as never), true);
    return answer !== NOT_FOUND;
  }

  /** PUT /v1/session/destroy/<id> (releases every lock it holds). */
  async sessionDestroy(id: string): Promise<void> {
    await this.write(`destroying Consul session ${id}`, (o) => this.consul.session.destroy({ ...o, id } as never));
  }

  /** PUT /v1/kv/<key>?acquire=<session>: true when this session now holds the lock. */
  async kvAcquire(key: string, session: string, value: string): Promise<boolean> {
    return Boolean(await this.write(`acquiring the lock "${key}"`, (o) => this.consul.kv.set({ ...o, key, value, acquire: session } as never)));
  }

  /** PUT /v1/kv/<key>?release=<session>. */
  async kvRelease(key: string, session: string): Promise<boolean> {
    return Boolean(await this.write(`releasing the lock "${key}"`, (o) => this.consul.kv.set({ ...o, key, value: '', release: session } as never)));
  }

  /** PUT /v1/kv/<key> (last write wins). */
  async kvPut(key: string, value: string): Promise<void> {
    await this.write(`writing K/V key "${key}"`, (o) => this.consul.kv.set({ ...o, key, value } as never));
  }

  /** GET /v1/kv/<key> (consistent unless blocking): the entry, or undefined when there is none. */
  async kvGet(key: string, index = 0, waitMs = 0, signal?: AbortSignal): Promise<{ entry: { Value?: unknown; Session?: string; ModifyIndex?: number } | undefined; index: number }> {
    const result = await this.read(`K/V key "${key}"`, (o) => this.consul.kv.get(o as never), index > 0 ? { key } : { key, consistent: true }, index, waitMs, signal);
    const entry = result.data && typeof result.data === 'object' && !Array.isArray(result.data) ? (result.data as { Session?: string }) : undefined;
    return { entry, index: result.index };
  }

  private async write(what: string, call: (opts: Record<string, unknown>) => Promise<unknown>, notFoundOk = false): Promise<unknown> {
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    try {
      const answer = await call({ ctx, token: this.opts.token() || undefined, timeout: 10_000 });
      return Array.isArray(answer) ? answer[1] : answer; // [response, body] with includeResponse
    } catch (err) {
      if (notFoundOk && (err as { response?: RawResponse }).response?.statusCode === 404) return NOT_FOUND;
      throw this.wrap(what, err);
    }
  }

  private async read(
    what: string,
    call: (opts: Record<string, unknown>) => Promise<unknown>,
    base: Record<string, unknown>,
    index: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<BlockingResult<unknown>> {
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    const opts: Record<string, unknown> = { ...base, ctx, token: this.opts.token() || undefined };
    if (index > 0) {
      opts.index = String(index);
      opts.wait = formatMs(waitMs);
    }
    // Consul may add up to wait/16 of jitter: allow for it before calling the server unresponsive.
    opts.timeout = index > 0 ? waitMs + waitMs / 16 + 5_000 : 10_000;
    const release = index > 0 ? undefined : await this.reads.acquire();
    try {
      const answer = (await call(opts)) as [RawResponse, unknown] | undefined;
      if (!Array.isArray(answer)) throw new ConsulResponseError(`${what}: Consul answered without a response`);
      const [res, body] = answer;
      return { data: res.statusCode === 404 ? [] : body, index: parseIndex(what, res) };
    } catch (err) {
      throw this.wrap(what, err);
    } finally {
      release?.();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private wrap(what: string, err: unknown): Error {
    if (err instanceof ConsulResponseError || err instanceof ConsulUnavailableError) return err;
    const e = err as { message?: string; response?: RawResponse; isCodec?: boolean };
    const status = e.response?.statusCode;
    if (/decode|JSON|Unexpected/i.test(e.message ?? '') && (!status || status < 300)) {
      return new ConsulResponseError(`${what}: Consul answered with a body that is not valid JSON (${errorMessage(err)})`, { cause: err });
    }
    if (status === 403) {
      return new ConsulUnavailableError(`${what}: Consul refused the ACL token (403 ${errorMessage(err)})`, { cause: err });
    }
    if (status) return new ConsulUnavailableError(`${what}: Consul answered HTTP ${status} (${errorMessage(err)})`, { cause: err });
    return new ConsulUnavailableError(`${what}: cannot reach Consul at ${this.opts.address} (${errorMessage(err)})`, { cause: err });
  }
}

const NOT_FOUND = Symbol('404');

/** Consul session durations are Go durations in seconds (`15s`); lock-delay may be 0. */
function formatSeconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

function parseIndex(what: string, res: RawResponse): number {
  const header = res.headers['x-consul-index'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) throw new ConsulResponseError(`${what}: Consul answered without an X-Consul-Index header`);
  const index = Number(value);
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new ConsulResponseError(`${what}: X-Consul-Index ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return index;
}

/** A counting semaphore: at most `limit` holders at once, the others wait in order. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}
