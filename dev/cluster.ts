// The embedded default (`paas-router dev`): a dev Consul with the sample Marathon apps registered
// the way mesos-consul does, loopback backends for their tasks, one custom domain in K/V, a real
// HAProxy in master-worker mode on loopback ports, and the daemon attached to all of it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { validateConfig } from '../src/config/load.js';
import type { Config } from '../src/config/config.js';
import { startDaemon, type Daemon } from '../src/daemon.js';
import { createLogger, type Logger } from '../src/log.js';
import { EXAMPLES_DIR } from '../src/paths.js';
import { startHttpBackend, startTcpBackend, type Backend } from './backends.js';
import { startDevConsul, type DevConsul } from './consul/server.js';
import { CONSUL_AGENT_BIN, CONSUL_AGENT_MISSING, consulAgentInstalled, startConsulAgent } from './consul/agent.js';
import { registerMesosTask, type MesosRegistration, type MesosTask } from './consul/mesos.js';
import { startHaproxy, type HaproxyProcess } from './haproxy-process.js';
import { freePort } from './net.js';
import { readMarathonApps, type MarathonApp } from './marathon.js';
import { requestThrough, tcpBanner } from './probe.js';
import { startTrafficGenerator, trafficPlan } from './traffic.js';
import { setUpDevVault, type DevVaultSetup } from './vault/dev-setup.js';
import { requestTls } from './vault/tls-probe.js';
import type { DevClusterEntry } from '../src/cli/dev-entry.js';

export interface DevClusterOptions {
  httpPort?: number;
  statsPort?: number;
  /** Apps to deploy; default: examples/marathon/*.json. */
  apps?: MarathonApp[];
  /** K/V key suffix (service name) → value put under the domains prefix before the daemon starts. */
  domains?: Record<string, string>;
  /** Other K/V entries (whole keys, e.g. path delegations) put before the daemon starts. */
  kv?: Record<string, string>;
  logLevel?: string;
  log?: Logger;
  /** Extra raw config keys (snake_case, as in config.yaml). */
  configOverrides?: Record<string, unknown>;
  /** HAProxy HTTPS port (default httpPort + 363). */
  httpsPort?: number;
  /**
   * Credentials from a dev Vault (AppRole login, Consul token, stats credentials, generated
   * certificates for `*.<cluster domain>` and www.example.org). `consulAcl` (default true): the
   * dev Consul then refuses requests without the token from Vault.
   */
  vault?: boolean | { consulAcl?: boolean; tokenTtl?: number; tokenMaxTtl?: number; refresh?: string; acme?: boolean };
  /**
   * `agent`: the real Consul agent from .tools/consul (scripts/install-consul.sh); `stand-in`: the
   * in-process dev server (dev/consul), for the faults only it can produce (stop/start on the same
   * port with its data, 500s, garbage, index reset, a token switched at run time). Default: the
   * agent when it is installed, else the stand-in. `{ url }`: a Consul already running (the client
   * agent of a real cluster, test/helpers/consul-cluster.ts); the caller starts and stops it.
   */
  consul?: 'agent' | 'stand-in' | { url: string };
  /**
   * The real agent with an HTTPS listener too (a certificate made at start); the daemon reaches it
   * over HTTPS (HTTP/2: a blocking watch per service) with the certificate as `consul.cacert`.
   * Registrations stay on the plain HTTP port. Needs the agent.
   */
  consulHttps?: boolean;
}

/** The Consul a dev cluster runs against. */
export interface ClusterConsul {
  kind: 'agent' | 'stand-in' | 'external';
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

export interface DevCluster {
  consul: ClusterConsul;
  /** The stand-in's test controls, when the cluster runs on it. */
  standIn?: DevConsul;
  haproxy: HaproxyProcess;
  daemon: Daemon;
  config: Config;
  workDir: string;
  backends: Map<string, Backend[]>;
  /** The dev Vault and what it was seeded with, when `vault` was asked for. */
  vault?: DevVaultSetup;
  /** Deploys one more task of `app` (a new loopback backend registered in Consul). */
  addTask(app: MarathonApp, status?: 'passing' | 'critical'): Promise<{ serviceId: string; backend: Backend; task: MesosTask }>;
  /**
   * Registers one task of Marathon app `app` on the port of `servedBy`'s first backend (a running
   * backend answers for it), as mesos-consul would from agent `agent` (default dev-agent-9).
   */
  registerOn(app: string, servedBy: string, opts?: { agent?: string; token?: string }): Promise<MesosRegistration>;
  stop(): Promise<void>;
}

export const DEFAULT_DOMAINS = { 'wordpress-community': 'www.example.org' };

/**
 * As root with Debian's `haproxy` account present (CI, a master node), the workers drop to it as
 * in production (the config default); anyone else cannot switch users, so the workers keep theirs.
 */
function workerAccount(): { user?: string; group?: string } {
  const root = process.getuid?.() === 0;
  const has = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .some((line) => line.startsWith('haproxy:'));
    } catch {
      return false;
    }
  };
  return root && has('/etc/passwd') && has('/etc/group') ? {} : { user: '', group: '' };
}

