// Consul reads and writes the router makes, on one ConsulHttp (one bounded pool of sockets): every
// read returns the body with its X-Consul-Index, every failure becomes a RouterError with a stable
// code. Non-blocking reads (a start, a recovery, the targeted reads after a change) share one
// p-limit queue, so they never take the sockets the blocking watches need. The ACL token is asked
// for on each request so a token rotated in Vault is used without a restart.
import pLimit, { type LimitFunction } from 'p-limit';
import { formatMs } from '../../config/duration.js';
import { ConsulResponseError, ConsulUnavailableError, errorMessage } from '../../errors.js';
import type { BlockingResult } from './blocking.js';
import { defaultMaxConnections } from './budget.js';
import { ConsulWrites, type KvCasOp } from './writes.js';
import { ConsulRefusedError } from './refusal.js';
import { ConsulHttp, type ConsulAnswer, type ConsulConsistency, type ConsulTraffic, type RequestOptions, type TransportEvent } from './http.js';

export interface ConsulClientOptions {
  address: string;
  /** Path of a CA bundle for https (CONSUL_CACERT); TLS verification is always on. */
  cacert?: string;
  token: () => string;
  /** Most connections ever open to Consul, blocking or not (consul.max_connections; default: budget.ts). */
  maxConnections?: number;
  consistency?: ConsulConsistency;
  /** Tries per request when the agent refuses a connection (tests shorten the backoff). */
  refusalAttempts?: number;
  refusalBackoff?: { baseMs: number; maxMs: number };
  /** Fewer HTTP/2 streams per connection than the agent advertises (tests of the stream accounting). */
  maxStreamsPerConnection?: number;
}

/** Between two probes of /v1/status/leader while a watch waits for Consul to answer again. */
export const PROBE_INTERVAL_MS = 200;

/** Read errors that say Consul is not answering (no connection, 5xx): worth a probe (untilAnswering). */
const OUTAGES = new WeakSet<Error>();
function outage<E extends Error>(err: E): E {
  OUTAGES.add(err);
  return err;
}
const NON_BLOCKING_TIMEOUT_MS = 10_000;

/** Non-blocking reads in flight at once: half the budget, the other half is for blocking watches. */
export function nonBlockingReads(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}

/** Blocking queries always held over HTTP/1.1: the catalog, critical and warning detectors, and the five K/V prefixes. */
export const STANDING_WATCHES = 8;

/**
 * Over HTTP/1.1, where each blocking query holds a socket: how many services may have a watch of
 * their own (those that changed, while they keep changing: catalog-source.ts), in what the reads and
 * the standing watches leave of the budget. 8 at the default 32; 0 at 16.
 */
export function recentWatchSlots(maxConnections: number): number {
  return Math.max(0, maxConnections - nonBlockingReads(maxConnections) - STANDING_WATCHES);
}

export class ConsulClient {
  private readonly http: ConsulHttp;
  /** Queue of the non-blocking reads. */
  private readonly reads: LimitFunction;
  private readonly writes: ConsulWrites;
  /** Watches waiting for Consul to answer again (untilAnswering); `after`: probes started before it came. */
  private readonly probeWaiters = new Set<{ resolve: () => void; after: number }>();
  private probing = false;
  private probesStarted = 0;

  constructor(private readonly opts: ConsulClientOptions) {
    const maxConnections = opts.maxConnections ?? defaultMaxConnections(opts.address);
    this.http = new ConsulHttp({
      address: opts.address,
      cacert: opts.cacert,
      token: opts.token,
      maxConnections,
      consistency: opts.consistency,
      refusalAttempts: opts.refusalAttempts,
      refusalBackoff: opts.refusalBackoff,
      maxStreamsPerConnection: opts.maxStreamsPerConnection,
    });
    this.reads = pLimit(nonBlockingReads(maxConnections));
    this.recentWatchSlots = recentWatchSlots(maxConnections);
    this.writes = new ConsulWrites(this.http, opts.address, opts.token);
  }

  /** Over HTTP/1.1: services that may have a blocking watch of their own (see recentWatchSlots). */
  readonly recentWatchSlots: number;

  get traffic(): ConsulTraffic {
    return this.http.traffic;
  }

  set onRefused(fn: (() => void) | undefined) {
    this.http.onRefused = fn;
  }

  set onTransport(fn: ((event: TransportEvent) => void) | undefined) {
    this.http.onTransport = fn;
  }

  /**
   * 'h2' once the reads go over HTTP/2 (an https address whose agent chose h2): a blocking query
   * is then a stream, not a connection, and every service can have its own watch. 'unknown' over
   * https until the first answer; 'http1' over http, or when the agent does not speak h2.
   */
  get transport(): 'h2' | 'http1' | 'unknown' {
    return this.http.transport;
  }

  close(): void {
    this.http.close();
  }

