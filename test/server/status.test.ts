// The health rules and the status document, as pure functions of the runner's state.
import t from 'tap';
import type { ApplyReport } from '../../src/apply/applier.js';
import { buildModel } from '../../src/model/build.js';
import { evaluateHealth, grouped, startupLine, statusDocument, statusLine, type StatusInfo } from '../../src/server/status.js';
import type { SourceStatus } from '../../src/sources/source.js';
import { initialState, type RouterState } from '../../src/state.js';
import { settings } from '../model/helpers.js';
import { deploymentOf } from '../helpers/deployment.js';

const NOW = 1_700_000_000_000;
const info: StatusInfo = {
  version: '1.2.3',
  pid: 42,
  cluster: 'production',
  clusterDomain: 'production.mozilla.community',
  configDir: '/etc/haproxy/paas-router',
  consulAddress: 'http://127.0.0.1:8500',
  listen: '127.0.0.1:9107',
  auth: 'none',
};

const ok = (name: string, at = NOW - 1000): SourceStatus => ({ name, state: 'ok', lastSyncAt: at });
const down = (name: string, message: string): SourceStatus => ({
  name,
  state: 'down',
  lastSyncAt: NOW - 60_000,
  lastError: { code: 'CONSUL_UNAVAILABLE', message, at: NOW - 500 },
});

function inst(id: string, address: string, port: number, passing = true) {
  return { id, node: 'n1', address, port, tags: [] as string[], passing, checks: [{ id: 'c', status: passing ? 'passing' : 'critical' }], createIndex: 10 };
}

const model = buildModel({
  services: {
    foo: [inst('mesos-consul:a:foo:10.0.0.1:1', '10.0.0.1', 1), inst('mesos-consul:b:foo:10.0.0.2:2', '10.0.0.2', 2, false)],
    bar: [inst('mesos-consul:a:bar:10.0.0.3:3', '10.0.0.3', 3)],
  },
  claims: [
    { key: 'paas-router/domains/foo', value: 'www.example.org, bad_one.org', createIndex: 5, modifyIndex: 5 },
    { key: 'paas-router/domains/bar', value: 'www.example.org', createIndex: 9, modifyIndex: 9 },
  ],
  settings,
});

function healthyState(): RouterState {
  // A plain field here, so that a case can put another deployment in its place.
  const s: RouterState = { ...initialState(NOW - 10_000), deployment: deploymentOf(model, { checksum: 'aaa' }) };
  s.sources = { 'consul-catalog': ok('consul-catalog'), 'consul-domains': ok('consul-domains'), templates: ok('templates') };
  s.builtModel = model;
  s.lastApply = { status: 'reloaded', checksum: 'aaa', at: NOW - 2000 };
  s.lastReloadAt = NOW - 2000;
  return s;
}

const report = (status: ApplyReport['status'], checksum: string, message?: string): ApplyReport => ({
  status,
  checksum,
  ...(message ? { error: { code: 'X', message } } : {}),
});

