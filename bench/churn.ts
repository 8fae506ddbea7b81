// Reloads during a burst of instance changes, and failed requests under sustained load while the
// loaded app's instances churn and HAProxy is reloaded on purpose.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deregisterMesosTask, registerMesosTask, type MesosTask } from '../dev/consul/mesos.js';
import { sendSocketCommand } from '../src/apply/socket.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { registerMany, reloadCount, until, type Bench } from './harness.js';
import type { Backend } from '../dev/backends.js';

/** `changes` new instances at once, one per existing app (apps ≥ changes), all on `backend`. */
export async function burstReloads(bench: Bench, changes: number, backend: Backend): Promise<{ reloads: number; appliedMs: number }> {
  const before = await reloadCount(bench.masterSocket);
  const tasks: MesosTask[] = Array.from({ length: changes }, (_, i) => ({
    app: `/bench/app${i}`,
    agent: 'burst',
    agentAddress: '127.0.0.1',
    ip: '127.0.0.1',
    port: backend.port,
  }));
  const started = performance.now();
  await registerMany(bench.consul.url, tasks);
  const marker = new RegExp(`:${backend.port} `, 'g');
  await until(
    'burst applied',
    async () => ((await sendSocketCommand(bench.runtimeSocket, 'show servers state')).match(marker)?.length ?? 0) >= changes,
    120_000,
    50,
  );
  const appliedMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 500));
  const reloads = (await reloadCount(bench.masterSocket)) - before;
  for (const t of tasks) await deregisterMesosTask(bench.consul.url, t);
  return { reloads, appliedMs };
}

export interface LoadResult {
  requests: number;
  failed: number;
  non2xx: number;
  errors: number;
  churnEvents: number;
  forcedReloads: number;
}

export async function loadWithChurn(bench: Bench, host: string, app: string, pool: Backend[], churnEvents: number, forcedReloads: number): Promise<LoadResult> {
  const worker = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'bench', 'load-worker.js'), `http://127.0.0.1:${bench.httpPort}/`, host, '8'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  worker.stdout!.on('data', (d) => (output += d));
  await new Promise((r) => setTimeout(r, 1000));
  const reloadEvery = Math.max(1, Math.floor(churnEvents / forcedReloads));
  let reloads = 0;
  const live: MesosTask[] = [];
  for (let i = 0; i < churnEvents; i++) {
    // Alternate: add an instance of the loaded app, then remove the oldest extra one.
    if (live.length < 2 || i % 2 === 0) {
      const task: MesosTask = { app, agent: `churn-${i}`, agentAddress: '127.0.0.1', ip: '127.0.0.1', port: pool[i % pool.length]!.port };
      await registerMesosTask(bench.consul.url, task);
      live.push(task);
    } else {
      await deregisterMesosTask(bench.consul.url, live.shift()!);
    }
    if (i % reloadEvery === reloadEvery - 1 && reloads < forcedReloads) {
      await sendSocketCommand(bench.masterSocket, 'reload').catch(() => undefined);
      reloads++;
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  await new Promise((r) => setTimeout(r, 1500));
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGTERM');
  await exited;
  const result = JSON.parse(output) as { requests: number; non2xx: number; errors: number; timeouts: number; resets: number };
  for (const t of live) await deregisterMesosTask(bench.consul.url, t);
  return {
    requests: result.requests,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    failed: result.non2xx + result.errors + result.timeouts,
    churnEvents,
    forcedReloads: reloads,
  };
}
