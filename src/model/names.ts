// The names phase of the global stage: every service asks for its own (lowercase) name, and a
// member of router.group=<g> also for <g>. Each name goes to its holder (claims.ts); the others
// are rejected with the reason. A name is decided again only when what its decision reads changed
// (NameDecisions): its asks, its record, and for a group its weights and which members hold their
// own names. So a brand-new service or a written record costs its own names, not every name.
import type { GroupWeights } from './groups.js';
import { claimKey, decideOwner, heldBy, type Asker, type ClaimRecord } from './claims.js';
import { reject } from './rejections.js';
import { holderOrder } from './services.js';
import { cmp, safeText } from './text.js';
import { sameItems } from '../util/same-items.js';
import { DEFAULT_WEIGHTS_PREFIX, type Ownership, type ServiceStage } from './stages.js';
import type { ModelSettings, OwnedName, Rejection } from './types.js';

export interface NameAsk extends Asker {
  /** The service's position in the stages of this build. */
  index: number;
  stage: ServiceStage;
}

/** A service that holds its name and is no group's member: an app of its own. */
export interface Standalone {
  name: string;
  original: string;
  index: number;
  stage: ServiceStage;
}

/** A group whose name its owner holds, with the members it admits. */
export interface ServedGroup {
  name: string;
  members: NameAsk[];
  owner: string;
}

/** What the phases of the global stage add to as they go. */
export interface Resolution {
  rejections: Rejection[];
  owners: OwnedName[];
  /** Positions (in the stages) of the services that hold their name (a position may come twice). */
  winners: number[];
}

export interface Names {
  standalone: Standalone[];
  groups: ServedGroup[];
  /** Member app → its group (admitted or not). */
  memberOf: Map<string, string>;
  /** Lowercase names held by more than one Consul service (names that differ only in case). */
  contested: Set<string>;
}

/** One name's decision; every number is a position in the asks it was decided from. */
interface Decided {
  readonly held: OwnedName;
  readonly rejections: readonly Rejection[];
  readonly winners: readonly number[];
  readonly standalone: readonly number[];
  /** The group asks (with an app): their apps are members of this group, admitted or not. */
  readonly members: readonly number[];
  /** A served group: the members it admits. */
  readonly served?: readonly number[];
}

/**
 * Kept for every name: most lists are empty or hold the first ask only, and one shared list costs
 * nothing per name (a list grown by push keeps room for 17 entries).
 */
const NONE: readonly never[] = Object.freeze([]);
const FIRST: readonly number[] = Object.freeze([0]);
function some<T>(list: T[]): readonly T[] {
  if (list.length === 0) return NONE;
  if (list.length === 1 && list[0] === 0) return FIRST as readonly unknown[] as readonly T[];
  return list.slice();
}

interface NameEntry {
  /** The name's record key, made once: looked up in every build. */
  key: string;
  asks: NameAsk[];
  record: ClaimRecord | undefined;
  /** The standalone ask that holds the name, decided from every ask; -1: none. */
  holder: number;
  /**
   * The decision from the asks that take part (a group ask only if its service holds its own
   * name), with what it was made from. `decided` false: not made yet for these asks and record.
   * (Every field is set when the entry is made: 10 000 entries of one shape, no property arrays.)
   */
  decided: boolean;
  takesPart: boolean[] | undefined;
  weights: GroupWeights | undefined;
  result: Decided | undefined;
  seen: number;
}

/** Standalone services before groups; then who registered first (holderOrder), then code-unit order. */
function askOrder(a: NameAsk, b: NameAsk): number {
  if ((a.as === 'group') !== (b.as === 'group')) return a.as === 'group' ? 1 : -1;
  return holderOrder(a.stage.verdict, b.stage.verdict) || cmp(a.claimant, b.claimant);
}

/** The same ask as far as a decision reads it: who, in which role, and its stage's name, registration, usable count, app and group. */
function sameAsk(a: NameAsk, b: NameAsk): boolean {
  if (a.claimant !== b.claimant || a.as !== b.as) return false;
  if (a.stage === b.stage) return true;
  const [s, t] = [a.stage, b.stage];
  return (
    s.verdict.name === t.verdict.name &&
    s.verdict.registered === t.verdict.registered &&
    s.verdict.usable === t.verdict.usable &&
    (s.draft === undefined) === (t.draft === undefined) &&
    s.tags?.group === t.tags?.group
  );
}

