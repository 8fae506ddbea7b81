// The routers of a cluster find one another in Consul: each registers itself as an instance of the
// service `paas-router` with ServiceID `paas-router-peer:<peer name>` and its peers port
// (src/peers/registration.ts). From the catalog, every router derives the same `peers` section;
// it is rendered only when this router and at least one other are registered.
import type { ServiceInstance } from '../sources/types.js';
import type { PeersSettings } from '../render/types.js';
import { cmp } from './text.js';

export const ROUTER_SERVICE = 'paas-router';
export const PEER_ID_PREFIX = 'paas-router-peer:';
/** A peer name: a host name's characters (HAProxy's `peer` and `localpeer`), checked by the config, the model and the renderer. */
export const PEER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The peers of the registered routers, or undefined when this router is alone (or not registered yet). */
export function peersFrom(services: Readonly<Record<string, ServiceInstance[]>>, self: string | undefined): PeersSettings | undefined {
  if (self === undefined) return undefined;
  const byName = new Map<string, { name: string; address: string; port: number }>();
  // The same name registered twice (on two agents): the lowest address holds it, on every router alike.
  const instances = [...(services[ROUTER_SERVICE] ?? [])].sort((a, b) => cmp(a.id, b.id) || cmp(a.address, b.address) || a.port - b.port);
  for (const i of instances) {
    if (!i.id.startsWith(PEER_ID_PREFIX)) continue;
    const name = i.id.slice(PEER_ID_PREFIX.length);
    // A registration the router did not write (bad name, address or port) is left out.
    if (!PEER_NAME_RE.test(name) || !Number.isInteger(i.port) || i.port < 1 || i.port > 65535 || !/^[0-9A-Fa-f.:]+$/.test(i.address)) continue;
    if (!byName.has(name)) byName.set(name, { name, address: i.address, port: i.port });
  }
  if (byName.size < 2 || !byName.has(self)) return undefined;
  return { self, list: [...byName.values()].sort((a, b) => cmp(a.name, b.name)) };
}
