// The operator view: acmeView (pure) and the health warnings it leads to.
import t from 'tap';
import { acmeView } from '../../src/acme/view.js';
import type { NamePlan } from '../../src/acme/names.js';
import type { NameStatus } from '../../src/acme/schedule.js';
import { evaluateHealth } from '../../src/server/status.js';
import { initialState } from '../../src/state.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const plans: NamePlan[] = [
  {
    host: 'a.example.org',
    app: 'blog',
    action: 'none',
    reason: 'valid',
    certificate: { source: 'acme', name: 'a.example.org', notAfter: '2026-03-01T00:00:00.000Z' },
  },
  { host: 'b.example.org', app: 'blog', action: 'order', reason: 'no certificate in Vault', certificate: null },
  {
    host: 'c.example.org',
    app: 'shop',
    action: 'none',
    reason: 'hand-placed certificate tls/c.example.org wins over ACME',
    certificate: { source: 'vault', name: 'c.example.org', notAfter: '2027-01-01T00:00:00.000Z' },
  },
];
const statuses = new Map<string, NameStatus>([
  ['a.example.org', { host: 'a.example.org', lastResult: 'issued', lastAttemptAt: T0 - 60_000, failures: 0, orders: [T0 - 60_000], holder: 'r1' }],
  [
    'b.example.org',
    {
      host: 'b.example.org',
      lastResult: 'preflight-failed',
      lastError: 'not reachable',
      lastAttemptAt: T0 - 1_000,
      failures: 2,
      nextTryAt: T0 + 120_000,
      orders: [],
      holder: 'r1',
    },
  ],
]);

t.test('per host: source, expiry, next action, last result, next try; lock and budget', async (t) => {
  const view = acmeView({
    directoryUrl: 'https://acme/dir',
    thumbprint: 'x',
    accountError: undefined,
    lock: { held: false, holder: 'r1 http://10.0.0.1:9107', since: T0 - 3_600_000 },
    lockKey: 'paas-router/acme/lock',
    plans,
    statuses,
    maxOrdersPerHour: 1,
    now: T0,
  });
  t.same(view.lock, { held: false, holder: 'r1 http://10.0.0.1:9107', since: '2025-12-31T23:00:00.000Z', key: 'paas-router/acme/lock' });
  t.equal(view.ordersLastHour, 1);
  t.equal(view.budgetFreeAt, '2026-01-01T00:59:00.000Z', 'budget of 1 used: free an hour after that order');
  t.same(
    view.hosts.map((h) => [h.host, h.certificateSource, h.notAfter, h.action, h.lastResult, h.failures, h.nextTryAt]),
    [
      ['a.example.org', 'acme', '2026-03-01T00:00:00.000Z', 'none', 'issued', 0, null],
      ['b.example.org', null, null, 'order', 'preflight-failed', 2, '2026-01-01T00:02:00.000Z'],
      ['c.example.org', 'vault', '2027-01-01T00:00:00.000Z', 'none', null, 0, null],
    ],
  );
});

t.test('health: warnings for a missing account key and for domains left without a certificate', async (t) => {
  const state = initialState(T0);
  t.same(
    evaluateHealth(state, T0).warnings.filter((w) => w.startsWith('ACME')),
    [],
    'ACME off: nothing',
  );
  state.acme = acmeView({
    directoryUrl: 'https://acme/dir',
    thumbprint: undefined,
    accountError: 'Vault refused the token (403)',
    lock: { held: true, holder: 'me', since: T0 },
    lockKey: 'k',
    plans,
    statuses,
    maxOrdersPerHour: 20,
    now: T0,
  });
  t.same(
    evaluateHealth(state, T0).warnings.filter((w) => w.startsWith('ACME')),
    [
      'ACME: no account key yet: Vault refused the token (403)',
      'ACME: 1 custom domain(s) without a certificate after a failed attempt (see acme.hosts): b.example.org (preflight-failed)',
    ],
  );
});
