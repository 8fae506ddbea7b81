// The routing model: pure composition of services → apps, tags → settings, K/V → custom hosts.
//
// Built in stages so that a change costs what changed (DESIGN §2, "Cost follows the change"):
// - per service (`serviceStage`): name, servers, tags → the app as if it won its name;
// - per K/V key (`parseClaim`): the service the key names and the FQDNs of its value;
// - global (`resolveStructure`): name collisions, tcp ports, domain claims, the host list;
// - assembly: the apps with their hosts, the rejections.
// A ModelMemo (incremental.ts) reuses every stage whose input did not change; without one,
// buildModel starts from an empty memo: one implementation, from scratch or incremental.
import type { AppMode, AppRoute, HostRoute, ModelInput, ModelSettings, Rejection, RoutingModel } from './types.js';
import type { ServiceInstance } from '../sources/types.js';
import { parseClaim, resolveParsedClaims, type ParsedClaim } from './domains.js';
import { ModelMemo } from './incremental.js';
import { resolveTcpPorts, type TcpClaim } from './ports.js';
import { finishRejections } from './rejections.js';
import { buildServers, collisionRejections, compareInstances, firstCreateIndex, serviceVerdict, type ServiceVerdict } from './services.js';
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

export function backendName(name: string): string {
  return `app_${name}`;
}

/** One Consul service on its own. Depends on (name, instances, settings) only: memoized per service. */
export interface ServiceStage {
  verdict: ServiceVerdict;
  /** The app (hosts still empty) if this service wins its lowercase name; absent when not routable. */
  draft?: AppRoute;
  /** Instance and tag rejections: reported only for the service that wins its name. */
  appRejections: Rejection[];
  /** A tcp app's claim on its port. */
  tcp?: TcpClaim;
}

export function serviceStage(original: string, instances: ServiceInstance[], settings: ModelSettings): ServiceStage {
  const verdict = serviceVerdict(original, instances, settings, (name) => defaultHost(name, settings));
  const name = verdict.name;
  if (name === undefined) return { verdict, appRejections: [] };
  const sorted = [...instances].sort(compareInstances);
  const { servers, usable, rejections: serverRejections } = buildServers(name, sorted);
  // A skipped instance (unusable address or port) takes no part in the tag vote or in the
  // app's claim on a tcp port: one bad registration cannot flip the app or take another's port.
  const tags = resolveTags(name, usable, settings);
  const appRejections = [...serverRejections, ...tags.rejections];
  if (!tags.routable) return { verdict, appRejections };
  const t = tags.settings;
  // Field order follows types.ts so JSON dumps (status page, golden files) read naturally.
  const draft: AppRoute = {
    name,
    backend: backendName(name),
    mode: t.mode,
    ...(t.port !== undefined ? { port: t.port } : {}),
    balance: t.balance,
    ...(t.healthcheck !== undefined ? { healthcheck: t.healthcheck } : {}),
    httpsOnly: t.httpsOnly,
    sticky: t.sticky,
    ...(t.maxconn !== undefined ? { maxconn: t.maxconn } : {}),
    ...(t.timeoutServer !== undefined ? { timeoutServer: t.timeoutServer } : {}),
    ...(t.mode === 'http' ? { defaultHost: defaultHost(name, settings) } : {}),
    hosts: [],
    servers,
  };
  const tcp = draft.mode === 'tcp' && draft.port !== undefined ? { app: name, port: draft.port, createIndex: firstCreateIndex(usable) } : undefined;
  return { verdict, draft, appRejections, ...(tcp ? { tcp } : {}) };
}

/** The global stage's result: which services are apps, and every host. */
export interface ModelStructure {
  /**
   * Every routable app, sorted by name: the Consul service (original name) that won it, and that
   * service's position in the stages the structure was resolved from (the same while it is kept).
   */
  apps: { name: string; original: string; index: number }[];
  /** Positions (in the stages) of the services that won their name, routable or not: their appRejections are reported. */
  winners: number[];
  /** App name → every host routed to it (default first, then custom FQDNs sorted). */
  hostsOf: Map<string, string[]>;
  /** Sorted by host. */
  hosts: HostRoute[];
  /** Collisions, tcp ports, domains. */
  rejections: Rejection[];
}

