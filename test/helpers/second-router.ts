// A second router on the same Consul: its own daemon, HAProxy, directory and ports, the way a
// second master node runs one. Stopped at teardown.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untilHaproxyRunsTheDaemonsFiles } from '../../dev/cluster.js';
import { startHaproxy } from '../../dev/haproxy-process.js';
import type { Config } from '../../src/config/config.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { eventually, freePort } from './net.js';

export interface SecondRouter {
  daemon: Daemon;
  config: Config;
  httpPort: number;
  /** Stops the daemon (a clean stop: it deregisters); HAProxy keeps running until teardown. */
  stop(): Promise<void>;
}

/** `peers: false`: no HAProxy peers section (a router whose agent's node address is not its own: test/cluster/nodes.test.ts). */
export async function startSecondRouter(t: { teardown(fn: () => unknown): void }, base: Config, opts: { peers?: boolean } = {}): Promise<SecondRouter> {
  const workDir = await mkdtemp(join(tmpdir(), 'paas-router-second-'));
  const httpPort = await freePort();
  const config: Config = {
    ...base,
    listen: { host: '127.0.0.1', port: 0 },
    haproxy: {
      ...base.haproxy,
      configDir: join(workDir, 'haproxy'),
      masterSocket: join(workDir, 'master.sock'),
      runtimeSocket: join(workDir, 'runtime.sock'),
      httpPort,
      httpsPort: await freePort(),
      statsPort: await freePort(),
      peers: { ...base.haproxy.peers, port: opts.peers === false ? 0 : await freePort(), name: 'router-2' },
    },
  };
  const daemon = await startDaemon(config, createLogger(process.env.PAAS_ROUTER_TEST_LOG ?? 'silent').child({ router: 'router-2' }));
  const configFile = join(config.haproxy.configDir, 'haproxy.cfg');
  await eventually('the second router wrote its first configuration', () => existsSync(configFile), 30_000);
  const haproxy = await startHaproxy({ configFile, masterSocket: config.haproxy.masterSocket });
  await untilHaproxyRunsTheDaemonsFiles(daemon);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await daemon.stop();
  };
  t.teardown(async () => {
    await stop();
    await haproxy.stop();
    await rm(workDir, { recursive: true, force: true });
  });
  return { daemon, config, httpPort, stop };
}
