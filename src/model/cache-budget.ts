// router.cache across apps: every cache is HAProxy shared memory reserved at start (and held twice
// while an old worker drains after a reload), so the sizes of all apps together are bounded by
// haproxy.cache_max_size. Who gets a cache when they do not all fit is decided per build from the
// model alone, identically on every router:
// - apps by seniority: the CreateIndex of the ownership record of the app's (or group's) name in
//   Consul K/V, which a redeploy keeps; apps whose name is not recorded yet come after every
//   recorded one; ties (and a model without records) by name, in code-unit order;
// - first fit: an app whose size does not fit in what is left is served without a cache (one
//   rejection naming it, its size and the budget), and a smaller, younger app may still fit.
// So a new app never takes the cache of an older one, whatever its name or size.
import { claimKey, DEFAULT_CLAIMS_PREFIX } from './claims.js';
import { reject } from './rejections.js';
import { cmp } from './text.js';
import type { AppRoute, OwnedName, Rejection } from './types.js';

/** Default `haproxy.cache_max_size` in MiB. */
export const DEFAULT_CACHE_MAX_MB = 256;
/** Apps named in a budget rejection at most (the rest counted). */
const NAMED = 5;

/**
 * Drops `cache` from the apps that do not fit (replacing them in `apps` by copies: the memo's
 * objects are never changed), and says why for each.
 */
export function applyCacheBudget(apps: AppRoute[], maxMb: number, owners: readonly OwnedName[] = [], claimsPrefix = DEFAULT_CLAIMS_PREFIX): Rejection[] {
  const cached: number[] = [];
  for (let i = 0; i < apps.length; i++) if (apps[i]!.cache !== undefined) cached.push(i);
  if (cached.length === 0) return [];
  const wanted = new Set(cached.map((i) => claimKey(claimsPrefix, 'name', apps[i]!.name)));
  const since = new Map<string, number>();
  for (const o of owners) {
    if (o.kind === 'name' && o.record?.valid && wanted.has(o.key) && Number.isFinite(o.record.createIndex)) since.set(o.name, o.record.createIndex);
  }
  const seniority = (app: AppRoute) => since.get(app.name) ?? Number.POSITIVE_INFINITY;
  cached.sort((a, b) => {
    const x = apps[a]!;
    const y = apps[b]!;
    const sx = seniority(x);
    const sy = seniority(y);
    return sx < sy ? -1 : sx > sy ? 1 : cmp(x.name, y.name);
  });
  const rejections: Rejection[] = [];
  const granted: string[] = [];
  let used = 0;
  const drop = (i: number, reason: string) => {
    const app = apps[i]!;
    rejections.push(reject('tag', app.name, `router.cache=${app.cache}m`, reason));
    const copy = { ...app };
    delete copy.cache;
    apps[i] = copy;
  };
  for (const i of cached) {
    const app = apps[i]!;
    const size = app.cache!;
    if (maxMb === 0) {
      drop(i, `haproxy.cache_max_size is 0 on this router: no app has a cache; app ${app.name} is served without one`);
    } else if (used + size <= maxMb) {
      used += size;
      granted.push(app.name);
    } else {
      const holders =
        granted.length === 0 ? '' : ` (${granted.slice(0, NAMED).join(', ')}${granted.length > NAMED ? ` and ${granted.length - NAMED} more` : ''})`;
      drop(
        i,
        `router.cache=${size}m of app ${app.name} does not fit in haproxy.cache_max_size ${maxMb}m: ${used}m are taken by the caches of ${granted.length} app${granted.length === 1 ? '' : 's'} ahead of it${holders}, the oldest names first; served without a cache`,
      );
    }
  }
  return rejections;
}
