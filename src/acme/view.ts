// Pure: what /status, the status page and /metrics show about ACME.
import type { LockView } from './lock.js';
import type { NamePlan } from './names.js';
import { HOUR_MS, ordersInLastHour, type NameStatus, type OrderResult } from './schedule.js';

export interface AcmeHostView {
  host: string;
  app: string;
  /** Where the served certificate comes from: a hand-placed one in Vault, ACME, or none yet. */
  certificateSource: 'vault' | 'acme' | null;
  /** Vault name of that certificate (`tls/<name>`). */
  certificateName: string | null;
  notAfter: string | null;
  /** What the issuer does next for this name, and why. */
  action: NamePlan['action'];
  reason: string;
  lastResult: OrderResult | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  failures: number;
  /** Not before this time (backoff; in the past = due now), null = as soon as needed. */
  nextTryAt: string | null;
}

export interface AcmeView {
  directoryUrl: string;
  /** JWK thumbprint HAProxy answers HTTP-01 challenges with (null until the account key is read). */
  thumbprint: string | null;
  accountError: string | null;
  lock: { held: boolean; holder: string | null; since: string | null; key: string };
  ordersLastHour: number;
  maxOrdersPerHour: number;
  /** When the hourly budget allows an order again (null = it does now). */
  budgetFreeAt: string | null;
  hosts: AcmeHostView[];
  /** Last time the plan was computed. */
  updatedAt: string;
}

const iso = (ms: number | undefined): string | null => (ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

export function acmeView(input: {
  directoryUrl: string;
  thumbprint: string | undefined;
  accountError: string | undefined;
  lock: LockView;
  lockKey: string;
  plans: NamePlan[];
  statuses: Map<string, NameStatus>;
  maxOrdersPerHour: number;
  now: number;
}): AcmeView {
  const { plans, statuses, now, maxOrdersPerHour } = input;
  const orders = ordersInLastHour(statuses.values(), now);
  const limited = orders.length >= maxOrdersPerHour;
  return {
    directoryUrl: input.directoryUrl,
    thumbprint: input.thumbprint ?? null,
    accountError: input.accountError ?? null,
    lock: { held: input.lock.held, holder: input.lock.holder || null, since: iso(input.lock.since), key: input.lockKey },
    ordersLastHour: orders.length,
    maxOrdersPerHour,
    budgetFreeAt: limited ? iso(orders[orders.length - maxOrdersPerHour]! + HOUR_MS) : null,
    hosts: plans.map((p) => {
      const s = statuses.get(p.host);
      return {
        host: p.host,
        app: p.app,
        certificateSource: p.certificate?.source ?? null,
        certificateName: p.certificate?.name ?? null,
        notAfter: p.certificate?.notAfter ?? null,
        action: p.action,
        reason: p.reason,
        lastResult: s?.lastResult ?? null,
        lastError: s?.lastError ?? null,
        lastAttemptAt: iso(s?.lastAttemptAt),
        failures: s?.failures ?? 0,
        nextTryAt: p.action === 'none' ? null : iso(s?.nextTryAt),
      };
    }),
    updatedAt: new Date(now).toISOString(),
  };
}
