// Pure: per-name order history (kept in Consul K/V `<consul_prefix>status/<fqdn>` so a new lock
// holder does not retry at once), the per-name backoff (src/util/backoff.ts, capped at 24 h) and
// the cluster-wide `max_orders_per_hour` budget.
import { backoffDelay } from '../util/backoff.js';
import { MAX_RETRY_MS } from './config.js';
import type { NamePlan } from './names.js';

export const HOUR_MS = 3_600_000;

/** How the last attempt for a name ended. */
export type OrderResult = 'issued' | 'preflight-failed' | 'order-failed' | 'store-failed' | 'lock-lost';
export const ORDER_RESULTS: readonly OrderResult[] = ['issued', 'preflight-failed', 'order-failed', 'store-failed', 'lock-lost'];

export interface NameStatus {
  host: string;
  lastResult: OrderResult;
  /** What went wrong (no secret), absent after a success. */
  lastError?: string;
  /** ms since the epoch. */
  lastAttemptAt: number;
  /** Failures in a row (0 after a success). */
  failures: number;
  /** Not before this time (ms); absent: as soon as the name needs a certificate. */
  nextTryAt?: number;
  /** When orders were sent to the ACME server for this name during the last hour (ms). */
  orders: number[];
  /** Which router made the attempt. */
  holder: string;
}

export interface BackoffSettings {
  baseMs: number;
  random?: () => number;
}

/** The status after an attempt; `ordered`: an order reached the ACME server (counts against the budget). */
export function recordAttempt(
  prev: NameStatus | undefined,
  attempt: { host: string; result: OrderResult; error?: string; ordered: boolean; holder: string; now: number },
  backoff: BackoffSettings,
): NameStatus {
  const { host, result, error, ordered, holder, now } = attempt;
  const orders = [...recentOrders(prev, now), ...(ordered ? [now] : [])];
  if (result === 'issued') return { host, lastResult: result, lastAttemptAt: now, failures: 0, orders, holder };
  const failures = (prev?.failures ?? 0) + 1;
  const delay = backoffDelay(failures, { baseMs: backoff.baseMs, maxMs: MAX_RETRY_MS, random: backoff.random });
  return { host, lastResult: result, lastError: error, lastAttemptAt: now, failures, nextTryAt: now + Math.round(delay), orders, holder };
}

function recentOrders(status: NameStatus | undefined, now: number): number[] {
  return (status?.orders ?? []).filter((at) => at > now - HOUR_MS && at <= now);
}

/** Orders sent in the last hour across every name, oldest first. */
export function ordersInLastHour(statuses: Iterable<NameStatus>, now: number): number[] {
  return [...statuses].flatMap((s) => recentOrders(s, now)).sort((a, b) => a - b);
}

export interface Selection {
  /**
   * Names to try now, in order: renewals first (a name that is served now must not lapse behind
   * new names), then new orders; each of the two shared round-robin across apps (see fairShare).
   */
  due: NamePlan[];
  /** Names that need a certificate but wait for their backoff. */
  waiting: { host: string; until: number }[];
}

export function selectDue(plans: NamePlan[], statuses: Map<string, NameStatus>, now: number): Selection {
  const renewals: NamePlan[] = [];
  const orders: NamePlan[] = [];
  const waiting: Selection['waiting'] = [];
  for (const plan of plans) {
    if (plan.action === 'none') continue;
    const next = statuses.get(plan.host)?.nextTryAt;
    if (next !== undefined && next > now) waiting.push({ host: plan.host, until: next });
    else (plan.action === 'renew' ? renewals : orders).push(plan);
  }
  const expiry = (p: NamePlan) => p.certificate?.notAfter ?? '';
  const byExpiry = (a: NamePlan, b: NamePlan) => expiry(a).localeCompare(expiry(b)) || byHost(a, b);
  const usage = appUsage(plans, statuses, now);
  return { due: [...fairShare(renewals, byExpiry, usage), ...fairShare(orders, byHost, usage)], waiting };
}

