// Per-name backoff (capped at 24 h), the hourly order budget, the due list and the status values
// read back from Consul K/V (anything not written by paas-router is refused with a reason).
import t from 'tap';
import { HOUR_MS, budgetFreeAt, ordersInLastHour, parseStatus, recordAttempt, selectDue, type NameStatus } from '../../src/acme/schedule.js';
import type { NamePlan } from '../../src/acme/names.js';
import { LockLostError } from '../../src/acme/issue.js';
import { orderResultOf } from '../../src/acme/manager.js';
import { VaultCasError, VaultUnavailableError } from '../../src/sources/vault/errors.js';

const base = { baseMs: 60_000, random: () => 0.5 };
const T0 = Date.parse('2026-01-01T00:00:00Z');

t.test('failures back off exponentially with equal jitter, capped at 24 h; a success resets', async (t) => {
  let s: NameStatus | undefined;
  const delays: number[] = [];
  for (let i = 0; i < 14; i++) {
    s = recordAttempt(s, { host: 'a.example.org', result: 'preflight-failed', error: 'no', ordered: false, holder: 'r1', now: T0 }, base);
    delays.push(s.nextTryAt! - T0);
  }
  t.same(delays.slice(0, 4), [45_000, 90_000, 180_000, 360_000], '0.75 × 1, 2, 4, 8 minutes');
  t.equal(Math.max(...delays), 0.75 * 24 * HOUR_MS, 'never more than 24 h');
  t.equal(s!.failures, 14);
  t.same(s!.orders, [], 'a failed pre-flight sends no order');
  const ok = recordAttempt(s, { host: 'a.example.org', result: 'issued', ordered: true, holder: 'r1', now: T0 + 1 }, base);
  t.equal(ok.failures, 0);
  t.equal(ok.nextTryAt, undefined);
  t.equal(ok.lastError, undefined);
  t.same(ok.orders, [T0 + 1]);
});

t.test('the budget counts orders of the last hour across names', async (t) => {
  const mk = (host: string, orders: number[]): NameStatus => ({ host, lastResult: 'order-failed', lastAttemptAt: T0, failures: 1, orders, holder: '' });
  const statuses = [mk('a', [T0 - 2 * HOUR_MS, T0 - 30 * 60_000]), mk('b', [T0 - 10 * 60_000, T0 - 5 * 60_000])];
  const orders = ordersInLastHour(statuses, T0);
  t.same(orders, [T0 - 30 * 60_000, T0 - 10 * 60_000, T0 - 5 * 60_000], 'older orders age out');
  t.equal(budgetFreeAt(orders, 4, T0), T0, 'room left');
  t.equal(budgetFreeAt(orders, 3, T0), T0 - 30 * 60_000 + HOUR_MS, 'full: free when the oldest ages out');
  t.equal(budgetFreeAt(orders, 2, T0), T0 - 10 * 60_000 + HOUR_MS);
  const pruned = recordAttempt(statuses[0], { host: 'a', result: 'order-failed', ordered: true, holder: 'r', now: T0 }, base);
  t.same(pruned.orders, [T0 - 30 * 60_000, T0], 'the history keeps only the last hour');
});

const plan = (host: string, action: NamePlan['action'], notAfter?: string, app = 'x'): NamePlan => ({
  host,
  app,
  action,
  reason: '',
  certificate: notAfter ? { source: 'acme', name: host, notAfter } : null,
});

t.test('due: renewals first by expiry, then new names; names in backoff wait', async (t) => {
  const plans = [
    plan('r2', 'renew', '2026-03-01T00:00:00.000Z'),
    plan('ok', 'none'),
    plan('n2', 'order'),
    plan('r1', 'renew', '2026-02-01T00:00:00.000Z'),
    plan('n1', 'order'),
    plan('wait', 'order'),
  ];
  const statuses = new Map<string, NameStatus>([
    ['wait', { host: 'wait', lastResult: 'preflight-failed', lastAttemptAt: T0, failures: 1, nextTryAt: T0 + 1_000, orders: [], holder: '' }],
    ['n2', { host: 'n2', lastResult: 'order-failed', lastAttemptAt: T0 - 5_000, failures: 1, nextTryAt: T0 - 1, orders: [], holder: '' }],
  ]);
  const { due, waiting } = selectDue(plans, statuses, T0);
  t.same(
    due.map((p) => p.host),
    ['r1', 'r2', 'n1', 'n2'],
  );
  t.same(waiting, [{ host: 'wait', until: T0 + 1_000 }]);
});

