// The global stage of the model: who holds each name (apps and groups), which groups are served
// and with whom, who holds each tcp port, the custom domains, and the host list. Pure; memoized
// as a whole (incremental.ts) while its inputs are the same.
import type { AppMode, AppRoute, HostRoute, ModelSettings, OwnedName, Rejection } from './types.js';
import { resolveParsedClaims, type ParsedClaim } from './domains.js';
import { disagreement, groupRoute } from './groups.js';
import { byRegistration, claimKey, compareOwned, decideOwner, heldBy, DEFAULT_CLAIMS_PREFIX, DEFAULT_PATHS_PREFIX, type Asker } from './claims.js';
import { reject } from './rejections.js';
import { holderOrder } from './services.js';
import { cmp, safeText } from './text.js';
import { clusterDomain, defaultHost, toDraft, DEFAULT_WEIGHTS_PREFIX, type Ownership, type ServiceStage } from './stages.js';

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

/** What the phases of the global stage add to as they go. */
interface Resolution {
  rejections: Rejection[];
  owners: OwnedName[];
  /** Positions (in the stages) of the services that hold their name. */
  winners: Set<number>;
}

/** A service that holds its name and is no group's member: an app of its own. */
interface Standalone {
  name: string;
  original: string;
  index: number;
  stage: ServiceStage;
}

/** A group whose name its owner holds, with the members it admits. */
interface ServedGroup {
  name: string;
  members: NameAsk[];
  owner: string;
}

/** An app (standalone or group) before tcp ports are decided. */
interface Entry {
  name: string;
  original: string;
  index: number;
  members?: number[];
  reference?: number;
  draft: AppRoute;
  createIndex: number;
}

/** `stages` in code-unit order of the original names; `claims` in compareClaims order. */
export function resolveStructure(stages: [string, ServiceStage][], claims: ParsedClaim[], settings: ModelSettings, own: Ownership): ModelStructure {
  const prefix = settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX;
  const out: Resolution = { rejections: [...own.rejections], owners: [], winners: new Set() };
  const { rejections, owners, winners } = out;
  const names = resolveNames(stages, settings, own, prefix, out);
  const memberOf = names.memberOf;
  const apps = resolvePorts(servedEntries(names, settings, own, out), prefix, own, out);

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

/**
 * Names: every service asks for its own; a member of router.group=<g> also asks for <g>. Each
 * name goes to its holder (claims.ts); the losers are rejected with the reason.
 */
function resolveNames(
  stages: [string, ServiceStage][],
  settings: ModelSettings,
  own: Ownership,
  prefix: string,
  { rejections, owners, winners }: Resolution,
): { standalone: Standalone[]; groups: ServedGroup[]; memberOf: Map<string, string> } {
  const asks = new Map<string, NameAsk[]>();
  const ask = (name: string, a: NameAsk) => asks.set(name, [...(asks.get(name) ?? []), a]);
  for (const [index, [original, stage]] of stages.entries()) {
    const name = stage.verdict.name;
    if (name === undefined) continue;
    const group = stage.draft ? stage.tags?.group : undefined;
    if (group !== name) ask(name, { claimant: original, index, stage });
    if (group !== undefined) ask(group, { claimant: original, as: 'group', index, stage });
  }
  const standalone: Standalone[] = [];
  const groups: ServedGroup[] = [];
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
  return { standalone, groups, memberOf };
}

/**
 * The apps before tcp ports: every standalone app, and every served group with the members that
 * agree with its reference (the owner's settings, or the first admitted member's while the owner
 * is away). Sorted by name.
 */
function servedEntries(
  { standalone, groups, memberOf }: ReturnType<typeof resolveNames>,
  settings: ModelSettings,
  own: Ownership,
  { rejections, winners }: Resolution,
): Entry[] {
  const entries: Entry[] = [];
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
  return entries;
}

/** tcp ports: the recorded owner, or the app registered first while nothing is recorded. The apps that are served. */
function resolvePorts(entries: Entry[], prefix: string, own: Ownership, { rejections, owners }: Resolution): Entry[] {
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
  return entries.filter((a) => a.draft.mode === 'http' || portWinners.has(a.name));
}
