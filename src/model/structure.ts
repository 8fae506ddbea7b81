// The global stage of the model: who holds each name (apps and groups; names.ts), which groups are
// served and with whom, who holds each tcp port, the custom domains, and the host list. Pure;
// memoized as a whole (incremental.ts) while its inputs are the same, and per name inside.
import type { AppRoute, HostRoute, ModelSettings, OwnedName, Rejection } from './types.js';
import { resolveParsedClaims, type ParsedClaim } from './domains.js';
import { disagreement, groupRoute } from './groups.js';
import { byRegistration, claimKey, compareOwned, decideOwner, heldBy, DEFAULT_CLAIMS_PREFIX, DEFAULT_PATHS_PREFIX } from './claims.js';
import { NameDecisions, type NameAsk, type Names, type Resolution } from './names.js';
import { reject } from './rejections.js';
import { cmp, indexOfName, safeText } from './text.js';
import { clusterDomain, defaultHost, toDraft, type Ownership, type ServiceStage } from './stages.js';

/** One routable app of the structure. */
export interface StructureApp {
  name: string;
  original: string;
  index: number;
  members?: number[];
  reference?: number;
  /** Every host routed to it (default first, then custom FQDNs sorted). */
  hosts: string[];
}

/** The global stage's result: which services are apps, and every host. */
export interface ModelStructure {
  /**
   * Every routable app, sorted by name: the Consul service (original name) that won it, and that
   * service's position in the stages the structure was resolved from (the same while it is kept).
   * A group has its members' positions, and the position of the member whose settings it takes.
   */
  apps: StructureApp[];
  /** Member app → its group (admitted or not): members are never routed on their own. */
  memberOf: Map<string, string>;
  /** Positions (in the stages) of the services that hold their name, routable or not: their appRejections are reported. */
  winners: number[];
  /** Lowercase names held by more than one Consul service (names that differ only in case). */
  contested: Set<string>;
  /** Sorted by host. */
  hosts: HostRoute[];
  /** Names, groups, tcp ports, domains. */
  rejections: Rejection[];
  /** Every shared name asked for or recorded, sorted by key. */
  owners: OwnedName[];
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
export function resolveStructure(
  stages: readonly (readonly [string, ServiceStage])[],
  claims: ParsedClaim[],
  settings: ModelSettings,
  own: Ownership,
  decisions: NameDecisions = new NameDecisions(),
): ModelStructure {
  const prefix = settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX;
  const out: Resolution = { rejections: [...own.rejections], owners: [], winners: [] };
  const { rejections, owners, winners } = out;
  const names = decisions.resolve(stages, settings, own, prefix, out);
  const ofNames = owners.length;
  const memberOf = names.memberOf;
  const apps = resolvePorts(servedEntries(names, settings, own, out), prefix, own, out);

  // The claims ask about a few apps: looked up in the sorted apps, not in maps of every app.
  const domains = resolveParsedClaims(
    claims,
    { get: (name) => findApp(apps, name)?.draft.mode },
    clusterDomain(settings),
    memberOf,
    { get: (name) => findApp(apps, name)?.draft.path },
    settings.domainsPrefix,
    { records: own.records, delegations: own.delegations, claimsPrefix: prefix, pathsPrefix: settings.pathsPrefix ?? DEFAULT_PATHS_PREFIX },
  );
  rejections.push(...domains.rejections);
  owners.push(...domains.owners);

  // Records nobody asks for any more: the recorder marks them idle, then releases them. A name is
  // asked for when names.ts decided it; ports and hosts are few.
  const seen = new Set(owners.slice(ofNames).map((o) => o.key));
  for (const record of own.records.values()) {
    if (record.kind === 'name' ? decisions.owned(record.name) : seen.has(record.key)) continue;
    const idle = decideOwner(record.kind, record.name, prefix, [], record);
    if (idle) owners.push(idle);
  }

  const hosts: HostRoute[] = [];
  const structureApps: StructureApp[] = [];
  for (const { name, original, index, members, reference, draft } of apps) {
    const app: StructureApp = { name, original, index, hosts: [] };
    if (members) app.members = members;
    if (reference !== undefined) app.reference = reference;
    structureApps.push(app);
    if (draft.defaultHost === undefined) continue;
    const path = draft.path !== undefined ? { path: draft.path } : {};
    app.hosts.push(draft.defaultHost);
    hosts.push({ host: draft.defaultHost, backend: draft.backend, app: name, source: 'default', ...path });
    for (const custom of domains.hosts.get(name) ?? []) {
      hosts.push({ host: custom.host, backend: draft.backend, app: name, source: 'kv', key: custom.key, ...path });
      app.hosts.push(custom.host);
    }
  }
  // A member of its group and holder of its own name is counted once.
  winners.sort((a, b) => a - b);
  return {
    apps: structureApps,
    memberOf,
    winners: winners.filter((w, i) => i === 0 || w !== winners[i - 1]),
    contested: names.contested,
    hosts: hosts.sort((a, b) => cmp(a.host, b.host) || cmp(a.path ?? '', b.path ?? '')),
    rejections,
    owners: owners.sort(compareOwned),
  };
}

/** The app of that name in `apps` (sorted by name). */
function findApp(apps: readonly Entry[], name: string): Entry | undefined {
  const i = indexOfName(apps, name);
  return i < 0 ? undefined : apps[i];
}

/**
 * The apps before tcp ports: every standalone app, and every served group with the members that
 * agree with its reference (the owner's settings, or the first admitted member's while the owner
 * is away). Sorted by name.
 */
function servedEntries({ standalone, groups, memberOf }: Names, settings: ModelSettings, own: Ownership, { rejections, winners }: Resolution): Entry[] {
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
    for (const m of members) winners.push(m.index);
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
