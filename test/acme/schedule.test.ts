// Per-name backoff (capped at 24 h), the hourly order budget, the due list and the status values
// read back from Consul K/V (anything not written by paas-router is refused with a reason).
import t from 'tap';
import { HOUR_MS, budgetFreeAt, ordersInLastHour, parseStatus, recordAttempt, selectDue, type NameStatus } from '../../src/acme/schedule.js';
import type { NamePlan } from '../../src/acme/names.js';

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

t.test('due: new names first, then renewals by expiry; names in backoff wait', async (t) => {
  const plan = (host: string, action: NamePlan['action'], notAfter?: string): NamePlan => ({
    host,
    app: 'x',
    action,
    reason: '',
    certificate: notAfter ? { source: 'acme', name: host, notAfter } : null,
  });
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
    ['n1', 'n2', 'r1', 'r2'],
  );
  t.same(waiting, [{ host: 'wait', until: T0 + 1_000 }]);
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
