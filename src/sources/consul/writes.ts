// The router's writes to Consul, through the `consul` package: K/V check-and-set (the CLI, the
// ownership records), the ACME lock's session and acquire/release, and this router's own
// registration. They share the bounded keep-alive pool of every read (ConsulHttp's agent), so the
// router never holds more than consul.max_connections sockets; each write is counted and, when
// the agent refuses the connection, retried with the same backoff as a read. The reads stay on
// ConsulHttp: blocking queries need the index and rate-limit rules of blocking.ts, which the
// package's watch does not follow (docs/consul.md).
import Consul from 'consul';
import { ConsulResponseError, ConsulUnavailableError, errorMessage } from '../../errors.js';
import type { ConsulHttp } from './http.js';
import { asRefusal, ConsulRefusedError, refusedAnswer } from './refusal.js';

const WRITE_TIMEOUT_MS = 10_000;
/** Consul's limit of operations per transaction. */
export const MAX_TXN_OPS = 64;

/** One check-and-set of a transaction: a put (`value`) or a delete; `cas` 0 creates only. */
export interface KvCasOp {
  key: string;
  value?: string;
  cas: number;
}

/** What papi (the package's HTTP layer) throws: a ResponseError carries the answer. */
interface PapiError extends Error {
  code?: string;
  response?: { statusCode?: number; body?: unknown };
}

export class ConsulWrites {
  private readonly api: Consul;

  constructor(
    private readonly http: ConsulHttp,
    private readonly address: string,
    private readonly token: () => string,
  ) {
    // The package builds its URLs from baseUrl; the agent is the shared, bounded one.
    this.api = new Consul({ baseUrl: `${address.replace(/\/+$/, '')}/v1`, agent: http.sharedAgent, timeout: WRITE_TIMEOUT_MS } as ConstructorParameters<
      typeof Consul
    >[0]);
  }

  /** PUT /v1/kv/<key>?cas=<index>: false when the key changed meanwhile (or exists, with cas 0). */
  kvSetCas(key: string, value: string, cas: number): Promise<boolean> {
    return this.send(`writing K/V key "${key}"`, (token) => this.api.kv.set(withToken({ key, value, cas }, token)), isBool);
  }

  kvDeleteCas(key: string, cas: number): Promise<boolean> {
    return this.send(`deleting K/V key "${key}"`, (token) => this.api.kv.del(withToken({ key, cas }, token)), isBool);
  }

  /**
   * Up to 64 check-and-set writes in one transaction (PUT /v1/txn): one request and one Raft entry
   * for all of them. All or nothing: false when one check-and-set failed (Consul answers 409).
   */
  async kvTransaction(ops: readonly KvCasOp[]): Promise<boolean> {
    if (ops.length === 0) return true;
    if (ops.length > MAX_TXN_OPS) throw new ConsulResponseError(`a Consul transaction takes at most ${MAX_TXN_OPS} operations, got ${ops.length}`);
    const operations = ops.map((op) => ({
      KV:
        op.value === undefined
          ? { Verb: 'delete-cas', Key: op.key, Index: op.cas }
          : { Verb: 'cas', Key: op.key, Value: Buffer.from(op.value).toString('base64'), Index: op.cas },
    }));
    const done = await this.send(
      `writing ${ops.length} K/V keys in one transaction`,
      (token) => this.api.transaction.create(operations as never, withToken({}, token) as never),
      undefined,
      'rolled-back',
      409,
    );
    return done !== 'rolled-back';
  }

  /** PUT /v1/kv/<key> (last write wins). */
  async kvPut(key: string, value: string): Promise<void> {
    await this.send(`writing K/V key "${key}"`, (token) => this.api.kv.set(withToken({ key, value }, token)), isBool);
  }

  kvAcquire(key: string, session: string, value: string): Promise<boolean> {
    return this.send(`acquiring the lock "${key}"`, (token) => this.api.kv.set(withToken({ key, value, acquire: session }, token)), isBool);
  }

  kvRelease(key: string, session: string): Promise<boolean> {
    return this.send(`releasing the lock "${key}"`, (token) => this.api.kv.set(withToken({ key, value: '', release: session }, token)), isBool);
  }

