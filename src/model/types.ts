// The routing model: the pure, deterministic result of (services, domain claims, settings).
// Templates see exactly these shapes (documented in README "Templates data model").
import type { DomainClaim, ServiceInstance } from '../sources/types.js';

export interface ModelSettings {
  /** Default host = `<service>.<cluster>.<baseDomain>`. */
  readonly cluster: string;
  readonly baseDomain: string;
  /** A service is routed when one of its ServiceIDs starts with one of these (or it has `router.expose`). */
  readonly serviceIdPrefixes: readonly string[];
  /** K/V prefix for custom domains, ending in `/`, e.g. `paas-router/domains/`. */
  readonly domainsPrefix: string;
  /** Ports the router itself binds (http, https, stats): a tcp app may not take them. */
  readonly reservedPorts: readonly number[];
  /** `haproxy.tcp_ports`: the only ports `router.port` may take. Absent: any port not reserved. */
  readonly tcpPorts?: readonly PortRange[];
  /** K/V prefixes of weights and maintenance entries, ending in `/` (default `paas-router/weights/`, `paas-router/maintenance/`). */
  readonly weightsPrefix?: string;
  readonly maintenancePrefix?: string;
  /**
   * Vault data path of the `router.auth` users (`<kv_prefix>auth/`, e.g. `secret/data/paas-router/auth/`);
   * absent when Vault is not configured: then every router.auth app answers 503.
   */
  readonly authPrefix?: string;
  /** K/V prefix of the ownership records (`paas-router/claims/`): who holds each shared name (docs/routing.md). */
  readonly claimsPrefix?: string;
  /** K/V prefix of path delegations (`paas-router/paths/<owner>` = `<host><path>=<app> ...`). */
  readonly pathsPrefix?: string;
  /**
   * The node's own services (status listener, HAProxy's frontends and stats, Consul, Vault): an
   * instance at one of them is skipped (src/model/own-endpoints.ts). `what` names it in the reason.
   */
  readonly ownEndpoints?: readonly { address: string; port: number; what: string }[];
  /** The node's interface addresses (and host name): what a wildcard endpoint listens on besides loopback. */
  readonly localAddresses?: readonly string[];
  /** `haproxy.backend_networks`: CIDRs an instance must lie in (absent or empty: any network). */
  readonly backendNetworks?: readonly string[];
  /** `haproxy.cache_max_size` in MiB: what the `router.cache` sizes of all apps may add up to (default DEFAULT_CACHE_MAX_MB). */
  readonly cacheMaxSize?: number;
}

/** Inclusive port range (`haproxy.tcp_ports` entry). */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface ModelInput {
  readonly services: Record<string, ServiceInstance[]>;
  readonly claims: readonly DomainClaim[];
  readonly settings: ModelSettings;
  /** K/V entries under `paas-router/weights/` (`<group>` → `<app>=<0..256> ...`). */
  readonly weights?: readonly KvEntry[];
  /** K/V entries under `paas-router/maintenance/` (`<app or group>` → message). */
  readonly maintenance?: readonly KvEntry[];
  /** Vault `<kv_prefix>auth/<app or group>` entries: name → the `users` field (null: the entry has no text `users`). */
  readonly auth?: Record<string, string | null>;
  /** K/V entries under the claims prefix: the recorded owner of each shared name. */
  readonly claimRecords?: readonly KvEntry[];
  /** K/V entries under the paths prefix: the (host, path) pairs each host owner gives to other apps. */
  readonly delegations?: readonly KvEntry[];
}

/** A K/V entry of a feature prefix (same shape as a domain claim), with when the router first saw it. */
export interface KvEntry extends DomainClaim {
  readonly firstSeenAt?: number;
}

export type AppMode = 'http' | 'tcp';

export interface ServerRoute {
  /** Stable HAProxy server name derived from address and port (safe charset). */
  readonly name: string;
  /** Consul ServiceID of the instance. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** All checks passing: receives traffic. Others are rendered disabled (app answers 503 when none pass). */
  readonly passing: boolean;
  /** Group routes only: the member app this server belongs to, and its weight (0..256, 0 drains). */
  readonly app?: string;
  readonly weight?: number;
}

