// A Vault HTTP API dev server for tests and `paas-router dev` (dev-only; never imported by src/).
// It answers the endpoints paas-router uses with Vault's shapes (test/fixtures/vault/): token
// lookup/renew/revoke-self with TTLs and max TTLs, AppRole login, KV v2 read/write/delete and
// metadata list (`GET ?list=true`: Node's HTTP parser rejects the `LIST` verb before any handler
// runs), ACL policies, namespaces, and errors as `{"errors":[...]}` (403 permission denied, 404,
// 503 sealed). Test controls: seal/unseal, stop/start on the same port, a request log without
// secrets. Behaviour notes and deviations from a real Vault: dev/vault/README.md.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { DevVaultState, VaultHttpError, multiError, type PolicyRule, type Token, type TokenOptions } from './state.js';

export { VaultHttpError } from './state.js';
export type { PolicyRule, Token, TokenOptions } from './state.js';

export interface DevVaultOptions {
  /** 0 or absent: a free port, kept across stop()/start(). */
  port?: number;
  host?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** The root token's id (default: random `hvs.` token); it never expires, like `vault server -dev`. */
  rootToken?: string;
  /** KV v2 mounts to enable (default ['secret']). */
  kvMounts?: string[];
  /**
   * Enterprise namespace everything lives in (e.g. `ns1`). Requests must then name it with
   * `X-Vault-Namespace` or a path prefix; elsewhere no token, role or secret exists.
   */
  namespace?: string;
  now?: () => number;
}

export interface RequestRecord {
  method: string;
  /** Path after /v1/, without the query. */
  path: string;
  query: string;
  namespace: string | undefined;
  /** True when a token was sent (its value is never recorded). */
  withToken: boolean;
  status: number;
}

export interface DevVault {
  readonly url: string;
  readonly port: number;
  readonly rootToken: string;
  readonly running: boolean;
  readonly sealed: boolean;
  /** Every request answered since start (no bodies, no token values). */
  readonly requests: RequestRecord[];
  readonly state: DevVaultState;
  seal(): void;
  unseal(): void;
  createToken(opts?: TokenOptions): Token;
  revokeToken(id: string): boolean;
  /** Returns the role id and a secret id. */
  addAppRole(
    name: string,
    opts?: { roleId?: string; secretId?: string; tokenTtl?: number; tokenMaxTtl?: number; tokenPolicies?: string[] },
  ): { roleId: string; secretId: string };
  addPolicy(name: string, rules: PolicyRule[]): void;
  /** Writes a new version of `<mount>/data/<path>` (as `vault kv put`). */
  kvPut(mount: string, path: string, data: Record<string, unknown>): number;
  /** Removes every version and the metadata of `<mount>/data/<path>` (as `vault kv metadata delete`). */
  kvDestroy(mount: string, path: string): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startDevVault(opts: DevVaultOptions = {}): Promise<DevVault> {
  const server = new DevVaultServer(opts);
  await server.start();
  return server;
}

/** `1h`, `90m`, `3600s`, `3600` or a number → seconds. */
export function parseTtl(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value !== 'string' || value === '') return undefined;
  const m = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new VaultHttpError(400, [`invalid duration ${JSON.stringify(value)}`]);
  const n = Number(m[1]);
  return n * ({ s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's'] ?? 1);
}

function envelope(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: '',
    ...extra,
  };
}

function authBlock(token: Token, leaseDuration: number): Record<string, unknown> {
  return {
    client_token: token.id,
    accessor: token.accessor,
    policies: token.policies,
    token_policies: token.policies,
    metadata: token.meta,
    lease_duration: leaseDuration,
    renewable: token.renewable,
    entity_id: token.entityId,
    token_type: 'service',
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  };
}

interface Reply {
  status: number;
  body?: unknown;
}

class DevVaultServer implements DevVault {
  readonly state: DevVaultState;
  readonly rootToken: string;
  readonly requests: RequestRecord[] = [];
  private readonly host: string;
  private listenPort: number;
  private httpServer: http.Server | https.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly namespace: string | undefined;