/** `stages` in code-unit order of the original names; `claims` in compareClaims order. */
export function resolveStructure(stages: [string, ServiceStage][], claims: ParsedClaim[], settings: ModelSettings): ModelStructure {
  const rejections: Rejection[] = [];
  const byName = new Map<string, string[]>();
  const indexOf = new Map(stages.map(([original], i) => [original, i]));
  for (const [original, stage] of stages) {
    const name = stage.verdict.name;
    if (name !== undefined) byName.set(name, [...(byName.get(name) ?? []), original]);
  }
  const winners: number[] = [];
  const drafts: { name: string; original: string; index: number; stage: ServiceStage }[] = [];
  const tcpClaims: TcpClaim[] = [];
  for (const [name, originals] of [...byName].sort((a, b) => cmp(a[0], b[0]))) {
    const [winner, ...losers] = originals; // already in code-unit order
    rejections.push(...collisionRejections(name, winner!, losers));
    const index = indexOf.get(winner!)!;
    winners.push(index);
    const stage = stages[index]![1];
    if (!stage.draft) continue;
    if (stage.tcp) tcpClaims.push(stage.tcp);
    drafts.push({ name, original: winner!, index, stage });
  }

  const ports = resolveTcpPorts(tcpClaims);
  rejections.push(...ports.rejections);
  const apps = drafts.filter((a) => a.stage.draft!.mode === 'http' || ports.winners.has(a.name));

  const modes = new Map<string, AppMode>(apps.map((a) => [a.name, a.stage.draft!.mode]));
  const domains = resolveParsedClaims(claims, modes, clusterDomain(settings));
  rejections.push(...domains.rejections);

  const hosts: HostRoute[] = [];
  const hostsOf = new Map<string, string[]>();
  for (const { name, stage } of apps) {
    const draft = stage.draft!;
    if (draft.defaultHost === undefined) continue;
    const own = [draft.defaultHost];
    hosts.push({ host: draft.defaultHost, backend: draft.backend, app: name, source: 'default' });
    for (const custom of domains.hosts.get(name) ?? []) {
      hosts.push({ host: custom.host, backend: draft.backend, app: name, source: 'kv', key: custom.key });
      own.push(custom.host);
    }
    hostsOf.set(name, own);
  }
  return {
    apps: apps.map(({ name, original, index }) => ({ name, original, index })),
    winners,
    hostsOf,
    hosts: hosts.sort((a, b) => cmp(a.host, b.host)),
    rejections,
  };
}

/**
 * The routing model of `input`. With a `memo` kept from the previous build, only the stages whose
 * input changed run again; the result is the same as without one (a property test holds it).
 */
export function buildModel(input: ModelInput, memo: ModelMemo = new ModelMemo()): RoutingModel {
  const { settings } = input;
  memo.begin(settings);
  const stages: [string, ServiceStage][] = memo.sortedNames(input.services).map((original) => {
    const instances = input.services[original] ?? [];
    return [original, memo.service(original, instances, () => serviceStage(original, instances, settings))];
  });
  const claims = memo.claims(input.claims, (claim) => parseClaim(claim, settings));
  const structure = memo.structure(stages, claims, () => resolveStructure(stages, claims, settings));
  const apps = structure.apps.map(({ name, index }) => memo.app(name, stages[index]![1].draft!, structure.hostsOf.get(name) ?? []));
  // Only lists with something in them: most services have nothing to report.
  const lists: Rejection[][] = [structure.rejections];
  for (const [, stage] of stages) if (stage.verdict.rejections.length > 0) lists.push(stage.verdict.rejections);
  for (const index of structure.winners) {
    const found = stages[index]![1].appRejections;
    if (found.length > 0) lists.push(found);
  }
  return { apps, hosts: structure.hosts, rejections: memo.rejections(lists, finishRejections) };
}
