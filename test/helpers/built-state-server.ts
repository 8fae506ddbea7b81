// The real status server on built state, for the page tests in Chromium at hundreds or thousands
// of apps: a model built in process, every source synced, a reload applied, and a traffic ring fed
// three known samples 5 s apart. No Consul, no HAProxy: what the page shows is known exactly.
import { EventEmitter } from 'node:events';
import { createLogger } from '../../src/log.js';
import type { RoutingModel } from '../../src/model/types.js';
import type { Runner } from '../../src/runner.js';
import { RouterMetrics } from '../../src/server/metrics.js';
import { StatusServer } from '../../src/server/server.js';
import { initialState } from '../../src/state.js';
import { TrafficRing } from '../../src/traffic/ring.js';
import type { SamplerStatus } from '../../src/traffic/sampler.js';
import type { StatSample } from '../../src/traffic/stat.js';
import { deploymentOf } from './deployment.js';

/** `sampleAt(k, serverNames)`: the kth sample (k = 0, 1, 2), counters grown by each app's rates. */
export async function serveBuiltState(
  t: { teardown(fn: () => unknown): void },
  model: RoutingModel,
  sampleAt: (k: number, serverNames: Map<string, string[]>) => StatSample,
): Promise<StatusServer> {
  const now = Date.now();
  const deployment = deploymentOf(model);
  const state = initialState(now - 60_000, () => deployment);
  const synced = { state: 'ok' as const, lastSyncAt: now - 1000 };
  state.sources = {
    'consul-catalog': { name: 'consul-catalog', ...synced },
    'consul-domains': { name: 'consul-domains', ...synced },
    templates: { name: 'templates', ...synced },
  };
  state.builtModel = model;
  state.lastApply = { status: 'reloaded', checksum: 'a'.repeat(64), at: now - 30_000 };

  const ring = new TrafficRing(12);
  const serverNames = new Map(model.apps.map((a) => [a.backend, a.servers.map((s) => s.name)]));
  for (let k = 0; k < 3; k++) ring.record(now - (2 - k) * 5000, sampleAt(k, serverNames));
  const status: SamplerStatus = { intervalMs: 5000, windowMs: 60_000, lastSampleAt: now, samples: 3, failures: 0, lastError: undefined, lastSampleMs: 1 };
  const runner = Object.assign(new EventEmitter(), { state }) as unknown as Runner;
  const server = new StatusServer({
    listen: { host: '127.0.0.1', port: 0 },
    runner,
    metrics: new RouterMetrics(),
    info: {
      version: 'test',
      pid: process.pid,
      cluster: 'production',
      clusterDomain: 'production.mozilla.community',
      configDir: '/tmp',
      consulAddress: 'http://127.0.0.1:8500',
    },
    log: createLogger('silent'),
    traffic: { ring, status },
  });
  await server.start();
  t.teardown(() => server.stop());
  return server;
}