  constructor(private readonly opts: DevVaultOptions) {
    this.state = new DevVaultState(opts.now);
    this.host = opts.host ?? '127.0.0.1';
    this.listenPort = opts.port ?? 0;
    this.namespace = opts.namespace?.replace(/^\/+|\/+$/g, '') || undefined;
    this.rootToken = this.state.createToken({ id: opts.rootToken, ttl: 0, policies: ['root'], renewable: false, displayName: 'root' }).id;
    for (const mount of opts.kvMounts ?? ['secret']) this.state.enableKv(mount);
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.host}:${this.listenPort}`;
  }

  get running(): boolean {
    return this.httpServer !== undefined;
  }

  get sealed(): boolean {
    return this.state.sealed;
  }

  seal(): void {
    this.state.sealed = true;
  }

  unseal(): void {
    this.state.sealed = false;
  }

  createToken(opts?: TokenOptions): Token {
    return this.state.createToken(opts);
  }

  revokeToken(id: string): boolean {
    return this.state.revokeToken(id);
  }

  addAppRole(name: string, opts?: Parameters<DevVaultState['addAppRole']>[1]): { roleId: string; secretId: string } {
    return this.state.addAppRole(name, opts);
  }

  addPolicy(name: string, rules: PolicyRule[]): void {
    this.state.policies.set(name, rules);
  }

  kvPut(mount: string, path: string, data: Record<string, unknown>): number {
    return this.state.kvWrite(mount, path, data).version;
  }

  kvDestroy(mount: string, path: string): void {
    this.state.kvDestroyAll(mount, path);
  }

  async start(): Promise<void> {
    if (this.httpServer) return;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server = this.opts.tls ? https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listenPort = (server.address() as AddressInfo).port;
    this.httpServer = server;
  }

  async stop(): Promise<void> {
    const server = this.httpServer;
    if (!server) return;
    this.httpServer = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  close(): Promise<void> {
    return this.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault');
    let path = url.pathname.startsWith('/v1/') ? url.pathname.slice(4) : '';
    const headerNs = (req.headers['x-vault-namespace'] as string | undefined)?.replace(/^\/+|\/+$/g, '') || undefined;
    let inNamespace = this.namespace === undefined || headerNs === this.namespace;
    if (this.namespace !== undefined && path.startsWith(`${this.namespace}/`)) {
      path = path.slice(this.namespace.length + 1);
      inNamespace = true;
    }
    const auth = req.headers.authorization;
    const token = (req.headers['x-vault-token'] as string | undefined) || (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
    let reply: Reply;
    try {
      if (!url.pathname.startsWith('/v1/')) throw new VaultHttpError(404, []);
      const body = await readBody(req);
      reply = this.route(req.method ?? 'GET', path, url.searchParams, body, inNamespace ? token : undefined, inNamespace);
    } catch (err) {
      reply =
        err instanceof VaultHttpError ? { status: err.status, body: { errors: err.errors } } : { status: 500, body: { errors: [multiError(String(err))] } };
    }
    this.requests.push({ method: req.method ?? '', path, query: url.search, namespace: headerNs, withToken: Boolean(token), status: reply.status });
    if (reply.body === undefined) {
      res.writeHead(reply.status, { 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(method: string, path: string, query: URLSearchParams, body: Record<string, unknown>, token: string | undefined, inNamespace: boolean): Reply {
    const state = this.state;
    const write = method === 'POST' || method === 'PUT';
    if (path === 'sys/health' && method === 'GET') {
      const health = {
        initialized: true,
        sealed: state.sealed,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(state.now() / 1000),
        version: '1.15.0-dev',
        cluster_name: 'vault-cluster-dev',
        cluster_id: 'dev',
      };
      return { status: state.sealed ? 503 : 200, body: health };
    }
    if (path === 'sys/seal-status' && method === 'GET') {
      return {
        status: 200,
        body: {
          type: 'shamir',
          initialized: true,
          sealed: state.sealed,
          t: 1,
          n: 1,
          progress: 0,
          nonce: '',
          version: '1.15.0-dev',
          migration: false,
          recovery_seal: false,
          storage_type: 'inmem',
        },
      };
    }
    if (state.sealed) throw new VaultHttpError(503, ['Vault is sealed']);

    if (path === 'auth/approle/login') {
      if (!write) throw new VaultHttpError(405, [multiError('unsupported operation')]);
      if (!inNamespace) throw new VaultHttpError(400, ['invalid role or secret ID']);
      const t = state.approleLogin(body.role_id, body.secret_id);
      return { status: 200, body: envelope({ auth: authBlock(t, state.ttlSeconds(t)) }) };
    }

    const caller = state.authenticate(token);
    if (path === 'auth/token/lookup-self') {
      if (method !== 'GET' && !write) throw new VaultHttpError(405, [multiError('unsupported operation')]);
      state.authorize(caller, path, 'read');
      return { status: 200, body: envelope({ data: state.lookup(caller) }) };
    }
    if (path === 'auth/token/renew-self') {
      if (!write) throw new VaultHttpError(405, [multiError('unsupported operation')]);
      state.authorize(caller, path, 'update');
      const { leaseDuration, warnings } = state.renewToken(caller, parseTtl(body.increment));
      return { status: 200, body: envelope({ auth: authBlock(caller, leaseDuration), warnings: warnings.length ? warnings : null }) };
    }
    if (path === 'auth/token/revoke-self') {
      if (!write) throw new VaultHttpError(405, [multiError('unsupported operation')]);
      state.authorize(caller, path, 'update');
      state.revokeToken(caller.id);
      return { status: 204 };
    }

    const [mount, kind, ...rest] = path.split('/');
    const sub = rest.join('/');
    if (!mount || !state.kv.has(mount) || (kind !== 'data' && kind !== 'metadata')) {
      // The ACL check comes first: only a root token learns that a path does not exist.
      state.authorize(caller, path, method === 'GET' ? 'read' : 'update');
      throw new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);
    }
    if (sub === '' || sub.endsWith('.')) {
      if (!(kind === 'metadata' && method === 'GET' && isTrue(query.get('list')))) {
        throw new VaultHttpError(404, [`unsupported path`]);
      }
    }

    if (kind === 'metadata') {
      if (method === 'GET' && isTrue(query.get('list'))) {
        state.authorize(caller, path, 'list');
        const prefix = sub === '' || sub.endsWith('/') ? sub : `${sub}/`;
        const keys = state.kvList(mount, prefix);
        if (!keys) throw new VaultHttpError(404, []);
        return { status: 200, body: envelope({ data: { keys } }) };
      }
      if (method === 'GET') {
        state.authorize(caller, path, 'read');
        const meta = state.kvMetadata(mount, sub);
        if (!meta) throw new VaultHttpError(404, []);
        return { status: 200, body: envelope({ data: meta }) };
      }
      if (method === 'DELETE') {
        state.authorize(caller, path, 'delete');
        state.kvDestroyAll(mount, sub);
        return { status: 204 };
      }
      throw new VaultHttpError(405, [multiError('unsupported operation')]);
    }

    if (method === 'GET') {
      state.authorize(caller, path, 'read');
      const versionText = query.get('version');
      const version = versionText === null || versionText === '0' ? undefined : Number(versionText);
      if (version !== undefined && !(Number.isInteger(version) && version > 0)) throw new VaultHttpError(400, ['invalid version']);
      const secret = state.kvRead(mount, sub, version);
      if (!secret) throw new VaultHttpError(404, []);
      // A deleted version answers 404 with the metadata (observed in Vault 1.x; not in the API docs).
      if (secret.data === null) return { status: 404, body: envelope({ data: secret }) };
      return { status: 200, body: envelope({ data: secret, mount_type: 'kv' }) };
    }
    if (write) {
      const exists = state.kvRead(mount, sub) !== undefined;
      state.authorize(caller, path, exists ? 'update' : 'create');
      const data = body.data;
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new VaultHttpError(400, ['no data provided']);
      const options = (body.options ?? {}) as { cas?: unknown };
      const cas = options.cas === undefined ? undefined : Number(options.cas);
      const { version, createdTime } = state.kvWrite(mount, sub, data as Record<string, unknown>, cas);
      return {
        status: 200,
        body: envelope({ data: { created_time: createdTime, custom_metadata: null, deletion_time: '', destroyed: false, version } }),
      };
    }
    if (method === 'DELETE') {
      state.authorize(caller, path, 'delete');
      state.kvDelete(mount, sub);
      return { status: 204 };
    }
    throw new VaultHttpError(405, [multiError('unsupported operation')]);
  }
}

/** Vault reads `list` with Go's strconv.ParseBool. */
function isTrue(value: string | null): boolean {
  return value !== null && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value);
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new VaultHttpError(413, ['request body too large']));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return reject(new VaultHttpError(400, ['failed to parse JSON input: body must be a JSON object']));
        }
        resolve(parsed as Record<string, unknown>);
      } catch (err) {
        reject(new VaultHttpError(400, [`failed to parse JSON input: ${(err as Error).message}`]));
      }
    });
  });
}
