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
import { applyAuth } from './auth.js';
import { applyMaintenance, checkRedirects } from './features.js';
import { resolveGroups, type Draft } from './groups.js';
import { ModelMemo } from './incremental.js';
import { resolveTcpPorts, type TcpClaim } from './ports.js';
import { finishRejections } from './rejections.js';
import { buildServers, collisionRejections, compareInstances, firstCreateIndex, holderOrder, serviceVerdict, type ServiceVerdict } from './services.js';
import { edgeFields, resolveTags, type AppSettings } from './tags.js';
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

/** One Consul service on its own. Depends on (name, instances, settings) only: memoized per service. */
export interface ServiceStage {
  verdict: ServiceVerdict;
  /** The app (hosts still empty) if this service wins its lowercase name; absent when not routable. */
  draft?: AppRoute;
  /** Instance and tag rejections: reported only for the service that wins its name. */
  appRejections: Rejection[];
  /** A tcp app's claim on its port. */
  tcp?: TcpClaim;
  /** What the tags decided (router.group included): groups compare their members' settings. */
  tags?: AppSettings;
  /** min(instance.createIndex) of the usable instances. */
  createIndex?: number;
}

export function serviceStage(original: string, instances: ServiceInstance[], settings: ModelSettings): ServiceStage {
  const verdict = serviceVerdict(original, instances, settings, (name) => defaultHost(name, settings));
  const name = verdict.name;
  if (name === undefined) return { verdict, appRejections: [] };
  const sorted = [...instances].sort(compareInstances);
  const { servers, usable, rejections: serverRejections } = buildServers(name, sorted, settings);
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
    ...edgeFields(t),
    ...(t.mode === 'http' ? { defaultHost: defaultHost(name, settings) } : {}),
    hosts: [],
    servers,
    ...(t.redirect !== undefined ? { redirect: t.redirect } : {}),
    ...(t.allow !== undefined ? { allow: t.allow } : {}),
    ...(t.path !== undefined ? { path: t.path, stripPath: t.stripPath === true } : {}),
    // Until applyAuth gives it its users (every build), a router.auth app is one that answers 503.
    ...(t.auth !== undefined ? { auth: { realm: t.auth, path: '', users: [], failure: 'no-entry' as const } } : {}),
  };
  const createIndex = firstCreateIndex(usable);
  // A member of a router.group claims no port of its own: its group does.
  const tcp = draft.mode === 'tcp' && draft.port !== undefined && t.group === undefined ? { app: name, port: draft.port, createIndex } : undefined;
  return { verdict, draft, appRejections, tags: t, createIndex, ...(tcp ? { tcp } : {}) };
}

