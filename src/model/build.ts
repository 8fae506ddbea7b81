// The routing model: pure composition of services → apps, tags → settings, K/V → custom hosts.
import type { AppMode, AppRoute, HostRoute, ModelInput, ModelSettings, Rejection, RoutingModel } from './types.js';
import { resolveDomains } from './domains.js';
import { resolveTcpPorts, type TcpClaim } from './ports.js';
import { finishRejections } from './rejections.js';
import { buildServers, firstCreateIndex, selectServices } from './services.js';
import { edgeFields, resolveTags } from './tags.js';
import { cmp } from './text.js';

/** Domain every default host lives under: `<cluster>.<baseDomain>` (an empty cluster is left out). */
export function clusterDomain(settings: Pick<ModelSettings, 'cluster' | 'baseDomain'>): string {
  return [settings.cluster, settings.baseDomain]
    .filter((part) => part !== '')
    .join('.')
    .toLowerCase();
}

/** `<name>.<cluster>.<baseDomain>`, lowercase. */
export function defaultHost(name: string, settings: Pick<ModelSettings, 'cluster' | 'baseDomain'>): string {
  return `${name.toLowerCase()}.${clusterDomain(settings)}`;
}

export function backendName(name: string): string {
  return `app_${name}`;
}

export function buildModel(input: ModelInput): RoutingModel {
  const { settings } = input;
  const rejections: Rejection[] = [];

  const selected = selectServices(input.services, settings, (name) => defaultHost(name, settings));
  rejections.push(...selected.rejections);

  // Settings and servers per app; tcp apps without a usable port drop out here.
  const drafts: AppRoute[] = [];
  const tcpClaims: TcpClaim[] = [];
  for (const cand of selected.candidates) {
    const { servers, usable, rejections: serverRejections } = buildServers(cand.name, cand.instances);
    rejections.push(...serverRejections);
    // A skipped instance (unusable address or port) takes no part in the tag vote or in the
    // app's claim on a tcp port: one bad registration cannot flip the app or take another's port.
    const tags = resolveTags(cand.name, usable, settings);
    rejections.push(...tags.rejections);
    if (!tags.routable) continue;
    const t = tags.settings;
    // Field order follows types.ts so JSON dumps (status page, golden files) read naturally.
    const app: AppRoute = {
      name: cand.name,
      backend: backendName(cand.name),
      mode: t.mode,
      ...(t.port !== undefined ? { port: t.port } : {}),
      balance: t.balance,
      ...(t.healthcheck !== undefined ? { healthcheck: t.healthcheck } : {}),
      httpsOnly: t.httpsOnly,
      sticky: t.sticky,
      ...(t.maxconn !== undefined ? { maxconn: t.maxconn } : {}),
      ...(t.timeoutServer !== undefined ? { timeoutServer: t.timeoutServer } : {}),
      ...edgeFields(t),
      ...(t.mode === 'http' ? { defaultHost: defaultHost(cand.name, settings) } : {}),
      hosts: [],
      servers,
    };
    if (app.mode === 'tcp' && app.port !== undefined) {
      tcpClaims.push({ app: app.name, port: app.port, createIndex: firstCreateIndex(usable) });
    }
    drafts.push(app);
  }

  const ports = resolveTcpPorts(tcpClaims);
  rejections.push(...ports.rejections);
  const apps = drafts.filter((a) => a.mode === 'http' || ports.winners.has(a.name));

  const modes = new Map<string, AppMode>(apps.map((a) => [a.name, a.mode]));
  const domains = resolveDomains(input.claims, modes, settings, clusterDomain(settings));
  rejections.push(...domains.rejections);

  const hosts: HostRoute[] = [];
  for (const app of apps) {
    if (app.defaultHost === undefined) continue;
    hosts.push({ host: app.defaultHost, backend: app.backend, app: app.name, source: 'default' });
    app.hosts.push(app.defaultHost);
    for (const custom of domains.hosts.get(app.name) ?? []) {
      hosts.push({ host: custom.host, backend: app.backend, app: app.name, source: 'kv', key: custom.key });
      app.hosts.push(custom.host);
    }
  }

  return {
    apps: apps.sort((a, b) => cmp(a.name, b.name)),
    hosts: hosts.sort((a, b) => cmp(a.host, b.host)),
    rejections: finishRejections(rejections),
  };
}
