// What the sources hand to the runner: whole snapshots, never deltas (after traefik's providers).

/** One registered instance of a Consul service, as read from /v1/health/service/<name>. */
export interface ServiceInstance {
  /** Consul ServiceID, e.g. `mesos-consul:agent1:wordpress-community:10.0.0.5:31000`. */
  id: string;
  /** Consul node name. */
  node: string;
  /** Service.Address, or Node.Address when the service has none. */
  address: string;
  port: number;
  tags: string[];
  /** True when every check on the instance (service and node checks) is `passing`. */
  passing: boolean;
  /** Check id → status, for the status page and `explain`. */
  checks: { id: string; status: string }[];
  /** Service.CreateIndex when Consul reports it (used to order competing claims). */
  createIndex?: number;
}

/** Every Consul service we were able to read, with all of its instances (passing or not). */
export interface CatalogSnapshot {
  services: Record<string, ServiceInstance[]>;
}

/** One K/V entry under the domains prefix. */
export interface DomainClaim {
  /** Full K/V key, e.g. `paas-router/domains/wordpress-community`. */
  key: string;
  /** Raw value (decoded from base64), unvalidated. */
  value: string;
  createIndex: number;
  modifyIndex: number;
}

export interface DomainsSnapshot {
  claims: DomainClaim[];
}