t.test('health: every rule', async (t) => {
  t.same(evaluateHealth(healthyState(), NOW), { ok: true, reasons: [], warnings: [] }, 'all synced, latest config running');

  const cases: [string, (s: RouterState) => ApplyReport | undefined, boolean, RegExp][] = [
    ['a required source never synced', (s) => void delete s.sources.templates, false, /source templates has not synced yet/],
    [
      'Consul down',
      (s) => void (s.sources['consul-catalog'] = down('consul-catalog', 'cannot reach Consul')),
      false,
      /source consul-catalog is down: cannot reach Consul \(last sync 60s ago\)/,
    ],
    ['nothing applied yet', (s) => void delete s.lastApply, false, /no configuration applied yet/],
    [
      'written, HAProxy not reachable',
      (s) => {
        s.lastApply = { ...report('haproxy-unreachable', 'bbb', 'master socket refused'), at: NOW };
        Object.assign(s, { deployment: deploymentOf(model, { checksum: 'bbb', loaded: false }) });
        return s.lastApply;
      },
      false,
      /on disk but HAProxy has not loaded it.*master socket refused/,
    ],
    [
      'reload failed, then the same candidate comes back (already refused)',
      (s) => {
        s.lastApply = { ...report('already-refused', 'bbb'), at: NOW };
        return report('reload-failed', 'bbb', 'port in use');
      },
      false,
      /failed to reload the latest validated configuration.*port in use/,
    ],
    [
      'refused by haproxy -c: the last good one keeps running (a warning)',
      (s) => {
        s.lastApply = { ...report('refused', 'ccc', 'bad config'), at: NOW };
        return s.lastApply;
      },
      true,
      /refused by haproxy -c; the last good configuration keeps running: bad config/,
    ],
    [
      'a template error: a warning',
      (s) => void (s.lastBuildError = { code: 'TEMPLATE_ERROR', message: 'oops', at: NOW }),
      true,
      /latest build failed \(TEMPLATE_ERROR\).*oops/,
    ],
    [
      'an https-only host without a certificate: a warning naming it',
      (s) =>
        void (s.tls = {
          certificates: [],
          rejected: [],
          httpOnlyHosts: [
            { host: 'www.example.org', app: 'foo', source: 'kv', httpsOnly: true },
            { host: 'bar.example.org', app: 'bar', source: 'kv', httpsOnly: false },
          ],
        }),
      true,
      /1 host\(s\) of https-only apps have no certificate and are served on plain HTTP: www\.example\.org$/,
    ],
    [
      'a change held by the never-shrink guard: a warning',
      (s) => void (s.held = { since: NOW - 3000, reason: '8 of 10 routes would disappear at once', checksum: 'x', routesBefore: 10, routesAfter: 2 }),
      true,
      /held by the never-shrink guard since 3s ago \(8 of 10 routes would disappear at once\)/,
    ],
    [
      'an optional source degraded: a warning',
      (s) =>
        void (s.sources.vault = {
          name: 'vault',
          state: 'degraded' as SourceStatus['state'],
          lastSyncAt: NOW - 5000,
          lastError: { code: 'VAULT', message: 'sealed', at: NOW },
        }),
      true,
      /source vault is degraded: sealed/,
    ],
  ];
  for (const [name, mutate, healthy, text] of cases) {
    const s = healthyState();
    const decisive = mutate(s);
    const h = evaluateHealth(s, NOW, decisive);
    t.equal(h.ok, healthy, `${name}: ${healthy ? 'healthy' : 'unhealthy'}`);
    t.match([...h.reasons, ...h.warnings].join('\n'), text, name);
  }
});

t.test('status document', async (t) => {
  const s = healthyState();
  s.sources.vault = { name: 'vault', state: 'ok', lastSyncAt: NOW - 3000 };
  const doc = statusDocument(s, info, NOW);
  t.equal(doc.generatedAt, new Date(NOW).toISOString());
  t.equal(doc.router.version, '1.2.3');
  t.equal(doc.router.uptimeSeconds, 10);
  t.same(
    doc.sources.map((x) => [x.name, x.state, x.required, x.syncAgeSeconds]),
    [
      ['consul-catalog', 'ok', true, 1],
      ['consul-domains', 'ok', true, 1],
      ['templates', 'ok', true, 1],
      ['vault', 'ok', false, 3],
    ],
  );
  t.equal(doc.routesFrom, 'serving');
  const foo = doc.apps.find((a) => a.name === 'foo')!;
  t.same(foo.hosts, [
    { host: 'foo.production.mozilla.community', source: 'default', key: null },
    { host: 'www.example.org', source: 'kv', key: 'paas-router/domains/foo' },
  ]);
  t.same(
    foo.servers.map((x) => [x.address, x.state]),
    [
      ['10.0.0.1', 'up'],
      ['10.0.0.2', 'down'],
    ],
  );
  t.equal(foo.serversUp, 1);
  t.equal(foo.serversDown, 1);
  t.same(doc.customDomains, [{ host: 'www.example.org', app: 'foo', key: 'paas-router/domains/foo' }]);
  t.match(doc.rejections, [{ kind: 'domain', service: 'foo', subject: 'bad_one.org', key: 'paas-router/domains/foo', reason: /"_"/ }]);
  t.match(doc.conflicts, [{ kind: 'conflict', service: 'bar', subject: 'www.example.org', reason: /already claimed by service foo/ }]);
  t.equal(doc.haproxy.runningChecksum, 'aaa');
  t.equal(doc.haproxy.lastReloadAt, new Date(NOW - 2000).toISOString());
  t.equal(doc.haproxy.pendingChanges, false);
  t.equal(doc.haproxy.held, null);
  t.equal(doc.tls, null, 'no TLS section without Vault');

  const fresh = initialState(NOW);
  const empty = statusDocument(fresh, info, NOW);
  t.equal(empty.routesFrom, 'none');
  t.same(empty.apps, []);
  t.equal(empty.health.ok, false);
  t.same(
    empty.sources.map((x) => x.state),
    ['starting', 'starting', 'starting'],
  );
});

