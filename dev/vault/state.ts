// The dev Vault's in-memory state: tokens with TTLs, AppRoles, ACL policies and KV v2 mounts.
// Behaviour follows the Vault API docs summarised in test/fixtures/vault/README.md; the HTTP
// layer (server.ts) only maps requests onto these methods and their errors onto Vault's shape.
import { randomBytes, randomUUID } from 'node:crypto';

/** A failure with the status and `errors` array Vault answers with. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors[0] ?? `status ${status}`);
  }
}

/** Vault wraps most errors with go-multierror; clients must match substrings. */
export const multiError = (message: string): string => `1 error occurred:\n\t* ${message}\n\n`;
export const permissionDenied = (): VaultHttpError => new VaultHttpError(403, [multiError('permission denied')]);

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny';

/** One `path "..." { capabilities = [...] }` stanza. A trailing `*` is a prefix glob, `+` one segment. */
export interface PolicyRule {
  path: string;
  capabilities: Capability[];
}

export interface TokenOptions {
  /** Seconds; 0 = never expires (root tokens). Default 3600. */
  ttl?: number;
  /** Seconds after creation beyond which no renewal extends the token; 0 = none (system max applies). */
  explicitMaxTtl?: number;
  renewable?: boolean;
  policies?: string[];
  /** Set it to choose the token string; default `hvs.` + random. */
  id?: string;
  displayName?: string;
  path?: string;
  meta?: Record<string, string> | null;
}

export interface Token {
  id: string;
  accessor: string;
  policies: string[];
  /** ms since epoch */
  issuedAt: number;
  /** ms since epoch; undefined = never expires */
  expiresAt: number | undefined;
  /** seconds, as asked at creation (login) */
  creationTtl: number;
  explicitMaxTtl: number;
  /** ms since epoch: the hard cap (explicit max TTL or the system/mount max). */
  maxExpiresAt: number | undefined;
  renewable: boolean;
  displayName: string;
  path: string;
  meta: Record<string, string> | null;
  entityId: string;
}

export interface AppRole {
  name: string;
  roleId: string;
  secretIds: Set<string>;
  /** Token TTL / max TTL in seconds given to tokens issued by a login. */
  tokenTtl: number;
  tokenMaxTtl: number;
  tokenPolicies: string[];
}

export interface KvVersion {
  data: Record<string, unknown> | null;
  createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

export interface KvEntry {
  versions: KvVersion[];
  createdTime: string;
  updatedTime: string;
  customMetadata: Record<string, string> | null;
}

/** Vault's system default max lease TTL: 32 days. */
export const SYSTEM_MAX_TTL = 32 * 24 * 3600;

const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

export function globMatches(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*');
  const body = prefix ? pattern.slice(0, -1) : pattern;
  const patternParts = body.split('/');
  const pathParts = path.split('/');
  if (!prefix && patternParts.length !== pathParts.length) return false;
  if (prefix && pathParts.length < patternParts.length) return false;
  for (let i = 0; i < patternParts.length; i++) {
    const p = patternParts[i]!;
    const s = pathParts[i]!;
    const last = i === patternParts.length - 1;
    if (p === '+') continue;
    if (prefix && last) return s.startsWith(p);
    if (p !== s) return false;
  }
  return true;
}

export class DevVaultState {
  readonly tokens = new Map<string, Token>();
  readonly approles = new Map<string, AppRole>();
  readonly policies = new Map<string, PolicyRule[]>();
  /** mount name → (path → entry) */
  readonly kv = new Map<string, Map<string, KvEntry>>();
  sealed = false;

  constructor(readonly now: () => number = Date.now) {
    // Vault's built-in default policy lets every token look itself up, renew and revoke itself.
    this.policies.set('default', [
      { path: 'auth/token/lookup-self', capabilities: ['read'] },
      { path: 'auth/token/renew-self', capabilities: ['update'] },
      { path: 'auth/token/revoke-self', capabilities: ['update'] },
    ]);
  }

  // ---- tokens -----------------------------------------------------------------------------

