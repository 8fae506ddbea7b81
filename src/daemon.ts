// Wires the daemon from a Config: Consul client and sources, templates watch, applier, runner.
import { Applier, MAIN_CONFIG } from './apply/applier.js';
import type { Config } from './config/config.js';
import type { Logger } from './log.js';
import type { ModelSettings } from './model/types.js';
import type { RenderSettings } from './render/types.js';
import { Runner } from './runner.js';
import { ConsulCatalogSource, type WatchTiming } from './sources/consul/catalog-source.js';
import { ConsulClient } from './sources/consul/client.js';
import { ConsulDomainsSource } from './sources/consul/domains-source.js';
import { TemplatesSource } from './sources/files/templates-source.js';

export function modelSettingsFrom(config: Config): ModelSettings {
  return {
    cluster: config.cluster,
    baseDomain: config.baseDomain,
    serviceIdPrefixes: config.consul.serviceIdPrefixes,
    domainsPrefix: config.consul.domainsPrefix,
    reservedPorts: [config.haproxy.httpPort, config.haproxy.httpsPort, config.haproxy.statsPort],
  };
}

export function renderSettingsFrom(config: Config): Omit<RenderSettings, 'configDir'> {
  return {
    runtimeSocket: config.haproxy.runtimeSocket,
    bindAddress: config.haproxy.bindAddress,
    httpPort: config.haproxy.httpPort,
    httpsPort: config.haproxy.httpsPort,
    statsPort: config.haproxy.statsPort,
    hardStopAfter: config.haproxy.hardStopAfter,
  };
}

export function consulClientFrom(config: Config): ConsulClient {
  return new ConsulClient({ address: config.consul.address, cacert: config.consul.cacert || undefined, token: () => config.consul.token });
}

export interface Daemon {
  runner: Runner;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  const client = consulClientFrom(config);
  const timing: WatchTiming = { waitMs: config.consul.waitMs, minIntervalMs: config.consul.minIntervalMs, maxBackoffMs: config.consul.retryMaxMs };
  const applier = new Applier({
    configDir: config.haproxy.configDir,
    bin: config.haproxy.bin,
    masterSocket: config.haproxy.masterSocket,
    runtimeSocket: config.haproxy.runtimeSocket,
    reloadTimeoutMs: config.haproxy.reloadTimeoutMs,
    log,
  });
  await applier.adoptFilesOnDisk([MAIN_CONFIG, 'hosts.map']);
  const runner = new Runner({
    sources: {
      catalog: new ConsulCatalogSource(client, timing, log),
      domains: new ConsulDomainsSource(client, config.consul.domainsPrefix, timing, log),
      templates: new TemplatesSource(config.templatesDir, log),
    },
    applier,
    modelSettings: modelSettingsFrom(config),
    renderSettings: renderSettingsFrom(config),
    wait: config.wait,
    log,
  });
  runner.start();
  log.info({ consul: config.consul.address, configDir: config.haproxy.configDir, templates: config.templatesDir }, 'paas-router started');
  return {
    runner,
    async stop() {
      await runner.stop();
      client.close();
    },
  };
}