/** What a dev cluster has started so far: what `stop` stops, also when the start fails half-way. */
interface StartedParts {
  readonly workDir: string;
  readonly backends: Map<string, Backend[]>;
  vault?: DevVaultSetup;
  consul?: ClusterConsul;
  daemon?: Daemon;
  haproxy?: HaproxyProcess;
}

/** Stops every part started, even when another fails: a leftover HAProxy would keep the ports. */
async function stopParts(parts: StartedParts): Promise<void> {
  // The daemon first, so that it does not see HAProxy go away and report it unreachable.
  const steps: (() => unknown)[] = [
    () => parts.daemon?.stop(),
    () => parts.haproxy?.stop(),
    () => parts.consul?.close(),
    () => parts.vault?.vault.close(),
    () => Promise.all([...parts.backends.values()].flat().map((b) => b.close())),
    () => rm(parts.workDir, { recursive: true, force: true }),
  ];
  const errors: unknown[] = [];
  for (const step of steps)
    await Promise.resolve()
      .then(step)
      .catch((err: unknown) => errors.push(err));
  if (errors.length) throw new AggregateError(errors, 'dev cluster: some parts did not stop cleanly');
}

export async function startDevCluster(opts: DevClusterOptions = {}): Promise<DevCluster> {
  const parts: StartedParts = { workDir: await mkdtemp(join(tmpdir(), 'paas-router-dev-')), backends: new Map() };
  try {
    return await startParts(opts, parts);
  } catch (err) {
    // Left running, a half-started cluster's sockets and child processes keep the test's process
    // alive (seen in CI: HAProxy failed to bind, and the file hung until tap's 120 s timeout).
    await stopParts(parts).catch(() => undefined);
    throw err;
  }
}

