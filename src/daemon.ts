// Wires the daemon from a Config: Consul client and sources, templates watch, applier, runner,
// and the operator's listener (status page, /status, /metrics, /healthz).
import { hostname, networkInterfaces } from 'node:os';
import { acmeEnabled } from './acme/config.js';
import { AcmeManager } from './acme/manager.js';
import { Applier, MAIN_CONFIG } from './apply/applier.js';
import { logHaproxyVersion } from './apply/haproxy-version.js';
import { reloadResetWarning } from './apply/host-settings.js';
import { ClaimRecorder } from './claims/recorder.js';
import { PeerRegistration } from './peers/registration.js';
import { HOSTS_MAP } from './apply/runtime/parse.js';
import { CertificateRuntime } from './apply/runtime/certificates.js';
import type { Config } from './config/config.js';
import type { Logger } from './log.js';
import type { ModelSettings } from './model/types.js';
import type { RenderSettings } from './render/types.js';
import type { CandidateConfig } from './runner/candidate.js';
import { Runner } from './runner.js';
import { clusterDomain } from './model/build.js';
import { credentialsFor } from './server/auth.js';
import { RouterMetrics } from './server/metrics.js';
import { StatusServer } from './server/server.js';
import { VERSION } from './server/version.js';
import { Timeline } from './server/timeline.js';
import { registerTrafficMetrics } from './traffic/metrics.js';
import { TrafficSampler } from './traffic/sampler.js';
import { ConsulCatalogSource, type WatchTiming } from './sources/consul/catalog-source.js';
import { ConsulClient } from './sources/consul/client.js';
import { ConsulDomainsSource } from './sources/consul/domains-source.js';
import { ConsulKvFeatureSource } from './sources/consul/kv-feature-source.js';
import { TemplatesSource } from './sources/files/templates-source.js';
import { VaultAuth } from './sources/vault/auth.js';
import { VaultClient } from './sources/vault/client.js';
import { VaultSecretsSource } from './sources/vault/secrets-source.js';

export function modelSettingsFrom(config: Config): ModelSettings {
  return {
    cluster: config.cluster,
    baseDomain: config.baseDomain,
    serviceIdPrefixes: config.consul.serviceIdPrefixes,
    domainsPrefix: config.consul.domainsPrefix,
    reservedPorts: [
      config.haproxy.httpPort,
      config.haproxy.httpsPort,
      config.haproxy.statsPort,
      ...(config.haproxy.peers.port ? [config.haproxy.peers.port] : []),
    ],
    tcpPorts: config.haproxy.tcpPorts,
    weightsPrefix: config.consul.weightsPrefix,
    maintenancePrefix: config.consul.maintenancePrefix,
    claimsPrefix: config.consul.claimsPrefix,
    pathsPrefix: config.consul.pathsPrefix,
    ...(config.vault.address ? { authPrefix: `${config.vault.kvPrefix}auth/` } : {}),
    ownEndpoints: ownEndpointsOf(config),
    localAddresses: localAddresses(),
    backendNetworks: config.haproxy.backendNetworks,
    cacheMaxSize: config.haproxy.cacheMaxSize,
  };
}

/**
 * The node's own services a tenant's instance must never point at (src/model/own-endpoints.ts).
 * A listener on port 0 (tests) has no port known in advance and is left out.
 */
export function ownEndpointsOf(config: Config): { address: string; port: number; what: string }[] {
  const h = config.haproxy;
  const endpoints = [
    { address: config.listen.host, port: config.listen.port, what: "paas-router's status listener (listen)" },
    { address: h.bindAddress, port: h.httpPort, what: "HAProxy's HTTP frontend (haproxy.bind_address, http_port)" },
    { address: h.bindAddress, port: h.httpsPort, what: "HAProxy's HTTPS frontend (haproxy.bind_address, https_port)" },
    { address: h.statsBindAddress, port: h.statsPort, what: "HAProxy's stats listener (haproxy.stats_bind_address, stats_port)" },
    ...urlEndpoint(config.consul.address, "the Consul agent's HTTP API (consul.address)"),
    ...urlEndpoint(config.vault.address, 'Vault (vault.address)'),
  ];
  return endpoints.filter((e) => e.port > 0);
}

function urlEndpoint(address: string, what: string): { address: string; port: number; what: string }[] {
  if (!address) return [];
  try {
    const url = new URL(address);
    return [{ address: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), what }];
  } catch {
    return []; // the config schema accepted it as a URL; nothing to compare otherwise
  }
}

/** This node's interface addresses and host name: what a wildcard bind listens on besides loopback. */
function localAddresses(): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [...new Set([...addresses, hostname()])].sort();
}

/** What the config says about the candidate: the daemon and the CLI build it alike (runner/candidate.ts). */
export function candidateConfigFrom(config: Config): CandidateConfig {
  return {
    modelSettings: modelSettingsFrom(config),
    renderSettings: renderSettingsFrom(config),
    ...(config.haproxy.peers.port ? { peerName: config.haproxy.peers.name } : {}),
  };
}