  /**
   * After a read failed because Consul was unreachable or answered 5xx (no leader, a dead server,
   * the agent restarting): resolves once Consul answers again. One probe loop per client, shared by
   * every watch that waits, reads GET /v1/catalog/service/consul (the servers: a few KB, forwarded
   * to the leader like the watches' reads; any answer below 500 but 429 counts) every
   * PROBE_INTERVAL_MS. Not /v1/status/leader: an agent answers it locally, and followers keep
   * naming a dead leader for a second or two. Only a probe started after the waiter came counts
   * (a probe held by a server until the election was sent before). Any other error (ACL, a body
   * that does not parse) gets undefined: no probe, its backoff runs.
   * Why: during an election or an agent restart the watches back off (up to consul.retry_max);
   * this puts their next read within one probe interval of Consul answering, not at the end of
   * their delay.
   */
  untilAnswering(err: unknown, signal: AbortSignal): Promise<void> | undefined {
    if (!(err instanceof Error) || !OUTAGES.has(err)) return undefined;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const waiter = { resolve, after: this.probesStarted };
      this.probeWaiters.add(waiter);
      signal.addEventListener(
        'abort',
        () => {
          this.probeWaiters.delete(waiter);
          reject(signal.reason);
        },
        { once: true },
      );
      if (!this.probing) void this.probeLoop();
    });
  }

  private async probeLoop(): Promise<void> {
    this.probing = true;
    try {
      while (this.probeWaiters.size > 0) {
        const n = ++this.probesStarted;
        let up = false;
        try {
          const answer = await this.http.request('catalog/service/consul', { timeoutMs: 5_000 });
          up = answer.status < 500 && answer.status !== 429;
        } catch {
          up = false;
        }
        if (up) {
          for (const w of [...this.probeWaiters]) {
            if (w.after >= n) continue;
            this.probeWaiters.delete(w);
            w.resolve();
          }
        }
        if (this.probeWaiters.size > 0) await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS * (0.75 + Math.random() / 2)));
      }
    } finally {
      this.probing = false;
    }
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
  /** Every entry under `prefix`, as Consul gives them (`Value` in base64: parseKvEntries decodes the entries it has not seen). */
  kvPrefix(prefix: string, index: number, waitMs: number, signal?: AbortSignal): Promise<BlockingResult<unknown>> {
    return this.readJson(`K/V prefix "${prefix}"`, `kv/${encodePath(prefix)}`, { recurse: '' }, index, waitMs, signal);
  }

  // Writes go through the `consul` package on the same pool (writes.ts).
  kvSetCas(key: string, value: string, cas: number): Promise<boolean> {
    return this.writes.kvSetCas(key, value, cas);
  }

  kvDeleteCas(key: string, cas: number): Promise<boolean> {
    return this.writes.kvDeleteCas(key, cas);
  }

  kvTransaction(ops: readonly KvCasOp[]): Promise<boolean> {
    return this.writes.kvTransaction(ops);
  }

  agentServiceRegister(service: Parameters<ConsulWrites['agentServiceRegister']>[0]): Promise<void> {
    return this.writes.agentServiceRegister(service);
  }

  agentServiceDeregister(id: string): Promise<void> {
    return this.writes.agentServiceDeregister(id);
  }

  // Sessions and locks (the ACME issuer's lock, docs/acme.md).
  sessionCreate(opts: { name: string; ttlMs: number; lockDelayMs: number }): Promise<string> {
    return this.writes.sessionCreate(opts);
  }

  sessionRenew(id: string): Promise<boolean> {
    return this.writes.sessionRenew(id);
  }

  sessionDestroy(id: string): Promise<void> {
    return this.writes.sessionDestroy(id);
  }

  kvAcquire(key: string, session: string, value: string): Promise<boolean> {
    return this.writes.kvAcquire(key, session, value);
  }

  kvRelease(key: string, session: string): Promise<boolean> {
    return this.writes.kvRelease(key, session);
  }

  kvPut(key: string, value: string): Promise<void> {
    return this.writes.kvPut(key, value);
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

  // Not async, nor the steps below: a blocking read is held for minutes, one per watched service
  // (10 000 at once over HTTP/2), and every suspended async function keeps its frame and promise
  // alive for that time. One `then` per step keeps far less (bench/watch-memory.ts).
  private readJson(
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
    const read = () =>
      this.http.request(path, options).then(
        (answer) => this.result(what, answer),
        (err: unknown) => {
          throw this.failure(what, err, signal);
        },
      );
    return blocking ? read() : this.reads(read);
  }

  /** A read's answer: a 404 is an answer (no such key or prefix, empty), every other status but 200 a RouterError. */
  private result(what: string, answer: ConsulAnswer): BlockingResult<unknown> {
    if (answer.status === 403) {
      throw new ConsulUnavailableError(`${what}: Consul refused the ACL token (403 ${bodyText(answer)})`);
    }
    if (answer.status !== 200 && answer.status !== 404) {
      const failure = new ConsulUnavailableError(`${what}: Consul answered HTTP ${answer.status} (${bodyText(answer)})`);
      throw answer.status >= 500 ? outage(failure) : failure;
    }
    const index = parseIndex(what, answer);
    return { data: answer.status === 404 ? [] : this.parseJson(what, answer), index };
  }

  /** A read that got no answer, as the RouterError it is. */
  private failure(what: string, err: unknown, signal: AbortSignal | undefined): Error {
    if (err instanceof ConsulRefusedError) {
      return new ConsulUnavailableError(`${what}: Consul at ${this.opts.address} kept refusing the connection (${err.message})`, { cause: err });
    }
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
      return new ConsulUnavailableError(
        `${what}: TLS verification of Consul at ${this.opts.address} failed (${code}); set CONSUL_CACERT / consul.cacert to the CA that signed its certificate`,
        { cause: err },
      );
    }
    // An abort (the watch stopped) is no outage.
    const failure = new ConsulUnavailableError(`${what}: cannot reach Consul at ${this.opts.address} (${errorMessage(err)})`, { cause: err });
    return signal?.aborted ? failure : outage(failure);
  }
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