async function startParts(opts: DevClusterOptions, parts: StartedParts): Promise<DevCluster> {
  const { workDir, backends } = parts;
  const vaultOpts = opts.vault === true ? {} : opts.vault || undefined;
  let consulAclToken: string | undefined;
  let vault: DevVaultSetup | undefined;
  if (vaultOpts) {
    const overrides = opts.configOverrides ?? {};
    const clusterDomain = `${(overrides.cluster as string | undefined) ?? 'production'}.${(overrides.base_domain as string | undefined) ?? 'mozilla.community'}`;
    vault = parts.vault = await setUpDevVault({
      workDir,
      clusterDomain,
      tokenTtl: vaultOpts.tokenTtl,
      tokenMaxTtl: vaultOpts.tokenMaxTtl,
      refresh: vaultOpts.refresh,
      acme: vaultOpts.acme,
    });
    // For the person at the keyboard: curl -H "X-Consul-Token: $(cat <workDir>/consul-token)" ...
    await writeFile(join(workDir, 'consul-token'), `${vault.consulToken}\n`, { mode: 0o600 });
    await writeFile(join(workDir, 'stats-password'), `${vault.stats.password}\n`, { mode: 0o600 });
    if (vaultOpts.consulAcl !== false) consulAclToken = vault.consulToken;
  }
  // Under CI the agent must be there (scripts/setup.sh --test installs it): never a silent fallback.
  if (opts.consul === undefined && !consulAgentInstalled() && process.env.CI === 'true') throw new Error(`CI=true and ${CONSUL_AGENT_MISSING}`);
  const external = typeof opts.consul === 'object' ? opts.consul : undefined;
  const useAgent = external !== undefined || (opts.consul ?? (consulAgentInstalled() ? 'agent' : 'stand-in')) === 'agent';
  let standIn: DevConsul | undefined;
  let consul: ClusterConsul;
  /** Where the daemon reaches Consul when not at `consul.url` (consulHttps). */
  let daemonConsul: { address: string; cacert: string } | undefined;
  if (opts.consulHttps && !useAgent) throw new Error(`consulHttps needs the real agent: ${CONSUL_AGENT_MISSING}`);
  if (external) {
    consul = parts.consul = { kind: 'external', url: external.url, close: async () => undefined };
  } else if (useAgent) {
    // ACLs on a real agent are set at start: the token from Vault is its master token.
    const agent = await startConsulAgent({ aclMasterToken: consulAclToken, https: opts.consulHttps });
    consul = parts.consul = { kind: 'agent', url: agent.url, close: () => agent.stop() };
    if (opts.consulHttps) daemonConsul = { address: agent.httpsUrl!, cacert: agent.cacertFile! };
  } else {
    standIn = await startDevConsul({ port: 0 });
    const s = standIn;
    consul = parts.consul = { kind: 'stand-in', url: s.url, close: () => s.close() };
  }
  const aclHeaders: Record<string, string> = consulAclToken ? { 'X-Consul-Token': consulAclToken } : {};
  const apps = opts.apps ?? (await readMarathonApps(join(EXAMPLES_DIR, 'marathon')));
  let agentCounter = 0;

  const addTask = async (app: MarathonApp, status: 'passing' | 'critical' = 'passing') => {
    const list = backends.get(app.id) ?? [];
    const label = `${app.id} #${list.length + 1}`;
    const backend = app.mode === 'tcp' ? await startTcpBackend(label) : await startHttpBackend(label);
    list.push(backend);
    backends.set(app.id, list);
    const task: MesosTask = {
      app: app.id,
      agent: `dev-agent-${(agentCounter++ % 3) + 1}`,
      agentAddress: '127.0.0.1',
      ip: '127.0.0.1',
      port: backend.port,
      tags: app.tags,
      status,
      token: consulAclToken,
    };
    const { serviceId } = await registerMesosTask(consul.url, task);
    return { serviceId, backend, task };
  };

  const registerOn: DevCluster['registerOn'] = (app, servedBy, extra = {}) => {
    const backend = backends.get(servedBy)?.[0];
    if (!backend) throw new Error(`registerOn: app ${servedBy} has no backend`);
    return registerMesosTask(consul.url, {
      app,
      agent: extra.agent ?? 'dev-agent-9',
      agentAddress: '127.0.0.1',
      ip: '127.0.0.1',
      port: backend.port,
      token: extra.token,
    });
  };

  for (const app of apps) for (let i = 0; i < app.instances; i++) await addTask(app);
  for (const [service, value] of Object.entries(opts.domains ?? DEFAULT_DOMAINS)) {
    await fetch(`${consul.url}/v1/kv/paas-router/domains/${service}`, { method: 'PUT', body: value, headers: aclHeaders });
  }
  for (const [key, value] of Object.entries(opts.kv ?? {})) {
    await fetch(`${consul.url}/v1/kv/${key}`, { method: 'PUT', body: value, headers: aclHeaders });
  }
  // The stand-in takes its token now that the apps are in (the agent had it from the start).
  if (standIn && consulAclToken) standIn.setAclToken(consulAclToken);

  const httpPort = opts.httpPort ?? 18080;
  // `consul` and `haproxy` overrides are merged into the cluster's own sections (they hold the
  // addresses, sockets and ports only known here); every other key replaces the default.
  const { consul: consulOverrides, haproxy: haproxyOverrides, ...otherOverrides } = opts.configOverrides ?? {};
  const config = validateConfig(
    {
      consul: { address: consul.url, ...daemonConsul, wait: '30s', min_interval: '20ms', retry_max: '1s', ...(consulOverrides as object | undefined) },
      haproxy: {
        config_dir: join(workDir, 'haproxy'),
        master_socket: join(workDir, 'master.sock'),
        runtime_socket: join(workDir, 'runtime.sock'),
        bind_address: '127.0.0.1',
        http_port: httpPort,
        https_port: opts.httpsPort ?? httpPort + 363,
        stats_port: opts.statsPort ?? httpPort + 324,
        hard_stop_after: '5s',
        ...workerAccount(),
        // Registered in the agent for HAProxy peers (only the real agent has the agent API).
        peers: useAgent ? { port: await freePort(), name: 'router-1' } : { port: 0 },
        ...(haproxyOverrides as object | undefined),
      },
      wait: { min: '20ms', max: '200ms' },
      // A free loopback port, so several clusters (parallel tests) never collide.
      listen: '127.0.0.1:0',
      log_level: opts.logLevel ?? 'info',
      ...(vault ? { vault: vault.config } : {}),
      ...otherOverrides,
    },
    'dev cluster',
    {},
  );
  const log = opts.log ?? createLogger(config.logLevel);
  const daemon = (parts.daemon = await startDaemon(config, log));

  // HAProxy needs a first configuration to start from: the daemon writes it (validated) even
  // while HAProxy is not running yet, exactly as on a freshly installed master node.
  const configFile = join(config.haproxy.configDir, 'haproxy.cfg');
  const deadline = Date.now() + 15_000;
  while (!existsSync(configFile)) {
    if (Date.now() > deadline) throw new Error('the daemon wrote no haproxy.cfg within 15 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const haproxy = (parts.haproxy = await startHaproxy({ configFile, masterSocket: config.haproxy.masterSocket }));
  await untilHaproxyRunsTheDaemonsFiles(daemon);

  return {
    consul,
    standIn,
    haproxy,
    daemon,
    config,
    workDir,
    backends,
    vault,
    addTask,
    registerOn,
    stop: () => stopParts(parts),
  };
}

/**
 * The daemon wrote while HAProxy was down, so it owes HAProxy one reload, done by its periodic
 * retry once the master CLI answers. A cluster is up when that is done: a test that counts reloads
 * from then on counts only its own.
 */
export async function untilHaproxyRunsTheDaemonsFiles(daemon: Daemon): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = daemon.runner.state.lastApply?.status;
    if (status !== undefined && status !== 'haproxy-unreachable') return;
    if (Date.now() > deadline) throw new Error(`the daemon did not reload the HAProxy started on its files within 30 s (last apply: ${status ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForRoutes(cluster: DevCluster, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const { runner } = cluster.daemon;
  while (Date.now() < deadline) {
    const model = runner.state.deployment?.model;
    const served = model && model.apps.length > 0 && runner.state.lastApply?.status !== 'haproxy-unreachable';
    if (served) {
      const first = model.hosts[0];
      if (!first || (await requestThrough(cluster.config.haproxy.httpPort, first.host).catch(() => ({ status: 0 }))).status === 200) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the sample apps were not routed within ${timeoutMs} ms`);
}

/** How the daemon reads Consul, from its own /metrics: HTTP/2 streams, or HTTP/1.1 if the agent refused h2. */
async function transportOf(cluster: DevCluster): Promise<string> {
  const metrics = await (await fetch(`${cluster.daemon.server.url}/metrics`)).text();
  const streams = Number(/^paas_router_consul_streams (\d+)/m.exec(metrics)?.[1] ?? 0);
  return streams > 0 ? `HTTPS, HTTP/2: ${streams} streams, a blocking watch per service` : 'HTTPS, HTTP/1.1 (change detectors)';
}

export async function runDevCluster(opts: {
  httpPort: number;
  once: boolean;
  out: Writable /** Requests per second per host (--traffic); 0 = none. */;
  traffic?: number;
}): Promise<void> {
  const { out } = opts;
  // Listen for Ctrl-C from the start: the default handler would exit and leave HAProxy running.
  let interrupted!: () => void;
  const interruption = new Promise<void>((resolve) => (interrupted = resolve));
  process.once('SIGINT', () => interrupted());
  process.once('SIGTERM', () => interrupted());
  // The real agent serves the daemon over HTTPS (HTTP/2, a watch per service), as in production.
  const consulHttps = consulAgentInstalled();
  const cluster = await startDevCluster({ httpPort: opts.httpPort, logLevel: opts.once ? 'warn' : 'info', vault: true, consulHttps });
  try {
    await waitForRoutes(cluster, 20_000);
    const { config } = cluster;
    const model = cluster.daemon.runner.state.deployment!.model!;
    const consulKind =
      cluster.consul.kind === 'agent'
        ? `real Consul agent (${CONSUL_AGENT_BIN}, consul agent -dev)${consulHttps ? `, ${await transportOf(cluster)}; plain HTTP at ${cluster.consul.url}` : ''}`
        : 'the in-process stand-in (dev/consul); scripts/install-consul.sh installs a real agent';
    out.write(
      `\npaas-router dev cluster\n  Consul:       ${config.consul.address}  ${consulKind}\n  HAProxy:      http://127.0.0.1:${config.haproxy.httpPort}  stats http://127.0.0.1:${config.haproxy.statsPort}/\n  Status page:  ${cluster.daemon.server.url}/  (JSON /status, /metrics, /healthz)\n  files:        ${config.haproxy.configDir}\n`,
    );
    if (cluster.vault) {
      out.write(
        `  HTTPS:        https://127.0.0.1:${config.haproxy.httpsPort}  (SNI; certificates from the dev Vault, self-signed)\n` +
          `  Vault (dev):  ${cluster.vault.vault.url}  (AppRole login; secrets under ${config.vault.kvPrefix})\n` +
          `  credentials:  Consul token in ${join(cluster.workDir, 'consul-token')}, stats user ${cluster.vault.stats.user} / ${join(cluster.workDir, 'stats-password')}\n`,
      );
    }
    out.write('\nRoutes:\n');
    for (const app of model.apps) {
      const where = app.mode === 'tcp' ? `tcp 127.0.0.1:${app.port}` : app.hosts.join(', ');
      const servers = app.servers.map((s) => `${s.address}:${s.port}${s.passing ? '' : ' (failing)'}`).join(', ');
      out.write(`  ${app.name.padEnd(24)} ${where}  →  ${servers}\n`);
    }
    for (const r of model.rejections) out.write(`  rejected ${r.kind} ${JSON.stringify(r.subject)} of ${r.service}: ${r.reason}\n`);
    out.write('\nOne request through HAProxy per host:\n');
    for (const h of model.hosts) {
      const res = await requestThrough(config.haproxy.httpPort, h.host).catch((e: Error) => ({ status: 0, body: e.message }));
      out.write(`  curl -H 'Host: ${h.host}' http://127.0.0.1:${config.haproxy.httpPort}/  →  ${res.status} ${res.body.trim()}\n`);
    }
    for (const app of model.apps.filter((a) => a.mode === 'tcp')) {
      const banner = await tcpBanner(app.port!).catch((e: Error) => e.message);
      out.write(`  nc 127.0.0.1 ${app.port}  →  ${banner}\n`);
    }
    if (cluster.vault) {
      out.write('\nOne request over HTTPS per host (SNI picks the certificate):\n');
      const port = config.haproxy.httpsPort;
      for (const h of model.hosts) {
        const res = await requestTls(port, h.host).catch((e: Error) => ({ status: 0, body: e.message, subject: '-' }));
        out.write(
          `  curl -k --resolve ${h.host}:${port}:127.0.0.1 https://${h.host}:${port}/  →  ${res.status} ${res.body.trim()}  [certificate ${res.subject}]\n`,
        );
      }
      for (const h of cluster.daemon.runner.tls?.httpOnlyHosts ?? []) out.write(`  ${h.host}: no certificate covers it, served over plain HTTP only\n`);
    }
    const unknown = await requestThrough(config.haproxy.httpPort, 'nothing-here.example.org');
    out.write(`  curl -H 'Host: nothing-here.example.org' http://127.0.0.1:${config.haproxy.httpPort}/  →  ${unknown.status} ${unknown.body.trim()}\n`);
    if (opts.once) return;
    if (opts.traffic) {
      const hosts = model.hosts.map((h) => h.host);
      const generator = startTrafficGenerator(config.haproxy.httpPort, trafficPlan(hosts, opts.traffic));
      out.write(
        `\nGenerating traffic (--traffic ${opts.traffic}): ${hosts.length} hosts, ${opts.traffic}-${opts.traffic * 4} req/s each, some 503s; watch ${cluster.daemon.server.url}/?sort=rate\n`,
      );
      void interruption.then(() => generator.stop());
    }
    out.write(
      `\nTry: curl -X PUT ${cluster.vault ? `-H "X-Consul-Token: $(cat ${join(cluster.workDir, 'consul-token')})" ` : ''}-d www.discourse.example ${cluster.consul.url}/v1/kv/paas-router/domains/discourse-community\n` +
        `     curl -H 'Host: www.discourse.example' http://127.0.0.1:${config.haproxy.httpPort}/\nCtrl-C stops everything.\n`,
    );
    await interruption;
  } finally {
    await cluster.stop();
  }
}

// The shape `paas-router dev` loads (src/cli/dev-entry.ts), checked here by the type checker.
runDevCluster satisfies DevClusterEntry['runDevCluster'];
