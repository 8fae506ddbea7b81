// The routing model: pure composition of services → apps, tags → settings, K/V → custom hosts.
//
// Built in stages so that a change costs what changed (DESIGN §2, "Cost follows the change"):
// - per service (`serviceStage`): name, servers, tags → the app as if it won its name;
// - per K/V key (`parseClaim`): the service the key names and the FQDNs of its value;
// - global (`resolveStructure`): name collisions, tcp ports, domain claims, the host list;
// - assembly: the apps with their hosts, the rejections.
// A ModelMemo (incremental.ts) reuses every stage whose input did not change; without one,
// buildModel starts from an empty memo: one implementation, from scratch or incremental.
import type { AppMode, AppRoute, HostRoute, ModelInput, ModelSettings, OwnedName, Rejection, RoutingModel } from './types.js';
import type { ServiceInstance } from '../sources/types.js';
import { parseClaim, resolveParsedClaims, type ParsedClaim } from './domains.js';
import { applyAuth } from './auth.js';
import { applyMaintenance, checkRedirects } from './features.js';
import { applyCacheBudget, DEFAULT_CACHE_MAX_MB } from './cache-budget.js';
import { disagreement, groupRoute, readWeights, type Draft, type GroupWeights } from './groups.js';
import { backendName } from './backend.js';
import {
  byRegistration,
  claimKey,
  compareOwned,
  decideOwner,
  heldBy,
  readClaimRecords,
  DEFAULT_CLAIMS_PREFIX,
  DEFAULT_PATHS_PREFIX,
  type Asker,
  type ClaimRecord,
} from './claims.js';
import { parseDelegations, type Delegations } from './delegations.js';
import { reject } from './rejections.js';
import { ModelMemo } from './incremental.js';
import { finishRejections } from './rejections.js';
import { buildServers, compareInstances, firstCreateIndex, holderOrder, serviceVerdict, type ServiceVerdict } from './services.js';
import { edgeFields, resolveTags, type AppSettings } from './tags.js';
import { tenantFields } from './tenant-tags.js';
import { cmp, safeText } from './text.js';

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

export { backendName };

/** One Consul service on its own. Depends on (name, instances, settings) only: memoized per service. */
export interface ServiceStage {
  verdict: ServiceVerdict;
  /** The app (hosts still empty) if this service wins its lowercase name; absent when not routable. */
  draft?: AppRoute;
  /** Instance and tag rejections: reported only for the service that wins its name. */
  appRejections: Rejection[];
  /** A tcp app's claim on its port. */
  tcp?: { app: string; port: number; createIndex: number };
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
    ...(t.rateLimit !== undefined ? { rateLimit: t.rateLimit } : {}),
    ...tenantFields(t),
  };
  const createIndex = firstCreateIndex(usable);
  // A member of a router.group claims no port of its own: its group does.
  const tcp = draft.mode === 'tcp' && draft.port !== undefined && t.group === undefined ? { app: name, port: draft.port, createIndex } : undefined;
  return { verdict, draft, appRejections, tags: t, createIndex, ...(tcp ? { tcp } : {}) };
}

/** The ownership inputs of a build (K/V records, delegations, weights keys), parsed once per change. */
export interface Ownership {
  records: Map<string, ClaimRecord>;
  delegations: Delegations;
  weights: Map<string, GroupWeights>;
  /** Bad records, delegations and weights keys. */
  rejections: Rejection[];
}

export function readOwnership(input: Pick<ModelInput, 'claimRecords' | 'delegations' | 'weights'>, settings: ModelSettings): Ownership {
  const records = readClaimRecords(input.claimRecords ?? [], settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX);
  const delegations = parseDelegations(input.delegations ?? [], settings.pathsPrefix ?? DEFAULT_PATHS_PREFIX);
  const weights = readWeights(input.weights ?? [], settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX);
  return {
    records: records.records,
    delegations: delegations.delegations,
    weights: weights.byGroup,
    rejections: [...records.rejections, ...delegations.rejections, ...weights.rejections],
  };
}

