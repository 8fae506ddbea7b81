// defaults + YAML file + environment (HashiCorp names) + flags → validated Config. Fails fast with
// an error naming the bad key, so a typo never becomes a silently ignored setting.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { acmeConfigFrom, checkAcmeConfig } from '../acme/config.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { Config, EdgeConfig } from './config.js';
import { parsePortRange } from '../model/port-ranges.js';
import { parseDuration } from './duration.js';
import { fileSchema, parseCacheMaxSize, type FileConfig } from './schema.js';
import { SHIPPED_TEMPLATES_DIR } from '../paths.js';
import { defaultMaxConnections } from '../sources/consul/budget.js';

export const DEFAULT_CONFIG_PATH = '/etc/paas-router/config.yaml';

/** Command-line overrides; each maps to one config key. */
export interface ConfigFlags {
  config?: string;
  logLevel?: string;
  consulAddr?: string;
  configDir?: string;
  templatesDir?: string;
}

type Raw = Record<string, unknown>;

export async function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const path = flags.config ?? env.PAAS_ROUTER_CONFIG;
  const raw = path ? await readConfigFile(path, true) : await readConfigFile(DEFAULT_CONFIG_PATH, false);
  applyEnv(raw, env);
  applyFlags(raw, flags);
  return validateConfig(raw, path ?? DEFAULT_CONFIG_PATH, env);
}

async function readConfigFile(path: string, required: boolean): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read config file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must be a YAML mapping of keys to values`);
  }
  return parsed as Raw;
}

function section(raw: Raw, name: string): Raw {
  const value = raw[name];
  if (value === undefined || value === null) return (raw[name] = {});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`config key "${name}" must be a mapping`);
  }
  return value as Raw;
}

/** CONSUL_HTTP_ADDR may be `host:port` without a scheme; CONSUL_HTTP_SSL picks https then. */
export function consulAddressFromEnv(addr: string, ssl: string | undefined): string {
  if (/^https?:\/\//.test(addr)) return addr;
  const secure = ssl !== undefined && /^(1|true)$/i.test(ssl);
  return `${secure ? 'https' : 'http'}://${addr}`;
}

function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): void {
  const set = (sectionName: string, key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') section(raw, sectionName)[key] = value;
  };
  if (env.CONSUL_HTTP_ADDR) set('consul', 'address', consulAddressFromEnv(env.CONSUL_HTTP_ADDR, env.CONSUL_HTTP_SSL));
  set('consul', 'token', env.CONSUL_HTTP_TOKEN);
  set('consul', 'cacert', env.CONSUL_CACERT);
  set('vault', 'address', env.VAULT_ADDR);
  set('vault', 'cacert', env.VAULT_CACERT);
  set('vault', 'namespace', env.VAULT_NAMESPACE);
  if (env.PAAS_ROUTER_LOG_LEVEL) raw.log_level = env.PAAS_ROUTER_LOG_LEVEL;
}

function applyFlags(raw: Raw, flags: ConfigFlags): void {
  if (flags.logLevel) raw.log_level = flags.logLevel;
  if (flags.consulAddr) section(raw, 'consul').address = consulAddressFromEnv(flags.consulAddr, undefined);
  if (flags.configDir) section(raw, 'haproxy').config_dir = flags.configDir;
  if (flags.templatesDir) raw.templates_dir = flags.templatesDir;
}