  createToken(opts: TokenOptions = {}): Token {
    const now = this.now();
    const ttl = opts.ttl ?? 3600;
    const explicitMaxTtl = opts.explicitMaxTtl ?? 0;
    const policies = opts.policies ?? ['default'];
    const root = policies.includes('root');
    const capSeconds = explicitMaxTtl > 0 ? explicitMaxTtl : root && ttl === 0 ? 0 : SYSTEM_MAX_TTL;
    const token: Token = {
      id: opts.id ?? `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: [...new Set(policies)].sort(),
      issuedAt: now,
      expiresAt: ttl === 0 ? undefined : now + Math.min(ttl, capSeconds || ttl) * 1000,
      creationTtl: ttl,
      explicitMaxTtl,
      maxExpiresAt: capSeconds === 0 ? undefined : now + capSeconds * 1000,
      renewable: opts.renewable ?? ttl !== 0,
      displayName: opts.displayName ?? 'token',
      path: opts.path ?? 'auth/token/create',
      meta: opts.meta ?? null,
      entityId: '',
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** The live token, or a 403 (missing, revoked and expired tokens look the same). */
  authenticate(id: string | undefined): Token {
    if (!id) throw permissionDenied();
    const token = this.tokens.get(id);
    if (!token) throw permissionDenied();
    if (token.expiresAt !== undefined && token.expiresAt <= this.now()) {
      this.tokens.delete(id); // the TTL ran out: Vault revokes the token
      throw permissionDenied();
    }
    return token;
  }

  revokeToken(id: string): boolean {
    return this.tokens.delete(id);
  }

  ttlSeconds(token: Token): number {
    if (token.expiresAt === undefined) return 0;
    return Math.max(0, Math.round((token.expiresAt - this.now()) / 1000));
  }

  /**
   * renew-self: the increment is advisory; the new TTL never goes past the max TTL. Returns the
   * new lease duration in seconds and Vault's warning when it was capped.
   */
  renewToken(token: Token, increment: number | undefined): { leaseDuration: number; warnings: string[] } {
    if (!token.renewable || token.expiresAt === undefined) {
      throw new VaultHttpError(400, [multiError('lease is not renewable')]);
    }
    const now = this.now();
    const wanted = increment !== undefined && increment > 0 ? increment : token.creationTtl;
    let seconds = wanted;
    const warnings: string[] = [];
    if (token.maxExpiresAt !== undefined) {
      const left = Math.max(0, Math.floor((token.maxExpiresAt - now) / 1000));
      if (left < wanted) {
        seconds = left;
        warnings.push(`TTL of "${wanted}s" exceeded the effective max_ttl of "${left}s"; TTL value is capped accordingly`);
      }
    }
    token.expiresAt = Math.min(now + seconds * 1000, token.maxExpiresAt ?? Infinity);
    return { leaseDuration: seconds, warnings };
  }

  lookup(token: Token): Record<string, unknown> {
    return {
      accessor: token.accessor,
      creation_time: Math.floor(token.issuedAt / 1000),
      creation_ttl: token.creationTtl,
      display_name: token.displayName,
      entity_id: token.entityId,
      expire_time: token.expiresAt === undefined ? null : rfc3339(token.expiresAt),
      explicit_max_ttl: token.explicitMaxTtl,
      id: token.id,
      identity_policies: [],
      issue_time: rfc3339(token.issuedAt),
      meta: token.meta,
      num_uses: 0,
      orphan: true,
      path: token.path,
      policies: token.policies,
      renewable: token.renewable,
      ttl: this.ttlSeconds(token),
      type: 'service',
    };
  }

  /** The ACL check: does any of the token's policies grant `capability` on `path`? */
  authorize(token: Token, path: string, capability: Capability): void {
    if (token.policies.includes('root')) return;
    let allowed = false;
    for (const name of token.policies) {
      for (const rule of this.policies.get(name) ?? []) {
        if (!globMatches(rule.path, path)) continue;
        if (rule.capabilities.includes('deny')) throw permissionDenied();
        if (rule.capabilities.includes(capability)) allowed = true;
      }
    }
    if (!allowed) throw permissionDenied();
  }

  // ---- approle ----------------------------------------------------------------------------

  addAppRole(
    name: string,
    opts: { roleId?: string; secretId?: string; tokenTtl?: number; tokenMaxTtl?: number; tokenPolicies?: string[] } = {},
  ): { roleId: string; secretId: string } {
    const roleId = opts.roleId ?? randomUUID();
    const secretId = opts.secretId ?? randomUUID();
    this.approles.set(name, {
      name,
      roleId,
      secretIds: new Set([secretId]),
      tokenTtl: opts.tokenTtl ?? 1200,
      tokenMaxTtl: opts.tokenMaxTtl ?? 0,
      tokenPolicies: opts.tokenPolicies ?? ['default'],
    });
    return { roleId, secretId };
  }

  approleLogin(roleId: unknown, secretId: unknown): Token {
    if (typeof roleId !== 'string' || roleId === '') throw new VaultHttpError(400, ['missing role_id']);
    const role = [...this.approles.values()].find((r) => r.roleId === roleId);
    if (!role || typeof secretId !== 'string' || !role.secretIds.has(secretId)) {
      throw new VaultHttpError(400, ['invalid role or secret ID']);
    }
    return this.createToken({
      ttl: role.tokenTtl,
      explicitMaxTtl: role.tokenMaxTtl,
      renewable: true,
      policies: ['default', ...role.tokenPolicies],
      displayName: `approle`,
      path: 'auth/approle/login',
      meta: { role_name: role.name },
    });
  }

  // ---- KV v2 ------------------------------------------------------------------------------

  enableKv(mount: string): void {
    if (!this.kv.has(mount)) this.kv.set(mount, new Map());
  }

  kvWrite(mount: string, path: string, data: Record<string, unknown>, cas?: number): { version: number; createdTime: string } {
    const store = this.kv.get(mount);
    if (!store) throw new VaultHttpError(404, [`no handler for route "${mount}/data/${path}". route entry not found.`]);
    const entry = store.get(path);
    const current = entry?.versions.length ?? 0;
    if (cas !== undefined && cas !== current) {
      throw new VaultHttpError(400, [multiError(`check-and-set parameter did not match the current version`)]);
    }
    const now = rfc3339(this.now());
    const next: KvEntry = entry ?? { versions: [], createdTime: now, updatedTime: now, customMetadata: null };
    next.versions.push({ data: structuredClone(data), createdTime: now, deletionTime: '', destroyed: false });
    next.updatedTime = now;
    store.set(path, next);
    return { version: next.versions.length, createdTime: now };
  }

  /** Soft delete of the latest version (DELETE /<mount>/data/<path>). */
  kvDelete(mount: string, path: string): void {
    const entry = this.kv.get(mount)?.get(path);
    const latest = entry?.versions[entry.versions.length - 1];
    if (latest && latest.deletionTime === '') latest.deletionTime = rfc3339(this.now());
  }

  /** Removes every version and the metadata (DELETE /<mount>/metadata/<path>). */
  kvDestroyAll(mount: string, path: string): void {
    this.kv.get(mount)?.delete(path);
  }

  kvRead(mount: string, path: string, version?: number): { data: Record<string, unknown> | null; metadata: Record<string, unknown> } | undefined {
    const entry = this.kv.get(mount)?.get(path);
    if (!entry) return undefined;
    const n = version ?? entry.versions.length;
    const v = entry.versions[n - 1];
    if (!v) return undefined;
    const gone = v.deletionTime !== '' || v.destroyed;
    return {
      data: gone ? null : structuredClone(v.data),
      metadata: {
        created_time: v.createdTime,
        custom_metadata: entry.customMetadata,
        deletion_time: v.deletionTime,
        destroyed: v.destroyed,
        version: n,
      },
    };
  }

  /** Keys directly under `prefix` (folders end in `/`), sorted; undefined when there are none. */
  kvList(mount: string, prefix: string): string[] | undefined {
    const store = this.kv.get(mount);
    if (!store) return undefined;
    const keys = new Set<string>();
    for (const path of store.keys()) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      if (rest === '') continue;
      const slash = rest.indexOf('/');
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    return keys.size === 0 ? undefined : [...keys].sort();
  }

  kvMetadata(mount: string, path: string): Record<string, unknown> | undefined {
    const entry = this.kv.get(mount)?.get(path);
    if (!entry) return undefined;
    const versions: Record<string, unknown> = {};
    entry.versions.forEach((v, i) => {
      versions[String(i + 1)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
    });
    return {
      cas_required: false,
      created_time: entry.createdTime,
      current_version: entry.versions.length,
      custom_metadata: entry.customMetadata,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: entry.versions.length > 0 ? 1 : 0,
      updated_time: entry.updatedTime,
      versions,
    };
  }
}
