// Cold start to fully routed and daemon RSS at N apps × 3 instances, the render time, and beside
// them the floor a reload can never beat: `haproxy -c` and an HAProxy reload of the same config.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reloadThroughMaster } from '../src/apply/reload.js';
import { checkConfig } from '../src/apply/validate.js';
import { buildModel } from '../src/model/build.js';
import { renderFiles } from '../src/render/render.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { ConsulClient } from '../src/sources/consul/client.js';
import { readCatalogOnce } from '../src/sources/consul/read-once.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { validateConfig } from '../src/config/load.js';
import { modelSettingsFrom, renderSettingsFrom } from '../src/daemon.js';
import { appTasks, hit, registerMany, rssMb, startBench, until } from './harness.js';
import type { Backend } from '../dev/backends.js';
import { summarize } from './stats.js';
import { measureChanges, consulMetrics, watchSockets, type ChangeCost, type ChangeKind } from './consul-cost.js';

export interface ScaleResult {
  apps: number;
  coldStartMs: number;
  rssMb: number;
  renderMs: number;
  validateMs: number;
  reloadMs: number;
  /** Which Consul ran: the real agent (at its default limit of 200 per client) or the stand-in. */
  consulKind: string;
  registerMs: number;
  /** Most connections the daemon held to Consul: from `ss` on the agent's port, and its own gauge. */
  socketsMax: number;
  connectionsMaxGauge: number;
  refused: number;
  /** Requests and bytes of the cold start's reads. */
  coldRequests: number;
  coldBytes: number;
  changes: Record<ChangeKind, ChangeCost>;
  /** The daemon's longest event-loop delay while the changes were served (prom-client's nodejs_eventloop_lag_max_seconds). */
  eventLoopMaxMs: number;
}

async function median(times: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return summarize(samples).p50;
}

export async function measureScale(apps: number, backends: Backend[], extra: Backend, trials: number, log: (s: string) => void): Promise<ScaleResult> {
  const ports = backends.map((b) => b.port);
  let registerMs = 0;
  const bench = await startBench({
    fill: async (consul) => {
      const started = performance.now();
      await registerMany(consul.url, appTasks(apps, 3, ports));
      registerMs = performance.now() - started;
      log(`  ${apps} apps × 3 registered in the ${consul.kind === 'agent' ? 'real Consul agent' : 'dev stand-in'} in ${(registerMs / 1000).toFixed(1)} s`);
    },
  });
  const sockets = watchSockets(bench.daemon.pid!, bench.consul.https?.port ?? bench.consul.port);
  try {
    const started = performance.now();
    const last = `app${apps - 1}-bench.production.mozilla.community`;
    await until(
      `${apps} apps routed`,
      async () => {
        const map = await readFile(join(bench.configDir, 'hosts.map'), 'utf8').catch(() => '');
        return map.split('\n').filter((l) => l && !l.startsWith('#')).length >= apps && (await hit(bench.httpPort, last)).status === 200;
      },
      600_000,
      50,
    );
    const coldStartMs = performance.now() - started;
    const cold = await consulMetrics(bench);
    log(`  cold start ${(coldStartMs / 1000).toFixed(1)} s: ${cold.requests} Consul requests, ${(cold.bytes / 1e6).toFixed(1)} MB`);
    const loop = { maxMs: 0 };
    const changes = await measureChanges(bench, '/bench/app0', 'app0-bench.production.mozilla.community', extra, trials, loop);
    const final = await consulMetrics(bench);
    const socketsMax = await sockets.stop();
    await new Promise((r) => setTimeout(r, 1000));
    let rss = 0;
    for (let i = 0; i < 5; i++) {
      rss = Math.max(rss, await rssMb(bench.daemon.pid!));
      await new Promise((r) => setTimeout(r, 200));
    }
    // Render time for the same data, in this process (model + templates, no I/O).
    const config = validateConfig({ haproxy: { config_dir: bench.configDir } }, 'bench', {});
    const client = new ConsulClient({ address: bench.consul.url, token: () => '' });
    const catalog = await readCatalogOnce(client);
    client.close();
    const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
    const renderMs = await median(5, () => {
      const model = buildModel({ services: catalog.services, claims: [], settings: modelSettingsFrom(config) });
      renderFiles(templates, model, { ...renderSettingsFrom(config), configDir: bench.configDir });
    });
    const cfg = join(bench.configDir, 'haproxy.cfg');
    const validateMs = await median(3, () => checkConfig('haproxy', cfg));
    const reloadMs = await median(3, () => reloadThroughMaster(bench.masterSocket, 120_000));
    return {
      apps,
      coldStartMs,
      rssMb: rss,
      renderMs,
      validateMs,
      reloadMs,
      consulKind: bench.consul.kind,
      registerMs,
      socketsMax,
      connectionsMaxGauge: final.connectionsMax,
      refused: final.refused,
      coldRequests: cold.requests,
      coldBytes: cold.bytes,
      changes,
      eventLoopMaxMs: loop.maxMs,
    };
  } finally {
    await sockets.stop();
    await bench.stop();
  }
}
