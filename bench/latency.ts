// change → served latency: from the Consul write until a request through HAProxy shows the change.
import { deregisterMesosTask, registerMesosTask, setMesosTaskStatus, type MesosTask } from '../dev/consul/mesos.js';
import { appTasks, hit, registerMany, reloadCount, until, type Bench } from './harness.js';
import type { Backend } from '../dev/backends.js';

export interface LatencyResult {
  samples: Record<string, number[]>;
  reloads: Record<string, number>;
}

export const MEASURED_HOST = 'lat-bench.production.mozilla.community';
const HOST = MEASURED_HOST;

/** Resolves once `n` consecutive requests in a row did not come from `label`. */
async function notServedBy(port: number, host: string, label: string, n = 3): Promise<boolean> {
  for (let i = 0; i < n; i++) if ((await hit(port, host)).body.startsWith(label)) return false;
  return true;
}

/** Times one change: the Consul write, then until the check through HAProxy passes. */
export type TimedChange = (what: string, write: () => Promise<unknown>, check: () => Promise<boolean>) => Promise<void>;

/** startBench's fill: `apps` background apps (`perApp` tasks each) and the measured app `/bench/lat`, on `backends`' ports. */
export function fillWithMeasuredApp(apps: number, perApp: number, backends: Backend[]): (consul: { url: string }) => Promise<void> {
  const ports = backends.map((b) => b.port);
  return async (consul) => {
    await registerMany(consul.url, appTasks(apps, perApp, ports));
    await registerMesosTask(consul.url, { app: '/bench/lat', agent: 'agent-a', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: ports[0]! });
  };
}

/**
 * One trial of every change of an existing app, each timed by `timed`: a new instance (backend
 * `b`), its check failing and passing again, its removal, a custom domain added and removed.
 * `gapMs` is the quiet time left after the recovery (a lone change, not a burst).
 */
export async function existingAppTrial(bench: Bench, timed: TimedChange, b: Backend, i: number, recoverMs: number, gapMs = 0): Promise<void> {
  const { consul, httpPort } = bench;
  const task: MesosTask = { app: '/bench/lat', agent: 'agent-b', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: b.port };
  await timed(
    'new instance',
    () => registerMesosTask(consul.url, task),
    async () => (await hit(httpPort, HOST)).body.startsWith(b.label),
  );
  await timed(
    'instance failing its check',
    () => setMesosTaskStatus(consul.url, { ...task, status: 'critical' }),
    () => notServedBy(httpPort, HOST, b.label),
  );
  await setMesosTaskStatus(consul.url, { ...task, status: 'passing' });
  await until('recovered', async () => (await hit(httpPort, HOST)).body.startsWith(b.label), recoverMs, 0);
  if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  await timed(
    'instance removed',
    () => deregisterMesosTask(consul.url, task),
    () => notServedBy(httpPort, HOST, b.label),
  );
  const domain = `d${i}.bench.example`;
  await timed(
    'custom domain added',
    () => fetch(`${consul.url}/v1/kv/paas-router/domains/lat-bench`, { method: 'PUT', body: domain }),
    async () => (await hit(httpPort, domain)).status === 200,
  );
  await timed(
    'custom domain removed',
    () => fetch(`${consul.url}/v1/kv/paas-router/domains/lat-bench`, { method: 'DELETE' }),
    async () => (await hit(httpPort, domain)).status === 404,
  );
}

export async function measureLatency(bench: Bench, trials: number, extra: Backend[], log: (s: string) => void): Promise<LatencyResult> {
  const { consul, httpPort, masterSocket } = bench;
  const samples: Record<string, number[]> = {
    'new instance': [],
    'instance removed': [],
    'instance failing its check': [],
    'custom domain added': [],
    'custom domain removed': [],
    'brand-new app': [],
  };
  const reloads: Record<string, number> = {};
  const timed = async (what: string, write: () => Promise<unknown>, check: () => Promise<boolean>) => {
    const before = await reloadCount(masterSocket);
    const started = performance.now();
    await write();
    await until(what, check, 30_000, 0);
    samples[what]!.push(performance.now() - started);
    reloads[what] = (reloads[what] ?? 0) + (await reloadCount(masterSocket)) - before;
  };

  for (let i = 0; i < trials; i++) {
    const b = extra[i % extra.length]!;
    await existingAppTrial(bench, timed, b, i, 30_000);
    const fresh: MesosTask = { app: `/bench/new${i}`, agent: 'agent-n', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: b.port };
    await timed(
      'brand-new app',
      () => registerMesosTask(consul.url, fresh),
      async () => (await hit(httpPort, `new${i}-bench.production.mozilla.community`)).status === 200,
    );
    if ((i + 1) % 25 === 0) log(`  latency trials: ${i + 1}/${trials}`);
  }
  return { samples, reloads };
}
