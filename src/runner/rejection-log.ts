// What the log says about rejected inputs after a build: one summary line per build that changed
// them (counts by kind, the first few subjects), never one line per rejection. Tenants control how
// many rejections there are (3 000 bad tags in one registration); the log must not scale with it.
// The full list is in /status (paged) and `paas-router check`.
import type { Rejection } from '../model/types.js';

/** Subjects named in the summary line; the rest are counted. */
export const REJECTIONS_NAMED = 5;

export interface RejectionDelta {
  /** Rejections in `after` that were not in `before`, in model order. */
  added: Rejection[];
  /** How many rejections of `before` are gone. */
  removed: number;
  total: number;
}

const keyOf = (r: Rejection): string => `${r.kind}\0${r.service}\0${r.subject}\0${r.reason}\0${r.key ?? ''}`;

export function rejectionDelta(before: readonly Rejection[] | undefined, after: readonly Rejection[]): RejectionDelta {
  if (before === after) return { added: [], removed: 0, total: after.length };
  const old = new Set((before ?? []).map(keyOf));
  const added: Rejection[] = [];
  let kept = 0;
  for (const r of after) {
    if (old.has(keyOf(r))) kept += 1;
    else added.push(r);
  }
  return { added, removed: old.size - kept, total: after.length };
}

/** Counts by kind, most frequent first (ties by name): `{ tag: 2990, domain: 10 }`. */
export function countByKind(list: readonly Rejection[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of list) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

export interface RejectionLogLine {
  level: 'warn' | 'info';
  fields: Record<string, unknown>;
  message: string;
}

/** One line for a build's rejection changes, or undefined when nothing changed. */
export function rejectionLogLine(delta: RejectionDelta): RejectionLogLine | undefined {
  const { added, removed, total } = delta;
  if (added.length === 0 && removed === 0) return undefined;
  if (added.length === 0) return { level: 'info', fields: { removed, total }, message: `${removed} rejected input(s) no longer rejected; ${total} remain` };
  if (added.length === 1) {
    const r = added[0]!;
    return { level: 'warn', fields: { rejection: r, removed, total }, message: `rejected ${r.kind} input for ${r.service}: ${r.reason}` };
  }
  const byKind = countByKind(added);
  const first = added.slice(0, REJECTIONS_NAMED).map((r) => ({ kind: r.kind, service: r.service, subject: clip(r.subject), reason: clip(r.reason) }));
  const kinds = Object.entries(byKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const named = first.map((r) => `${r.service} ${JSON.stringify(r.subject)}`).join(', ');
  const more = added.length > first.length ? ` and ${added.length - first.length} more` : '';
  return {
    level: 'warn',
    fields: { added: added.length, byKind, first, removed, total },
    message: `${added.length} new rejected inputs (${kinds}): ${named}${more}; every one is listed in /status`,
  };
}

/** Tenant text in a log line stays short (a subject can be a 1 KB maintenance message). */
function clip(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