/** The global stage's result: which services are apps, and every host. */
export interface ModelStructure {
  /**
   * Every routable app, sorted by name: the Consul service (original name) that won it, and that
   * service's position in the stages the structure was resolved from (the same while it is kept).
   * A group has its members' positions, and the position of the member whose settings it takes.
   */
  apps: { name: string; original: string; index: number; members?: number[]; reference?: number }[];
  /** Member app → its group (admitted or not): members are never routed on their own. */
  memberOf: Map<string, string>;
  /** Positions (in the stages) of the services that hold their name, routable or not: their appRejections are reported. */
  winners: number[];
  /** App name → every host routed to it (default first, then custom FQDNs sorted). */
  hostsOf: Map<string, string[]>;
  /** Sorted by host. */
  hosts: HostRoute[];
  /** Names, groups, tcp ports, domains. */
  rejections: Rejection[];
  /** Every shared name asked for or recorded, sorted by key. */
  owners: OwnedName[];
}

interface NameAsk extends Asker {
  index: number;
  stage: ServiceStage;
}

/** Standalone services before groups; then who registered first (holderOrder), then code-unit order. */
function askOrder(a: NameAsk, b: NameAsk): number {
  if ((a.as === 'group') !== (b.as === 'group')) return a.as === 'group' ? 1 : -1;
  return holderOrder(a.stage.verdict, b.stage.verdict) || cmp(a.claimant, b.claimant);
}

