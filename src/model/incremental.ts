// What buildModel keeps between builds so a change costs what changed. Each stage's result is
// kept with the input it came from and reused while that input is the same:
// - a service stage by the service's instances (the same array, or an equal one) and the settings;
// - a claim by its key, CreateIndex and value;
// - the global structure while no service stage changed a facet it reads and no claim changed (for
//   a name two services share, their registration order and usable counts are such facets); when
//   it runs, each name's decision while its asks, record and weights are the same (names.ts), and
//   each ownership record while its K/V entry is the same;
// - an app object while its draft and hosts are the same (the render cache keys on it), and the
//   app the features made of it (redirect, cache, auth, maintenance; a group's weights) while it
//   is equal to last build's: a K/V key or a Vault entry gives new objects to the apps it names only;
// - the rejection list while every contributing list is the same.
// Any other input of a stage must become part of its key here. Settings that change reset it all.
import { isDeepStrictEqual } from 'node:util';
import type { ServiceInstance, DomainClaim } from '../sources/types.js';
import type { Ownership, ServiceStage } from './stages.js';
import type { ModelStructure } from './structure.js';
import { compareClaims, type ParsedClaim } from './domains.js';
import { NameDecisions } from './names.js';
import type { AppRoute, HostRoute, KvEntry, ModelInput, ModelSettings, Rejection } from './types.js';
import { cmp } from './text.js';
import { sameItems } from '../util/same-items.js';

/** Stage runs of the last build: what the change cost (bench profile, tests). */
export interface MemoStats {
  services: number;
  claims: number;
  structure: number;
  /** Names decided again inside the global stage (names.ts); the others were kept. */
  names: number;
  apps: number;
}

/**
 * What the global stage reads of a service stage. Two stages with equal facets give the same
 * structure: an instance or tag change that keeps them skips the global stage.
 */
export function stageFacets(stage: ServiceStage): string {
  const d = stage.draft;
  const tcp = stage.tcp ? `${stage.tcp.port}\0${stage.tcp.createIndex}` : '';
  // router.group and router.path change the structure (who is routed, which (host, prefix) claims).
  // A group's first member holds the group's name while nothing is recorded: its registration counts.
  const features = d && (stage.tags?.group !== undefined || d.path !== undefined) ? `\0${JSON.stringify(stage.tags)}\0${stage.verdict.registered}` : '';
  return `${stage.verdict.name ?? ''}\0${d ? `${d.mode}\0${d.defaultHost ?? ''}` : '-'}\0${tcp}${features}`;
}

function sameHost(a: HostRoute, b: HostRoute): boolean {
  return a.host === b.host && a.path === b.path && a.backend === b.backend && a.app === b.app && a.source === b.source && a.key === b.key;
}

/**
 * `after` with every route equal to one of `before` replaced by that object, or `before` itself
 * when they are all equal. Both are sorted by host, then path (one walk).
 */
function keepEqualHosts(before: HostRoute[], after: HostRoute[]): HostRoute[] {
  let i = 0;
  let all = before.length === after.length;
  for (let j = 0; j < after.length; j++) {
    const route = after[j]!;
    while (i < before.length && (cmp(before[i]!.host, route.host) || cmp(before[i]!.path ?? '', route.path ?? '')) < 0) i++;
    const was = before[i];
    if (was !== undefined && sameHost(was, route)) {
      after[j] = was;
      i++;
    } else all = false;
  }
  return all ? before : after;
}

export class ModelMemo {
  private settings: ModelSettings | undefined;
  private names: { keys: Set<string>; sorted: string[] } | undefined;
  private readonly stages = new Map<string, { instances: ServiceInstance[]; entry: readonly [string, ServiceStage] }>();
  private claimInput: { list: readonly DomainClaim[]; parsed: ParsedClaim[] } | undefined;
  private readonly parsedClaims = new Map<string, ParsedClaim>();
  private last: { stages: readonly (readonly [string, ServiceStage])[]; claims: ParsedClaim[]; own: Ownership; structure: ModelStructure } | undefined;
  private ownInput: { lists: (readonly KvEntry[] | undefined)[]; own: Ownership } | undefined;
  private readonly appsByName = new Map<string, { draft: AppRoute; app: AppRoute }>();
  private readonly finished = new Map<string, AppRoute>();
  private lastRejections: { lists: Rejection[][]; result: Rejection[] } | undefined;
  stats: MemoStats = { services: 0, claims: 0, structure: 0, names: 0, apps: 0 };
  /** Each name's decision in the global stage, kept per name (names.ts). */
  readonly decisions = new NameDecisions();

  /** Starts a build; different settings make every kept stage stale. */
  begin(settings: ModelSettings): void {
    this.stats = { services: 0, claims: 0, structure: 0, names: 0, apps: 0 };
    if (this.settings && isDeepStrictEqual(this.settings, settings)) return;
    this.settings = structuredClone(settings);
    this.decisions.clear();
    this.names = undefined;
    this.stages.clear();
    this.claimInput = undefined;
    this.parsedClaims.clear();
    this.last = undefined;
    this.ownInput = undefined;
    this.appsByName.clear();
    this.finished.clear();
    this.lastRejections = undefined;
  }

  /** The service names in code-unit order; sorted again only when the set of names changed. */
  sortedNames(services: Record<string, ServiceInstance[]>): string[] {
    const keys = Object.keys(services);
    const known = this.names;
    if (known && keys.length === known.keys.size && keys.every((k) => known.keys.has(k))) return known.sorted;
    const set = new Set(keys);
    for (const name of this.stages.keys()) if (!set.has(name)) this.stages.delete(name);
    this.names = { keys: set, sorted: keys.sort(cmp) };
    return this.names.sorted;
  }

