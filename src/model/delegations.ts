// Path delegations: only a host's owner decides who serves a path on it. The owner writes
// `<paths_prefix><owner>` = `<host><path>=<app> ...` (a key under its own name, which the ACL
// policy of docs/operating.md gives its team); `<host>/=<app>` gives the root (an app without
// router.path). A delegation is permission only: the app must still claim the host in its own
// domains key and carry the matching router.path.
import type { KvEntry, Rejection } from './types.js';
import { PATH_ALLOWED, parsePathPrefix } from './feature-tags.js';
import { validateFqdn } from './fqdn.js';
import { sortEntries } from './features.js';
import { nameOfKey } from './kv-keys.js';
import { reject } from './rejections.js';
import { safeText } from './text.js';

const APP_RE = /^[a-z0-9][a-z0-9.-]*$/;

/** owner → `<host>\0<path>` → the app the owner gives that pair to (path '' is the root). */
export type Delegations = Map<string, Map<string, string>>;

export function pairKey(host: string, path: string | undefined): string {
  return `${host}\0${path ?? ''}`;
}

type Token = { ok: true; host: string; path: string; app: string } | { ok: false; reason: string };

function parseToken(token: string): Token {
  const eq = token.lastIndexOf('=');
  const slash = token.indexOf('/');
  if (eq === -1 || slash === -1 || slash > eq) return { ok: false, reason: 'expected <host>/<path>=<app> (e.g. www.example.org/blog=blog-app)' };
  const fqdn = validateFqdn(token.slice(0, slash));
  if (!fqdn.ok) return { ok: false, reason: `bad host: ${fqdn.reason}` };
  const rawPath = token.slice(slash, eq);
  let path = '';
  if (rawPath !== '/') {
    const p = parsePathPrefix(rawPath);
    if (!p.ok) return { ok: false, reason: `bad path: ${p.why ?? PATH_ALLOWED}` };
    path = p.value;
  }
  const app = token.slice(eq + 1);
  if (!APP_RE.test(app)) return { ok: false, reason: 'bad app name: lowercase letters, digits, "." and "-"' };
  return { ok: true, host: fqdn.fqdn, path, app };
}

export function parseDelegations(entries: readonly KvEntry[], prefix: string): { delegations: Delegations; rejections: Rejection[] } {
  const delegations: Delegations = new Map();
  const rejections: Rejection[] = [];
  for (const entry of sortEntries([...entries])) {
    const value = typeof entry.value === 'string' ? entry.value : '';
    const k = nameOfKey(entry.key, prefix, value);
    if ('folder' in k) continue;
    if (!k.ok) {
      rejections.push(reject('claim', k.name, entry.key, k.reason, entry.key));
      continue;
    }
    const given = new Map<string, string>();
    for (const token of value.split(/[\s,]+/).filter((t) => t !== '')) {
      const t = parseToken(token);
      if (!t.ok) {
        rejections.push(reject('claim', k.name, safeText(token, 80), `path delegation ${t.reason}; ignored`, entry.key));
        continue;
      }
      const pair = pairKey(t.host, t.path);
      if (given.has(pair) && given.get(pair) !== t.app) {
        rejections.push(
          reject('claim', k.name, safeText(token, 80), `${t.host}${t.path || '/'} is given twice; the first (${given.get(pair)}) counts`, entry.key),
        );
        continue;
      }
      given.set(pair, t.app);
    }
    delegations.set(k.name, given);
  }
  return { delegations, rejections };
}
