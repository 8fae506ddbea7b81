// Checks of the per-app features that need the whole model: a redirect target among the app's own
// hosts, and maintenance entries from Consul K/V (`<maintenance_prefix><app or group>` = message).
import type { AppRoute, KvEntry, Rejection } from './types.js';
import { nameOfKey } from './kv-keys.js';
import { reject } from './rejections.js';
import { cmp, indexOfName, numCmp, safeText } from './text.js';

/** Deterministic order of K/V entries whatever the input order: key, CreateIndex, value. */
export function sortEntries<T extends KvEntry>(entries: readonly T[]): T[] {
  const index = (n: number) => (typeof n === 'number' && Number.isFinite(n) ? n : Infinity);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return [...entries].sort((a, b) => cmp(a.key, b.key) || numCmp(index(a.createIndex), index(b.createIndex)) || cmp(text(a.value), text(b.value)));
}

export const MAX_MAINTENANCE_BYTES = 1024;
export const DEFAULT_MAINTENANCE_MESSAGE = 'This site is down for maintenance. Please try again later.';

/**
 * `router.redirect` must name one of the app's own hosts; otherwise it is dropped (the app stays
 * routed). Copy on write: an app that changes is replaced in `apps` by a copy, the others stay.
 */
export function checkRedirects(apps: AppRoute[]): Rejection[] {
  const rejections: Rejection[] = [];
  for (let i = 0; i < apps.length; i++) {
    const app = apps[i]!;
    if (app.redirect === undefined || app.hosts.includes(app.redirect)) continue;
    rejections.push(
      reject(
        'tag',
        app.name,
        `router.redirect=${app.redirect}`,
        `router.redirect: ${app.redirect} is not a host of app ${app.name} (its hosts: ${app.hosts.join(', ') || 'none'}); no redirect`,
      ),
    );
    const { redirect: _dropped, ...rest } = app;
    apps[i] = rest;
  }
  return rejections;
}

/** Why a maintenance message cannot be served, or undefined. Tabs and newlines are fine. */
export function maintenanceMessageProblem(message: string): string | undefined {
  const bytes = Buffer.byteLength(message, 'utf8');
  if (bytes > MAX_MAINTENANCE_BYTES) return `message is ${bytes} bytes long (max ${MAX_MAINTENANCE_BYTES})`;
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(message)) return 'message contains control characters (only tabs and newlines are allowed)';
  return undefined;
}

/**
 * The text served (the template adds the final newline): the message, or the default one for an
 * empty value. HAProxy escapes a line break coming from a sample as `%0A`, so each run of line
 * breaks becomes one space: the page is one paragraph, exactly the operator's words otherwise.
 */
export function maintenanceText(value: string): string {
  const text = value.replace(/[\r\n]+/g, ' ').trim();
  return text === '' ? DEFAULT_MAINTENANCE_MESSAGE : text;
}

/**
 * Marks routes in maintenance: the route a key names is replaced in `apps` by a copy, every other
 * stays the same object. `memberOf` maps the apps of a group to it: a key naming a member is
 * refused (the route is the group's; the key must name the group). `apps` are sorted by name (cmp),
 * as the model's are.
 */
export function applyMaintenance(apps: AppRoute[], entries: readonly KvEntry[], prefix: string, memberOf: Map<string, string>): Rejection[] {
  const rejections: Rejection[] = [];
  if (entries.length === 0) return rejections;
  const decided = new Set<string>();
  for (const entry of sortEntries(entries)) {
    const value = typeof entry.value === 'string' ? entry.value : '';
    const k = nameOfKey(entry.key, prefix, value, 'app or group');
    if ('folder' in k) continue;
    if (!k.ok) {
      rejections.push(reject('maintenance', k.name, entry.key, k.reason, entry.key));
      continue;
    }
    const name = k.name;
    if (decided.has(name)) continue;
    decided.add(name);
    // `apps` are sorted by name: a few keys are looked up there, with no map of every app.
    const index = indexOfName(apps, name);
    const app = index < 0 ? undefined : apps[index];
    const group = memberOf.get(name);
    const refuse = (why: string) => rejections.push(reject('maintenance', name, entry.key, `${why}; ignored`, entry.key));
    if (!app && group !== undefined) refuse(`app ${name} is served as part of group ${group}: put ${prefix}${group} instead`);
    else if (!app) refuse(`no app or group named ${safeText(name)} is routed`);
    else if (app.mode !== 'http') refuse(`app ${name} is a tcp app: maintenance pages are for http apps`);
    else {
      const problem = maintenanceMessageProblem(value);
      if (problem) refuse(`${problem}; the app is not put in maintenance`);
      else {
        const maintenance = { key: entry.key, message: maintenanceText(value), ...(entry.firstSeenAt !== undefined ? { since: entry.firstSeenAt } : {}) };
        apps[index] = { ...app, maintenance };
      }
    }
  }
  return rejections;
}
