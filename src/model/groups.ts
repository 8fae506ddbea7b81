// `router.group=<name>`: several apps served as one route (blue-green, canary). The group becomes
// one AppRoute named after the group (backend `app_<group>`, default host `<group>.<cluster>.<base>`)
// whose servers are its members' servers, each with its member's weight from Consul K/V
// `<weights_prefix><group>` = `<app>=<0..256> ...`. The group's name belongs to the member that
// claimed it first (claims.ts); that owner's weights key admits the other members. A member that
// is not admitted, or that disagrees with the group's settings, is rejected on its own: it never
// changes the group's routing.
import type { AppRoute, GroupMember, KvEntry, Rejection, ServerRoute } from './types.js';
import { AGREED_SETTINGS, type AppSettings } from './tag-table.js';
import { sortEntries } from './features.js';
import { backendName } from './backend.js';
import { nameOfKey } from './kv-keys.js';
import { reject } from './rejections.js';
import { cmp, safeText } from './text.js';
import { formatCanary } from './tenant-tags.js';

export const MAX_WEIGHT = 256;
/** Weight of every member when the group has no weights key: equal shares. */
export const DEFAULT_WEIGHT = 1;

/** A routable app with the settings its tags decided (group included). */
export interface Draft {
  app: AppRoute;
  tags: AppSettings;
  createIndex: number;
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (Array.isArray(value)) return value.join(' ');
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

export type WeightsParse = { ok: true; weights: Map<string, number> } | { ok: false; reason: string };

/** `<app>=<0..256>` tokens separated by spaces, commas or newlines; every token must be valid. */
export function parseWeights(value: string): WeightsParse {
  const weights = new Map<string, number>();
  const tokens = value.split(/[\s,]+/).filter((t) => t !== '');
  if (tokens.length === 0) return { ok: false, reason: 'empty value: expected <app>=<0..256> ...' };
  for (const token of tokens) {
    const m = /^([a-z0-9][a-z0-9.-]*)=(0|[1-9][0-9]{0,2})$/.exec(token.toLowerCase());
    if (!m || Number(m[2]) > MAX_WEIGHT) {
      return { ok: false, reason: `bad token "${safeText(token, 64)}": expected <app>=<weight> with weight 0..${MAX_WEIGHT}` };
    }
    if (weights.has(m[1]!)) return { ok: false, reason: `app ${m[1]} is given twice` };
    weights.set(m[1]!, Number(m[2]));
  }
  return { ok: true, weights };
}

/** The weights key of one group: who it admits and the weights it gives. */
export interface GroupWeights {
  entry: KvEntry;
  /** Every app the value names (valid tokens or not): admitted to the group by its owner. */
  admitted: Set<string>;
  parsed: WeightsParse;
}

/** The weights keys by group (exact keys; the first of equal keys decides), with the bad keys. */
export function readWeights(weights: readonly KvEntry[], prefix: string): { byGroup: Map<string, GroupWeights>; rejections: Rejection[] } {
  const byGroup = new Map<string, GroupWeights>();
  const rejections: Rejection[] = [];
  for (const entry of sortEntries([...weights])) {
    const value = typeof entry.value === 'string' ? entry.value : '';
    const k = nameOfKey(entry.key, prefix, value, 'group');
    if ('folder' in k) continue;
    if (!k.ok) {
      rejections.push(reject('weight', k.name, entry.key, k.reason, entry.key));
      continue;
    }
    if (byGroup.has(k.name)) continue;
    const admitted = new Set(
      value
        .split(/[\s,]+/)
        .map((t) => /^([a-z0-9][a-z0-9.-]*)=/.exec(t.toLowerCase())?.[1])
        .filter((a): a is string => a !== undefined),
    );
    byGroup.set(k.name, { entry, admitted, parsed: parseWeights(value) });
  }
  return { byGroup, rejections };
}

/** The first setting a group must agree on (tag table) on which `member` differs from the group's `reference`, as a reason; undefined when none. */
export function disagreement(reference: Draft, member: Draft): string | undefined {
  for (const k of AGREED_SETTINGS) {
    if (JSON.stringify(member.tags[k]) !== JSON.stringify(reference.tags[k]))
      return `app ${member.app.name} disagrees with app ${reference.app.name} on ${k} (${show(member.tags[k])} vs ${show(reference.tags[k])})`;
  }
  return undefined;
}

/**
 * The route of one group from its admitted `members` (sorted by name; `reference` decides the
 * settings), with each member's weight from the group's weights key when there is one.
 */
export function groupRoute(
  group: string,
  members: Draft[],
  reference: Draft,
  weights: GroupWeights | undefined,
  host: string,
): { route: Draft; rejections: Rejection[] } {
  const rejections: Rejection[] = [];
  const entry = weights?.entry;
  let given: Map<string, number> | undefined;
  if (weights) {
    if (!weights.parsed.ok)
      rejections.push(
        reject('weight', group, entry!.key, `${weights.parsed.reason}; every app of the group gets the default weight ${DEFAULT_WEIGHT}`, entry!.key),
      );
    else given = weights.parsed.weights;
  }
  const names = new Set(members.map((m) => m.app.name));
  for (const app of given?.keys() ?? []) {
    if (!names.has(app))
      rejections.push(
        reject('weight', group, `${app}=${given!.get(app)}`, `app ${app} is not in group ${group} (members: ${[...names].join(', ')}); ignored`, entry!.key),
      );
  }
  const list: GroupMember[] = [];
  const servers: ServerRoute[] = [];
  const canaries = new Map<string, string>();
  for (const m of members) {
    const w = given?.get(m.app.name);
    let member: GroupMember =
      given === undefined
        ? { app: m.app.name, weight: DEFAULT_WEIGHT, weightFrom: 'default', servers: m.app.servers.length }
        : { app: m.app.name, weight: w ?? 0, weightFrom: w === undefined ? 'missing' : 'kv', servers: m.app.servers.length };
    const canary = m.tags.canary;
    if (canary !== undefined) {
      const rule = formatCanary(canary);
      const tag = `router.canary=${rule}`;
      if (reference.tags.path !== undefined) {
        rejections.push(
          reject('tag', m.app.name, tag, `group ${group} is served under router.path ${reference.tags.path}: canaries are routed on whole hosts only; ignored`),
        );
      } else if (canaries.has(rule)) {
        rejections.push(reject('tag', m.app.name, tag, `app ${canaries.get(rule)} of group ${group} has the same canary; ignored`));
      } else {
        canaries.set(rule, m.app.name);
        member = { ...member, canary };
      }
    }
    if (member.weightFrom === 'missing') {
      rejections.push(
        reject('weight', m.app.name, entry!.key, `app ${m.app.name} of group ${group} has no weight in ${entry!.key}: weight 0 (no new traffic)`, entry!.key),
      );
    }
    list.push(member);
    for (const s of m.app.servers) servers.push({ ...s, name: `${m.app.name}_${s.name}`, app: m.app.name, weight: member.weight });
  }
  servers.sort((a, b) => cmp(a.name, b.name));
  const route: AppRoute = {
    ...reference.app,
    name: group,
    backend: backendName(group),
    ...(reference.app.defaultHost !== undefined ? { defaultHost: host } : {}),
    hosts: [],
    servers,
    members: list,
    ...(entry ? { weightsKey: entry.key } : {}),
  };
  return { route: { app: route, tags: reference.tags, createIndex: Math.min(...members.map((m) => m.createIndex)) }, rejections };
}