t.test('status line for systemd', async (t) => {
  t.equal(statusLine(healthyState(), NOW), 'serving 2 apps, 3 hosts; 2 rejected inputs; healthy');
  const s = healthyState();
  s.sources['consul-catalog'] = down('consul-catalog', 'cannot reach Consul');
  t.match(statusLine(s, NOW), /; unhealthy: source consul-catalog is down: cannot reach Consul/);
});

t.test('an app on a spare backend: /status names the app, with the spare as where it runs', async (t) => {
  const deployment = deploymentOf(model, { spareTotal: 16, spares: { claims: [{ app: 'bar', backend: 'app_bar', spare: 'spare_3' }], since: NOW - 2000 } });
  const state = initialState(NOW - 10_000, () => deployment);
  state.builtModel = model;
  const doc = statusDocument(state, info, NOW);
  t.same(doc.haproxy.spares, { total: 16, free: 15, apps: [{ app: 'bar', backend: 'app_bar', spare: 'spare_3', since: new Date(NOW - 2000).toISOString() }] });
  const bar = doc.apps.find((a) => a.name === 'bar')!;
  t.equal(bar.backend, 'app_bar', 'the app keeps its own backend name');
  t.equal(bar.spare, 'spare_3');
  t.match(bar.features[0], /^served from spare backend spare_3 \(added without a reload\) until the next reload gives it app_bar$/);
  t.equal(doc.apps.find((a) => a.name === 'foo')!.spare, null);
  t.same(statusDocument(initialState(NOW), info, NOW).haproxy.spares, { total: 0, free: 0, apps: [] }, 'nothing before the first build');
});

t.test('start-up progress: /healthz, STATUS= and the document say how far the first read is', async (t) => {
  const s = initialState(NOW - 10_000);
  t.equal(statusLine(s, NOW), 'starting: listing the services of the Consul catalog');
  s.startup = { read: 4_200, total: 10_000, done: false };
  t.equal(statusLine(s, NOW), 'starting: 4 200 of 10 000 services read');
  t.equal(evaluateHealth(s, NOW).reasons[0], 'starting: 4 200 of 10 000 services read');
  t.same(statusDocument(s, info, NOW).startup, { read: 4_200, total: 10_000, done: false, line: 'starting: 4 200 of 10 000 services read' });
  s.startup = { read: 10_000, total: 10_000, done: true };
  t.equal(statusLine(s, NOW), 'starting: 10 000 services read; building and applying the first configuration');
  const applied = healthyState();
  applied.startup = { read: 2, total: 2, done: true };
  t.equal(startupLine(applied), undefined, 'nothing once a configuration is applied');
  t.equal(statusLine(applied, NOW), 'serving 2 apps, 3 hosts; 2 rejected inputs; healthy');
  t.equal(grouped(1_234_567), '1 234 567');
  t.equal(grouped(999), '999');
});
