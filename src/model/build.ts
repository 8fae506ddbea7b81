// The routing model: pure composition of services → apps, tags → settings, K/V → custom hosts.
import type { AppMode, AppRoute, HostRoute, ModelInput, ModelSettings, Rejection, RoutingModel } from './types.js';
import { resolveDomains } from './domains.js';
import { applyMaintenance, checkRedirects } from './features.js';
import { resolveGroups, type Draft } from './groups.js';
import { resolveTcpPorts, type TcpClaim } from './ports.js';
import { finishRejections } from './rejections.js';
import { buildServers, firstCreateIndex, selectServices } from './services.js';
import { resolveTags } from './tags.js';
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

export const DEFAULT_WEIGHTS_PREFIX = 'paas-router/weights/';
export const DEFAULT_MAINTENANCE_PREFIX = 'paas-router/maintenance/';

export function backendName(name: string): string {
  return `app_${name}`;
}

export function buildModel(input: ModelInput): RoutingModel {
  const { settings } = input;
  const rejections: Rejection[] = [];

  const selected = selectServices(input.services, settings, (name) => defaultHost(name, settings));
  rejections.push(...selected.rejections);

  // Settings and servers per app; tcp apps without a usable port drop out here.
  const drafted: Draft[] = [];
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
      ...(t.mode === 'http' ? { defaultHost: defaultHost(cand.name, settings) } : {}),
      hosts: [],
      servers,
      ...(t.redirect !== undefined ? { redirect: t.redirect } : {}),
      ...(t.allow !== undefined ? { allow: t.allow } : {}),
      ...(t.path !== undefined ? { path: t.path, stripPath: t.stripPath === true } : {}),
    };
    drafted.push({ app, tags: t, createIndex: firstCreateIndex(usable) });
  }

  // router.group: members become one route named after the group (blue-green, canary).
  const groups = resolveGroups(drafted, input.weights ?? [], settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX, (name) => defaultHost(name, settings));
  rejections.push(...groups.rejections);
  const drafts = groups.routes.map((d) => d.app);
  const tcpClaims: TcpClaim[] = groups.routes.flatMap((d) => (d.app.mode === 'tcp' && d.app.port !== undefined ? [{ app: d.app.name, port: d.app.port, createIndex: d.createIndex }] : []));

  const ports = resolveTcpPorts(tcpClaims);
  rejections.push(...ports.rejections);
  const apps = drafts.filter((a) => a.mode === 'http' || ports.winners.has(a.name));

  const modes = new Map<string, AppMode>(apps.map((a) => [a.name, a.mode]));
  const paths = new Map(apps.flatMap((a) => (a.path !== undefined ? [[a.name, a.path] as const] : [])));
  const domains = resolveDomains(input.claims, modes, settings, clusterDomain(settings), groups.memberOf, paths);
  rejections.push(...domains.rejections);

  const hosts: HostRoute[] = [];
  for (const app of apps) {
    if (app.defaultHost === undefined) continue;
    const path = app.path !== undefined ? { path: app.path } : {};
    hosts.push({ host: app.defaultHost, backend: app.backend, app: app.name, source: 'default', ...path });
    app.hosts.push(app.defaultHost);
    for (const custom of domains.hosts.get(app.name) ?? []) {
      hosts.push({ host: custom.host, backend: app.backend, app: app.name, source: 'kv', key: custom.key, ...path });
      app.hosts.push(custom.host);
    }
  }
  rejections.push(...checkRedirects(apps));
  rejections.push(...applyMaintenance(apps, input.maintenance ?? [], settings.maintenancePrefix ?? DEFAULT_MAINTENANCE_PREFIX, groups.memberOf));

  return {
    apps: apps.sort((a, b) => cmp(a.name, b.name)),
    hosts: hosts.sort((a, b) => cmp(a.host, b.host) || cmp(a.path ?? '', b.path ?? '')),
    rejections: finishRejections(rejections),
  };
}