t.test('a tenant claiming thousands of names delays neither renewals nor other apps', async (t) => {
  // The hostile app's names sort first by host; the others renew or order one name each.
  const flood = Array.from({ length: 2_000 }, (_, i) => plan(`a${String(i).padStart(4, '0')}.flood.example`, 'order', undefined, 'flood'));
  const plans = [
    ...flood,
    plan('shop.example.org', 'renew', '2026-01-20T00:00:00.000Z', 'shop'),
    plan('blog.example.org', 'renew', '2026-01-10T00:00:00.000Z', 'blog'),
    plan('new.example.org', 'order', undefined, 'wiki'),
  ];
  const { due } = selectDue(plans, new Map(), T0);
  const budget = 20;
  const served = due.slice(0, budget).map((p) => p.host);
  t.same(served.slice(0, 2), ['blog.example.org', 'shop.example.org'], 'renewals first, the soonest expiry first');
  t.ok(served.includes('new.example.org'), 'the other app’s new name fits in the first hour');
  t.equal(due.length, plans.length, 'every name is still due');
});

t.test('new orders: round-robin across apps, the app that used the budget least first', async (t) => {
  const plans = [
    plan('a1', 'order', undefined, 'a'),
    plan('a2', 'order', undefined, 'a'),
    plan('a3', 'order', undefined, 'a'),
    plan('b1', 'order', undefined, 'b'),
    plan('b2', 'order', undefined, 'b'),
    plan('c1', 'order', undefined, 'c'),
  ];
  t.same(
    selectDue(plans, new Map(), T0).due.map((p) => p.host),
    ['a1', 'b1', 'c1', 'a2', 'b2', 'a3'],
    'one name per app per round',
  );
  // App a ordered in the last hour (for a name it has certified since): it goes last in each round.
  const statuses = new Map<string, NameStatus>([
    ['a0', { host: 'a0', lastResult: 'issued', lastAttemptAt: T0 - 60_000, failures: 0, orders: [T0 - 60_000], holder: '' }],
  ]);
  t.same(
    selectDue([...plans, plan('a0', 'none', undefined, 'a')], statuses, T0).due.map((p) => p.host),
    ['b1', 'c1', 'a1', 'b2', 'a2', 'a3'],
  );
  // An hour later the counts are 0 again: the app that waited longest comes first (no app is
  // starved by its name sorting late).
  const later = new Map<string, NameStatus>([
    ['a0', { host: 'a0', lastResult: 'issued', lastAttemptAt: T0 - 2 * HOUR_MS, failures: 0, orders: [], holder: '' }],
    ['b0', { host: 'b0', lastResult: 'issued', lastAttemptAt: T0 - 3 * HOUR_MS, failures: 0, orders: [], holder: '' }],
    ['c0', { host: 'c0', lastResult: 'issued', lastAttemptAt: T0 - 4 * HOUR_MS, failures: 0, orders: [], holder: '' }],
  ]);
  const withHistory = [...plans, plan('a0', 'none', undefined, 'a'), plan('b0', 'none', undefined, 'b'), plan('c0', 'none', undefined, 'c')];
  t.same(
    selectDue(withHistory, later, T0).due.map((p) => p.host),
    ['c1', 'b1', 'a1', 'b2', 'a2', 'a3'],
  );
});

t.test('renewals: round-robin across apps too, each round by expiry', async (t) => {
  const plans = [
    plan('a1', 'renew', '2026-01-02T00:00:00.000Z', 'a'),
    plan('a2', 'renew', '2026-01-03T00:00:00.000Z', 'a'),
    plan('a3', 'renew', '2026-01-04T00:00:00.000Z', 'a'),
    plan('b1', 'renew', '2026-01-20T00:00:00.000Z', 'b'),
    plan('c1', 'renew', '2025-12-31T00:00:00.000Z', 'c'),
  ];
  t.same(
    selectDue(plans, new Map(), T0).due.map((p) => p.host),
    ['c1', 'a1', 'b1', 'a2', 'a3'],
  );
});

t.test('status values from K/V: ours parse, anything else is refused with a reason', async (t) => {
  const good: NameStatus = { host: 'a.example.org', lastResult: 'issued', lastAttemptAt: T0, failures: 0, orders: [T0], holder: 'r1' };
  t.same(parseStatus('a.example.org', JSON.stringify(good)), good);
  const table: [string, string][] = [
    ['not json', 'is not JSON'],
    ['null', 'is not an ACME status'],
    ['{"lastResult":"hacked","lastAttemptAt":1,"failures":0,"orders":[]}', 'is not an ACME status'],
    ['{"lastResult":"issued","lastAttemptAt":"x","failures":0,"orders":[]}', 'is not an ACME status'],
    ['{"lastResult":"issued","lastAttemptAt":1,"failures":0,"orders":["x"]}', 'is not an ACME status'],
  ];
  for (const [text, reason] of table) {
    const r = parseStatus('a', text);
    t.match('error' in r ? r.error : 'parsed', reason, text);
  }
});

t.test('a lost check-and-set in Vault counts as store-failed, not order-failed', async (t) => {
  t.equal(orderResultOf(new VaultCasError('tls/www.example.org changed in Vault during the write')), 'store-failed');
  t.equal(orderResultOf(new VaultUnavailableError('sealed', 503)), 'store-failed');
  t.equal(orderResultOf(new LockLostError('www.example.org')), 'lock-lost');
  t.equal(orderResultOf(new Error('rate limited')), 'order-failed');
});
