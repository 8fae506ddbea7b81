import type { PortRange } from '../model/types.js';

// The validated, typed configuration the rest of the daemon reads (camelCase, durations in ms).
import type { AcmeConfig } from '../acme/config.js';

export interface VaultTokenAuth {
  method: 'token';
}
export interface VaultAppRoleAuth {
  method: 'approle';
  roleId: string;
  secretIdFile: string;
  mount: string;
}

/** `haproxy.peers`: this router in the cluster's HAProxy `peers` section. */
export interface PeersConfig {
  port: number;
  /** '' = the node's address (as registered by its Consul agent). */
  bindAddress: string;
  name: string;
}

/** `haproxy.*` keys of the production edge (docs/edge.md). */
export interface EdgeConfig {
  statsBindAddress: string;
  /** CIDR blocks or addresses. */
  trustedProxies: string[];
  /** CIDR blocks or addresses instances must lie in; empty: any network. */
  backendNetworks: string[];
  acceptProxy: boolean;
  tcpPorts: PortRange[];
  maxconn: number;
  sslMinVer: 'TLSv1.2' | 'TLSv1.3';
  sslCiphers: string;
  sslCiphersuites: string;
}

export interface Config {
  cluster: string;
  baseDomain: string;
  consul: {
    address: string;
    token: string;
    cacert: string;
    domainsPrefix: string;
    serviceIdPrefixes: string[];
    /** Blocking-query wait, ms. */
    waitMs: number;
    /** Minimum time between two requests of one watch, ms (plus jitter). */
    minIntervalMs: number;
    /** Upper bound of the exponential backoff after failed reads, ms. */
    retryMaxMs: number;
    /** K/V prefixes of group weights and maintenance pages (`paas-router/weights/`, `paas-router/maintenance/`). */
    weightsPrefix: string;
    maintenancePrefix: string;
    /** K/V prefixes of the ownership records and of path delegations (`paas-router/claims/`, `paas-router/paths/`). */
    claimsPrefix: string;
    pathsPrefix: string;
    /** How long an owner must have stopped asking for a name before it is released, ms (default 1 h). */
    claimGraceMs: number;
    /** Most connections ever open to Consul, blocking or not. */
    maxConnections: number;
    /** Read consistency: `default`, `stale` (any server answers) or `consistent`. */
    consistency: 'default' | 'stale' | 'consistent';
  };
  vault: {
    address: string;
    kvPrefix: string;
    token: string;
    cacert: string;
    namespace: string;
    auth: VaultTokenAuth | VaultAppRoleAuth;
    /** Time between two reads of the secrets, ms. */
    refreshMs: number;
    /** Renew the token this long before it expires (capped at a third of its TTL), ms. */
    renewBeforeMs: number;
    /** Upper bound of the backoff after failed reads or logins, ms. */
    retryMaxMs: number;
    /** Per-request timeout, ms. */
    timeoutMs: number;
  };
  haproxy: {
    configDir: string;
    bin: string;
    masterSocket: string;
    runtimeSocket: string;
    /** Group given rw access to the runtime socket (mode 660); empty: mode 600, owner only. */
    runtimeSocketGroup: string;
    /** User and group HAProxy's workers run as (`global` user/group); '' = not changed. */
    user: string;
    group: string;
    bindAddress: string;
    httpPort: number;
    httpsPort: number;
    statsPort: number;
    hardStopAfter: string;
    maxOldWorkers: number;
    reloadTimeoutMs: number;
    /** Spare backends rendered for brand-new apps (docs/incremental.md); 0 = off. */
    spareBackends: number;
    /** Quiet time before apps on spares are consolidated by a validated reload, ms. */
    spareSettleMs: number;
    /** `haproxy.cache_max_size` in MiB: the router.cache sizes of all apps together (0: no caches). */
    cacheMaxSize: number;
    /** Rate-limit counters shared between the routers (HAProxy `peers`); port 0 = off. */
    peers: PeersConfig;
  } & EdgeConfig;
  /** Never-shrink guard: hold a change that drops more than `maxShrink` of the routes at once. */
  guard: { maxShrink: number; confirmAfterMs: number };
  templatesDir: string;
  wait: { minMs: number; maxMs: number };
  listen: { host: string; port: number };
  /** Credentials file for the status listener (`user:$scrypt$...` lines); '' = none. */
  listenAuthFile: string;
  /** Host header values the status listener answers (lowercase, optional :port); [] = `listen` and loopback names. */
  listenHosts: string[];
  logLevel: string;
  /** Traffic sampling: one `show stat` every `intervalMs`, kept for `windowMs` (docs/traffic.md). */
  traffic: { intervalMs: number; windowMs: number };
  /** Per-app Prometheus series (one set per app: off by default for cardinality). */
  metrics: { perApp: boolean };
  /** ACME issuing (src/acme/config.ts); `directoryUrl` '' = off. */
  acme: AcmeConfig;
}
