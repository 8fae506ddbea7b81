// A dev cluster for one integration test: free loopback ports, a private copy of the shipped
// templates (so a test may break them), silent logs, everything removed at teardown.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevCluster, type DevCluster, type DevClusterOptions } from '../../dev/cluster.js';
import { createLogger } from '../../src/log.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { freeListenerPorts } from './net.js';

export interface TestCluster extends DevCluster {
  httpPort: number;
  templatesDir: string;
}

export async function startTestCluster(
  t: { teardown(fn: () => unknown): void },
  opts: Omit<DevClusterOptions, 'httpPort' | 'statsPort'>,
): Promise<TestCluster> {
  const templatesDir = await mkdtemp(join(tmpdir(), 'paas-router-templates-'));
  await cp(SHIPPED_TEMPLATES_DIR, templatesDir, { recursive: true });
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster = await startDevCluster({
    ...ports,
    domains: {},
    log: createLogger(process.env.PAAS_ROUTER_TEST_LOG ?? 'silent'),
    ...opts,
    configOverrides: { templates_dir: templatesDir, ...opts.configOverrides },
  });
  t.teardown(async () => {
    await cluster.stop();
    await rm(templatesDir, { recursive: true, force: true });
  });
  return Object.assign(cluster, { httpPort, templatesDir });
}
