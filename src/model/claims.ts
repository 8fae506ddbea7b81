// Who holds a shared name (a custom host, an app or group name, a tcp port): the owner recorded in
// Consul K/V under `<claims_prefix><kind>s/<name>`, written create-if-absent by the first router
// that saw a claimant, so every router decides the same, across restarts (docs/routing.md).
// While nothing is recorded, the first claimant in the caller's order holds the name: that is how
// an existing cluster migrates (its winners of today are recorded as they are).
import type { ClaimKind, ClaimRecordValue, KvEntry, OwnedName, Rejection } from './types.js';
import { reject } from './rejections.js';
import { cmp, numCmp } from './text.js';

export const DEFAULT_CLAIMS_PREFIX = 'paas-router/claims/';
export const DEFAULT_PATHS_PREFIX = 'paas-router/paths/';

const FOLDERS: Record<ClaimKind, string> = { host: 'hosts', name: 'names', port: 'ports' };
const KINDS = new Map<string, ClaimKind>(Object.entries(FOLDERS).map(([kind, folder]) => [folder, kind as ClaimKind]));
/** An owner is a Consul service name (exact) or a route name: host-name characters only. */
export const OWNER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const MAX_MEMBERS = 256;

export function claimKey(prefix: string, kind: ClaimKind, name: string): string {
  return `${prefix}${FOLDERS[kind]}/${name}`;
}

/** One record as read: `value` absent when it is not one of ours (then it is rewritten). */
export interface ClaimRecord {
  readonly key: string;
  readonly kind: ClaimKind;
  readonly name: string;
  readonly value?: ClaimRecordValue;
  readonly createIndex: number;
  readonly modifyIndex: number;
  /** The K/V value it was parsed from: an entry read again with the same text keeps this record. */
  readonly text: string;
}

export type RecordValueParse = { ok: true; value: ClaimRecordValue } | { ok: false; reason: string };

export function parseRecordValue(text: string): RecordValueParse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the value is not JSON' };
  }
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o.owner !== 'string' || !OWNER_RE.test(o.owner))
    return { ok: false, reason: 'expected {"owner": "<app>"} with a service or app name as owner' };
  const value: ClaimRecordValue = { owner: o.owner };
  if (o.as !== undefined) {
    if (o.as !== 'group') return { ok: false, reason: '"as" must be "group" when present' };
    value.as = 'group';
  }
  if (o.members !== undefined) {
    if (!Array.isArray(o.members) || o.members.length > MAX_MEMBERS || !o.members.every((m) => typeof m === 'string' && OWNER_RE.test(m)))
      return { ok: false, reason: `"members" must be a list of at most ${MAX_MEMBERS} app names` };
    value.members = [...(o.members as string[])];
  }
  if (o.idle_since !== undefined) {
    if (typeof o.idle_since !== 'number' || !Number.isFinite(o.idle_since)) return { ok: false, reason: '"idle_since" must be a time in ms' };
    value.idle_since = o.idle_since;
  }
  return { ok: true, value };
}

/**
 * The records under `prefix` by key; entries that are not records are reported (the recorder
 * rewrites bad values). A good record of `previous` whose entry is the same is kept as it is, so a
 * written record gives a new object to its own name only (names.ts compares records by identity).
 */
export function readClaimRecords(
  entries: readonly KvEntry[],
  prefix: string,
  previous?: ReadonlyMap<string, ClaimRecord>,
): { records: Map<string, ClaimRecord>; rejections: Rejection[] } {
  const records = new Map<string, ClaimRecord>();
  const rejections: Rejection[] = [];
  for (const entry of entries) {
    const value = typeof entry.value === 'string' ? entry.value : '';
    const kept = previous?.get(entry.key);
    if (kept?.value && kept.text === value && kept.createIndex === entry.createIndex && kept.modifyIndex === entry.modifyIndex) {
      records.set(entry.key, kept);
      continue;
    }
    if (entry.key.endsWith('/') && value === '') continue; // a Consul UI folder
    const rest = entry.key.startsWith(prefix) ? entry.key.slice(prefix.length) : '';
    const slash = rest.indexOf('/');
    const kind = KINDS.get(rest.slice(0, slash));
    const name = rest.slice(slash + 1);
    if (slash === -1 || kind === undefined || name === '' || name.includes('/')) {
      rejections.push(reject('claim', '', entry.key, `not an ownership record: expected ${prefix}{hosts,names,ports}/<name>; ignored`, entry.key));
      continue;
    }
    const parsed = parseRecordValue(value);
    if (!parsed.ok) rejections.push(reject('claim', '', entry.key, `${parsed.reason}; the record is rewritten for the first claimant`, entry.key));
    records.set(entry.key, {
      key: entry.key,
      kind,
      name,
      ...(parsed.ok ? { value: parsed.value } : {}),
      createIndex: entry.createIndex,
      modifyIndex: entry.modifyIndex,
      text: value,
    });
  }
  return { records, rejections };
}

/** One app asking for a name; `as: 'group'` when it asks as a member of the group of that name. */
export interface Asker {
  claimant: string;
  as?: 'group';
}

/**
 * The holder of one name. `askers` come in the caller's order of precedence (the first holds the
 * name while nothing is recorded); `asks` says whether the recorded owner still asks (default: it
 * is among the askers in the same role).
 */
export function decideOwner(
  kind: ClaimKind,
  name: string,
  prefix: string,
  askers: readonly Asker[],
  record: ClaimRecord | undefined,
  asks: (owner: string, as: 'group' | undefined) => boolean = (owner, as) => askers.some((a) => a.claimant === owner && a.as === as),
  members?: readonly string[],
): OwnedName | undefined {
  const key = claimKey(prefix, kind, name);
  const recorded = record?.value;
  const first = askers[0];
  if (!recorded && !first) {
    // A bad record nobody asks for: rewritten by nobody, reported by readClaimRecords.
    return undefined;
  }
  const owner = recorded ? recorded.owner : first!.claimant;
  const as = recorded ? recorded.as : first!.as;
  const others = [...new Set(askers.filter((a) => a.claimant !== owner || a.as !== as).map((a) => a.claimant))].sort(cmp);
  return {
    kind,
    name,
    key,
    owner,
    ...(as ? { as } : {}),
    ...(recorded?.members ? { members: recorded.members } : as === 'group' && members ? { members: [...members] } : {}),
    ownerAsks: recorded ? asks(owner, as) : true,
    others,
    ...(record
      ? {
          record: {
            modifyIndex: record.modifyIndex,
            createIndex: record.createIndex,
            valid: recorded !== undefined,
            ...(recorded?.idle_since !== undefined ? { idleSince: recorded.idle_since } : {}),
          },
        }
      : {}),
  };
}

/** Why `claimant` does not get a name held by `held`, for a rejection reason. */
export function heldBy(held: OwnedName, what: string): string {
  const recorded = held.record?.valid ? `recorded in ${held.key}` : 'first claim';
  const owner = held.as === 'group' ? `group ${held.name} (owned by app ${held.owner})` : `app ${held.owner}`;
  if (!held.ownerAsks) {
    return `${what} is held by ${owner}, which no longer asks for it; it is released for the next claimant after the grace period (${recorded})`;
  }
  return `${what} belongs to ${owner} (${recorded})`;
}

export function compareOwned(a: OwnedName, b: OwnedName): number {
  return cmp(a.key, b.key);
}

/** Orders provisional claimants by when they were registered, then by name. */
export function byRegistration<T extends { createIndex: number; name: string }>(a: T, b: T): number {
  return numCmp(a.createIndex, b.createIndex) || cmp(a.name, b.name);
}
