// `router.auth=<realm>`: HTTP basic auth with the users of Vault `<kv_prefix>auth/<app or group>`
// (`{ "users": "user:<crypt hash>\n..." }`). Hashes only: a line that is not `user:<hash>` with a
// hash scheme HAProxy's crypt(3) (libxcrypt on Debian) verifies is refused, so a plain password
// can never be taken for a hash. Anything wrong (no Vault, no entry, one bad line) makes the app
// answer 503 rather than serve it unprotected, and touches no other app. Reasons name the app and
// the line number, never the line itself (it may hold a hash, or a password pasted by mistake).
import type { AppRoute, BasicAuth, Rejection } from './types.js';
import { reject } from './rejections.js';
import { safeText } from './text.js';

export const MAX_REALM = 64;
export const MAX_AUTH_USERS = 100;
export const MAX_AUTH_USER = 64;
/** Highest bcrypt cost and sha-crypt rounds: HAProxy computes the hash for every request, on its own threads. */
export const MAX_BCRYPT_COST = 12;
export const MAX_SHA_ROUNDS = 100_000;

/** A realm printed unquoted into `http-request auth realm <realm>` and the WWW-Authenticate header. */
export const REALM_RE = /^[A-Za-z0-9._~-]+$/;
/** A user name safe in a `user <name> password <hash>` line; no `:` (basic auth splits there). */
export const AUTH_USER_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

const B64 = '[./A-Za-z0-9]';
const SCHEMES: { name: string; re: RegExp }[] = [
  { name: 'bcrypt', re: new RegExp(`^\\$2[aby]\\$([0-9]{2})\\$${B64}{53}$`) },
  { name: 'sha-256-crypt', re: new RegExp(`^\\$5\\$(?:rounds=([1-9][0-9]{3,8})\\$)?${B64}{1,16}\\$${B64}{43}$`) },
  { name: 'sha-512-crypt', re: new RegExp(`^\\$6\\$(?:rounds=([1-9][0-9]{3,8})\\$)?${B64}{1,16}\\$${B64}{86}$`) },
  { name: 'yescrypt', re: new RegExp(`^\\$y\\$${B64}{3,16}\\$${B64}{1,86}\\$${B64}{43}$`) },
  { name: 'scrypt', re: new RegExp(`^\\$7\\$${B64}{11,80}\\$${B64}{43}$`) },
];
const ACCEPTED = 'bcrypt ($2b$, $2y$, $2a$), sha-512-crypt ($6$), sha-256-crypt ($5$), yescrypt ($y$), scrypt ($7$)';

/** Known formats HAProxy cannot verify: named, so the operator knows which tool option to change. */
function unsupported(hash: string): string | undefined {
  if (hash.startsWith('$apr1$')) return "Apache's MD5 ($apr1$, htpasswd's default) is not a crypt(3) scheme: use htpasswd -B (bcrypt)";
  if (hash.startsWith('$1$')) return 'MD5-crypt ($1$) is too weak: use bcrypt or sha-512-crypt';
  if (hash.startsWith('{')) return 'LDAP-style hashes ({SHA}, {SSHA}) are not crypt(3) schemes: use htpasswd -B (bcrypt)';
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'DES crypt is too weak: use bcrypt or sha-512-crypt';
  return undefined;
}

/** Why a hash is not accepted, or undefined. Never echoes the hash. */
export function hashProblem(hash: string): string | undefined {
  const known = unsupported(hash);
  if (known) return known;
  for (const scheme of SCHEMES) {
    const m = scheme.re.exec(hash);
    if (!m) continue;
    if (scheme.name === 'bcrypt' && (Number(m[1]) < 4 || Number(m[1]) > MAX_BCRYPT_COST)) {
      return `bcrypt cost must be 04..${MAX_BCRYPT_COST} (HAProxy computes the hash on every request)`;
    }
    if (m[1] !== undefined && scheme.name !== 'bcrypt' && Number(m[1]) > MAX_SHA_ROUNDS) {
      return `${scheme.name} rounds must be at most ${MAX_SHA_ROUNDS} (HAProxy computes the hash on every request)`;
    }
    return undefined;
  }
  return `not a crypt hash this router accepts (plain passwords are never accepted); accepted: ${ACCEPTED}`;
}

export type UsersParse = { ok: true; users: { name: string; hash: string }[] } | { ok: false; reason: string };

/** `user:<hash>` lines (blank lines and `#` comments skipped); the first bad line decides. */
export function parseUsers(text: string): UsersParse {
  const users: { name: string; hash: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = `line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon === -1) return { ok: false, reason: `${at} is not <user>:<hash>` };
    const name = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (name.length > MAX_AUTH_USER || !AUTH_USER_RE.test(name)) {
      return { ok: false, reason: `${at}: the user name must be 1..${MAX_AUTH_USER} characters of A-Z a-z 0-9 . _ @ - (starting with a letter or digit)` };
    }
    const problem = hashProblem(hash);
    if (problem) return { ok: false, reason: `${at} (user ${name}): ${problem}` };
    if (users.some((u) => u.name === name)) return { ok: false, reason: `${at}: user ${name} is given twice` };
    if (users.length === MAX_AUTH_USERS) return { ok: false, reason: `more than ${MAX_AUTH_USERS} users` };
    users.push({ name, hash });
  }
  if (users.length === 0) return { ok: false, reason: 'no user in it' };
  return { ok: true, users };
}

/** The short reason on the 503 page: says what is missing, never a path, a name or a hash. */
export type AuthFailure = 'no-vault' | 'no-entry' | 'invalid';

/**
 * Gives every app with `router.auth` its users, or the reason it answers 503, each as a copy in
 * `apps` (the other apps stay the same objects). `prefix`: the Vault data path of the entries
 * (`secret/data/paas-router/auth/`), absent without Vault; `users`: what Vault holds there, entry
 * name → its `users` field (null: no text field).
 */
export function applyAuth(apps: AppRoute[], prefix: string | undefined, users: Record<string, string | null> | undefined): Rejection[] {
  const rejections: Rejection[] = [];
  for (let i = 0; i < apps.length; i++) {
    const app = apps[i]!;
    if (app.auth === undefined) continue;
    const { realm } = app.auth;
    const path = `${prefix ?? '<vault.kv_prefix>auth/'}${app.name}`;
    const fail = (failure: AuthFailure, why: string): BasicAuth => {
      rejections.push(reject('auth', app.name, `router.auth=${realm}`, `router.auth: ${why}; app ${app.name} answers 503 until this is fixed`, path));
      return { realm, path, users: [], failure };
    };
    const entry = users !== undefined && Object.hasOwn(users, app.name) ? users[app.name] : undefined;
    let auth: BasicAuth;
    if (prefix === undefined) auth = fail('no-vault', 'Vault is not configured (vault.address is empty), and the users come from Vault');
    else if (entry === undefined) auth = fail('no-entry', `no users at Vault ${path}`);
    else if (entry === null) auth = fail('invalid', `Vault ${path} has no "users" text field`);
    else {
      const parsed = parseUsers(entry);
      auth = parsed.ok ? { realm, path, users: parsed.users } : fail('invalid', `Vault ${path} "users": ${safeText(parsed.reason, 300)}`);
    }
    apps[i] = { ...app, auth };
  }
  return rejections;
}