/** The global stage's result: which services are apps, and every host. */
export interface ModelStructure {
  /**
   * Every routable app, sorted by name: the Consul service (original name) that won it, and that
   * service's position in the stages the structure was resolved from (the same while it is kept).
   */
  apps: { name: string; original: string; index: number; members?: number[] }[];
  /** Member app → its group (accepted or not): members are never routed on their own. */
  memberOf: Map<string, string>;
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
    // `originals` are in code-unit order; the stable sort keeps it for ties.
    const [winner, ...losers] = [...originals].sort((a, b) => holderOrder(stages[indexOf.get(a)!]![1].verdict, stages[indexOf.get(b)!]![1].verdict));
    rejections.push(...collisionRejections(name, winner!, losers));
    const index = indexOf.get(winner!)!;
    winners.push(index);
    const stage = stages[index]![1];
    if (!stage.draft) continue;
    if (stage.tcp) tcpClaims.push(stage.tcp);
    drafts.push({ name, original: winner!, index, stage });
  }

  // router.group: the members become one route named after the group (weights come later, in
  // buildModel: they change no structure). Which groups stand, and why not, is decided here.
  const grouped = resolveGroups(
    drafts.map((d) => toDraft(d.stage)),
    [],
    settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX,
    (name) => defaultHost(name, settings),
  );
  rejections.push(...grouped.rejections);
  const groupRoutes = new Map(grouped.routes.filter((r) => r.app.members !== undefined).map((r) => [r.app.name, r]));
  const entries: { name: string; original: string; index: number; members?: number[]; draft: AppRoute }[] = [];
  for (const d of drafts) if (!grouped.memberOf.has(d.name)) entries.push({ name: d.name, original: d.original, index: d.index, draft: d.stage.draft! });
  for (const [name, route] of groupRoutes) {
    const members = drafts.filter((d) => grouped.memberOf.get(d.name) === name).map((d) => d.index);
    entries.push({ name, original: name, index: -1, members, draft: route.app });
    if (route.app.mode === 'tcp' && route.app.port !== undefined) tcpClaims.push({ app: name, port: route.app.port, createIndex: route.createIndex });
  }
  entries.sort((a, b) => cmp(a.name, b.name));

  const ports = resolveTcpPorts(tcpClaims);
  rejections.push(...ports.rejections);
  const apps = entries.filter((a) => a.draft.mode === 'http' || ports.winners.has(a.name));

  const modes = new Map<string, AppMode>(apps.map((a) => [a.name, a.draft.mode]));
  const paths = new Map(apps.flatMap((a) => (a.draft.path !== undefined ? [[a.name, a.draft.path] as const] : [])));
  const domains = resolveParsedClaims(claims, modes, clusterDomain(settings), grouped.memberOf, paths, settings.domainsPrefix);
  rejections.push(...domains.rejections);

  const hosts: HostRoute[] = [];
  const hostsOf = new Map<string, string[]>();
  for (const { name, draft } of apps) {
    if (draft.defaultHost === undefined) continue;
    const own = [draft.defaultHost];
    const path = draft.path !== undefined ? { path: draft.path } : {};
    hosts.push({ host: draft.defaultHost, backend: draft.backend, app: name, source: 'default', ...path });
    for (const custom of domains.hosts.get(name) ?? []) {
      hosts.push({ host: custom.host, backend: draft.backend, app: name, source: 'kv', key: custom.key, ...path });
      own.push(custom.host);
    }
    hostsOf.set(name, own);
  }
  return {
    apps: apps.map(({ name, original, index, members }) => ({ name, original, index, ...(members ? { members } : {}) })),
    memberOf: grouped.memberOf,
    winners,
    hostsOf,
    hosts: hosts.sort((a, b) => cmp(a.host, b.host) || cmp(a.path ?? '', b.path ?? '')),
    rejections,
  };
}

function toDraft(stage: ServiceStage): Draft {
  return { app: stage.draft!, tags: stage.tags!, createIndex: stage.createIndex ?? Infinity };
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
  // Group routes are assembled on every build from their members' current servers and the weights
  // (cheap, and only for groups); their structure (members, hosts) comes from the memoized stage.
  const featureRejections: Rejection[] = [];
  const groupOf = (members: number[]): AppRoute => {
    const built = resolveGroups(
      members.map((i) => toDraft(stages[i]![1])),
      input.weights ?? [],
      settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX,
      (name) => defaultHost(name, settings),
    );
    featureRejections.push(...built.rejections.filter((r) => r.kind === 'weight'));
    return built.routes[0]!.app;
  };
  const assembled = structure.apps.map(({ name, index, members }) =>
    members ? memo.app(name, groupOf(members), structure.hostsOf.get(name) ?? []) : memo.app(name, stages[index]![1].draft!, structure.hostsOf.get(name) ?? []),
  );
  // Redirect targets and maintenance pages: copies where they change an app, the memo's objects stay as they are.
  const apps = assembled.map((app) =>
    app.redirect !== undefined || app.members !== undefined || app.auth !== undefined || (input.maintenance?.length ?? 0) > 0 ? { ...app } : app,
  );
  featureRejections.push(...checkRedirects(apps));
  featureRejections.push(...applyAuth(apps, settings.authPrefix, input.auth));
  featureRejections.push(...applyMaintenance(apps, input.maintenance ?? [], settings.maintenancePrefix ?? DEFAULT_MAINTENANCE_PREFIX, structure.memberOf));
  // Weights of no group at all are reported too.
  if ((input.weights?.length ?? 0) > 0) {
    const orphan = resolveGroups([], input.weights ?? [], settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX, (name) => defaultHost(name, settings));
    const groups = new Set(structure.memberOf.values());
    featureRejections.push(...orphan.rejections.filter((r) => !groups.has(r.service)));
  }
  // Only lists with something in them: most services have nothing to report.
  const lists: Rejection[][] = [structure.rejections];
  if (featureRejections.length > 0) lists.push(featureRejections);
  for (const [, stage] of stages) if (stage.verdict.rejections.length > 0) lists.push(stage.verdict.rejections);
  for (const index of structure.winners) {
    const found = stages[index]![1].appRejections;
    if (found.length > 0) lists.push(found);
  }
  return { apps, hosts: structure.hosts, rejections: memo.rejections(lists, finishRejections) };
}