/** `router.canary`: requests whose header (name lowercased) or cookie has exactly this value. */
export interface CanaryRule {
  readonly kind: 'header' | 'cookie';
  readonly name: string;
  readonly value: string;
}

/** One app of a `router.group` route, with the weight each of its servers gets. */
export interface GroupMember {
  readonly app: string;
  readonly weight: number;
  /** `router.canary`: requests that carry it go to this member only, whatever the weights. */
  readonly canary?: CanaryRule;
  /** Where the weight came from: the K/V key, or the default (every member equal). */
  readonly weightFrom: 'kv' | 'default' | 'missing';
  readonly servers: number;
}

/** `paas-router/maintenance/<app or group>` is set: every host of the route answers 503 with `message`. */
export interface Maintenance {
  readonly key: string;
  readonly message: string;
  /** ms since epoch the router first saw the key (from the source), when known. */
  readonly since?: number;
}

/**
 * `router.auth=<realm>`: basic auth with users from Vault. `users` holds crypt hashes: render them
 * into the userlist and nowhere else (status, explain, logs show the names at most).
 */
export interface BasicAuth {
  readonly realm: string;
  /** Vault data path of the users (`secret/data/paas-router/auth/<app>`). */
  readonly path: string;
  /** Sorted as in Vault; empty when `failure` is set. */
  readonly users: readonly { readonly name: string; readonly hash: string }[];
  /** Why the app answers 503 instead of asking for credentials: no Vault, no entry, an invalid entry. */
  readonly failure?: 'no-vault' | 'no-entry' | 'invalid';
}

export interface AppRoute {
  /** Consul service name (lowercase). */
  readonly name: string;
  /** HAProxy backend name: always `app_` + name, so a request can never pick another backend. */
  readonly backend: string;
  readonly mode: AppMode;
  /** Frontend port of a tcp app (`router.port`); absent for http apps. */
  readonly port?: number;
  readonly balance: string;
  /** HTTP path for HAProxy's own health check (`router.healthcheck`). */
  readonly healthcheck?: string;
  readonly httpsOnly: boolean;
  readonly sticky: boolean;
  readonly maxconn?: number;
  /** HAProxy duration, e.g. `120s` (`router.timeout-server`). */
  readonly timeoutServer?: string;
  // Edge settings (docs/edge.md).
  /** `router.hsts`: `Strict-Transport-Security` max-age in seconds, on HTTPS responses; http apps only. */
  readonly hsts?: number;
  /** `router.hsts-subdomains`: adds `; includeSubDomains` (needs `hsts`). */
  readonly hstsSubdomains?: boolean;
  /** HAProxy duration (`router.timeout-client`); tcp apps only (HAProxy 2.6 has one client timeout per frontend). */
  readonly timeoutClient?: string;
  /** HAProxy duration (`router.timeout-connect`). */
  readonly timeoutConnect?: string;
  /** `router.max-body`: request body limit in bytes (413 past it); http apps only. */
  readonly maxBody?: number;
  /** `<name>.<cluster>.<baseDomain>`; http apps only. */
  readonly defaultHost?: string;
  /** Every host routed to this app (default first, then custom FQDNs sorted); http apps only. */
  readonly hosts: readonly string[];
  /** Sorted by name. */
  readonly servers: readonly ServerRoute[];
  // Second wave, per-app features (absent = off).
  /** `router.redirect`: every other host of the app answers 308 to this one. */
  readonly redirect?: string;
  /** `router.allow`: only these networks reach the app (403 / connection refused for others). */
  readonly allow?: readonly string[];
  /** `router.path`: served under this prefix on each of its hosts; `stripPath` removes it before the app. */
  readonly path?: string;
  readonly stripPath?: boolean;
  /** `router.group` routes: the member apps (sorted by name) and where the weights came from. */
  readonly members?: readonly GroupMember[];
  readonly weightsKey?: string;
  readonly maintenance?: Maintenance;
  /** `router.auth`: users from Vault, or the failure that makes the app answer 503. */
  readonly auth?: BasicAuth;
  // Third wave (docs/features.md; src/model/tenant-tags.ts).
  /** `router.compress`: gzip text responses for clients that accept it, unless the app compressed them. */
  readonly compress?: boolean;
  /** `router.timeout-tunnel`: HAProxy duration an upgraded connection (WebSocket) may idle (default 1h). */
  readonly timeoutTunnel?: string;
  /** `router.proto=h2`: HAProxy speaks cleartext HTTP/2 to the servers (gRPC); absent: HTTP/1.1. */
  readonly proto?: 'h2';
  /**
   * `router.cache`: the size in MiB of the app's HAProxy cache (`cache` section, `total-max-size`),
   * within `haproxy.cache_max_size` (an app past it is rejected and served without a cache).
   */
  readonly cache?: number;
  /** `router.rate-limit` (and `router.rate-limit-path`): requests per client address per period; over it, 429. */
  readonly rateLimit?: RateLimit;
}