function sameAsks(a: readonly NameAsk[], b: readonly NameAsk[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameAsk(a[i]!, b[i]!)) return false;
  return true;
}

/** The decision reads only which apps the weights admit. */
function sameAdmitted(a: GroupWeights | undefined, b: GroupWeights | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.admitted.size !== b.admitted.size) return false;
  for (const app of a.admitted) if (!b.admitted.has(app)) return false;
  return true;
}

function sameFlags(a: readonly boolean[] | undefined, b: readonly boolean[] | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameItems(a, b);
}

/**
 * Each name's decision, kept between builds while its inputs are the same (ModelMemo holds one).
 * A new instance of NameDecisions decides every name: one implementation, from scratch or not.
 */
export class NameDecisions {
  private readonly byName = new Map<string, NameEntry>();
  private build = 0;
  /** Names decided in the last resolve (the others were kept). */
  decided = 0;

  /** Forgets every decision (other settings). */
  clear(): void {
    this.byName.clear();
  }

  resolve(stages: readonly (readonly [string, ServiceStage])[], settings: ModelSettings, own: Ownership, prefix: string, out: Resolution): Names {
    this.build++;
    this.decided = 0;
    const asks = new Map<string, NameAsk[]>();
    const ask = (name: string, a: NameAsk) => {
      const list = asks.get(name);
      if (list) list.push(a);
      else asks.set(name, [a]);
    };
    for (let index = 0; index < stages.length; index++) {
      const [original, stage] = stages[index]!;
      const name = stage.verdict.name;
      if (name === undefined) continue;
      const group = stage.draft ? stage.tags?.group : undefined;
      if (group !== name) ask(name, { claimant: original, index, stage });
      if (group !== undefined) ask(group, { claimant: original, as: 'group', index, stage });
    }
    // A service that does not hold its own name (a case variant of another's) joins no group either:
    // decided first from every ask, then the groups are decided without it.
    const ownName = new Uint8Array(stages.length);
    const entries: [string, NameEntry][] = [];
    const contested = new Set<string>();
    for (const [name, all] of asks) {
      const entry = this.entry(name, all, own, prefix);
      if (entry.holder >= 0) ownName[all[entry.holder]!.index] = 1;
      entries.push([name, entry]);
      // Every service of that name asks for it here (as a group member when its group has its name).
      if (all.length > 1 && all.filter((a) => a.stage.verdict.name === name).length > 1) contested.add(name);
    }
    // A member named like its group asks for no name of its own: nothing to lose.
    for (let index = 0; index < stages.length; index++) {
      const stage = stages[index]![1];
      if (stage.tags?.group !== undefined && stage.tags.group === stage.verdict.name) ownName[index] = 1;
    }
    if (this.byName.size > entries.length) for (const [name, e] of this.byName) if (e.seen !== this.build) this.byName.delete(name);

    const names: Names = { standalone: [], groups: [], memberOf: new Map(), contested };
    entries.sort((a, b) => cmp(a[0], b[0]));
    for (const [name, entry] of entries) {
      const all = entry.asks;
      const takesPart = all.some((a) => a.as === 'group') ? all.map((a) => a.as !== 'group' || ownName[a.index] === 1) : undefined;
      const weights = own.weights.get(name);
      if (!entry.decided || !sameAdmitted(entry.weights, weights) || !sameFlags(entry.takesPart, takesPart)) {
        this.decided++;
        entry.decided = true;
        entry.takesPart = takesPart;
        entry.weights = weights;
        entry.result = decideName(name, all, takesPart, entry.record, weights, prefix, settings);
      }
      if (entry.result) bind(name, all, entry.result, names, out);
    }
    return names;
  }

  /** Whether the last resolve gave `name` a holder (an owner of the name, asking or not). */
  owned(name: string): boolean {
    const entry = this.byName.get(name);
    return entry !== undefined && entry.seen === this.build && entry.result !== undefined;
  }

