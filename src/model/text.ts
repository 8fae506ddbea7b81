// Small text helpers shared by the model: log-safe subjects and a locale-independent comparator.
import { indexOfSorted } from '../util/sorted-search.js';

/** Longest subject kept verbatim; a huge K/V value must not flood logs or the status page. */
export const MAX_SUBJECT = 512;

// C0/C1 controls, DEL, line/paragraph separators, zero-width and bidi controls, BOM, backslash:
// anything that could split a log line or make it display as something else.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\\]/g;

const SHORT: Record<string, string> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
  '\\': '\\\\',
};

/** JSON.stringify-like escaping (without the quotes) so user input always stays on one log line. */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => SHORT[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Escaped and length-capped: the form every user-supplied string takes inside a Rejection. */
export function safeText(s: string, max = MAX_SUBJECT): string {
  const clipped = s.length > max ? `${s.slice(0, max)}...(${s.length - max} more chars)` : s;
  return escapeText(clipped);
}

/** Code-unit order: unlike localeCompare it is identical on every machine and locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where the item named `name` is in `items` (sorted by name with cmp, which is code-unit order); -1 when none is. */
export function indexOfName(items: readonly { readonly name: string }[], name: string): number {
  return indexOfSorted(items, name, byName);
}
const byName = (item: { readonly name: string }) => item.name;

export const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
export const WHITESPACE_RE = /\s/;

/** Numeric order that stays a valid comparator with Infinity (Infinity - Infinity is NaN). */
export function numCmp(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