/** `stages` in code-unit order of the original names; `claims` in compareClaims order. */
export function resolveStructure(stages: [string, ServiceStage][], claims: ParsedClaim[], settings: ModelSettings, own: Ownership): ModelStructure {
  const prefix = settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX;
  const rejections: Rejection[] = [...own.rejections];
  const owners: OwnedName[] = [];

  // Names: every service asks for its own; a member of router.group=<g> also asks for <g>.
  const asks = new Map<string, NameAsk[]>();
  const ask = (name: string, a: NameAsk) => asks.set(name, [...(asks.get(name) ?? []), a]);
  for (const [index, [original, stage]] of stages.entries()) {
    const name = stage.verdict.name;
    if (name === undefined) continue;
    const group = stage.draft ? stage.tags?.group : undefined;
    if (group !== name) ask(name, { claimant: original, index, stage });
    if (group !== undefined) ask(group, { claimant: original, as: 'group', index, stage });
  }
  const winners = new Set<number>();
  const standalone: { name: string; original: string; index: number; stage: ServiceStage }[] = [];
  const groups: { name: string; members: NameAsk[]; owner: string }[] = [];
  const memberOf = new Map<string, string>();
  // A service that does not hold its own name (a case variant of another's) joins no group either:
  // decided first from the standalone asks, then the groups are decided without it.
  const ownName = new Set<number>();
  for (const [name, list] of asks) {
    const held = decideOwner('name', name, prefix, [...list].sort(askOrder), own.records.get(claimKey(prefix, 'name', name)));
    const holder = held?.as === undefined ? list.find((a) => a.as === undefined && a.claimant === held?.owner) : undefined;
    if (holder) ownName.add(holder.index);
  }
  // A member named like its group asks for no name of its own: nothing to lose.
  for (const [index, [, stage]] of stages.entries()) if (stage.tags?.group !== undefined && stage.tags.group === stage.verdict.name) ownName.add(index);
  for (const [name, all] of [...asks].sort((a, b) => cmp(a[0], b[0]))) {
    const list = all.filter((a) => a.as !== 'group' || ownName.has(a.index)).sort(askOrder);
    if (list.length === 0) continue;
    const record = own.records.get(claimKey(prefix, 'name', name));
    const weights = own.weights.get(name);
    const groupAsks = list.filter((a) => a.as === 'group' && a.stage.draft);
    for (const a of groupAsks) memberOf.set(a.stage.verdict.name!, name);
    const admittedBy = (owner: string) => new Set([owner, ...(record?.value?.members ?? []), ...(weights?.admitted ?? [])]);
    const held = decideOwner(
      'name',
      name,
      prefix,
      list,
      record,
      (owner, as) => {
        if (as !== 'group') return list.some((a) => a.claimant === owner && a.as === undefined);
        const admitted = admittedBy(owner);
        return groupAsks.some((a) => admitted.has(a.claimant) || admitted.has(a.stage.verdict.name!));
      },
      groupAsks.map((a) => a.claimant),
    )!;
    owners.push(held);
    // While nothing is recorded every member that asks is admitted (today's members are recorded).
    const admitted = held.record?.valid ? admittedBy(held.owner) : new Set(groupAsks.map((a) => a.claimant));
    const isAdmitted = (a: NameAsk) => admitted.has(a.claimant) || admitted.has(a.stage.verdict.name!);
    for (const a of list) {
      const holds = held.ownerAsks && (held.as === 'group' ? a.as === 'group' && isAdmitted(a) : a.as === undefined && a.claimant === held.owner);
      if (holds) {
        if (a.as === undefined) {
          winners.add(a.index);
          if (a.stage.draft && a.stage.tags?.group === undefined) standalone.push({ name, original: a.claimant, index: a.index, stage: a.stage });
        }
        continue;
      }
      if (a.as === 'group') {
        if (!a.stage.draft) continue;
        const why =
          held.as === 'group' && held.ownerAsks
            ? `app ${a.claimant} is not admitted to group ${name}: the group belongs to app ${held.owner}, which admits members by listing them in ${settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX}${name}`
            : heldBy(held, `name ${name}`);
        rejections.push(reject('group', a.stage.verdict.name!, name, `${why}; app not routed`));
      } else if (held.as === undefined && held.ownerAsks && held.owner.toLowerCase() === a.claimant.toLowerCase()) {
        rejections.push(
          reject(
            'service',
            a.claimant,
            a.claimant,
            `service name "${safeText(a.claimant)}" is the same as "${safeText(held.owner)}" to Consul (service names are case-insensitive), which ${held.record?.valid ? `holds the name (recorded in ${held.key})` : 'was registered first'}; "${safeText(held.owner)}" is routed as ${name}`,
          ),
        );
      } else rejections.push(reject('service', a.claimant, a.claimant, `${heldBy(held, `name ${name}`)}; service not routed`));
    }
    if (held.as === 'group' && held.ownerAsks) {
      const members = groupAsks.filter(isAdmitted);
      if (members.length > 0) groups.push({ name, members, owner: held.owner });
    }
  }

  // Groups: the owner's settings (or the first admitted member's while the owner is away) decide.
  const entries: { name: string; original: string; index: number; members?: number[]; reference?: number; draft: AppRoute; createIndex: number }[] = [];
  for (const s of standalone)
    entries.push({ name: s.name, original: s.original, index: s.index, draft: s.stage.draft!, createIndex: s.stage.createIndex ?? Infinity });
  for (const g of groups) {
    const sorted = [...g.members].sort((a, b) => cmp(a.stage.verdict.name!, b.stage.verdict.name!));
    const reference = sorted.find((m) => m.claimant === g.owner) ?? sorted[0]!;
    const host = defaultHost(g.name, settings);
    if (host.length > 253) {
      for (const m of sorted)
        rejections.push(
          reject('group', m.stage.verdict.name!, g.name, `group ${g.name}: default host ${host} is longer than 253 characters; the group is not routed`),
        );
      continue;
    }
    const members: NameAsk[] = [];
    for (const m of sorted) {
      const why = m === reference ? undefined : disagreement(toDraft(reference.stage), toDraft(m.stage));
      if (why)
        rejections.push(
          reject(
            'group',
            m.stage.verdict.name!,
            g.name,
            `${why}: every app of group ${g.name} must have its router.* settings; app not routed, the group is served without it`,
          ),
        );
      else members.push(m);
    }
    for (const m of members) winners.add(m.index);
    const built = groupRoute(
      g.name,
      members.map((m) => toDraft(m.stage)),
      toDraft(reference.stage),
      undefined,
      host,
    );
    entries.push({
      name: g.name,
      original: g.name,
      index: -1,
      members: members.map((m) => m.index),
      reference: reference.index,
      draft: built.route.app,
      createIndex: built.route.createIndex,
    });
  }
  // Weights keys of no group at all.
  const asked = new Set(memberOf.values());
  for (const [group, w] of own.weights) {
    if (!asked.has(group))
      rejections.push(reject('weight', group, w.entry.key, `no app has router.group=${safeText(group)}: these weights apply to nothing`, w.entry.key));
  }
  entries.sort((a, b) => cmp(a.name, b.name));

  // tcp ports: the recorded owner, or the app registered first while nothing is recorded.
  const byPort = new Map<number, typeof entries>();
  for (const e of entries) if (e.draft.mode === 'tcp' && e.draft.port !== undefined) byPort.set(e.draft.port, [...(byPort.get(e.draft.port) ?? []), e]);
  const portWinners = new Set<string>();
  for (const [port, list] of [...byPort].sort((a, b) => a[0] - b[0])) {
    list.sort((a, b) => byRegistration({ createIndex: a.createIndex, name: a.name }, { createIndex: b.createIndex, name: b.name }));
    const held = decideOwner(
      'port',
      String(port),
      prefix,
      list.map((e) => ({ claimant: e.name })),
      own.records.get(claimKey(prefix, 'port', String(port))),
    )!;
    owners.push(held);
    for (const e of list) {
      if (held.ownerAsks && e.name === held.owner) portWinners.add(e.name);
      else {
        const why =
          held.record?.valid || !held.ownerAsks ? heldBy(held, `port ${port}`) : `port ${port} is already used by tcp app ${held.owner}, registered first`;
        rejections.push(reject('conflict', e.name, `router.port=${port}`, `${why}; app not routed`));
      }
    }
  }
  const apps = entries.filter((a) => a.draft.mode === 'http' || portWinners.has(a.name));

  const modes = new Map<string, AppMode>(apps.map((a) => [a.name, a.draft.mode]));
  const paths = new Map(apps.flatMap((a) => (a.draft.path !== undefined ? [[a.name, a.draft.path] as const] : [])));
  const domains = resolveParsedClaims(claims, modes, clusterDomain(settings), memberOf, paths, settings.domainsPrefix, {
    records: own.records,
    delegations: own.delegations,
    claimsPrefix: prefix,
    pathsPrefix: settings.pathsPrefix ?? DEFAULT_PATHS_PREFIX,
  });
  rejections.push(...domains.rejections);
  owners.push(...domains.owners);

  // Records nobody asks for any more: the recorder marks them idle, then releases them.
  const seen = new Set(owners.map((o) => o.key));
  for (const record of own.records.values()) {
    if (seen.has(record.key)) continue;
    const idle = decideOwner(record.kind, record.name, prefix, [], record);
    if (idle) owners.push(idle);
  }

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
    apps: apps.map(({ name, original, index, members, reference }) => ({
      name,
      original,
      index,
      ...(members ? { members } : {}),
      ...(reference !== undefined ? { reference } : {}),
    })),
    memberOf,
    winners: [...winners].sort((a, b) => a - b),
    hostsOf,
    hosts: hosts.sort((a, b) => cmp(a.host, b.host) || cmp(a.path ?? '', b.path ?? '')),
    rejections,
    owners: owners.sort(compareOwned),
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
  const own = memo.ownership(input, () => readOwnership(input, settings));
  const structure = memo.structure(stages, claims, own, () => resolveStructure(stages, claims, settings, own));
  // Group routes are assembled on every build from their members' current servers and the weights
  // (cheap, and only for groups); their structure (members, hosts) comes from the memoized stage.
  const featureRejections: Rejection[] = [];
  const groupOf = (name: string, members: number[], reference: number): AppRoute => {
    const built = groupRoute(
      name,
      members.map((i) => toDraft(stages[i]![1])),
      toDraft(stages[reference]![1]),
      own.weights.get(name),
      defaultHost(name, settings),
    );
    featureRejections.push(...built.rejections);
    return built.route.app;
  };
  const assembled = structure.apps.map(({ name, index, members, reference }) =>
    members
      ? memo.app(name, groupOf(name, members, reference!), structure.hostsOf.get(name) ?? [])
      : memo.app(name, stages[index]![1].draft!, structure.hostsOf.get(name) ?? []),
  );
  // Redirect targets and maintenance pages: copies where they change an app, the memo's objects stay as they are.
  const apps = assembled.map((app) =>
    app.redirect !== undefined || app.members !== undefined || app.auth !== undefined || (input.maintenance?.length ?? 0) > 0 ? { ...app } : app,
  );
  featureRejections.push(...checkRedirects(apps));
  featureRejections.push(
    ...applyCacheBudget(apps, settings.cacheMaxSize ?? DEFAULT_CACHE_MAX_MB, structure.owners, settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX),
  );
  featureRejections.push(...applyAuth(apps, settings.authPrefix, input.auth));
  featureRejections.push(...applyMaintenance(apps, input.maintenance ?? [], settings.maintenancePrefix ?? DEFAULT_MAINTENANCE_PREFIX, structure.memberOf));
  // Only lists with something in them: most services have nothing to report.
  const lists: Rejection[][] = [structure.rejections];
  if (featureRejections.length > 0) lists.push(featureRejections);
  for (const [, stage] of stages) if (stage.verdict.rejections.length > 0) lists.push(stage.verdict.rejections);
  for (const index of structure.winners) {
    const found = stages[index]![1].appRejections;
    if (found.length > 0) lists.push(found);
  }
  return { apps, hosts: structure.hosts, rejections: memo.rejections(lists, finishRejections), owners: structure.owners };
}