  /** A session with a TTL and `Behavior: release`; resolves to its id. */
  async sessionCreate(opts: { name: string; ttlMs: number; lockDelayMs: number }): Promise<string> {
    const what = 'creating a Consul session';
    const created = await this.send(what, (token) =>
      this.api.session.create({ name: opts.name, ttl: seconds(opts.ttlMs), lockdelay: seconds(opts.lockDelayMs), behavior: 'release', token }),
    );
    const id = (created as { ID?: unknown } | undefined)?.ID;
    if (typeof id !== 'string' || id === '') throw new ConsulResponseError(`${what}: Consul answered without an "ID"`);
    return id;
  }

  /** false when the session no longer exists (expired or destroyed). */
  async sessionRenew(id: string): Promise<boolean> {
    const renewed = await this.send(`renewing Consul session ${id}`, (token) => this.api.session.renew({ id, token }), undefined, 'gone');
    return renewed !== 'gone';
  }

  async sessionDestroy(id: string): Promise<void> {
    await this.send(`destroying Consul session ${id}`, (token) => this.api.session.destroy({ id, token }));
  }

  async agentServiceRegister(service: { ID: string; Name: string; Port: number; Address?: string; Tags?: string[] }): Promise<void> {
    await this.send(`registering service ${service.ID}`, (token) =>
      this.api.agent.service.register({
        id: service.ID,
        name: service.Name,
        port: service.Port,
        ...(service.Address ? { address: service.Address } : {}),
        ...(service.Tags ? { tags: service.Tags } : {}),
        token,
      }),
    );
  }

  /** Deregistering a service the agent no longer has is done, not an error. */
  async agentServiceDeregister(id: string): Promise<void> {
    await this.send(`deregistering service ${id}`, (token) => this.api.agent.service.deregister({ id, token }), undefined, 'gone');
  }

  /**
   * One write: counted, retried while the agent refuses the connection, its failure turned into
   * the router's error codes. `check` proves the answer's shape; `gone` is returned for `goneStatus` (404).
   */
  private async send<T, G = never>(
    what: string,
    call: (token: string | undefined) => Promise<T>,
    check?: (v: unknown) => boolean,
    gone?: G,
    goneStatus = 404,
  ): Promise<T | G> {
    const raw: T | G = await this.http
      .retryRefused<T | G>(async () => {
        this.http.countRequest();
        try {
          return await call(this.token() || undefined);
        } catch (err) {
          const e = err as PapiError;
          const status = e.response?.statusCode;
          if (status === goneStatus && gone !== undefined) return gone;
          const refused = status === undefined ? asRefusal(err) : refusedAnswer(status);
          if (refused instanceof ConsulRefusedError) throw refused;
          if (status === 403) throw new ConsulUnavailableError(`${what}: Consul refused the ACL token (403 ${e.message})`, { cause: err });
          if (status !== undefined) throw new ConsulUnavailableError(`${what}: Consul answered HTTP ${status} (${e.message})`, { cause: err });
          throw new ConsulUnavailableError(`${what}: cannot reach Consul at ${this.address} (${errorMessage(err)})`, { cause: err });
        }
      })
      .catch((err: unknown) => {
        if (err instanceof ConsulRefusedError)
          throw new ConsulUnavailableError(`${what}: Consul at ${this.address} kept refusing the connection (${err.message})`, { cause: err });
        throw err;
      });
    const answer = (raw === gone ? raw : decoded(raw)) as T | G;
    if (check && answer !== gone && !check(answer))
      throw new ConsulResponseError(`${what}: expected true or false, Consul answered ${JSON.stringify(answer).slice(0, 80)}`);
    return answer;
  }
}

/** An answer without a JSON content type comes as bytes: read them as JSON (`true`) when they are. */
function decoded(v: unknown): unknown {
  if (!Buffer.isBuffer(v) && typeof v !== 'string') return v;
  const text = v.toString().trim();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The K/V calls take the ACL token like every call (the package's common options); their types omit it. */
function withToken<T extends object>(options: T, token: string | undefined): T {
  return (token ? { ...options, token } : options) as T;
}

function isBool(v: unknown): boolean {
  return typeof v === 'boolean';
}

/** Consul session durations are Go durations in seconds (`15s`); lock-delay may be 0. */
function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}
