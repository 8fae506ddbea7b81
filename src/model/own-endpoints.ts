// Pure: an instance may not point at the router's own node services (its status listener,
// HAProxy's frontends and stats, the Consul agent, Vault): routing to one would publish it on the
// public port. And with `haproxy.backend_networks`, an instance must lie in one of those networks.
// Tenants choose their instances' address:port freely (`router.expose`), so both are checked here.
import { isIP } from 'node:net';
import { cidrContains } from '../util/cidr.js';
import type { ModelSettings } from './types.js';

type EndpointSettings = Pick<ModelSettings, 'ownEndpoints' | 'localAddresses' | 'backendNetworks'>;

const WILDCARDS = new Set(['*', '0.0.0.0', '::', '']);

/**
 * The address as the resolver would see it: IPv4 in every form `inet_aton` takes (`127.1`,
 * `2130706433`, `0x7f.1` are 127.0.0.1), IPv6 compressed and lowercase, an IPv4-mapped IPv6
 * address as IPv4, a host name lowercase without its final dot.
 */
export function canonicalAddress(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '');
  try {
    const host = new URL(isIP(bare) === 6 ? `http://[${bare}]` : `http://${bare}`).hostname.replace(/^\[|\]$/g, '');
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const hi = Number.parseInt(mapped[1]!, 16);
      const lo = Number.parseInt(mapped[2]!, 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return host.replace(/\.$/, '');
  } catch {
    return bare.toLowerCase().replace(/\.$/, '');
  }
}

/** Loopback, or an address a connection to which reaches this node (0.0.0.0 and :: connect locally). */
function isLoopback(canonical: string): boolean {
  return (
    canonical === '::1' ||
    canonical === '::' ||
    canonical === '0.0.0.0' ||
    canonical === 'localhost' ||
    canonical.endsWith('.localhost') ||
    (isIP(canonical) === 4 && canonical.startsWith('127.'))
  );
}

/** Addresses one name stands for without DNS: `localhost` is 127.0.0.1 and ::1; 0.0.0.0 reaches 127.0.0.1. */
function aliases(canonical: string): string[] {
  if (canonical === 'localhost' || canonical.endsWith('.localhost')) return [canonical, '127.0.0.1', '::1'];
  if (canonical === '0.0.0.0') return [canonical, '127.0.0.1'];
  if (canonical === '::') return [canonical, '::1'];
  return [canonical];
}

/** What `address:port` is among the node's own endpoints, or undefined. */
function ownEndpointAt(canonical: string, port: number, settings: EndpointSettings): string | undefined {
  const mine = aliases(canonical);
  let local: Set<string> | undefined;
  for (const endpoint of settings.ownEndpoints ?? []) {
    if (endpoint.port !== port) continue;
    if (WILDCARDS.has(endpoint.address.replace(/^\[|\]$/g, ''))) {
      local ??= new Set((settings.localAddresses ?? []).map(canonicalAddress));
      if (isLoopback(canonical) || local.has(canonical)) return endpoint.what;
      continue;
    }
    const theirs = aliases(canonicalAddress(endpoint.address));
    if (mine.some((a) => theirs.includes(a))) return endpoint.what;
  }
  return undefined;
}

/**
 * Why an instance at `address:port` must not be routed, or undefined. `address` already passed
 * the address syntax check (an IP literal or a host name).
 */
export function endpointProblem(address: string, port: number, settings: EndpointSettings): string | undefined {
  const canonical = canonicalAddress(address);
  const own = ownEndpointAt(canonical, port, settings);
  if (own) return `${address}:${port} is ${own} on the router's own node; routing to it would publish it`;
  const networks = settings.backendNetworks ?? [];
  if (networks.length === 0) return undefined;
  // A host name cannot be placed in a network without DNS: only IP addresses are admitted.
  if (isIP(canonical) === 0) return `${address} is a host name; haproxy.backend_networks (${listed(networks)}) admits IP addresses only`;
  if (networks.some((cidr) => cidrContains(cidr, canonical))) return undefined;
  return `${address} is outside haproxy.backend_networks (${listed(networks)})`;
}

const listed = (networks: readonly string[]): string =>
  networks.length <= 4 ? networks.join(' ') : `${networks.slice(0, 4).join(' ')} and ${networks.length - 4} more`;
