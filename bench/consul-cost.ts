// What the router costs its Consul agent: the most connections it holds (counted from the sockets,
// `ss` on the agent's port for the daemon's pid, and from the router's own gauge), connections
// refused, and per instance change the requests and bytes read, beside the change → served latency.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Backend } from '../dev/backends.js';
import { deregisterMesosTask, registerMesosTask, setMesosTaskStatus, type MesosTask } from '../dev/consul/mesos.js';
import { hit, until, type Bench } from './harness.js';

const run = promisify(execFile);

/** Established connections from process `pid` to local port `port`, as the kernel lists them. */
export async function socketsTo(pid: number, port: number): Promise<number> {
  const { stdout } = await run('ss', ['-Htnp', 'state', 'established', 'dport', `= :${port}`]);
  return stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

/** Samples socketsTo every 100 ms until stopped; resolves to the most seen. */
export function watchSockets(pid: number, port: number): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await socketsTo(pid, port).catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

export interface ConsulMetrics {
  requests: number;
  bytes: number;
  refused: number;
  connectionsMax: number;
  /** The daemon's longest event-loop delay since the scrape before (prom-client resets it at each scrape). */
  eventLoopMaxMs: number;
}

export async function consulMetrics(bench: Bench): Promise<ConsulMetrics> {
  const text = await scrape(`${bench.statusUrl}/metrics`);
  const value = (name: string) => Number(new RegExp(`^paas_router_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    requests: value('consul_requests_total'),
    bytes: value('consul_response_bytes_total'),
    refused: value('consul_refused_total'),
    connectionsMax: value('consul_connections_max'),
    eventLoopMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

/** /metrics, retried: a keep-alive socket the server closed as it was reused is not a result. */
async function scrape(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url)).text();
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The longest event-loop delay of the daemon seen so far by the scrapes that feed it. */
export interface LoopWatch {
  maxMs: number;
}

/** Waits until the router has stopped talking to Consul for a moment (its detectors blocked again). */
async function settled(bench: Bench, loop: LoopWatch): Promise<ConsulMetrics> {
  const scrape = async () => {
    const m = await consulMetrics(bench);
    loop.maxMs = Math.max(loop.maxMs, m.eventLoopMaxMs);
    return m;
  };
  let last = await scrape();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await scrape();
    if (now.requests === last.requests) return now;
    last = now;
  }
}

export interface ChangeCost {
  latencyMs: number[];
  requests: number[];
  bytes: number[];
}

export type ChangeKind = 'new instance' | 'instance failing its check' | 'instance deregistered';

/**
 * `trials` rounds of: a new instance of `app` on `extra`, its check failing, passing again,
 * deregistered. `loop` gets the daemon's longest event-loop delay during them (the cold start before excluded).
 */
export async function measureChanges(
  bench: Bench,
  app: string,
  host: string,
  extra: Backend,
  trials: number,
  loop: LoopWatch = { maxMs: 0 },
): Promise<Record<ChangeKind, ChangeCost>> {
  const out: Record<ChangeKind, ChangeCost> = {
    'new instance': { latencyMs: [], requests: [], bytes: [] },
    'instance failing its check': { latencyMs: [], requests: [], bytes: [] },
    'instance deregistered': { latencyMs: [], requests: [], bytes: [] },
  };
  const servedByExtra = async () => (await hit(bench.httpPort, host)).body.startsWith(extra.label);
  const notServedByExtra = async () => {
    for (let i = 0; i < 6; i++) if (await servedByExtra()) return false;
    return true;
  };
  await consulMetrics(bench); // resets the delay histogram: what follows is the changes' alone
  const timed = async (kind: ChangeKind, write: () => Promise<unknown>, done: () => Promise<boolean>) => {
    const before = await settled(bench, loop);
    const started = performance.now();
    await write();
    await until(kind, done, 60_000, 0);
    out[kind].latencyMs.push(performance.now() - started);
    const after = await settled(bench, loop);
    out[kind].requests.push(after.requests - before.requests);
    out[kind].bytes.push(after.bytes - before.bytes);
  };
  for (let i = 0; i < trials; i++) {
    const task: MesosTask = { app, agent: `agent-change-${i}`, agentAddress: '127.0.0.1', ip: '127.0.0.1', port: extra.port };
    await timed('new instance', () => registerMesosTask(bench.consul.url, task), servedByExtra);
    await timed('instance failing its check', () => setMesosTaskStatus(bench.consul.url, { ...task, status: 'critical' }), notServedByExtra);
    await setMesosTaskStatus(bench.consul.url, { ...task, status: 'passing' });
    await until('passing again', servedByExtra, 60_000, 0);
    await timed('instance deregistered', () => deregisterMesosTask(bench.consul.url, task), notServedByExtra);
  }
  return out;
}
