// Benchmark harness: a Consul (the real agent when installed) filled with apps, a real HAProxy in master-worker mode, and the
// daemon as its own process (so its RSS is its own), all on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { startDevConsul } from '../dev/consul/server.js';
import { consulAgentInstalled, CONSUL_AGENT_MISSING, startConsulAgent } from '../dev/consul/agent.js';
import type { ClusterConsul } from '../dev/cluster.js';
import { registerMesosTask, type MesosTask } from '../dev/consul/mesos.js';
import { startHaproxy, type HaproxyProcess } from '../dev/haproxy-process.js';
import { startHttpBackend, type Backend } from '../dev/backends.js';
import { probeThrough } from '../dev/probe.js';
import { freePort } from '../dev/net.js';
import { writeFilesAtomically } from '../src/apply/files.js';
import { showProc } from '../src/apply/reload.js';
import { buildModel } from '../src/model/build.js';
import { renderFiles } from '../src/render/render.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { PACKAGE_ROOT, SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { validateConfig } from '../src/config/load.js';
import { modelSettingsFrom, renderSettingsFrom } from '../src/daemon.js';

export interface Bench {
  work: string;
  /** The daemon's log: `logFile`, else $BENCH_DAEMON_LOG (kept after the bench), else in `work`. */
  logFile: string;
  consul: ClusterConsul & {
    port: number;
    pid?: number;
    /** With --consul-https: the agent's HTTPS listener (HTTP/2), which the daemon uses; `url` stays the plain one for registrations. */
    https?: { url: string; port: number; cacert: string };
  };
  /** The daemon's status listener (for /metrics). */
  statusUrl: string;
  haproxy: HaproxyProcess;
  daemon: ChildProcess;
  httpPort: number;
  configDir: string;
  masterSocket: string;
  runtimeSocket: string;
  stop(): Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** One GET through HAProxy on a keep-alive connection; status 0 on a socket error. */
export function hit(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return probeThrough(port, host, path, agent);
}

export async function reloadCount(masterSocket: string): Promise<number> {
  for (;;) {
    try {
      return (await showProc(masterSocket)).master.reloads;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Registers `count` tasks with bounded concurrency (a real Consul would see the same calls). */
export async function registerMany(consulUrl: string, tasks: MesosTask[], concurrency = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++]!;
        // A keep-alive socket closed by the server at the wrong moment is not a benchmark result.
        for (let attempt = 1; ; attempt++) {
          try {
            await registerMesosTask(consulUrl, task);
            break;
          } catch (err) {
            if (attempt >= 5) throw err;
            await new Promise((r) => setTimeout(r, 50 * attempt));
          }
        }
      }
    }),
  );
}

/** `apps` apps of `instances` tasks each; the tasks point at `ports` (real loopback backends or not). */
export function appTasks(apps: number, instances: number, ports: number[], prefix = 'app'): MesosTask[] {
  const tasks: MesosTask[] = [];
  for (let a = 0; a < apps; a++) {
    for (let i = 0; i < instances; i++) {
      tasks.push({ app: `/bench/${prefix}${a}`, agent: `agent-${i}`, agentAddress: '127.0.0.1', ip: '127.0.0.1', port: ports[i % ports.length]!, tags: [] });
    }
  }
  return tasks;
}

/** Starts Consul (already filled by `fill`), HAProxy on an empty config, then the daemon process. */
/**
 * The real agent (scripts/install-consul.sh) at its default connection limit, as on a master node;
 * the stand-in only when the agent is not installed (said on stderr, and refused under CI=true).
 */
export async function startBenchConsul(): Promise<Bench['consul']> {
  if (consulAgentInstalled()) {
    const https = benchConsulHttps();
    const agent = await startConsulAgent({ https });
    const tls = https ? { https: { url: agent.httpsUrl!, port: Number(new URL(agent.httpsUrl!).port), cacert: agent.cacertFile! } } : {};
    return { kind: 'agent', url: agent.url, port: agent.port, pid: agent.proc.pid, ...tls, close: () => agent.stop() };
  }
  if (benchConsulHttps()) throw new Error(`--consul-https needs the real agent: ${CONSUL_AGENT_MISSING}`);
  if (process.env.CI === 'true') throw new Error(CONSUL_AGENT_MISSING);
  process.stderr.write(`bench: ${CONSUL_AGENT_MISSING}; running against the dev stand-in\n`);
  const standIn = await startDevConsul({ port: 0 });
  return { kind: 'stand-in', url: standIn.url, port: standIn.port, close: () => standIn.close() };
}

