// What the metrics and the never-shrink guard count in a routing model. A model is
// never changed once built, so each is counted once (at 10 000 apps a count is 30 000 servers:
// done on every scrape and every build, it blocked the event loop for tens of milliseconds).
import type { RoutingModel } from './types.js';

export interface ModelCounts {
  readonly apps: { readonly http: number; readonly tcp: number };
  readonly hosts: { readonly default: number; readonly kv: number };
  /** Servers with every Consul check passing (rendered without `disabled`), and the others. */
  readonly servers: { readonly up: number; readonly down: number };
}

const counted = new WeakMap<RoutingModel, ModelCounts>();

export function modelCounts(model: RoutingModel): ModelCounts {
  let counts = counted.get(model);
  if (counts) return counts;
  const apps = { http: 0, tcp: 0 };
  const hosts = { default: 0, kv: 0 };
  const servers = { up: 0, down: 0 };
  for (const app of model.apps) {
    apps[app.mode]++;
    for (const s of app.servers) servers[s.passing ? 'up' : 'down']++;
  }
  for (const h of model.hosts) hosts[h.source]++;
  counts = { apps, hosts, servers };
  counted.set(model, counts);
  return counts;
}