  /**
   * The service's stage with its name, the same entry as last build's while its instances are the
   * same. `compute` is one function for every service: a build walks every name, so it makes no
   * closure and no entry per service that did not change.
   */
  service(
    original: string,
    instances: ServiceInstance[],
    compute: (original: string, instances: ServiceInstance[]) => ServiceStage,
  ): readonly [string, ServiceStage] {
    const kept = this.stages.get(original);
    if (kept && (kept.instances === instances || isDeepStrictEqual(kept.instances, instances))) {
      kept.instances = instances;
      return kept.entry;
    }
    this.stats.services++;
    const entry = [original, compute(original, instances)] as const;
    // Inputs are never mutated (the sources build a new array per change): kept by reference.
    this.stages.set(original, { instances, entry });
    return entry;
  }

  /** The claims in compareClaims order, each parsed once per (key, CreateIndex, value). */
  claims(list: readonly DomainClaim[], parse: (claim: DomainClaim) => ParsedClaim): ParsedClaim[] {
    if (this.claimInput?.list === list) return this.claimInput.parsed;
    const keep = new Map<string, ParsedClaim>();
    const parsed = [...list].sort(compareClaims).map((claim) => {
      const id = `${claim.key}\0${claim.createIndex}\0${claim.value}`;
      let p = this.parsedClaims.get(id) ?? keep.get(id);
      if (!p) {
        this.stats.claims++;
        p = parse(claim);
      }
      keep.set(id, p);
      return p;
    });
    this.parsedClaims.clear();
    for (const [id, p] of keep) this.parsedClaims.set(id, p);
    this.claimInput = { list, parsed };
    return parsed;
  }

  /** Records, delegations and weights keys, parsed again only when one of their lists changed (from the last ones: unchanged records are kept). */
  ownership(input: Pick<ModelInput, 'claimRecords' | 'delegations' | 'weights'>, compute: (previous: Ownership | undefined) => Ownership): Ownership {
    const lists = [input.claimRecords, input.delegations, input.weights];
    if (this.ownInput && sameItems(this.ownInput.lists, lists)) return this.ownInput.own;
    this.ownInput = { lists, own: compute(this.ownInput?.own) };
    return this.ownInput.own;
  }

  structure(stages: readonly (readonly [string, ServiceStage])[], claims: ParsedClaim[], own: Ownership, compute: () => ModelStructure): ModelStructure {
    const last = this.last;
    if (last && last.own === own && sameItems(last.claims, claims) && this.sameFacets(last.stages, stages, last.structure.contested)) {
      this.last = { ...last, stages, claims };
      return last.structure;
    }
    this.stats.structure++;
    const computed = compute();
    this.stats.names = this.decisions.decided;
    // The routes of hosts that did not change stay the same objects (and the list, when none did):
    // the render keeps their views and skips its host checks.
    const structure = last ? { ...computed, hosts: keepEqualHosts(last.structure.hosts, computed.hosts) } : computed;
    const apps = new Set(structure.apps.map((a) => a.name));
    for (const name of this.appsByName.keys()) if (!apps.has(name)) this.appsByName.delete(name);
    this.last = { stages, claims, own, structure };
    return structure;
  }

  private sameFacets(
    before: readonly (readonly [string, ServiceStage])[],
    after: readonly (readonly [string, ServiceStage])[],
    contested: Set<string>,
  ): boolean {
    if (before.length !== after.length) return false;
    for (let i = 0; i < after.length; i++) {
      const [name, stage] = after[i]!;
      const [was, old] = before[i]!;
      if (name !== was) return false;
      if (stage === old) continue;
      if (stageFacets(stage) !== stageFacets(old)) return false;
      // `Web` and `web` share a name: which one holds it reads their instances (holderOrder).
      const shared = stage.verdict.name;
      if (shared !== undefined && contested.has(shared) && (stage.verdict.registered !== old.verdict.registered || stage.verdict.usable !== old.verdict.usable))
        return false;
    }
    return true;
  }

  /** The app object, the same one as last time while its draft and hosts are the same. */
  app(name: string, draft: AppRoute, hosts: string[]): AppRoute {
    const kept = this.appsByName.get(name);
    if (kept && kept.draft === draft && sameItems(kept.app.hosts, hosts)) return kept.app;
    this.stats.apps++;
    const app = { ...draft, hosts: [...hosts] };
    this.appsByName.set(name, { draft, app });
    return app;
  }

  /**
   * The built apps, each replaced by last build's object of the same name when it is equal to it
   * (only the apps that are not last build's objects are compared: those the change touched).
   */
  shared(apps: AppRoute[]): AppRoute[] {
    // Updated in place: a build touches the apps it changed, not a new map of every app.
    const finished = this.finished;
    for (let i = 0; i < apps.length; i++) {
      const app = apps[i]!;
      const last = finished.get(app.name);
      if (last === app) continue;
      if (last !== undefined && isDeepStrictEqual(last, app)) apps[i] = last;
      else finished.set(app.name, app);
    }
    // Every app's name is in the map: more entries are apps gone.
    if (finished.size !== apps.length) {
      const names = new Set(apps.map((a) => a.name));
      for (const name of finished.keys()) if (!names.has(name)) finished.delete(name);
    }
    return apps;
  }

  rejections(lists: Rejection[][], finish: (all: Rejection[]) => Rejection[]): Rejection[] {
    const last = this.lastRejections;
    if (last && sameItems(last.lists, lists)) return last.result;
    const result = finish(lists.flat());
    this.lastRejections = { lists, result };
    return result;
  }
}
