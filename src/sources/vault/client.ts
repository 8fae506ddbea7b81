// Thin adapter over node-vault: the few calls paas-router makes (AppRole login, token lookup and
// renewal, KV v2 read and list), each answering plain typed values, each failure a Vault*Error
// whose message holds no secret. TLS verification is always on: node-vault turns it off when
// VAULT_SKIP_VERIFY is set in the environment, and this adapter overrides that.
import { readFileSync } from 'node:fs';
import nodeVault from 'node-vault';
import { VaultAuthError, VaultResponseError, VaultUnavailableError, scrub } from './errors.js';

export interface VaultClientOptions {
  /** `https://vault.example:8200` (VAULT_ADDR). */
  address: string;
  /** Path of a PEM CA bundle (VAULT_CACERT); empty = the system's CAs. */
  cacert?: string;
  /** Enterprise namespace (VAULT_NAMESPACE), sent as X-Vault-Namespace. */
  namespace?: string;
  /** Per-request timeout, ms (default 10 s). */
  timeoutMs?: number;
}

/** What a login or a renewal tells about the token. */
export interface AuthInfo {
  token: string;
  /** Seconds; 0 = the token does not expire. */
  leaseDuration: number;
  renewable: boolean;
  warnings: string[];
}

/** lookup-self, reduced to what renewal needs. */
export interface TokenInfo {
  /** Seconds left; 0 = no expiry. */
  ttl: number;
  /** TTL the token was created with, seconds. */
  creationTtl: number;
  renewable: boolean;
  /** 0 = none set. */
  explicitMaxTtl: number;
  policies: string[];
}

/**
 * node-vault as this adapter uses it. Its typings miss what its code reads: `token` is unset
 * between requests (typed `string`), `pathPrefix`/`namespace` are plain fields, `strictSSL` in
 * `requestOptions` and `rpDefaults` are honoured (src/index.js).
 */
type NodeVaultClient = Omit<ReturnType<typeof nodeVault>, 'token'> & { token: string | undefined; pathPrefix: string; namespace: string | undefined };
type NodeVaultOptions = Omit<nodeVault.VaultOptions, 'requestOptions'> & {
  requestOptions: { timeout: number; strictSSL: boolean; ca?: Buffer };
  rpDefaults: { strictSSL: boolean; timeout: number };
};

