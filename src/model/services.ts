// Which Consul services are routed, under which name, and with which servers.
import { isIP } from 'node:net';
import type { ServiceInstance } from '../sources/types.js';
import type { ModelSettings, Rejection, ServerRoute } from './types.js';
import { MAX_HOSTNAME, labelsProblem } from './fqdn.js';
import { endpointProblem } from './own-endpoints.js';
import { ROUTER_SERVICE } from './peers.js';
import { reject } from './rejections.js';
import { badFlagTags, hasFlag, tagsHaveFlag } from './tags.js';
import { CONTROL_RE, WHITESPACE_RE, cmp, numCmp, safeText } from './text.js';

/** Consul's own service: never an app, whatever tags it carries. */
const CONSUL_SERVICE = 'consul';
const MAX_ADDRESS = 255;
/** A host name address: non-empty labels, the first starting with a letter or digit; a final dot is allowed. */
const HOST_ADDRESS_RE = /^[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.?$/;

export function compareInstances(a: ServiceInstance, b: ServiceInstance): number {
  return cmp(a.id, b.id) || cmp(a.node, b.node) || cmp(String(a.address), String(b.address)) || numCmp(a.port, b.port) || Number(b.passing) - Number(a.passing);
}

export type Routing = 'routed' | 'skipped' | 'unrouted';

/** The contract of DESIGN §3: bridge-registered (ServiceID prefix) or `router.expose`, unless `router.skip`. */
export function routingOf(name: string, instances: ServiceInstance[], settings: ModelSettings): Routing {
  if (
    neverRouted(
      name,
      instances.flatMap((i) => i.tags),
    )
  )
    return 'skipped';
  // An empty prefix would route every service in Consul: treat it as a config slip, not a wildcard.
  const prefixes = settings.serviceIdPrefixes.filter((p) => p !== '');
  const bridged = instances.some((i) => prefixes.some((p) => i.id.startsWith(p)));
  return bridged || hasFlag(instances, 'expose', settings) ? 'routed' : 'unrouted';
}

/**
 * Consul's own service and services tagged `router.skip` are never routed, whatever else they carry:
 * the one rule for the model (routingOf, on every instance's tags) and for the sources, which use it on the tags
 * of /v1/catalog/services (the union of the instances' tags) to skip reading them at all.
 */
export function neverRouted(name: string, tags: readonly string[]): boolean {
  return name.toLowerCase() === CONSUL_SERVICE || tagsHaveFlag(tags, 'skip');
}

/** Why a lowercase service name cannot be the left part of `<name>.<cluster>.<base>`, or undefined. */
export function serviceNameProblem(name: string, defaultHost: string): string | undefined {
  if (name === '') return 'empty service name';
  if (WHITESPACE_RE.test(name) || CONTROL_RE.test(name)) {
    return 'service name contains whitespace or control characters';
  }
  const labels = labelsProblem(name);
  if (labels) return `service name is not usable as a host name: ${labels}`;
  if (defaultHost.length > MAX_HOSTNAME) {
    return `default host ${defaultHost} is ${defaultHost.length} characters long (max ${MAX_HOSTNAME})`;
  }
  return undefined;
}

/** What one Consul service is on its own: its lowercase name when routed and usable, and why not. */
export interface ServiceVerdict {
  /** Lowercase app name; absent when the service is not routed or its name is unusable. */
  name?: string;
  /** With `name`: the lowest CreateIndex of its usable instances (Infinity: none known), and how many are usable. */
  registered?: number;
  usable?: number;
  rejections: Rejection[];
}

/** What one service is on its own: depends on this service's own data and the settings only (memoized per service). */
export function serviceVerdict(
  original: string,
  instances: ServiceInstance[],
  settings: ModelSettings,
  defaultHostOf: (name: string) => string,
): ServiceVerdict {
  const rejections: Rejection[] = [];
  const routing = routingOf(original, instances, settings);
  if (routing !== 'routed') {
    // Someone clearly meant to expose this service: say why it did not happen.
    if (routing === 'unrouted') {
      for (const [tag, reason] of badFlagTags(instances, 'expose', settings)) {
        rejections.push(reject('tag', original, tag, `${reason}; service not routed`));
      }
    }
    return { rejections };
  }
  const name = original.toLowerCase();
  if (name === ROUTER_SERVICE) {
    rejections.push(
      reject('service', original, original, `the name ${ROUTER_SERVICE} is the routers' own service in Consul (their peers registrations); service not routed`),
    );
    return { rejections };
  }
  const problem =
    serviceNameProblem(name, defaultHostOf(name)) ??
    // The original is checked too: U+212A KELVIN SIGN lowercases to an ASCII "k".
    (/[^\x00-\x7f]/.test(original) ? 'service name has non-ASCII characters (not usable in a host name)' : undefined);
  if (problem) {
    rejections.push(reject('service', original, original, `${problem}; service not routed`));
    return { rejections };
  }
  const usable = instances.filter((i) => addressProblem(i.address) === undefined && portProblem(i.port) === undefined);
  return { name, registered: firstCreateIndex(usable), usable: usable.length, rejections };
}

/**
 * Consul matches service names case-insensitively, so `Web` and `web` are one name: one app, held
 * by the routed service registered first (the lowest CreateIndex of its usable instances), then
 * the one with more usable instances, then code-unit order (callers sort a list already in that
 * order, and the sort is stable). Unusable instances (bad address or port) do not count: an
 * instance the router skips anyway never moves the name to another service.
 */
export function holderOrder(a: ServiceVerdict, b: ServiceVerdict): number {
  return numCmp(a.registered ?? Infinity, b.registered ?? Infinity) || (b.usable ?? 0) - (a.usable ?? 0);
}

function addressProblem(address: unknown): string | undefined {
  if (typeof address !== 'string' || address === '') return 'empty address';
  if (address.length > MAX_ADDRESS) return `address is ${address.length} characters long (max ${MAX_ADDRESS})`;
  if (/[^A-Za-z0-9.:-]/.test(address)) {
    return `invalid address "${safeText(address, 64)}": only A-Z a-z 0-9 . : - are allowed`;
  }
  // Not an IP literal, so HAProxy resolves it as a host name: `-a` cannot be printed unquoted,
  // `a..b` makes `haproxy -c` fail, `10.0.0.1:80` is no address at all.
  if (isIP(address) === 0 && !HOST_ADDRESS_RE.test(address)) {
    return `invalid address "${safeText(address, 64)}": neither an IP address nor a host name (letters, digits and "-" in dot-separated labels, starting with a letter or digit)`;
  }
  return undefined;
}

function portProblem(port: unknown): string | undefined {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : `port ${safeText(String(port), 32)} outside 1..65535`;
}

/** HAProxy server names allow [A-Za-z0-9_.:-]; validated addresses already fit, the map is defensive. */
export function serverName(address: string, port: number): string {
  return `${address}:${port}`.replace(/[^A-Za-z0-9_.:-]/g, '_');
}

/**
 * One server per distinct address:port. Instances must arrive sorted (compareInstances): the first
 * keeps its ServiceID, and the server is passing when any duplicate passes. `usable` are the
 * instances that were not skipped (in the same order).
 */
export function buildServers(
  app: string,
  instances: ServiceInstance[],
  settings: Pick<ModelSettings, 'ownEndpoints' | 'localAddresses' | 'backendNetworks'> = {},
): { servers: ServerRoute[]; usable: ServiceInstance[]; rejections: Rejection[] } {
  const rejections: Rejection[] = [];
  const usable: ServiceInstance[] = [];
  // Built here, then handed out read-only.
  const byEndpoint = new Map<string, { -readonly [K in keyof ServerRoute]: ServerRoute[K] }>();
  for (const inst of instances) {
    // The node's own services and addresses outside haproxy.backend_networks: never published.
    const problem = addressProblem(inst.address) ?? portProblem(inst.port) ?? endpointProblem(inst.address, inst.port, settings);
    if (problem) {
      rejections.push(reject('service', app, inst.id, `instance skipped: ${problem}`));
      continue;
    }
    usable.push(inst);
    // Host names and IPv6 hex digits are case-insensitive: `Node1:80` and `node1:80` are one server.
    const endpoint = `${inst.address.toLowerCase()}:${inst.port}`;
    const existing = byEndpoint.get(endpoint);
    if (existing) {
      existing.passing ||= inst.passing;
      continue;
    }
    byEndpoint.set(endpoint, {
      name: serverName(inst.address, inst.port),
      id: inst.id,
      address: inst.address,
      port: inst.port,
      passing: inst.passing,
    });
  }
  // Names are unique by construction (the port is the digits after the last ':'); keep a guard anyway.
  const used = new Set<string>();
  const servers = [...byEndpoint.values()].sort((a, b) => cmp(a.name, b.name) || cmp(a.id, b.id));
  for (const s of servers) {
    let name = s.name;
    for (let n = 2; used.has(name); n++) name = `${s.name}_${n}`;
    used.add(name);
    s.name = name;
  }
  return { servers: servers.sort((a, b) => cmp(a.name, b.name)), usable, rejections };
}

/** Earliest registration of a service: orders competing tcp ports. Missing index sorts last. */
export function firstCreateIndex(instances: ServiceInstance[]): number {
  let min = Infinity;
  for (const i of instances) {
    if (typeof i.createIndex === 'number' && Number.isFinite(i.createIndex) && i.createIndex < min) min = i.createIndex;
  }
  return min;
}
