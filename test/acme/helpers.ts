// A cluster for the ACME tests, all real and on free loopback ports: a Consul agent (sessions and
// locks as Consul implements them), the dev Vault (KV v2, AppRole with the issuer's policy),
// Pebble with pebble-challtestsrv, one http app with a loopback backend, and routers, each a
// daemon process (`paas-router run`, killable like a crashed node) with its own HAProxy.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { startHttpBackend, type Backend } from '../../dev/backends.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { startHaproxy, type HaproxyProcess } from '../../dev/haproxy-process.js';
import { startPebble, type Pebble } from '../../dev/pebble.js';
import { setUpDevVault, type DevVaultSetup } from '../../dev/vault/dev-setup.js';
import { dechunk } from '../../dev/vault/tls-probe.js';
import { showProc } from '../../src/apply/reload.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import type { StatusDocument } from '../../src/server/status.js';
import { startTestConsulAgent, type ConsulAgent } from '../helpers/consul-agent.js';
import { eventually, freePort } from '../helpers/net.js';

export const CLUSTER_DOMAIN = 'production.mozilla.community';

export interface TestRouter {
  name: string;
  httpPort: number;
  httpsPort: number;
  statusUrl: string;
  masterSocket: string;
  haproxy: HaproxyProcess;
  readonly daemon: ChildProcess;
  output(): string;
  status(): Promise<StatusDocument>;
  metrics(): Promise<string>;
  reloads(): Promise<number>;
  /** SIGKILL: the daemon dies like a crashed node (its session is left to expire); HAProxy keeps serving. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown (the lock is released). */
  stop(): Promise<void>;
  /** Starts the daemon again (after kill or stop). */
  start(): Promise<void>;
}

export interface AcmeClusterOptions {
  /** Pebble's certificate validity, seconds. */
  validitySeconds?: number;
  /** Names Pebble refuses. */
  domainBlocklist?: string[];
  /** Pebble validates HTTP-01 through a gate the test controls (open, refuse, hold). */
  gate?: boolean;
  /** acme.* overrides for every router. */
  acme?: Record<string, unknown>;
  /** A Consul started elsewhere (a real cluster's client agent: test/cluster/acme.test.ts) instead of a -dev agent. */
  consulUrl?: string;
}