  /** The name's entry with this build's asks; its holder decided again when its asks or record changed. */
  private entry(name: string, all: NameAsk[], own: Ownership, prefix: string): NameEntry {
    let entry = this.byName.get(name);
    const key = entry?.key ?? claimKey(prefix, 'name', name);
    const record = own.records.get(key);
    if (!entry || entry.record !== record || !sameAsks(entry.asks, all)) {
      const held = decideOwner('name', name, prefix, [...all].sort(askOrder), record);
      const holder = held?.as === undefined ? all.findIndex((a) => a.as === undefined && a.claimant === held?.owner) : -1;
      entry = { key, asks: all, record, holder, decided: false, takesPart: undefined, weights: undefined, result: undefined, seen: this.build };
      this.byName.set(name, entry);
    } else {
      // The same decision: this build's asks carry this build's positions and stages.
      entry.asks = all;
      entry.seen = this.build;
    }
    return entry;
  }
}

/** One name's decision into the build's result, with this build's positions and stages. */
function bind(name: string, all: readonly NameAsk[], d: Decided, names: Names, out: Resolution): void {
  for (const p of d.members) names.memberOf.set(all[p]!.stage.verdict.name!, name);
  out.owners.push(d.held);
  for (const p of d.winners) out.winners.push(all[p]!.index);
  for (const p of d.standalone) {
    const a = all[p]!;
    names.standalone.push({ name, original: a.claimant, index: a.index, stage: a.stage });
  }
  if (d.rejections.length > 0) out.rejections.push(...d.rejections);
  if (d.served) names.groups.push({ name, members: d.served.map((p) => all[p]!), owner: d.held.owner });
}

/** Who holds `name` among the asks that take part, and what that means for each of them. Undefined: none takes part. */
function decideName(
  name: string,
  all: readonly NameAsk[],
  takesPart: readonly boolean[] | undefined,
  record: ClaimRecord | undefined,
  weights: GroupWeights | undefined,
  prefix: string,
  settings: ModelSettings,
): Decided | undefined {
  const position = new Map(all.map((a, i) => [a, i]));
  const at = (a: NameAsk) => position.get(a)!;
  const list = (takesPart ? all.filter((_, i) => takesPart[i]) : [...all]).sort(askOrder);
  if (list.length === 0) return undefined;
  const groupAsks = list.filter((a) => a.as === 'group' && a.stage.draft);
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
  const d = { rejections: [] as Rejection[], winners: [] as number[], standalone: [] as number[] };
  // While nothing is recorded every member that asks is admitted (today's members are recorded).
  const admitted = held.record?.valid ? admittedBy(held.owner) : new Set(groupAsks.map((a) => a.claimant));
  const isAdmitted = (a: NameAsk) => admitted.has(a.claimant) || admitted.has(a.stage.verdict.name!);
  for (const a of list) {
    const holds = held.ownerAsks && (held.as === 'group' ? a.as === 'group' && isAdmitted(a) : a.as === undefined && a.claimant === held.owner);
    if (holds) {
      if (a.as === undefined) {
        d.winners.push(at(a));
        if (a.stage.draft && a.stage.tags?.group === undefined) d.standalone.push(at(a));
      }
      continue;
    }
    if (a.as === 'group') {
      if (!a.stage.draft) continue;
      const why =
        held.as === 'group' && held.ownerAsks
          ? `app ${a.claimant} is not admitted to group ${name}: the group belongs to app ${held.owner}, which admits members by listing them in ${settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX}${name}`
          : heldBy(held, `name ${name}`);
      d.rejections.push(reject('group', a.stage.verdict.name!, name, `${why}; app not routed`));
    } else if (held.as === undefined && held.ownerAsks && held.owner.toLowerCase() === a.claimant.toLowerCase()) {
      d.rejections.push(
        reject(
          'service',
          a.claimant,
          a.claimant,
          `service name "${safeText(a.claimant)}" is the same as "${safeText(held.owner)}" to Consul (service names are case-insensitive), which ${held.record?.valid ? `holds the name (recorded in ${held.key})` : 'was registered first'}; "${safeText(held.owner)}" is routed as ${name}`,
        ),
      );
    } else d.rejections.push(reject('service', a.claimant, a.claimant, `${heldBy(held, `name ${name}`)}; service not routed`));
  }
  const served = held.as === 'group' && held.ownerAsks ? groupAsks.filter(isAdmitted).map(at) : [];
  return {
    held,
    rejections: some(d.rejections),
    winners: some(d.winners),
    standalone: some(d.standalone),
    members: some(groupAsks.map(at)),
    ...(served.length > 0 ? { served } : {}),
  };
}
