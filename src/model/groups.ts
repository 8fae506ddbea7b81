// `router.group=<name>`: several apps served as one route (blue-green, canary). The group becomes
// one AppRoute named after the group (backend `app_<group>`, default host `<group>.<cluster>.<base>`)
// whose servers are the members' servers, each with its member's weight from Consul K/V
// `<weights_prefix><group>` = `<app>=<0..256> ...`. Members must agree on every setting their
// tags decide; otherwise the whole group is rejected with the first disagreement as the reason.
import type { AppRoute, GroupMember, KvEntry, Rejection, ServerRoute } from './types.js';
import type { AppSettings } from './tags.js';
import { sortEntries } from './features.js';
import { reject } from './rejections.js';
import { cmp, safeText } from './text.js';

export const MAX_WEIGHT = 256;
/** Weight of every member when the group has no weights key: equal shares. */
export const DEFAULT_WEIGHT = 1;

/** A routable app with the settings its tags decided (group included). */
export interface Draft {
  app: AppRoute;
  tags: AppSettings;
  createIndex: number;
}

/** Settings that must be equal across a group's members, in the order they are reported. */
const AGREED: (keyof AppSettings)[] = [
  'mode',
  'port',
  'balance',
  'healthcheck',
  'httpsOnly',
  'sticky',
  'maxconn',
  'timeoutServer',
  'redirect',
  'allow',
  'path',
  'stripPath',
  'auth',
];

function show(value: unknown): string {
  return value === undefined ? '(unset)' : Array.isArray(value) ? value.join(' ') : String(value);
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

/** The group named by a `<prefix><group>` key, or why the key is not one. */
function groupOfKey(key: string, prefix: string): { ok: true; name: string } | { ok: false; reason: string } {
  if (!key.startsWith(prefix)) return { ok: false, reason: `key is not under ${prefix}` };
  const rest = key.slice(prefix.length);
  if (rest === '' || rest.includes('/') || /[^\x00-\x7f]/.test(rest))
    return { ok: false, reason: `expected ${prefix}<group> with an ASCII name and no further "/"` };
  return { ok: true, name: rest.toLowerCase() };
}

export interface GroupResult {
  /** Apps that are not in a group, unchanged, then one route per accepted group. */
  routes: Draft[];
  /** member app → its group (accepted or not): members are never routed on their own. */
  memberOf: Map<string, string>;
  rejections: Rejection[];
}

export function resolveGroups(drafts: Draft[], weights: KvEntry[], weightsPrefix: string, defaultHostOf: (name: string) => string): GroupResult {
  const rejections: Rejection[] = [];
  const memberOf = new Map<string, string>();
  const byGroup = new Map<string, Draft[]>();
  const routes: Draft[] = [];
  for (const d of drafts) {
    if (d.tags.group === undefined) {
      routes.push(d);
      continue;
    }
    memberOf.set(d.app.name, d.tags.group);
    byGroup.set(d.tags.group, [...(byGroup.get(d.tags.group) ?? []), d]);
  }
  const standalone = new Set(routes.map((d) => d.app.name));

  const weightEntries = new Map<string, KvEntry>();
  for (const entry of sortEntries(weights)) {
    if (entry.key.endsWith('/') && entry.value === '') continue; // a Consul UI folder
    const g = groupOfKey(entry.key, weightsPrefix);
    if (!g.ok) {
      rejections.push(reject('weight', '', entry.key, g.reason, entry.key));
      continue;
    }
    if (!byGroup.has(g.name)) {
      rejections.push(reject('weight', g.name, entry.key, `no app has router.group=${safeText(g.name)}: these weights apply to nothing`, entry.key));
      continue;
    }
    if (!weightEntries.has(g.name)) weightEntries.set(g.name, entry); // `Web` and `web`: the first decides
  }

  for (const [group, members] of [...byGroup].sort((a, b) => cmp(a[0], b[0]))) {
    members.sort((a, b) => cmp(a.app.name, b.app.name));
    const fail = (reason: string) => {
      for (const m of members) rejections.push(reject('group', m.app.name, group, `group ${group}: ${reason}; the group is not routed`));
    };
    if (standalone.has(group)) {
      fail(`${group} is also the name of an app outside the group (its default host would be taken)`);
      continue;
    }
    const host = defaultHostOf(group);
    if (host.length > 253) {
      fail(`default host ${host} is longer than 253 characters`);
      continue;
    }
    const first = members[0]!;
    const disagreement = members
      .slice(1)
      .flatMap((m) =>
        AGREED.filter((k) => JSON.stringify(m.tags[k]) !== JSON.stringify(first.tags[k])).map(
          (k) => `apps ${first.app.name} and ${m.app.name} disagree on ${k} (${show(first.tags[k])} vs ${show(m.tags[k])})`,
        ),
      )[0];
    if (disagreement) {
      fail(`${disagreement}: every app of a group must have the same router.* settings`);
      continue;
    }

    const entry = weightEntries.get(group);
    let given: Map<string, number> | undefined;
    if (entry) {
      const parsed = parseWeights(typeof entry.value === 'string' ? entry.value : '');
      if (!parsed.ok)
        rejections.push(reject('weight', group, entry.key, `${parsed.reason}; every app of the group gets the default weight ${DEFAULT_WEIGHT}`, entry.key));
      else given = parsed.weights;
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
    for (const m of members) {
      const w = given?.get(m.app.name);
      const member: GroupMember =
        given === undefined
          ? { app: m.app.name, weight: DEFAULT_WEIGHT, weightFrom: 'default', servers: m.app.servers.length }
          : { app: m.app.name, weight: w ?? 0, weightFrom: w === undefined ? 'missing' : 'kv', servers: m.app.servers.length };
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
      ...first.app,
      name: group,
      backend: `app_${group}`,
      ...(first.app.defaultHost !== undefined ? { defaultHost: host } : {}),
      hosts: [],
      servers,
      members: list,
      ...(entry ? { weightsKey: entry.key } : {}),
    };
    routes.push({ app: route, tags: first.tags, createIndex: Math.min(...members.map((m) => m.createIndex)) });
  }
  return { routes, memberOf, rejections };
}
