// Shared fixtures for the render tests (not a test file: tap reports it as skipped).
import type { AppRoute, HostRoute, RoutingModel, ServerRoute } from '../../src/model/types.js';
import type { RenderSettings } from '../../src/render/types.js';

/** The config file defaults (DESIGN §5). */
export const settings: RenderSettings = {
  configDir: '/etc/haproxy/paas-router',
  runtimeSocket: '/run/haproxy/paas-router.sock',
  bindAddress: '*',
  httpPort: 80,
  httpsPort: 443,
  statsPort: 8404,
  hardStopAfter: '30s',
  maxOldWorkers: 3,
};

export function server(address: string, port: number, passing = true): ServerRoute {
  return { name: `${address.replace(/[.:]/g, '_')}_${port}`, id: `mesos-consul:agent1:x:${address}:${port}`, address, port, passing };
}

export function httpApp(name: string, servers: ServerRoute[], extra: Partial<AppRoute> = {}): AppRoute {
  const defaultHost = `${name}.production.mozilla.community`;
  return {
    name,
    backend: `app_${name}`,
    mode: 'http',
    balance: 'roundrobin',
    httpsOnly: false,
    sticky: false,
    defaultHost,
    hosts: [defaultHost],
    servers,
    ...extra,
  };
}

export function tcpApp(name: string, port: number, servers: ServerRoute[], extra: Partial<AppRoute> = {}): AppRoute {
  return { name, backend: `app_${name}`, mode: 'tcp', port, balance: 'roundrobin', httpsOnly: false, sticky: false, hosts: [], servers, ...extra };
}

/** The model builder's output shape: apps sorted by name; hosts of the http apps sorted by host. */
export function model(apps: AppRoute[], kv: Record<string, string[]> = {}): RoutingModel {
  const hosts: HostRoute[] = [];
  const routed = apps.map((app): AppRoute => {
    if (app.mode !== 'http' || app.defaultHost === undefined) return app;
    const custom = [...(kv[app.name] ?? [])].sort();
    hosts.push({ host: app.defaultHost, backend: app.backend, app: app.name, source: 'default' });
    for (const host of custom) {
      hosts.push({ host, backend: app.backend, app: app.name, source: 'kv', key: `paas-router/domains/${app.name}` });
    }
    return { ...app, hosts: [app.defaultHost, ...custom] };
  });
  const byKey =
    <T>(key: (x: T) => string) =>
    (a: T, b: T) =>
      key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  return { apps: routed.sort(byKey((a) => a.name)), hosts: hosts.sort(byKey((h) => h.host)), rejections: [] };
}
