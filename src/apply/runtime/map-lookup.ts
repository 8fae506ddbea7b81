// Pure: reads HAProxy's answer to `get map <file> <key>` (the same on 2.6, 3.0 and 3.2). HAProxy
// looks the key up with the map's match method, once per expression that uses the map, and prints
// one line each:
//   type=str, case=sensitive, found=yes, idx=tree, key="a.example.org", value="app_a", type="str"
//   type=str, case=sensitive, found=no
// The line names the entry the lookup met, which for most match methods need not be the key asked
// for (`map_dom` meets a parent domain, `map_beg` a prefix). Only an exact, case-sensitive string
// match (`map()`, `map_str`, what the shipped templates use) tells whether this very key is in the
// map and with which value.

/** One expression's lookup: its match method and the entry a request for the key meets. */
export interface MapLookup {
  /** The match method (`str`, `beg`, `dom`, ...). */
  match: string;
  caseSensitive: boolean;
  /** The entry met, or null when the lookup meets none. */
  met: { key: string; value: string } | null;
}

const LOOKUP = /^type=([a-z_]+), case=(sensitive|insensitive), found=(yes|no)(?:, idx=[a-z]+, key="(.*)", value="(.*)", type="[a-z]+")?$/;

/** The lines of a `get map` answer, or undefined when the answer is not one (an unknown map, an error). */
export function parseGetMap(answer: string): MapLookup[] | undefined {
  const lookups: MapLookup[] = [];
  for (const line of answer.split('\n')) {
    if (line.trim() === '') continue;
    const m = LOOKUP.exec(line.trim());
    if (!m || (m[3] === 'yes') !== (m[4] !== undefined)) return undefined;
    lookups.push({ match: m[1]!, caseSensitive: m[2] === 'sensitive', met: m[3] === 'yes' ? { key: m[4]!, value: m[5]! } : null });
  }
  return lookups;
}

/**
 * How the runtime entry of `key` differs from `wanted` (its value in the file, undefined: not in
 * the file), from the lookups of `get map`; undefined when it does not; `inexact` when the map's
 * match method cannot say whether this very key is present (then only the whole map can tell).
 */
export function keyDiffers(key: string, wanted: string | undefined, lookups: readonly MapLookup[]): string | undefined | 'inexact' {
  if (lookups.length === 0 || lookups.some((l) => l.match !== 'str' || !l.caseSensitive)) return 'inexact';
  for (const { met } of lookups) {
    if (wanted === undefined && met !== null) return `HAProxy has ${met.value}, the file has no entry`;
    if (wanted !== undefined && met === null) return `HAProxy has no entry, the file says ${wanted}`;
    if (wanted !== undefined && met !== null && (met.key !== key || met.value !== wanted))
      return `HAProxy has ${met.key} ${met.value}, the file says ${wanted}`;
  }
  return undefined;
}
