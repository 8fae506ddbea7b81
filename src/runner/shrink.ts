// Never-shrink guard (pure): a candidate that drops more than a configured share of the running
// routes or passing servers at once looks like a Consul election, a partial answer or an outage
// (consul-template #1131, fabio #162), not like operators removing apps. Such a change is held
// until a later fresh read confirms it. Counted from the files, so it also protects the first
// build after a daemon restart (the running files are adopted from disk).
import { BACKEND_PREFIX } from '../model/backend.js';
import { modelCounts } from '../model/counts.js';
import type { RoutingModel } from '../model/types.js';
import type { RenderedFiles } from '../render/types.js';
import { parseFiles } from '../apply/runtime/parse.js';

export interface RouteCounts {
  /** Hosts in hosts.map plus tcp listeners. */
  routes: number;
  /** Servers not rendered `disabled`. */
  servers: number;
}

export function countRoutes(files: RenderedFiles): RouteCounts {
  const { config, hosts: map } = parseFiles(files);
  const hosts = map.size;
  const tcp = [...config.listens].filter((name) => name.startsWith(BACKEND_PREFIX)).length;
  let servers = 0;
  for (const proxy of config.proxies.values()) for (const s of proxy.values()) if (!s.disabled) servers++;
  return { routes: hosts + tcp, servers };
}

export interface ShrinkVerdict {
  shrink: boolean;
  before: RouteCounts;
  after: RouteCounts;
  reason?: string;
}

/** Below this many routes a single removal is a large share: the guard stays out of the way. */
export const GUARD_MIN_ROUTES = 5;

/**
 * `known`: counts the caller already has (from the models, runner/incremental.ts), so the files
 * are not read back; each side missing there is counted from its files.
 */
export function assessShrink(
  running: RenderedFiles | undefined,
  candidate: RenderedFiles,
  maxShrink: number,
  known: { before?: RouteCounts; after?: RouteCounts } = {},
): ShrinkVerdict {
  const after = known.after ?? countRoutes(candidate);
  if (!running || maxShrink >= 1) return { shrink: false, before: after, after };
  const before = known.before ?? countRoutes(running);
  const lost = (was: number, now: number) => (was > 0 ? Math.max(0, was - now) / was : 0);
  const routes = lost(before.routes, after.routes);
  const servers = lost(before.servers, after.servers);
  if (before.routes < GUARD_MIN_ROUTES) return { shrink: false, before, after };
  if (routes > maxShrink) {
    return { shrink: true, before, after, reason: `${before.routes - after.routes} of ${before.routes} routes would disappear at once` };
  }
  if (servers > maxShrink) {
    return { shrink: true, before, after, reason: `${before.servers - after.servers} of ${before.servers} serving instances would disappear at once` };
  }
  return { shrink: false, before, after };
}

/** The same counts from a model: hosts plus tcp apps, and passing servers (rendered without `disabled`). */
export function countModelRoutes(model: RoutingModel): RouteCounts {
  const { apps, hosts, servers } = modelCounts(model);
  return { routes: hosts.default + hosts.kv + apps.tcp, servers: servers.up };
}
