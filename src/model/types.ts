// The routing model: the pure, deterministic result of (services, domain claims, settings).
// Templates see exactly these shapes (documented in README "Templates data model").
import type { DomainClaim, ServiceInstance } from '../sources/types.js';

export interface ModelSettings {
  /** Default host = `<service>.<cluster>.<baseDomain>`. */
  cluster: string;
  baseDomain: string;
  /** A service is routed when one of its ServiceIDs starts with one of these (or it has `router.expose`). */
  serviceIdPrefixes: string[];
  /** K/V prefix for custom domains, ending in `/`, e.g. `paas-router/domains/`. */
  domainsPrefix: string;
  /** Ports the router itself binds (http, https, stats): a tcp app may not take them. */
  reservedPorts: number[];
  /** `haproxy.tcp_ports`: the only ports `router.port` may take. Absent: any port not reserved. */
  tcpPorts?: PortRange[];
}

/** Inclusive port range (`haproxy.tcp_ports` entry). */
export interface PortRange {
  from: number;
  to: number;
}

export interface ModelInput {
  services: Record<string, ServiceInstance[]>;
  claims: DomainClaim[];
  settings: ModelSettings;
}

export type AppMode = 'http' | 'tcp';

export interface ServerRoute {
  /** Stable HAProxy server name derived from address and port (safe charset). */
  name: string;
  /** Consul ServiceID of the instance. */
  id: string;
  address: string;
  port: number;
  /** All checks passing: receives traffic. Others are rendered disabled (app answers 503 when none pass). */
  passing: boolean;
}

export interface AppRoute {
  /** Consul service name (lowercase). */
  name: string;
  /** HAProxy backend name: always `app_` + name, so a request can never pick another backend. */
  backend: string;
  mode: AppMode;
  /** Frontend port of a tcp app (`router.port`); absent for http apps. */
  port?: number;
  balance: string;
  /** HTTP path for HAProxy's own health check (`router.healthcheck`). */
  healthcheck?: string;
  httpsOnly: boolean;
  sticky: boolean;
  maxconn?: number;
  /** HAProxy duration, e.g. `120s` (`router.timeout-server`). */
  timeoutServer?: string;
  // Edge settings (docs/edge.md).
  /** `router.hsts`: `Strict-Transport-Security` max-age in seconds, on HTTPS responses; http apps only. */
  hsts?: number;
  /** `router.hsts-subdomains`: adds `; includeSubDomains` (needs `hsts`). */
  hstsSubdomains?: boolean;
  /** HAProxy duration (`router.timeout-client`); tcp apps only (HAProxy 2.6 has one client timeout per frontend). */
  timeoutClient?: string;
  /** HAProxy duration (`router.timeout-connect`). */
  timeoutConnect?: string;
  /** `router.max-body`: request body limit in bytes (413 past it); http apps only. */
  maxBody?: number;
  /** `<name>.<cluster>.<baseDomain>`; http apps only. */
  defaultHost?: string;
  /** Every host routed to this app (default first, then custom FQDNs sorted); http apps only. */
  hosts: string[];
  /** Sorted by name. */
  servers: ServerRoute[];
}

export interface HostRoute {
  host: string;
  backend: string;
  app: string;
  /** `default` for `<app>.<cluster>.<base>`, `kv` for a custom FQDN. */
  source: 'default' | 'kv';
  /** K/V key the custom FQDN came from. */
  key?: string;
}

export type RejectionKind = 'service' | 'tag' | 'domain' | 'conflict';

export interface Rejection {
  kind: RejectionKind;
  /** Service the input belongs to (or the service named by the K/V key). */
  service: string;
  /** The offending input: the tag, the FQDN, the K/V key, or the service name. */
  subject: string;
  /** Human-readable reason naming what was wrong. */
  reason: string;
  /** K/V key for domain rejections. */
  key?: string;
}

export interface RoutingModel {
  /** Sorted by name. */
  apps: AppRoute[];
  /** Sorted by host; http apps only. */
  hosts: HostRoute[];
  /** Sorted by service, then subject. */
  rejections: Rejection[];
}