export interface AcmeCluster {
  consul: Pick<ConsulAgent, 'url'>;
  vault: DevVaultSetup;
  pebble: Pebble;
  backend: Backend;
  /** The first router's HTTP port: where Pebble validates and the pre-flight connects. */
  challengePort: number;
  /** Between Pebble's validation and the first router, when asked for. */
  gate?: Gate;
  routers: TestRouter[];
  /** `consulUrl`: this router's own agent (default: the cluster's). */
  startRouter(acme?: Record<string, unknown>, consulUrl?: string): Promise<TestRouter>;
  putDomain(app: string, value: string): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startAcmeCluster(t: Teardown, opts: AcmeClusterOptions = {}): Promise<AcmeCluster> {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-acme-'));
  const routers: TestRouter[] = [];
  const cleanups: (() => unknown)[] = [];
  t.teardown(async () => {
    for (const r of routers) await r.kill().catch(() => undefined);
    for (const r of routers) await r.haproxy.stop().catch(() => undefined);
    for (const fn of cleanups.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  });
  const consul = opts.consulUrl ? { url: opts.consulUrl } : await startTestConsulAgent(t);
  const vault = await setUpDevVault({ workDir: work, clusterDomain: CLUSTER_DOMAIN, acme: true, refresh: '1s' });
  cleanups.push(() => vault.vault.close());
  const backend = await startHttpBackend('blog #1');
  cleanups.push(() => backend.close());
  await registerMesosTask(consul.url, { app: '/blog', agent: 'agent-1', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
  const challengePort = await freePort();
  const gate = opts.gate ? await startGate(challengePort) : undefined;
  if (gate) cleanups.push(() => gate.close());
  const pebble = await startPebble({
    httpPort: gate?.port ?? challengePort,
    certificateValiditySeconds: opts.validitySeconds,
    domainBlocklist: opts.domainBlocklist,
  });
  cleanups.push(() => pebble.stop());

  const startRouter = async (acmeOverrides: Record<string, unknown> = {}, consulUrl = consul.url): Promise<TestRouter> => {
    const name = `router-${routers.length + 1}`;
    const dir = join(work, name);
    await mkdir(dir);
    const httpPort = routers.length === 0 ? challengePort : await freePort();
    const [httpsPort, statsPort, listen] = [await freePort(), await freePort(), await freePort()];
    const masterSocket = join(dir, 'master.sock');
    const configDir = join(dir, 'haproxy');
    const raw = {
      consul: { address: consulUrl, wait: '30s', min_interval: '20ms', retry_max: '1s' },
      vault: vault.config,
      haproxy: {
        config_dir: configDir,
        master_socket: masterSocket,
        runtime_socket: join(dir, 'runtime.sock'),
        bind_address: '127.0.0.1',
        http_port: httpPort,
        https_port: httpsPort,
        stats_port: statsPort,
        hard_stop_after: '5s',
      },
      wait: { min: '20ms', max: '200ms' },
      listen: `127.0.0.1:${listen}`,
      log_level: 'debug',
      acme: {
        directory_url: pebble.directoryUrl,
        cacert: pebble.cacertFile,
        email: 'ops@example.org',
        dns_resolver: pebble.dnsResolver,
        challenge_port: challengePort,
        retry_base: '2s',
        session_ttl: '10s',
        lock_delay: '1s',
        ...opts.acme,
        ...acmeOverrides,
      },
    };
    const configFile = join(dir, 'config.yaml');
    await writeFile(configFile, JSON.stringify(raw, null, 2));
    let output = '';
    let daemon!: ChildProcess;
    const statusUrl = `http://127.0.0.1:${listen}`;
    const start = async () => {
      // As in test/faults/helpers.ts: tap's loader must not ride along into the daemon.
      const env = { ...process.env, PAAS_ROUTER_CONFIG: '', CONSUL_HTTP_ADDR: '', VAULT_ADDR: '', VAULT_TOKEN: '', NOTIFY_SOCKET: '' };
      daemon = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', configFile], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      daemon.stdout!.on('data', (d) => (output += d));
      daemon.stderr!.on('data', (d) => (output += d));
      await eventually(`${name} status listener`, async () => (await fetch(`${statusUrl}/healthz`).catch(() => undefined)) !== undefined, 30_000).catch(
        (e: Error) => {
          throw new Error(`${e.message}\n${output}`);
        },
      );
    };
    const signal = async (sig: NodeJS.Signals) => {
      if (daemon.exitCode !== null || daemon.signalCode !== null) return;
      const gone = new Promise((r) => daemon.once('exit', r));
      daemon.kill(sig);
      await gone;
    };
    await start();
    const cfg = join(configDir, 'haproxy.cfg');
    await eventually(`${name} writes haproxy.cfg`, () => existsSync(cfg), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${output}`);
    });
    const haproxy = await startHaproxy({ configFile: cfg, masterSocket });
    const router: TestRouter = {
      name,
      httpPort,
      httpsPort,
      statusUrl,
      masterSocket,
      haproxy,
      get daemon() {
        return daemon;
      },
      output: () => output,
      status: async () => (await (await fetch(`${statusUrl}/status`)).json()) as StatusDocument,
      metrics: async () => (await fetch(`${statusUrl}/metrics`)).text(),
      reloads: async () => (await showProc(masterSocket)).master.reloads,
      kill: () => signal('SIGKILL'),
      stop: () => signal('SIGTERM'),
      start,
    };
    routers.push(router);
    return router;
  };

  return {
    consul,
    vault,
    pebble,
    backend,
    challengePort,
    gate,
    routers,
    startRouter,
    async putDomain(app, value) {
      const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/${app}`, { method: 'PUT', body: value });
      if (!res.ok) throw new Error(`K/V put answered ${res.status}`);
    },
  };
}

export interface VerifiedAnswer {
  /** The chain verified against `ca` and the name matched (a browser would accept it). */
  authorized: boolean;
  authorizationError: string | null;
  issuer: string;
  fingerprint256: string;
  validTo: string;
  status: number;
  body: string;
}

/** GET https://<servername>/ through 127.0.0.1:<port> with SNI, verifying the chain against `ca`. */
export function verifiedTls(port: number, servername: string, ca: string, timeoutMs = 5_000): Promise<VerifiedAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let raw = '';
    let head: Omit<VerifiedAnswer, 'status' | 'body'> | undefined;
    const timer = setTimeout(() => socket.destroy(new Error(`TLS request to ${servername} timed out`)), timeoutMs);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      head = {
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
        issuer: String(cert.issuer?.CN ?? ''),
        fingerprint256: cert.fingerprint256,
        validTo: new Date(cert.valid_to).toISOString(),
      };
      socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    socket.on('error', (err) => (clearTimeout(timer), reject(err)));
    socket.on('end', () => {
      clearTimeout(timer);
      if (!head) return reject(new Error(`no TLS handshake with ${servername}`));
      const [top = '', ...rest] = raw.split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      resolve({ ...head, status: Number(top.split('\r\n')[0]?.split(' ')[1] ?? 0), body: /transfer-encoding: chunked/i.test(top) ? dechunk(body) : body });
    });
  });
}

/** The daemon's ACME log lines (for a failure message). */
export function acmeLog(router: TestRouter, lines = 40): string {
  return router
    .output()
    .split('\n')
    .filter((l) => /acme|ACME/.test(l))
    .slice(-lines)
    .join('\n');
}

/** The ACME entry of one host in a router's /status. */
export async function acmeHost(router: TestRouter, host: string) {
  return (await router.status()).acme?.hosts.find((h) => h.host === host);
}

/**
 * A TCP relay in front of a port: `open` pipes connections through, `refuse` closes them at once
 * (validation fails), `hold` keeps them waiting until the mode changes (an order in flight).
 */
export interface Gate {
  port: number;
  mode: 'open' | 'refuse' | 'hold';
  /** Connections held right now. */
  readonly held: number;
  /** Connections seen since start. */
  readonly seen: number;
  setMode(mode: Gate['mode']): void;
  close(): Promise<void>;
}

export async function startGate(target: number): Promise<Gate> {
  const waiting: Socket[] = [];
  const sockets = new Set<Socket>();
  let seen = 0;
  const pass = (client: Socket) => {
    const upstream = netConnect({ host: '127.0.0.1', port: target });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  };
  const gate: Gate = {
    port: 0,
    mode: 'open',
    get held() {
      return waiting.length;
    },
    get seen() {
      return seen;
    },
    setMode(mode) {
      gate.mode = mode;
      if (mode === 'hold') return;
      for (const c of waiting.splice(0)) mode === 'open' ? pass(c) : c.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server = createServer((client) => {
    seen += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    // A reset from the peer ends the connection ('close' follows); unhandled, it would crash the test.
    client.on('error', () => undefined);
    if (gate.mode === 'refuse') client.destroy();
    else if (gate.mode === 'hold') waiting.push(client);
    else pass(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.port = (server.address() as AddressInfo).port;
  return gate;
}
