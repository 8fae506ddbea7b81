// A real Consul cluster (the tests' cluster faults, bench/consul-cluster.ts), as production runs it: three servers (`-server
// -bootstrap-expect 3`) and one client agent, each its own process with its own data directory, on
// loopback addresses of their own (127.0.0.2-4 and 127.0.0.5 by default; a test picks another /24 so
// two cluster tests never share one). Every agent uses the same port numbers, picked free on all four
// addresses at start; a gossip key of its own keeps one cluster from ever talking to another. The
// client joins with `-retry-interval 1s` (with the default 30 s, a client that starts before the
// servers joins late) and `performance.raft_multiplier = 1` (an election in about 2 s).
// Nothing here sleeps for a fixed time: every wait polls a state (a leader agreed by every running
// agent, a process gone) with a generous bound. stop() kills every process and removes the directory.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSUL_AGENT_BIN, CONSUL_AGENT_MISSING, consulAgentInstalled } from './agent.js';
import { freePort } from '../net.js';

export interface ClusterAgent {
  readonly name: string;
  readonly ip: string;
  readonly server: boolean;
  /** http://IP:PORT of this agent's HTTP API. */
  readonly url: string;
  running(): boolean;
  /** Starts the agent again on its data directory (it keeps its node ID and raft state). */
  start(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

export interface ConsulClusterOptions {
  /** First three octets of the agents' addresses (default 127.0.0): servers .2-.4, client .5. */
  net?: string;
  /** Milliseconds to wait for the first leader and the client's sync; default 60 000. */
  timeoutMs?: number;
  /** The servers' addresses (default NET.2-4). */
  serverIps?: string[];
  /**
   * The client agents (default one, `client` on NET.5): name → address, and optionally a command
   * prefix to run it in, e.g. `['ip', 'netns', 'exec', 'node-a']` (its own network namespace: its
   * ports are not checked from here, that namespace is its own). The first is `client`.
   */
  clients?: Record<string, { ip: string; wrap?: string[] }>;
}

export interface ConsulCluster {
  servers: ClusterAgent[];
  /** The node's client agent: what the router talks to. */
  client: ClusterAgent;
  clients: ClusterAgent[];
  /** The client agent's HTTP API. */
  url: string;
  ports: { http: number; serf_lan: number; serf_wan: number; server: number };
  /** The server every running agent agrees is the leader, or undefined (none, or no agreement yet). */
  leader(): Promise<ClusterAgent | undefined>;
  /** Waits until every running agent names the same running server as leader; returns it. */
  waitForLeader(timeoutMs?: number): Promise<ClusterAgent>;
  /** Waits until no running server has a leader (quorum lost). */
  waitForNoLeader(timeoutMs?: number): Promise<void>;
  /** Runs the consul CLI against the client agent (`snapshot save FILE`, ...). */
  cli(args: string[]): Promise<string>;
  /** Every agent's log, for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port free on every one of `ips` (and on 127.0.0.1, where the rest of the suite listens). */
async function portFreeOn(ips: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    let free = true;
    for (const ip of ips) if (!(await bindable(ip, port))) free = false;
    if (free) return port;
  }
  throw new Error(`no port free on all of ${ips.join(', ')}`);
}

function bindable(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function startConsulCluster(opts: ConsulClusterOptions = {}): Promise<ConsulCluster> {
  if (!consulAgentInstalled()) throw new Error(CONSUL_AGENT_MISSING);
  const net = opts.net ?? '127.0.0';
  const serverIps = opts.serverIps ?? [2, 3, 4].map((n) => `${net}.${n}`);
  const clientSpecs = opts.clients ?? { client: { ip: `${net}.5` } };
  const allIps = [...serverIps, ...Object.values(clientSpecs).flatMap((c) => (c.wrap ? [] : [c.ip]))];
  const work = await mkdtemp(join(tmpdir(), 'paas-router-consul-cluster-'));
  const ports = { http: await portFreeOn(allIps), serf_lan: await portFreeOn(allIps), serf_wan: await portFreeOn(allIps), server: await portFreeOn(allIps) };
  const encrypt = randomBytes(32).toString('base64');
  const join_ = serverIps.map((ip) => `${ip}:${ports.serf_lan}`);
  const agents: (ClusterAgent & { stopNow(): Promise<void> })[] = [];

  const make = async (name: string, ip: string, server: boolean, wrap: string[] = []): Promise<ClusterAgent & { stopNow(): Promise<void> }> => {
    const dir = join(work, name);
    await mkdir(join(dir, 'data'), { recursive: true });
    const config = {
      node_name: name,
      datacenter: 'dc1',
      data_dir: join(dir, 'data'),
      bind_addr: ip,
      advertise_addr: ip,
      client_addr: ip,
      // dns and grpc off: fewer ports to collide on, and the router uses neither.
      ports: { ...ports, dns: -1, grpc: -1 },
      encrypt,
      retry_join: join_.filter((a) => !a.startsWith(`${ip}:`)),
      retry_interval: '1s',
      performance: { raft_multiplier: 1 },
      log_level: 'info',
      disable_update_check: true,
      ...(server
        ? {
            server: true,
            bootstrap_expect: 3,
            // A killed server stays a voter: the test restarts it and expects the quorum back
            // (autopilot would otherwise remove it after serf marks it failed, a timing-dependent
            // change of the raft configuration).
            autopilot: { cleanup_dead_servers: false },
          }
        : {}),
    };
    const configFile = join(dir, 'agent.json');
    await writeFile(configFile, JSON.stringify(config));
    let proc: ChildProcess | undefined;
    let log = '';
    const running = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
      const p = proc;
      if (!p || !running()) return;
      const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill(signal);
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    };
    const start = async () => {
      if (running()) return;
      const argv = [...wrap, CONSUL_AGENT_BIN, 'agent', '-config-file', configFile];
      log += `--- start ${new Date().toISOString()}\n`;
      const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (d) => (log += d));
      p.stderr!.on('data', (d) => (log += d));
      proc = p;
      // The HTTP listener is up (any answer) or the process died at start.
      const url = `http://${ip}:${ports.http}`;
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (!running()) throw new Error(`consul agent ${name} exited at start (${p.exitCode ?? p.signalCode}):\n${log}`);
        if ((await httpGet(`${url}/v1/agent/self`)).status > 0) return;
        if (Date.now() > deadline) throw new Error(`consul agent ${name} did not listen on ${url} within 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    return { name, ip, server, url: `http://${ip}:${ports.http}`, running, start, kill, stopNow: () => kill('SIGKILL'), output: () => log };
  };

  for (const [i, ip] of serverIps.entries()) agents.push(await make(`server-${i + 1}`, ip, true));
  for (const [name, c] of Object.entries(clientSpecs)) agents.push(await make(name, c.ip, false, c.wrap));
  const servers = agents.filter((a) => a.server);
  const clients = agents.filter((a) => !a.server);
  const client = clients[0]!;

  const stop = async () => {
    await Promise.all(agents.map((a) => a.stopNow().catch(() => undefined)));
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  };

  const leaderOf = async (agent: ClusterAgent): Promise<string | undefined> => {
    const r = await httpGet(`${agent.url}/v1/status/leader`);
    if (r.status !== 200) return undefined;
    try {
      const v = JSON.parse(r.body) as unknown;
      return typeof v === 'string' && v !== '' ? v : undefined;
    } catch {
      return undefined;
    }
  };

  const leader = async (): Promise<ClusterAgent | undefined> => {
    const running = agents.filter((a) => a.running());
    const answers = await Promise.all(running.map(leaderOf));
    const first = answers[0];
    if (!first || answers.some((a) => a !== first)) return undefined;
    const ip = first.split(':')[0];
    return servers.find((s) => s.ip === ip && s.running());
  };

  const poll = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`consul cluster: timed out waiting for ${what}\n${output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const output = () => agents.map((a) => `=== ${a.name}\n${a.output().split('\n').slice(-40).join('\n')}`).join('\n');

  const waitForLeader = (timeoutMs = 60_000) => poll('a leader every agent agrees on', leader, timeoutMs);
  const waitForNoLeader = (timeoutMs = 60_000) =>
    poll(
      'no leader',
      async () => {
        const running = servers.filter((s) => s.running());
        const answers = await Promise.all(running.map(leaderOf));
        return answers.every((a) => a === undefined) ? true : undefined;
      },
      timeoutMs,
    ).then(() => undefined);

  try {
    // The client first: it must find the servers by retrying, as on a node that boots before them.
    await Promise.all(agents.map((a) => a.start()));
    await waitForLeader(opts.timeoutMs ?? 60_000);
    // The client has registered its own node: the catalog no longer moves by itself.
    for (const c of clients) {
      await poll(
        `${c.name} in the catalog`,
        async () => ((await httpGet(`${client.url}/v1/catalog/node/${c.name}`)).body.includes('"Node"') ? true : undefined),
        opts.timeoutMs ?? 60_000,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const cli = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(CONSUL_AGENT_BIN, args, { env: { ...process.env, CONSUL_HTTP_ADDR: client.url }, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`consul ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(`${stdout}${stderr}`),
      );
    });

  return { servers, client, clients, url: client.url, ports, leader, waitForLeader, waitForNoLeader, cli, output, stop };
}

/** One GET on a connection of its own; status 0 when nothing answered. */
export function httpGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}