const byHost = (a: NamePlan, b: NamePlan): number => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);

interface AppUsage {
  /** Orders sent for the app's names in the last hour. */
  ordersLastHour: number;
  /** The app's most recent attempt (ms; 0: never). */
  lastAttemptAt: number;
}

/** What each app (the owner of the names, from the routing model) used of the budget lately. */
function appUsage(plans: NamePlan[], statuses: Map<string, NameStatus>, now: number): Map<string, AppUsage> {
  const usage = new Map<string, AppUsage>();
  for (const plan of plans) {
    const u = usage.get(plan.app) ?? { ordersLastHour: 0, lastAttemptAt: 0 };
    const status = statuses.get(plan.host);
    u.ordersLastHour += recentOrders(status, now).length;
    u.lastAttemptAt = Math.max(u.lastAttemptAt, status?.lastAttemptAt ?? 0);
    usage.set(plan.app, u);
  }
  return usage;
}

/**
 * Round-robin across apps, so that one app claiming thousands of names cannot take the whole
 * hourly budget: round k holds the k-th name (in `within` order) of every app that has one. In
 * each round the apps that used the budget least go first (fewest orders in the last hour, then
 * the oldest last attempt: an app that waited longest is next, across passes and hours), then
 * the round's own order (soonest expiry first for renewals), then the app's name.
 */
function fairShare(plans: NamePlan[], within: (a: NamePlan, b: NamePlan) => number, usage: Map<string, AppUsage>): NamePlan[] {
  const queues = new Map<string, NamePlan[]>();
  for (const plan of plans) {
    const queue = queues.get(plan.app);
    if (queue) queue.push(plan);
    else queues.set(plan.app, [plan]);
  }
  for (const queue of queues.values()) queue.sort(within);
  const use = (app: string) => usage.get(app) ?? { ordersLastHour: 0, lastAttemptAt: 0 };
  const rank = (a: NamePlan, b: NamePlan) =>
    use(a.app).ordersLastHour - use(b.app).ordersLastHour ||
    use(a.app).lastAttemptAt - use(b.app).lastAttemptAt ||
    within(a, b) ||
    (a.app < b.app ? -1 : a.app > b.app ? 1 : 0);
  const out: NamePlan[] = [];
  for (let k = 0; out.length < plans.length; k++) {
    const round = [...queues.values()].flatMap((q) => (k < q.length ? [q[k]!] : []));
    out.push(...round.sort(rank));
  }
  return out;
}

/** When the budget allows one more order (now, or when the oldest order of the hour ages out). */
export function budgetFreeAt(orders: number[], maxPerHour: number, now: number): number {
  if (orders.length < maxPerHour) return now;
  return orders[orders.length - maxPerHour]! + HOUR_MS;
}

/** Parses a status value read from Consul K/V; undefined (with the reason) when it is not one of ours. */
export function parseStatus(host: string, text: string): NameStatus | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'is not JSON' };
  }
  const v = value as Partial<NameStatus> | null;
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (
    !v ||
    typeof v !== 'object' ||
    !ORDER_RESULTS.includes(v.lastResult as OrderResult) ||
    !num(v.lastAttemptAt) ||
    !num(v.failures) ||
    !Array.isArray(v.orders) ||
    !v.orders.every(num)
  ) {
    return { error: 'is not an ACME status written by paas-router (lastResult, lastAttemptAt, failures, orders)' };
  }
  return {
    host,
    lastResult: v.lastResult as OrderResult,
    ...(typeof v.lastError === 'string' ? { lastError: v.lastError } : {}),
    lastAttemptAt: v.lastAttemptAt!,
    failures: Math.max(0, Math.floor(v.failures!)),
    ...(num(v.nextTryAt) ? { nextTryAt: v.nextTryAt } : {}),
    orders: v.orders as number[],
    holder: typeof v.holder === 'string' ? v.holder : '',
  };
}
