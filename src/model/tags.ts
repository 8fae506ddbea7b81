// `router.<key>=<value>` tags: parsing and the majority vote across instances, from the tag table
// (tag-table.ts), into an app's settings.
import type { ServiceInstance } from '../sources/types.js';
import type { AppRoute, ModelSettings, Rejection } from './types.js';
import { formatPortRanges } from './port-ranges.js';
import { TAGS, TAG_KEYS, TAG_PREFIX, tagSpec, type AppSettings, type FlagKey, type SettingName, type TagKey } from './tag-table.js';
import { reject } from './rejections.js';
import { CONTROL_RE, WHITESPACE_RE, cmp, safeText } from './text.js';

export { BALANCE_ALGORITHMS } from './tag-values.js';
export { TAG_PREFIX, type AppSettings, type TagKey } from './tag-table.js';

/** Every key, sorted: what reasons list as the known keys. */
const KEYS = [...TAG_KEYS].sort(cmp);

function isKey(k: string): k is TagKey {
  return Object.hasOwn(TAGS, k);
}

export type ParsedTag = { ok: true; key: TagKey; value: string } | { ok: false; key?: TagKey; reason: string };

/** Parses one Consul tag; undefined when it is not a `router.` tag (those are not ours). */
export function parseRouterTag(tag: string, settings: ModelSettings): ParsedTag | undefined {
  if (!tag.startsWith(TAG_PREFIX)) return undefined;
  const body = tag.slice(TAG_PREFIX.length);
  const eq = body.indexOf('=');
  const rawKey = eq === -1 ? body : body.slice(0, eq);
  const key = isKey(rawKey) ? rawKey : undefined;
  const fail = (reason: string): ParsedTag => (key ? { ok: false, key, reason } : { ok: false, reason });
  // List values may hold single spaces between items; nothing else may hold whitespace.
  const listValue = key !== undefined && tagSpec(key).list === true && eq !== -1;
  const spaced = listValue ? `${body.slice(0, eq)}${body.slice(eq + 1).replace(/(?<=\S) (?=\S)/g, '')}` : tag;
  if (WHITESPACE_RE.test(spaced) || CONTROL_RE.test(tag)) {
    return fail(
      listValue ? 'tag contains control characters or whitespace other than single spaces between items' : 'tag contains whitespace or control characters',
    );
  }
  if (rawKey === '') return fail(`empty key: expected router.<key>=<value> with key one of ${KEYS.join(', ')}`);
  if (!key) {
    return fail(`unknown key "${safeText(rawKey, 64)}": known keys are ${KEYS.join(', ')}`);
  }
  const spec = tagSpec(key);
  if (eq === -1) {
    if (spec.bare !== undefined) return { ok: true, key, value: spec.bare };
    return fail(`router.${key} needs a value (router.${key}=<value>); allowed: ${spec.allowed}`);
  }
  const raw = body.slice(eq + 1);
  const parsed = raw === '' ? { ok: false as const } : spec.parse(raw, settings);
  if (!parsed.ok) {
    if (parsed.reason !== undefined) return fail(`router.${key}: ${parsed.reason}`);
    const what = raw === '' ? 'empty value' : `bad value "${safeText(raw, 64)}"`;
    return fail(`router.${key}: ${what}; ${parsed.why ? `${parsed.why}; ` : ''}allowed: ${spec.allowed}`);
  }
  return { ok: true, key, value: parsed.value };
}

/** True when a valid `router.<flag>` / `router.<flag>=true` appears on any instance. */
export function hasFlag(instances: ServiceInstance[], flag: FlagKey, settings: ModelSettings): boolean {
  return instances.some((inst) => tagsHaveFlag(inst.tags, flag, settings));
}

/** Flags are plain booleans: their parsing reads no setting (sources call this without a model). */
const FLAG_SETTINGS = { reservedPorts: [] } as Partial<ModelSettings> as ModelSettings;

/** True when `tags` hold a valid `router.<flag>` or `router.<flag>=true` (`=false` and bad values do not count). */
export function tagsHaveFlag(tags: readonly string[], flag: FlagKey, settings: ModelSettings = FLAG_SETTINGS): boolean {
  return tags.some((tag) => {
    const p = parseRouterTag(tag, settings);
    return p?.ok === true && p.key === flag && p.value === 'true';
  });
}

/** Malformed `router.<flag>` tags; used to report a `router.expose=yes` that failed to expose. */
export function badFlagTags(instances: ServiceInstance[], flag: FlagKey, settings: ModelSettings) {
  const out = new Map<string, string>();
  for (const inst of instances) {
    for (const tag of inst.tags) {
      const p = parseRouterTag(tag, settings);
      if (p && !p.ok && p.key === flag) out.set(tag, p.reason);
    }
  }
  return out;
}

