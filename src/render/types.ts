// Inputs and outputs of the pure renderer.

/** Paths and listeners the rendered configuration refers to. */
export interface RenderSettings {
  /** Absolute directory the generated files live in (hosts.map is referenced from here). */
  configDir: string;
  /** Admin-level runtime API socket rendered into `global` (mode 0600). */
  runtimeSocket: string;
  /**
   * Group allowed to use the runtime socket (mode 660): the daemon runs as its own user while
   * HAProxy creates the socket. Absent: mode 600, HAProxy's user only.
   */
  runtimeSocketGroup?: string;
  /**
   * `haproxy.user` / `haproxy.group`: HAProxy's workers drop to them (the master stays root to
   * re-read files on reload). Absent: the workers keep the user HAProxy was started as.
   */
  user?: string;
  group?: string;
  /** `*` or an IP address. */
  bindAddress: string;
  httpPort: number;
  httpsPort: number;
  statsPort: number;
  /** Stats/admin credentials (from Vault); without them the stats page is read-only. */
  stats?: { user: string; password: string };
  /**
   * TLS from Vault. Absent (or no certificate): no HTTPS frontend, and https-only apps are served
   * over plain HTTP. `crtList` is `<configDir>/crt-list`: the certificate files are part of the
   * candidate (render/certificates.ts), validated in staging with the rest.
   */
  tls?: {
    crtList: string;
    /** Hosts a certificate covers: only these are redirected to HTTPS for https-only apps. */
    coveredHosts: string[];
  };
  /** How long old workers may linger after a reload (HAProxy `hard-stop-after`). */
  hardStopAfter: string;
  /** How many reloads an old worker may survive before HAProxy stops it (`mworker-max-reloads`). */
  maxOldWorkers?: number;
  /**
   * Global `maxconn` (default 4096). HAProxy needs about twice as many file descriptors and
   * refuses to start when it cannot raise its limit that far.
   */
  maxconn?: number;
  /** The production edge (docs/edge.md); absent: the defaults of the config keys. */
  edge?: EdgeRenderSettings;
  /** `haproxy.spare_backends`: spare backends rendered for brand-new apps (absent: none). */
  spareBackends?: number;
  /**
   * The cluster's routers, when there are at least two with this one among them (src/model/peers.ts):
   * rate-limit counters are shared through a `peers` section. Absent: each router counts alone.
   */
  peers?: PeersSettings;
  /**
   * ACME on: the account key's JWK thumbprint. The HTTP frontend then answers
   * `/.well-known/acme-challenge/<token>` with `<token>.<thumbprint>` itself (HTTP-01).
   */
  acme?: { thumbprint: string };
}

/** `haproxy.*` edge keys as the renderer takes them. Every field has the config key's default. */
export interface EdgeRenderSettings {
  /** `haproxy.stats_bind_address` (default `127.0.0.1`). */
  statsBindAddress?: string;
  /** `haproxy.trusted_proxies`: CIDR blocks whose forwarded headers are kept (default none). */
  trustedProxies?: string[];
  /** `haproxy.accept_proxy`: PROXY protocol v1/v2 on every public bind (default false). */
  acceptProxy?: boolean;
  /** `haproxy.ssl_min_ver` (default TLSv1.2). */
  sslMinVer?: string;
  /** `haproxy.ssl_ciphers` (TLS 1.2) and `haproxy.ssl_ciphersuites` (TLS 1.3). */
  sslCiphers?: string;
  sslCiphersuites?: string;
}

/** Template texts as read from the templates directory. */
export interface TemplateSource {
  /** Top-level `<name>.hbs` files: each renders the output file `<name>` (e.g. `haproxy.cfg`). */
  files: Record<string, string>;
  /** `partials/<name>.hbs`, usable as `{{> name}}`. */
  partials: Record<string, string>;
}

/** Output file name → content. Always contains `haproxy.cfg`, `hosts.map` and `maintenance.map`. */
export type RenderedFiles = Record<string, string>;

/** The `peers` section: this router's peer name and every router's peers endpoint, sorted by name. */
export interface PeersSettings {
  self: string;
  list: { name: string; address: string; port: number }[];
}