/** The timings of a `--tuned` run, labelled as such wherever its figures are shown. */
export const TUNED = { consul: { wait: '60s', min_interval: '5ms', retry_max: '1s' }, wait: { min: '10ms', max: '100ms' } } as const;

/** Whether the daemon reaches the agent over HTTPS (HTTP/2 per-service watches) instead of plain HTTP. */
export function benchConsulHttps(): boolean {
  return process.env.PAAS_ROUTER_BENCH_CONSUL_HTTPS === '1';
}

/** Whether this bench runs with TUNED timings instead of the defaults a user gets. */
export function benchTuned(): boolean {
  return process.env.PAAS_ROUTER_BENCH_TUNED === '1';
}

export async function startBench(
  opts: {
    fill?: (consul: Bench['consul']) => Promise<void>;
    logFile?: string;
    spareBackends?: number;
    /** Node options for the daemon (e.g. --heapsnapshot-signal). */
    nodeArgs?: string[];
  } = {},
): Promise<Bench> {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-bench-'));
  const consul = await startBenchConsul();
  await opts.fill?.(consul);
  const httpPort = await freePort();
  const listenPort = await freePort();
  const configDir = join(work, 'haproxy');
  await mkdir(configDir, { recursive: true });
  const raw = {
    // The timings a user gets (consul.wait 5m, min_interval 100ms, retry_max 10s; wait 50ms..1s),
    // unless `--tuned` (PAAS_ROUTER_BENCH_TUNED=1) asks for the shorter ones earlier runs used.
    consul: {
      address: consul.https?.url ?? consul.url,
      ...(consul.https ? { cacert: consul.https.cacert } : {}),
      ...(benchTuned() ? TUNED.consul : {}),
    },
    haproxy: {
      config_dir: configDir,
      master_socket: join(work, 'master.sock'),
      runtime_socket: join(work, 'runtime.sock'),
      bind_address: '127.0.0.1',
      http_port: httpPort,
      https_port: await freePort(),
      stats_port: await freePort(),
      hard_stop_after: '5s',
      reload_timeout: '60s',
      ...(opts.spareBackends === undefined ? {} : { spare_backends: opts.spareBackends }),
    },
    ...(benchTuned() ? { wait: TUNED.wait } : {}),
    listen: `127.0.0.1:${listenPort}`,
    log_level: 'info',
  };
  const config = validateConfig(raw, 'bench', {});
  // HAProxy starts on the empty configuration, as on a master node before the daemon runs.
  const empty = renderFiles(await loadTemplates(SHIPPED_TEMPLATES_DIR), buildModel({ services: {}, claims: [], settings: modelSettingsFrom(config) }), {
    ...renderSettingsFrom(config),
    configDir,
  });
  await writeFilesAtomically(configDir, empty);
  const haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket: config.haproxy.masterSocket });
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, JSON.stringify(raw));
  const logFile = opts.logFile ?? process.env.BENCH_DAEMON_LOG ?? join(work, 'daemon.log');
  const log = createWriteStream(logFile);
  // BENCH_DAEMON_NODE_ARGS: Node options for the daemon alone (a CPU profile: --cpu-prof is not allowed in NODE_OPTIONS).
  const nodeArgs = [...(opts.nodeArgs ?? []), ...(process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const daemon = spawn(process.execPath, [...nodeArgs, join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.stdout!.pipe(log);
  daemon.stderr!.pipe(log);
  return {
    work,
    logFile,
    consul,
    statusUrl: `http://127.0.0.1:${listenPort}`,
    haproxy,
    daemon,
    httpPort,
    configDir,
    masterSocket: config.haproxy.masterSocket,
    runtimeSocket: config.haproxy.runtimeSocket,
    async stop() {
      daemon.kill('SIGTERM');
      await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
      await haproxy.stop();
      await consul.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** Resident set size of a process, MB (from /proc). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export async function backends(n: number, label: string): Promise<Backend[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startHttpBackend(`${label} #${i + 1}`)));
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, pollMs = 1): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`bench: timed out waiting for ${what}`);
    if (pollMs > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
}