export function renderSettingsFrom(config: Config): Omit<RenderSettings, 'configDir'> {
  return {
    runtimeSocket: config.haproxy.runtimeSocket,
    runtimeSocketGroup: config.haproxy.runtimeSocketGroup || undefined,
    user: config.haproxy.user || undefined,
    group: config.haproxy.group || undefined,
    bindAddress: config.haproxy.bindAddress,
    httpPort: config.haproxy.httpPort,
    httpsPort: config.haproxy.httpsPort,
    statsPort: config.haproxy.statsPort,
    hardStopAfter: config.haproxy.hardStopAfter,
    maxOldWorkers: config.haproxy.maxOldWorkers,
    maxconn: config.haproxy.maxconn,
    spareBackends: config.haproxy.spareBackends,
    edge: {
      statsBindAddress: config.haproxy.statsBindAddress,
      trustedProxies: config.haproxy.trustedProxies,
      acceptProxy: config.haproxy.acceptProxy,
      sslMinVer: config.haproxy.sslMinVer,
      sslCiphers: config.haproxy.sslCiphers,
      sslCiphersuites: config.haproxy.sslCiphersuites,
    },
  };
}

/** `token`: where each request gets its ACL token (default: consul.token / CONSUL_HTTP_TOKEN). */
export function consulClientFrom(config: Config, token: () => string = () => config.consul.token): ConsulClient {
  return new ConsulClient({
    address: config.consul.address,
    cacert: config.consul.cacert || undefined,
    token,
    maxConnections: config.consul.maxConnections,
    consistency: config.consul.consistency,
  });
}

/** The Vault secrets source, or undefined when `vault.address` is empty (Vault not used). */
export function vaultSourceFrom(config: Config, log: Logger): VaultSecretsSource | undefined {
  const { vault } = config;
  if (!vault.address) return undefined;
  const client = new VaultClient({
    address: vault.address,
    cacert: vault.cacert || undefined,
    namespace: vault.namespace || undefined,
    timeoutMs: vault.timeoutMs,
  });
  const auth = new VaultAuth({
    client,
    auth: vault.auth.method === 'token' ? { method: 'token', token: vault.token } : vault.auth,
    renewBeforeMs: vault.renewBeforeMs,
    retryMaxMs: vault.retryMaxMs,
    log,
  });
  return new VaultSecretsSource({
    client,
    auth,
    kvPrefix: vault.kvPrefix,
    refreshMs: vault.refreshMs,
    retryMaxMs: vault.retryMaxMs,
    log,
    acme: acmeEnabled(config),
  });
}