/** Per client address (after the trusted-proxy rules), shared by the routers through HAProxy peers. */
export interface RateLimit {
  readonly requests: number;
  /** HAProxy duration as written, e.g. `10s`. */
  readonly period: string;
  readonly periodMs: number;
  /** `router.rate-limit-path`: only requests under this prefix are counted and limited. */
  readonly path?: string;
}

export interface HostRoute {
  readonly host: string;
  readonly backend: string;
  readonly app: string;
  /** `default` for `<app>.<cluster>.<base>`, `kv` for a custom FQDN. */
  readonly source: 'default' | 'kv';
  /** K/V key the custom FQDN came from. */
  readonly key?: string;
  /** `router.path` of the app: the route is (host, path prefix). */
  readonly path?: string;
}

export type RejectionKind = 'service' | 'tag' | 'domain' | 'conflict' | 'group' | 'weight' | 'maintenance' | 'auth' | 'claim';

export interface Rejection {
  readonly kind: RejectionKind;
  /** Service the input belongs to (or the service named by the K/V key). */
  readonly service: string;
  /** The offending input: the tag, the FQDN, the K/V key, or the service name. */
  readonly subject: string;
  /** Human-readable reason naming what was wrong. */
  readonly reason: string;
  /** K/V key for domain rejections. */
  readonly key?: string;
}

export interface RoutingModel {
  /** Sorted by name. */
  readonly apps: AppRoute[];
  /** Sorted by host; http apps only. */
  readonly hosts: HostRoute[];
  /** Sorted by service, then subject. */
  readonly rejections: readonly Rejection[];
  /**
   * Every shared name asked for or recorded, sorted by key: who holds it and whether it still asks.
   * The claim recorder (src/claims/) writes what is not recorded yet and releases what is idle.
   */
  readonly owners?: readonly OwnedName[];
}

/** The kinds of shared names: a custom host, an app or group name (with its default host), a tcp port. */
export type ClaimKind = 'host' | 'name' | 'port';

/** The value of an ownership record in Consul K/V (JSON). */
export interface ClaimRecordValue {
  owner: string;
  /** A name held for a `router.group` (its owner is the member that claimed it first). */
  as?: 'group';
  /** Group names: the members of the group when it was first recorded (admitted like those the weights key lists). */
  members?: string[];
  /** ms since epoch since when the owner no longer asks for the name; released after the grace period. */
  idle_since?: number;
}

/** One shared name: its holder and what the recorder must do about its record. */
export interface OwnedName {
  readonly kind: ClaimKind;
  /** The host, the lowercase app or group name, or the port number. */
  readonly name: string;
  /** `<claims_prefix><kind>s/<name>`. */
  readonly key: string;
  /** Who holds the name: the recorded owner, or the first claimant while nothing is recorded. */
  readonly owner: string;
  readonly as?: 'group';
  /** Group names: the members admitted when the name was first recorded. */
  readonly members?: readonly string[];
  /** The owner still asks for the name (while it does not, the record ages towards release). */
  readonly ownerAsks: boolean;
  /** Other apps that ask for the name now, sorted. */
  readonly others: readonly string[];
  /** The record as read: absent when there is none yet; `valid: false` when it must be rewritten. */
  readonly record?: { readonly modifyIndex: number; readonly createIndex: number; readonly valid: boolean; readonly idleSince?: number };
}
