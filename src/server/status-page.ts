// Which apps and which rejected inputs one /status answer holds. Pure. The document's size
// follows the page asked for, never the number of apps or of rejections tenants caused: apps
// come `limit` at a time, rejections `limit` rows at a time and at most REJECTIONS_PER_SERVICE
// per service (counted beyond that), hosts at most HOSTS_PER_APP per app.
import type { AppRoute, Rejection } from '../model/types.js';
import { type StatusQuery, type StatusSort, StatusQueryError } from './status-query.js';

/** Rejected inputs shown per service in a page; `?app=<service>` shows them all. */
export const REJECTIONS_PER_SERVICE = 10;
/** Hosts shown per app in a page; `?app=<name>` shows them all. */
export const HOSTS_PER_APP = 100;

/** The latest traffic figure an app is ranked by (higher first); -1 when unknown. */
export type Rank = (app: AppRoute, sort: Exclude<StatusSort, 'name'>) => number;

export interface AppPage {
  apps: AppRoute[];
  /** Apps matching `q` (all apps without it). */
  total: number;
  /** The name to pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export function appMatches(app: AppRoute, q: string): boolean {
  return app.name.toLowerCase().includes(q) || app.hosts.some((h) => h.includes(q));
}

export function pageApps(all: readonly AppRoute[], query: StatusQuery, rank?: Rank): AppPage {
  if (query.app !== null) {
    const app = all.find((a) => a.name === query.app);
    return { apps: app ? [app] : [], total: app ? 1 : 0, next: null };
  }
  const q = query.q;
  let list = q ? all.filter((a) => appMatches(a, q)) : all;
  let start = 0;
  if (query.sort === 'name') {
    // Sorted by name in the model: the first app after `after`, whether or not `after` still exists.
    if (query.after !== null) {
      const after = query.after;
      start = firstIndex(list, (a) => a.name > after);
    }
  } else {
    const sort = query.sort;
    const keys = new Map(list.map((a) => [a, rank ? rank(a, sort) : -1]));
    list = list.slice().sort((a, b) => keys.get(b)! - keys.get(a)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (query.after !== null) {
      const at = list.findIndex((a) => a.name === query.after);
      if (at < 0) throw new StatusQueryError('after', `no app named ${JSON.stringify(query.after)} in this order (it may be gone): start again without after`);
      start = at + 1;
    }
  }
  const apps = list.slice(start, start + query.limit);
  const next = start + query.limit < list.length ? apps[apps.length - 1]!.name : null;
  return { apps, total: list.length, next };
}

/** Binary search: the first index whose item satisfies `pred` (monotone over the list). */
function firstIndex<T>(list: readonly T[], pred: (x: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(list[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface RejectionPage {
  rejections: Rejection[];
  conflicts: Rejection[];
  summary: {
    /** Every rejected input of the latest build, and by kind (conflicts included). */
    total: number;
    byKind: Record<string, number>;
    /** Rows matching `q` (all without it). */
    matching: number;
    /** The service to pass as `rejections_after` for the next page; null on the last page. */
    next: string | null;
    /** Services of this page with more rejected inputs than shown: `?app=<service>` lists them all. */
    more: { service: string; shown: number; total: number }[];
  };
}

function rejectionMatches(r: Rejection, q: string): boolean {
  return r.service.toLowerCase().includes(q) || r.subject.toLowerCase().includes(q) || (r.key ?? '').toLowerCase().includes(q);
}

/**
 * A page of rejected inputs, by service name: whole services (at most REJECTIONS_PER_SERVICE rows
 * each) until `limit` rows. `?app=` gives one service's rows, all of them.
 */
export function pageRejections(all: readonly Rejection[], query: StatusQuery): RejectionPage {
  const byKind: Record<string, number> = {};
  const byService = new Map<string, Rejection[]>();
  const q = query.q;
  let matching = 0;
  for (const r of all) {
    byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    if (query.app !== null ? r.service !== query.app : q !== null && !rejectionMatches(r, q)) continue;
    matching += 1;
    const list = byService.get(r.service);
    if (list) list.push(r);
    else byService.set(r.service, [r]);
  }
  const services = [...byService.keys()].sort();
  const whole = query.app !== null;
  const after = query.rejectionsAfter;
  let i = after === null || whole ? 0 : firstIndex(services, (s) => s > after);
  const rows: Rejection[] = [];
  const more: RejectionPage['summary']['more'] = [];
  for (; i < services.length && (whole || rows.length < query.limit); i++) {
    const list = byService.get(services[i]!)!;
    const shown = whole ? list : list.slice(0, REJECTIONS_PER_SERVICE);
    rows.push(...shown);
    if (shown.length < list.length) more.push({ service: services[i]!, shown: shown.length, total: list.length });
  }
  const next = i < services.length ? services[i - 1]! : null;
  return {
    rejections: rows.filter((r) => r.kind !== 'conflict'),
    conflicts: rows.filter((r) => r.kind === 'conflict'),
    summary: { total: all.length, byKind, matching, next, more },
  };
}