function createNodeVault(options: NodeVaultOptions): NodeVaultClient {
  return nodeVault(options as nodeVault.VaultOptions) as NodeVaultClient;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class VaultClient {
  private readonly vault: NodeVaultClient;
  /** Logins go through their own instance, which never holds a token: a login sends none. */
  private readonly loginVault: NodeVaultClient;
  private currentToken: string | undefined;
  /** Values never to be printed: the current token and the last secret id used. */
  private readonly secrets = new Set<string>();

  constructor(private readonly opts: VaultClientOptions) {
    this.vault = VaultClient.create(opts);
    this.loginVault = VaultClient.create(opts);
  }

  private static create(opts: VaultClientOptions): NodeVaultClient {
    const timeout = opts.timeoutMs ?? 10_000;
    const requestOptions: NodeVaultOptions['requestOptions'] = { timeout, strictSSL: true };
    if (opts.cacert) requestOptions.ca = readFileSync(opts.cacert);
    const vault = createNodeVault({
      endpoint: opts.address,
      apiVersion: 'v1',
      namespace: opts.namespace || undefined,
      // GET ?list=true instead of the LIST verb (works through every proxy, and is what Vault documents).
      noCustomHTTPVerbs: true,
      requestOptions,
      // node-vault's debug output includes request bodies (the AppRole secret id): never enabled.
      debug: () => undefined,
      rpDefaults: { strictSSL: true, timeout },
    });
    // node-vault falls back to VAULT_TOKEN, VAULT_PREFIX and VAULT_NAMESPACE from the environment:
    // the token comes only from VaultAuth, the namespace only from the config.
    vault.token = undefined;
    vault.pathPrefix = '';
    vault.namespace = opts.namespace || undefined;
    return vault;
  }

  get address(): string {
    return this.opts.address;
  }

  get token(): string | undefined {
    return this.currentToken;
  }

  setToken(token: string | undefined): void {
    this.currentToken = token;
    if (token) this.secrets.add(token);
    this.vault.token = token;
  }

  /** POST auth/<mount>/login. Sets the client's token to the new one. */
  async approleLogin(roleId: string, secretId: string, mount = 'approle'): Promise<AuthInfo> {
    this.secrets.add(secretId);
    this.secrets.add(roleId);
    const body = await this.call('AppRole login', () =>
      // mount_point goes through a Mustache template in node-vault: only a plain name is safe.
      this.loginVault.approleLogin({ role_id: roleId, secret_id: secretId, mount_point: safeMount(mount) }),
    ).finally(() => (this.loginVault.token = undefined)); // node-vault keeps the token it got
    const info = parseAuth('AppRole login', body);
    this.setToken(info.token);
    return info;
  }

  /** GET auth/token/lookup-self with the current token. */
  async lookupSelf(): Promise<TokenInfo> {
    const body = await this.call('token lookup', () => this.vault.tokenLookupSelf());
    const data = isRecord(body) ? body.data : undefined;
    if (!isRecord(data)) throw new VaultResponseError('token lookup: Vault answered without "data"');
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    return {
      ttl: num(data.ttl),
      creationTtl: num(data.creation_ttl),
      renewable: data.renewable === true,
      explicitMaxTtl: num(data.explicit_max_ttl),
      policies: Array.isArray(data.policies) ? data.policies.filter((p): p is string => typeof p === 'string') : [],
    };
  }

  /** POST auth/token/renew-self; `incrementSeconds` is advisory (Vault may cap it). */
  async renewSelf(incrementSeconds?: number): Promise<AuthInfo> {
    const args = incrementSeconds && incrementSeconds > 0 ? { increment: `${Math.round(incrementSeconds)}s` } : {};
    const body = await this.call('token renewal', () => this.vault.tokenRenewSelf(args));
    const info = parseAuth('token renewal', body);
    this.setToken(info.token || this.currentToken);
    return info;
  }

  /** GET <mount>/data/<path>: the secret's `data.data`, or undefined when there is none (404). */
  async kvRead(path: string): Promise<Record<string, unknown> | undefined> {
    const body = await this.call(`reading ${path}`, () => this.vault.read(path), true);
    if (body === undefined) return undefined;
    const data = isRecord(body) && isRecord(body.data) ? body.data.data : undefined;
    if (data === null) return undefined; // deleted or destroyed version
    if (!isRecord(data)) throw new VaultResponseError(`reading ${path}: Vault answered without a KV v2 "data.data" object (is kv_prefix a KV v2 data path?)`);
    return data;
  }

  /** GET <mount>/metadata/<path>?list=true: the keys (folders end in `/`), [] when none (404). */
  async kvList(path: string): Promise<string[]> {
    const body = await this.call(`listing ${path}`, () => this.vault.list(path), true);
    if (body === undefined) return [];
    const keys = isRecord(body) && isRecord(body.data) ? body.data.keys : undefined;
    if (!Array.isArray(keys)) throw new VaultResponseError(`listing ${path}: Vault answered without "data.keys"`);
    return keys.filter((k): k is string => typeof k === 'string');
  }

  /** GET <mount>/data/<path> with the version read (for a check-and-set write); undefined when none. */
  async kvReadVersioned(path: string): Promise<{ data: Record<string, unknown>; version: number } | undefined> {
    const body = await this.call(`reading ${path}`, () => this.vault.read(path), true);
    if (body === undefined || !isRecord(body) || !isRecord(body.data)) return undefined;
    const { data, metadata } = body.data;
    const version = isRecord(metadata) && typeof metadata.version === 'number' ? metadata.version : 0;
    return isRecord(data) ? { data, version } : undefined;
  }

  /**
   * POST <mount>/data/<path> (KV v2 write). `cas`: 0 = only if the secret does not exist, N = only
   * if version N is the latest; Vault answers 400 otherwise, which this returns as `false`.
   */
  async kvWrite(path: string, data: Record<string, unknown>, cas?: number): Promise<boolean> {
    const body: Record<string, unknown> = { data };
    if (cas !== undefined) body.options = { cas };
    try {
      await this.call(`writing ${path}`, () => this.vault.write(path, body));
      return true;
    } catch (err) {
      if (cas !== undefined && err instanceof VaultResponseError && err.status === 400 && /check-and-set/i.test(err.message)) return false;
      throw err;
    }
  }

  /** Runs one node-vault call; maps every failure to a Vault*Error with a scrubbed message. */
  private async call(what: string, fn: () => Promise<unknown>, notFoundIsEmpty = false): Promise<unknown> {
    try {
      return await fn();
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 && notFoundIsEmpty) return undefined;
      throw this.translate(what, err, status);
    }
  }

  private translate(what: string, err: unknown, status: number | undefined): Error {
    const raw = err as { message?: unknown; code?: unknown };
    const detail = scrub(
      String(raw.message ?? err)
        .replace(/\s+/g, ' ')
        .replace(/^1 error occurred: \* /, '')
        .trim(),
      this.secrets,
    );
    if (status !== undefined) {
      if (status === 503) return new VaultUnavailableError(`${what}: Vault at ${this.address} is sealed or in maintenance (503 ${detail})`, status);
      if (status >= 500) return new VaultUnavailableError(`${what}: Vault at ${this.address} answered ${status} (${detail})`, status);
      if (status === 403) return new VaultAuthError(`${what}: Vault refused the token (403 ${detail})`, status);
      if (status === 400 && /login/i.test(what)) return new VaultAuthError(`${what}: Vault refused the credentials (400 ${detail})`, status);
      return new VaultResponseError(`${what}: Vault answered ${status} (${detail})`, status);
    }
    const code = typeof raw.code === 'string' ? raw.code : '';
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(`${code} ${detail}`)) {
      return new VaultUnavailableError(
        `${what}: TLS verification of Vault at ${this.address} failed (${code || detail}); set VAULT_CACERT / vault.cacert to the CA that signed its certificate`,
      );
    }
    if (code || /timeout|socket|ECONN|EAI_AGAIN|ENOTFOUND|network/i.test(detail)) {
      return new VaultUnavailableError(`${what}: cannot reach Vault at ${this.address} (${code ? `${code}: ` : ''}${detail})`);
    }
    return new VaultResponseError(`${what}: ${detail}`);
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { response?: { statusCode?: unknown } }).response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function safeMount(mount: string): string {
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(mount)) throw new VaultAuthError(`AppRole mount ${JSON.stringify(mount)} is not a plain path`);
  return mount;
}

function parseAuth(what: string, body: unknown): AuthInfo {
  const auth = isRecord(body) ? body.auth : undefined;
  if (!isRecord(auth) || typeof auth.client_token !== 'string' || auth.client_token === '') {
    throw new VaultResponseError(`${what}: Vault answered without "auth.client_token"`);
  }
  const lease = typeof auth.lease_duration === 'number' && Number.isFinite(auth.lease_duration) ? auth.lease_duration : 0;
  const warnings = isRecord(body) && Array.isArray(body.warnings) ? body.warnings.filter((w): w is string => typeof w === 'string') : [];
  return { token: auth.client_token, leaseDuration: lease, renewable: auth.renewable === true, warnings };
}
