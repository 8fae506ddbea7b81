// Shared by the fault-injection tests (test/faults/*.test.ts): a background load of keep-alive
// requests through HAProxy, the daemon's /status, `haproxy -c` on the files on disk, the master's
// reload counter, a daemon run as its own process, and the figures written to
// test-artifacts/faults.json for the report.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startHttpBackend, type Backend } from '../../dev/backends.js';
import { registerMesosTask, type MesosTask } from '../../dev/consul/mesos.js';
import { startDevConsul, type DevConsul } from '../../dev/consul/server.js';
import { startHaproxy, type HaproxyProcess } from '../../dev/haproxy-process.js';
import { probeThrough } from '../../dev/probe.js';
import { showProc } from '../../src/apply/reload.js';
import { createLogger, type Logger } from '../../src/log.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import type { StatusDocument } from '../../src/server/status.js';
import { eventually, freePort } from '../helpers/net.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The in-process daemon's logger: silent, or FAULT_LOG=info|debug to watch a test. */
export const faultLog = (): Logger => createLogger(process.env.FAULT_LOG ?? 'silent');
export const DOMAIN = 'production.mozilla.community';
export const hostOf = (service: string) => `${service}.${DOMAIN}`;

// ---------------------------------------------------------------------------------------------
// Load: one keep-alive worker per host, each sending its next request as soon as the last ended
// (plus a short pause, so two cores are left for the daemon and HAProxy).

export interface LoadFailure {
  at: number;
  host: string;
  /** HTTP status, or the socket error's code. */
  what: string;
  /** The request went out on a kept-alive connection that had served earlier requests. */
  reusedSocket: boolean;
}

export interface LoadWindow {
  /** Requests completed in the window (successes and failures). */
  requests: number;
  /** Failures outside the excluded windows. */
  failed: number;
  /** Failures inside the excluded windows (an expected outage, e.g. HAProxy killed). */
  failedExcluded: number;
  /** The first few failures, for diagnostics. */
  sample: LoadFailure[];
}

export class LoadLoop {
  private readonly agent: Agent;
  private readonly done: { at: number; ok: boolean }[] = [];
  readonly failures: LoadFailure[] = [];
  private readonly excluded: { from: number; to: number }[] = [];
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    readonly hosts: string[],
    private readonly pauseMs = 10,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: hosts.length });
  }

  start(): this {
    this.running = true;
    this.workers = this.hosts.map((host) => this.worker(host));
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.agent.destroy();
  }

  /** Failures between `from` and `to` do not count against the existing routes (expected outage). */
  exclude(from: number, to: number): void {
    this.excluded.push({ from, to });
  }

  window(from = 0, to = Number.POSITIVE_INFINITY): LoadWindow {
    const inside = (at: number) => at >= from && at <= to;
    const isExcluded = (at: number) => this.excluded.some((w) => at >= w.from && at <= w.to);
    const failures = this.failures.filter((f) => inside(f.at));
    const counted = failures.filter((f) => !isExcluded(f.at));
    return {
      requests: this.done.filter((d) => inside(d.at)).length,
      failed: counted.length,
      failedExcluded: failures.length - counted.length,
      sample: counted.slice(0, 5),
    };
  }

  /** Waits until every host has answered 2xx at least `n` more times (the load is really running). */
  async warmUp(n = 5): Promise<void> {
    const start = this.done.length;
    await eventually('load warmed up', () => this.done.slice(start).filter((d) => d.ok).length >= n * this.hosts.length, 15_000);
  }

  private async worker(host: string): Promise<void> {
    while (this.running) {
      const r = await this.once(host);
      const at = Date.now();
      this.done.push({ at, ok: r.ok });
      if (!r.ok) this.failures.push({ at, host, what: r.what, reusedSocket: r.reused });
      await sleep(r.ok ? this.pauseMs : 50);
    }
  }

  private once(host: string): Promise<{ ok: boolean; what: string; reused: boolean }> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.port, path: '/', agent: this.agent, headers: { host }, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
          resolve({ ok, what: String(res.statusCode), reused: req.reusedSocket });
        });
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, what: err.code ?? err.message, reused: req.reusedSocket }));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, what: err.code ?? err.message, reused: req.reusedSocket }));
      req.end();
    });
  }
}

/** One request on a fresh connection; never rejects (status 0 on a socket error). */
export function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return probeThrough(port, host);
}

/** Polls until `host` answers 200 with a body matching `body`; resolves with the time it did (ms since epoch). */
export async function servedAt(port: number, host: string, body?: RegExp | string, timeoutMs = 30_000): Promise<number> {
  await eventually(
    `${host} served${body ? ` with ${String(body)}` : ''}`,
    async () => {
      const r = await get(port, host);
      if (r.status !== 200) return false;
      if (body === undefined) return true;
      return typeof body === 'string' ? r.body.includes(body) : body.test(r.body);
    },
    timeoutMs,
  );
  return Date.now();
}

