// A status listener over a built state, without a daemon: what bench:status and bench:traffic
// measure (serving /status and the page), with the traffic ring when one is given.
import { EventEmitter } from 'node:events';
import { createLogger } from '../src/log.js';
import type { Runner } from '../src/runner.js';
import { RouterMetrics } from '../src/server/metrics.js';
import { StatusServer, type StatusServerOptions } from '../src/server/server.js';
import type { RouterState } from '../src/state.js';

export async function startStatusServerOn(state: RouterState, traffic?: StatusServerOptions['traffic']): Promise<StatusServer> {
  const server = new StatusServer({
    listen: { host: '127.0.0.1', port: 0 },
    runner: Object.assign(new EventEmitter(), { state }) as unknown as Runner,
    metrics: new RouterMetrics(),
    info: { version: 'bench', pid: process.pid, cluster: 'production', clusterDomain: 'production.mozilla.community', configDir: '/tmp', consulAddress: '-' },
    log: createLogger('silent'),
    ...(traffic ? { traffic } : {}),
  });
  await server.start();
  return server;
}
