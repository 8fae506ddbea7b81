// Rejection bookkeeping: every user-supplied string is escaped here, output is deduplicated and sorted.
import type { Rejection, RejectionKind } from './types.js';
import { cmp, safeText } from './text.js';

export function reject(kind: RejectionKind, service: string, subject: string, reason: string, key?: string): Rejection {
  return { kind, service: safeText(service), subject: safeText(subject), reason, ...(key !== undefined ? { key: safeText(key) } : {}) };
}

function compareRejections(a: Rejection, b: Rejection): number {
  return cmp(a.service, b.service) || cmp(a.subject, b.subject) || cmp(a.reason, b.reason) || cmp(a.kind, b.kind) || cmp(a.key ?? '', b.key ?? '');
}

/** Sorted by service, subject, reason (then kind, key so the order is total); exact duplicates dropped. */
export function finishRejections(list: Rejection[]): Rejection[] {
  const sorted = [...list].sort(compareRejections);
  return sorted.filter((r, i) => i === 0 || compareRejections(sorted[i - 1]!, r) !== 0);
}