/** Validates a raw (file+env+flags) object; `origin` names where it came from in errors. */
export function validateConfig(raw: Raw, origin: string, env: NodeJS.ProcessEnv = process.env): Config {
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown key (a typo?)`);
      }
      return [`${path || '(top level)'}: ${issue.message}`];
    });
    throw new ConfigError(`invalid configuration (${origin}):\n  ${problems.join('\n  ')}`);
  }
  const config = toConfig(result.data, env);
  if (config.vault.address && config.vault.auth.method === 'token' && !config.vault.token) {
    throw new ConfigError(`invalid configuration (${origin}):\n  vault.auth: method "token" needs VAULT_TOKEN in the environment (or use method "approle")`);
  }
  checkAcmeConfig(config, origin);
  if (config.wait.minMs > config.wait.maxMs) {
    throw new ConfigError(`invalid configuration (${origin}):\n  wait.min must not be greater than wait.max`);
  }
  const traffic = trafficProblem(config.traffic);
  if (traffic) throw new ConfigError(`invalid configuration (${origin}):\n  ${traffic}`);
  const peers = peersProblem(config.haproxy);
  if (peers) throw new ConfigError(`invalid configuration (${origin}):\n  ${peers}`);
  return config;
}

/** The peers listener takes a port of its own: not one of the router's, not one a tcp app may take. */
function peersProblem(h: Config['haproxy']): string | undefined {
  const port = h.peers.port;
  if (port === 0) return undefined;
  const own = { http_port: h.httpPort, https_port: h.httpsPort, stats_port: h.statsPort };
  for (const [key, p] of Object.entries(own)) if (p === port) return `haproxy.peers.port: ${port} is also haproxy.${key}`;
  if (h.tcpPorts.some((r) => port >= r.from && port <= r.to)) return `haproxy.peers.port: ${port} is inside haproxy.tcp_ports (a tcp app could take it)`;
  return undefined;
}

/** A host name as a peer name: its first label, in HAProxy's peer-name characters. */
function peerNameOf(host: string): string {
  const name = (host.split('.')[0] ?? '').replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63);
  return /^[A-Za-z0-9]/.test(name) ? name : `router-${name}`;
}

/** The ring holds window / interval samples per app: both bounded so its memory is. */
function trafficProblem(t: Config['traffic']): string | undefined {
  if (t.intervalMs < 1000) return 'traffic.interval must be at least 1s (each sample is one `show stat` of every backend)';
  if (t.windowMs < t.intervalMs) return 'traffic.window must not be shorter than traffic.interval';
  if (t.windowMs / t.intervalMs > 1440) return `traffic.window / traffic.interval must be at most 1440 samples (got ${Math.floor(t.windowMs / t.intervalMs)})`;
  return undefined;
}

function ms(text: string): number {
  return parseDuration(text)!; // the schema already proved it parses
}

function splitListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(at + 1));
  if (!(port >= 0 && port <= 65535)) throw new ConfigError(`listen: port ${port} is out of range`);
  return { host, port };
}

function edgeConfig(h: FileConfig['haproxy']): EdgeConfig {
  return {
    statsBindAddress: h.stats_bind_address,
    trustedProxies: h.trusted_proxies,
    backendNetworks: h.backend_networks,
    acceptProxy: h.accept_proxy,
    tcpPorts: h.tcp_ports.map((r) => parsePortRange(r)!), // the schema proved each one parses
    maxconn: h.maxconn,
    sslMinVer: h.ssl_min_ver,
    sslCiphers: h.ssl_ciphers,
    sslCiphersuites: h.ssl_ciphersuites,
  };
}

function toConfig(f: FileConfig, env: NodeJS.ProcessEnv): Config {
  const auth = f.vault.auth;
  return {
    cluster: f.cluster,
    baseDomain: f.base_domain,
    consul: {
      address: f.consul.address.replace(/\/+$/, ''),
      token: f.consul.token,
      cacert: f.consul.cacert,
      domainsPrefix: f.consul.domains_prefix,
      serviceIdPrefixes: f.consul.service_id_prefixes,
      waitMs: ms(f.consul.wait),
      minIntervalMs: ms(f.consul.min_interval),
      retryMaxMs: ms(f.consul.retry_max),
      weightsPrefix: f.consul.weights_prefix,
      maintenancePrefix: f.consul.maintenance_prefix,
      claimsPrefix: f.consul.claims_prefix,
      pathsPrefix: f.consul.paths_prefix,
      claimGraceMs: ms(f.consul.claim_grace),
      maxConnections: f.consul.max_connections ?? defaultMaxConnections(f.consul.address),
      consistency: f.consul.consistency,
    },
    vault: {
      address: f.vault.address.replace(/\/+$/, ''),
      kvPrefix: f.vault.kv_prefix,
      // The Vault token is only ever taken from the environment, never from the config file.
      token: env.VAULT_TOKEN ?? '',
      cacert: f.vault.cacert,
      namespace: f.vault.namespace,
      auth: auth.method === 'token' ? { method: 'token' } : { method: 'approle', roleId: auth.role_id, secretIdFile: auth.secret_id_file, mount: auth.mount },
      refreshMs: ms(f.vault.refresh),
      renewBeforeMs: ms(f.vault.renew_before),
      retryMaxMs: ms(f.vault.retry_max),
      timeoutMs: ms(f.vault.timeout),
    },
    haproxy: {
      configDir: f.haproxy.config_dir,
      bin: f.haproxy.bin,
      masterSocket: f.haproxy.master_socket,
      runtimeSocket: f.haproxy.runtime_socket,
      runtimeSocketGroup: f.haproxy.runtime_socket_group,
      user: f.haproxy.user,
      group: f.haproxy.group,
      bindAddress: f.haproxy.bind_address,
      httpPort: f.haproxy.http_port,
      httpsPort: f.haproxy.https_port,
      statsPort: f.haproxy.stats_port,
      hardStopAfter: f.haproxy.hard_stop_after,
      maxOldWorkers: f.haproxy.max_old_workers,
      reloadTimeoutMs: ms(f.haproxy.reload_timeout),
      spareBackends: f.haproxy.spare_backends,
      spareSettleMs: ms(f.haproxy.spare_settle),
      cacheMaxSize: parseCacheMaxSize(f.haproxy.cache_max_size)!, // the schema proved it parses
      peers: { port: f.haproxy.peers.port, bindAddress: f.haproxy.peers.bind_address, name: f.haproxy.peers.name ?? peerNameOf(hostname()) },
      ...edgeConfig(f.haproxy),
    },
    guard: { maxShrink: f.guard.max_shrink, confirmAfterMs: ms(f.guard.confirm_after) },
    templatesDir: f.templates_dir ?? SHIPPED_TEMPLATES_DIR,
    wait: { minMs: ms(f.wait.min), maxMs: ms(f.wait.max) },
    listen: splitListen(f.listen),
    listenAuthFile: f.listen_auth_file,
    listenHosts: f.listen_hosts.map((h) => h.toLowerCase()),
    logLevel: f.log_level,
    traffic: { intervalMs: ms(f.traffic.interval), windowMs: ms(f.traffic.window) },
    metrics: { perApp: f.metrics.per_app },
    acme: acmeConfigFrom(f.acme),
  };
}