export interface Daemon {
  runner: Runner;
  /** The status listener (its `url` is where the page, /status, /metrics and /healthz are). */
  server: StatusServer;
  metrics: RouterMetrics;
  /** Samples HAProxy's `show stat` into the traffic ring (docs/traffic.md). */
  traffic: TrafficSampler;
  timeline: Timeline;
  /** The ACME issuer (when acme.directory_url is set). */
  acme?: AcmeManager;
  /** Stops watching and serving; HAProxy keeps running its current configuration. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Metrics to carry over (a SIGHUP restart keeps its counters); default: new ones. */
  metrics?: RouterMetrics;
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  // First, before anything runs: a listener that would be open to the network is a config error.
  const credentials = await credentialsFor(config.listen, config.listenAuthFile);
  const haproxyVersion = await logHaproxyVersion(config.haproxy.bin, log);
  const hostWarning = await reloadResetWarning(haproxyVersion);
  if (hostWarning) log.warn({ sysctl: 'net.ipv4.tcp_migrate_req' }, hostWarning);
  const secrets = vaultSourceFrom(config, log);
  // With Vault, the Consul ACL token is the one in Vault now (a rotation needs no restart).
  const client = consulClientFrom(config, secrets ? () => secrets.latest?.consulToken ?? config.consul.token : undefined);
  const timing: WatchTiming = { waitMs: config.consul.waitMs, minIntervalMs: config.consul.minIntervalMs, maxBackoffMs: config.consul.retryMaxMs };
  const applier = new Applier({
    configDir: config.haproxy.configDir,
    bin: config.haproxy.bin,
    masterSocket: config.haproxy.masterSocket,
    runtimeSocket: config.haproxy.runtimeSocket,
    reloadTimeoutMs: config.haproxy.reloadTimeoutMs,
    log,
  });
  await applier.adoptFilesOnDisk([MAIN_CONFIG, HOSTS_MAP, 'maintenance.map']);
  const catalog = new ConsulCatalogSource(client, timing, log, (progress) => (runner.state.startup = progress));
  const runner = new Runner({
    sources: {
      catalog,
      domains: new ConsulDomainsSource(client, config.consul.domainsPrefix, timing, log),
      weights: new ConsulKvFeatureSource('consul-weights', client, config.consul.weightsPrefix, timing, log),
      maintenance: new ConsulKvFeatureSource('consul-maintenance', client, config.consul.maintenancePrefix, timing, log),
      claims: new ConsulKvFeatureSource('consul-claims', client, config.consul.claimsPrefix, timing, log),
      paths: new ConsulKvFeatureSource('consul-paths', client, config.consul.pathsPrefix, timing, log),
      templates: new TemplatesSource(config.templatesDir, log),
      secrets,
    },
    spareSettleMs: config.haproxy.spareSettleMs,
    claimRecorder: new ClaimRecorder({ client, graceMs: config.consul.claimGraceMs, log }),
    ...candidateConfigFrom(config),
    certificates: secrets ? new CertificateRuntime({ configDir: config.haproxy.configDir, runtimeSocket: config.haproxy.runtimeSocket, log }) : undefined,
    applier,
    configDir: config.haproxy.configDir,
    guard: config.guard,
    wait: config.wait,
    log,
  });
  if (hostWarning) runner.state.hostWarnings = [hostWarning];
  const metrics = opts.metrics ?? new RouterMetrics({ version: VERSION });
  metrics.attach(runner);
  const { traffic, timeline } = startTraffic(config, log, runner, applier, metrics);
  metrics.followConsul(
    () => client.traffic,
    () => catalog.watchCount,
  );
  client.onTransport = (event) => {
    if (event.kind === 'h2') log.info({ connections: event.connections }, 'consul: reads go over HTTP/2 (a stream per blocking query)');
    else if (event.kind === 'http1')
      log.warn({ alpn: event.alpn || 'none' }, 'consul: the agent does not speak HTTP/2 over TLS; reads stay on HTTP/1.1 (change detectors)');
    else
      log.warn(
        { connections: event.connections },
        'consul: every HTTP/2 stream of consul.max_connections connections is taken; further reads wait for one (raise consul.max_connections)',
      );
  };
  const server = new StatusServer({
    traffic,
    timeline,
    listen: config.listen,
    runner,
    metrics,
    credentials,
    hosts: config.listenHosts,
    log,
    info: {
      version: VERSION,
      pid: process.pid,
      cluster: config.cluster,
      clusterDomain: clusterDomain(config),
      configDir: config.haproxy.configDir,
      consulAddress: config.consul.address,
    },
  });
  try {
    await server.start();
  } catch (err) {
    await traffic.stop();
    timeline.detach();
    metrics.detach();
    client.close();
    throw err;
  }
  const acme = acmeFrom(config, secrets, client, runner, server.url, log);
  const { peers } = config.haproxy;
  const registration = peers.port ? new PeerRegistration({ client, name: peers.name, port: peers.port, bindAddress: peers.bindAddress, log }) : undefined;
  runner.start();
  acme?.start();
  // Announced once HAProxy runs a configuration (its peers port listens only then), which also
  // means the secrets were read: with Vault the ACL token comes from there, and a registration sent
  // before it went out anonymous, was refused, and waited for its retry.
  if (registration) runner.once('applied', () => registration.start());
  log.info(
    { consul: config.consul.address, vault: config.vault.address || undefined, configDir: config.haproxy.configDir, templates: config.templatesDir },
    'paas-router started',
  );
  return {
    runner,
    server,
    metrics,
    traffic,
    timeline,
    acme,
    async stop() {
      await acme?.stop(); // releases the lock: another router takes over without waiting
      await registration?.stop(); // the other routers drop this one from their peers
      await server.stop();
      await traffic.stop();
      timeline.detach();
      await runner.stop();
      metrics.detach();
      client.close();
    },
  };
}

/** Traffic sampling, its series in the metrics, and the change timeline (docs/traffic.md). */
function startTraffic(config: Config, log: Logger, runner: Runner, applier: Applier, metrics: RouterMetrics): { traffic: TrafficSampler; timeline: Timeline } {
  const traffic = new TrafficSampler({
    runtimeSocket: config.haproxy.runtimeSocket,
    intervalMs: config.traffic.intervalMs,
    windowMs: config.traffic.windowMs,
    // The applier's deployment says which spare serves which app (known from the start: rebuilt at adoption).
    spares: () => applier.deployment?.spares.list() ?? [],
    log,
  });
  registerTrafficMetrics(metrics.registry, { state: () => runner.state, traffic: () => traffic }, config.metrics.perApp);
  const timeline = new Timeline();
  timeline.attach(runner);
  traffic.start();
  return { traffic, timeline };
}

/** The ACME issuer, when ACME is on (the config check already made sure Vault is configured). */
function acmeFrom(
  config: Config,
  secrets: VaultSecretsSource | undefined,
  client: ConsulClient,
  runner: Runner,
  url: string,
  log: Logger,
): AcmeManager | undefined {
  if (!acmeEnabled(config) || !secrets) return undefined;
  return new AcmeManager({
    config: config.acme,
    kvPrefix: config.vault.kvPrefix,
    clusterDomain: clusterDomain(config),
    consul: client,
    vault: () => secrets.authorizedClient(),
    secrets,
    runner,
    holder: `${hostname()} ${url}`,
    log,
  });
}