// ---------------------------------------------------------------------------------------------
// What the daemon and HAProxy say.

export async function statusOf(baseUrl: string): Promise<StatusDocument> {
  const res = await fetch(`${baseUrl}/status`);
  if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
  return (await res.json()) as StatusDocument;
}

/** Waits until /status reports a last apply with `status` (and passes `also`), and returns that document. */
export function applyStatusIn(baseUrl: string, status: string, also: (d: StatusDocument) => boolean = () => true, timeoutMs = 20_000): Promise<StatusDocument> {
  return eventually(
    `${status} in /status`,
    async () => {
      const d = await statusOf(baseUrl);
      return d.haproxy.lastApply?.status === status && also(d) ? d : undefined;
    },
    timeoutMs,
  );
}

export async function healthz(baseUrl: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${baseUrl}/healthz`);
  return { status: res.status, body: await res.text() };
}

/**
 * Waits until /healthz says ok: every source synced and HAProxy runs the daemon's configuration (the
 * dev cluster starts HAProxy after the daemon's first write, so its first reload is a pending one).
 */
export async function healthy(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  await eventually('/healthz ok', async () => (await healthz(baseUrl)).status === 200, timeoutMs);
}

export const sourceOf = (doc: StatusDocument, name: string) => doc.sources.find((s) => s.name === name);

/** `haproxy -c` on the live files: what HAProxy would load at its next reload or restart. */
export function haproxyCheck(configDir: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile('haproxy', ['-c', '-f', join(configDir, 'haproxy.cfg')], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

/**
 * The master's reload counter and its failed reloads (`show proc`). The master CLI does not answer
 * while the master re-executes itself for a reload: ask again.
 */
export async function reloads(masterSocket: string): Promise<{ reloads: number; failed: number; workers: number[] }> {
  const p = await eventually('an answer to show proc', () => showProc(masterSocket).catch(() => undefined), 10_000);
  return { reloads: p.master.reloads, failed: p.master.failedReloads, workers: p.workers.map((w) => w.pid) };
}

// ---------------------------------------------------------------------------------------------
// Figures for the report: test-artifacts/faults.json, one entry per fault, merged across the
// test files (they run in parallel: a lock file serialises the read-modify-write).

export interface FaultFigure {
  fault: string;
  /** Requests through HAProxy to existing routes during the fault and its recovery. */
  requests: number;
  /** Failed requests to existing routes (non-2xx or socket errors), outside expected outages. */
  failedExisting: number;
  /** Fault end → a new change served (ms). */
  recoveryMs: number | null;
  /** Failures during an expected outage (HAProxy itself down), and how long it lasted. */
  failedDuringOutage?: number;
  outageMs?: number;
  /** What the daemon reported (status, source state, error). */
  reported: string;
  notes?: string;
}

export const ARTIFACT = join(PACKAGE_ROOT, 'test-artifacts', 'faults.json');

export async function recordFigure(t: { comment(...args: unknown[]): void }, figure: FaultFigure): Promise<void> {
  const outage = figure.outageMs !== undefined ? `, outage ${figure.outageMs} ms (${figure.failedDuringOutage ?? 0} failed, excluded)` : '';
  t.comment(
    `FAULT ${figure.fault}: ${figure.failedExisting}/${figure.requests} failed requests to existing routes, recovery ${figure.recoveryMs ?? '-'} ms${outage}; reported: ${figure.reported}`,
  );
  await mkdir(join(PACKAGE_ROOT, 'test-artifacts'), { recursive: true });
  const lock = `${ARTIFACT}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx')).close();
      break;
    } catch {
      if (attempt > 100) await rm(lock, { force: true }); // a crashed writer left it
      await sleep(20);
    }
  }
  try {
    let doc: { machine?: unknown; faults: Record<string, FaultFigure & { at: string }> } = { faults: {} };
    try {
      doc = JSON.parse(await readFile(ARTIFACT, 'utf8'));
    } catch {
      // first writer, or an unreadable leftover: start again
    }
    doc.machine = { cpus: cpus().length, node: process.version, platform: process.platform };
    // A run on another HAProxy (PAAS_ROUTER_TEST_HAPROXY) records beside the 2.6 figures, not over them.
    const selected = process.env.PAAS_ROUTER_TEST_HAPROXY;
    const key = selected ? `${figure.fault} (${/haproxy-(\d+\.\d+)/.exec(selected)?.[0] ?? selected})` : figure.fault;
    doc.faults = { ...doc.faults, [key]: { ...figure, at: new Date().toISOString() } };
    const temp = `${ARTIFACT}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(temp, ARTIFACT);
  } finally {
    await rm(lock, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// A cluster whose daemon is its own process (`node bin/paas-router.js run --config FILE`, over
// dist/, built by `npm test`), so a test can SIGKILL it or limit its file sizes.

export interface ChildClusterOptions {
  /** Apps (service name → instances) registered before the daemon starts. */
  apps: Record<string, number>;
  /** The config directory (default <work>/haproxy); e.g. a tmpfs mount point. */
  configDir?: string;
}

export interface ChildCluster {
  work: string;
  consul: DevConsul;
  haproxy: HaproxyProcess;
  daemon: ChildProcess;
  httpPort: number;
  statusUrl: string;
  configDir: string;
  masterSocket: string;
  backends: Map<string, Backend[]>;
  /** One more instance of `service` (a new loopback backend). */
  addInstance(service: string): Promise<{ backend: Backend; task: MesosTask }>;
  /** Daemon output so far. */
  output(): string;
  startDaemon(): Promise<ChildProcess>;
  /** SIGKILL; resolves once the process is gone. */
  killDaemon(): Promise<void>;
}

export async function startChildCluster(t: { teardown(fn: () => unknown): void }, opts: ChildClusterOptions): Promise<ChildCluster> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const work = await mkdtemp(join(tmpdir(), 'paas-router-faults-'));
  const consul = await startDevConsul({ port: 0 });
  const backends = new Map<string, Backend[]>();
  let agent = 0;
  const addInstance = async (service: string) => {
    const list = backends.get(service) ?? [];
    const backend = await startHttpBackend(`${service} #${list.length + 1}`);
    list.push(backend);
    backends.set(service, list);
    const task: MesosTask = { app: `/${service}`, agent: `agent-${(agent++ % 3) + 1}`, agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port };
    await registerMesosTask(consul.url, task);
    return { backend, task };
  };
  for (const [service, n] of Object.entries(opts.apps)) for (let i = 0; i < n; i++) await addInstance(service);

  const httpPort = await freePort();
  const listen = await freePort();
  const configDir = opts.configDir ?? join(work, 'haproxy');
  const masterSocket = join(work, 'master.sock');
  const raw = {
    consul: { address: consul.url, wait: '30s', min_interval: '20ms', retry_max: '1s' },
    haproxy: {
      config_dir: configDir,
      master_socket: masterSocket,
      runtime_socket: join(work, 'runtime.sock'),
      bind_address: '127.0.0.1',
      http_port: httpPort,
      https_port: await freePort(),
      stats_port: await freePort(),
      hard_stop_after: '5s',
    },
    wait: { min: '20ms', max: '200ms' },
    listen: `127.0.0.1:${listen}`,
    log_level: 'info',
  };
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, JSON.stringify(raw, null, 2));

  let output = '';
  let daemon!: ChildProcess;
  const startDaemonProcess = async (): Promise<ChildProcess> => {
    const args = [join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', configFile];
    // The daemon runs as in production: tap's process-info hook puts its loader into NODE_OPTIONS
    // of every node child it sees spawned, and that loader's signal-exit handlers would turn
    // SIGXFSZ (ignored by node: a write past the file-size limit fails with EFBIG) into a death.
    // `env -u` drops it after the hook has run; env execs node, so the pid is the daemon's.
    const env = { ...process.env, PAAS_ROUTER_CONFIG: '', CONSUL_HTTP_ADDR: '', NOTIFY_SOCKET: '' };
    daemon = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (d) => (output += d));
    daemon.stderr!.on('data', (d) => (output += d));
    await eventually(
      'the daemon status listener',
      async () => (await fetch(`http://127.0.0.1:${listen}/healthz`).catch(() => undefined)) !== undefined,
      20_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${output}`);
    });
    return daemon;
  };
  const killDaemon = async () => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return;
    const gone = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGKILL');
    await gone;
  };

  let haproxy: HaproxyProcess | undefined;
  t.teardown(async () => {
    await killDaemon().catch(() => undefined);
    await haproxy?.stop().catch(() => undefined);
    await consul.close();
    await Promise.all([...backends.values()].flat().map((b) => b.close()));
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  });

  await startDaemonProcess();
  const cfg = join(configDir, 'haproxy.cfg');
  await eventually('the daemon writes haproxy.cfg', () => existsSync(cfg), 20_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${output}`);
  });
  haproxy = await startHaproxy({ configFile: cfg, masterSocket });
  return {
    work,
    consul,
    haproxy,
    get daemon() {
      return daemon;
    },
    httpPort,
    statusUrl: `http://127.0.0.1:${listen}`,
    configDir,
    masterSocket,
    backends,
    addInstance,
    output: () => output,
    startDaemon: startDaemonProcess,
    killDaemon,
  };
}