/** The edge fields of AppRoute (docs/edge.md). */
export type EdgeSettings = Pick<AppRoute, 'hsts' | 'hstsSubdomains' | 'timeoutClient' | 'timeoutConnect' | 'maxBody'>;

/** The edge fields of an app that are set (the status page lists them). */
export function edgeFields(t: EdgeSettings): EdgeSettings {
  return {
    ...(t.hsts !== undefined ? { hsts: t.hsts } : {}),
    ...(t.hstsSubdomains !== undefined ? { hstsSubdomains: t.hstsSubdomains } : {}),
    ...(t.timeoutClient !== undefined ? { timeoutClient: t.timeoutClient } : {}),
    ...(t.timeoutConnect !== undefined ? { timeoutConnect: t.timeoutConnect } : {}),
    ...(t.maxBody !== undefined ? { maxBody: t.maxBody } : {}),
  };
}

export interface TagResult {
  /** False when the app cannot be routed at all (tcp without a usable port). */
  routable: boolean;
  settings: AppSettings;
  rejections: Rejection[];
}

interface Vote {
  count: number;
  tags: Set<string>;
}

/**
 * Resolves an app's settings from the union of its instances' tags. Bad tags are rejected and
 * take no part in the vote; among valid values the one carried by most instances wins (ties:
 * smallest value), so one stale instance during a redeploy cannot flip the app.
 */
export function resolveTags(app: string, instances: ServiceInstance[], settings: ModelSettings): TagResult {
  const rejections: Rejection[] = [];
  const votes = new Map<TagKey, Map<string, Vote>>();
  for (const inst of instances) {
    const counted = new Set<string>();
    for (const tag of inst.tags) {
      const p = parseRouterTag(tag, settings);
      if (!p) continue;
      if (!p.ok) {
        rejections.push(reject('tag', app, tag, p.reason));
        continue;
      }
      const values = votes.get(p.key) ?? new Map<string, Vote>();
      votes.set(p.key, values);
      const vote = values.get(p.value) ?? { count: 0, tags: new Set<string>() };
      values.set(p.value, vote);
      vote.tags.add(tag);
      // One vote per instance and value, even if the tag is repeated or spelled twice (`router.sticky`, `=true`).
      const id = `${p.key}=${p.value}`;
      if (!counted.has(id)) {
        counted.add(id);
        vote.count++;
      }
    }
  }

  const pick = (key: TagKey): string | undefined => {
    let best: [string, Vote] | undefined;
    for (const entry of votes.get(key) ?? []) {
      if (!best || entry[1].count > best[1].count || (entry[1].count === best[1].count && cmp(entry[0], best[0]) < 0)) {
        best = entry;
      }
    }
    return best?.[0];
  };
  const tagsOf = (key: TagKey) => [...(votes.get(key)?.values() ?? [])].flatMap((v) => [...v.tags]).sort(cmp);

  const mode = TAGS.mode.read(pick('mode') ?? TAGS.mode.default);
  // Keys that do not apply to this mode are reported and ignored.
  for (const key of KEYS) {
    const scope = tagSpec(key).scope;
    if (scope === 'any' || scope === mode) continue;
    for (const tag of tagsOf(key)) rejections.push(reject('tag', app, tag, `router.${key} is only valid with router.mode=${scope}; ignored`));
    votes.delete(key);
  }

  // Each setting from its winning value (or its default); then those that need another's.
  const filled: Partial<Record<SettingName, unknown>> = {};
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null) continue;
    const value = pick(key) ?? spec.default;
    const setting = value === undefined ? undefined : spec.read(value);
    if (setting !== undefined) filled[spec.setting] = setting;
  }
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null || spec.needs === undefined || filled[spec.setting] === undefined) continue;
    const needed = tagSpec(spec.needs.tag as TagKey).setting;
    if (needed !== null && filled[needed] !== undefined) continue;
    delete filled[spec.setting];
    for (const tag of tagsOf(key)) rejections.push(reject('tag', app, tag, `${spec.needs.why}; ignored`));
  }
  const out = filled as AppSettings;

  let routable = true;
  if (mode === 'tcp' && out.port === undefined) {
    routable = false;
    const modeTags = [...(votes.get('mode')?.get('tcp')?.tags ?? ['router.mode=tcp'])].sort(cmp);
    rejections.push(
      reject(
        'tag',
        app,
        modeTags[0]!,
        `router.mode=tcp needs a valid router.port=<${settings.tcpPorts ? `a port in ${formatPortRanges(settings.tcpPorts)}` : '1..65535'}>; app not routed`,
      ),
    );
  }
  return { routable, settings: out, rejections };
}
