// /status stays bounded whatever tenants write, and is paged (DESIGN §5, third wave): the pure
// document at 10 000 domains and 3 000 bad tags, then the real listener over HTTP: paging through
// every app with `after`/`next`, `?app=`, `?q=`, rejections paged by service, 400s naming the bad
// parameter, and Host headers other than the configured ones refused (DNS rebinding).
import t from 'tap';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { createLogger } from '../../src/log.js';
import { buildModel } from '../../src/model/build.js';
import type { AppRoute } from '../../src/model/types.js';
import type { Runner } from '../../src/runner.js';
import { RouterMetrics } from '../../src/server/metrics.js';
import { StatusServer } from '../../src/server/server.js';
import { HOSTS_PER_APP, pageApps, REJECTIONS_PER_SERVICE } from '../../src/server/status-page.js';
import { DEFAULT_QUERY, parseStatusQuery } from '../../src/server/status-query.js';
import { statusDocument, type StatusDocument, type StatusInfo } from '../../src/server/status.js';
import { initialState, type RouterState } from '../../src/state.js';
import { TrafficRing } from '../../src/traffic/ring.js';
import type { SamplerStatus } from '../../src/traffic/sampler.js';
import { settings } from '../model/helpers.js';
import { deploymentOf } from '../helpers/deployment.js';

const NOW = 1_700_000_000_000;
const info: StatusInfo = {
  version: 't',
  pid: 1,
  cluster: 'production',
  clusterDomain: 'production.mozilla.community',
  configDir: '/tmp',
  consulAddress: 'http://127.0.0.1:8500',
  listen: '127.0.0.1:9107',
  auth: 'none',
};

function inst(app: string, i: number) {
  const address = `10.1.${Math.floor(i / 250) % 250}.${i % 250}`;
  return { id: `mesos-consul:a:${app}:${address}:31000`, node: 'n1', address, port: 31000, tags: [] as string[], passing: true, checks: [], createIndex: 10 };
}

const appName = (i: number) => `app-${String(i).padStart(5, '0')}`;

/** `apps` apps; app-00000 claims `domains` custom domains and carries `badTags` unknown tags. */
function tenantState(apps: number, domains: number, badTags: number): RouterState {
  const services: Record<string, ReturnType<typeof inst>[]> = {};
  for (let i = 0; i < apps; i++) services[appName(i)] = [inst(appName(i), i)];
  const noisy = services[appName(0)]![0]!;
  noisy.tags = Array.from({ length: badTags }, (_, k) => `router.no-such-key-${k}=x`);
  const claims = [
    {
      key: `paas-router/domains/${appName(0)}`,
      value: Array.from({ length: domains }, (_, k) => `www${k}.tenant.example.org`).join(' '),
      createIndex: 5,
      modifyIndex: 5,
    },
    // Invalid ones too: domain rejections of another service.
    {
      key: `paas-router/domains/${appName(1)}`,
      value: Array.from({ length: 300 }, (_, k) => `bad_${k}.example.org`).join(' '),
      createIndex: 6,
      modifyIndex: 6,
    },
  ];
  const model = buildModel({ services, claims, settings });
  const deployment = deploymentOf(model);
  const s = initialState(NOW - 10_000, () => deployment);
  const synced = { state: 'ok' as const, lastSyncAt: NOW - 1000 };
  s.sources = {
    'consul-catalog': { name: 'consul-catalog', ...synced },
    'consul-domains': { name: 'consul-domains', ...synced },
    templates: { name: 'templates', ...synced },
  };
  s.builtModel = model;
  s.lastApply = { status: 'reloaded', checksum: 'a'.repeat(64), at: NOW - 2000 };
  return s;
}

const query = (text: string) => parseStatusQuery(new URLSearchParams(text));

t.test('10 000 domains and 3 000 bad tags: a bounded document', async (t) => {
  const state = tenantState(50, 10_000, 3_000);
  const model = state.builtModel!;
  t.ok(model.rejections.length >= 3_300, `${model.rejections.length} rejections in the model`);
  t.ok(model.hosts.length >= 10_000, `${model.hosts.length} hosts in the model`);
  const doc = statusDocument(state, info, NOW);
  const size = JSON.stringify(doc, null, 2).length;
  t.ok(size < 200_000, `the first page is ${size} bytes`);
  t.equal(doc.counts.hosts, model.hosts.length, 'counts cover everything');
  t.equal(doc.counts.rejections + doc.counts.conflicts, model.rejections.length);
  t.equal(doc.rejectionsPage.byKind.tag, 3_000, 'totals by kind');
  t.equal(doc.rejectionsPage.byKind.domain, 300);
  const noisy = doc.apps.find((a) => a.name === appName(0))!;
  t.equal(noisy.hosts.length, HOSTS_PER_APP, 'hosts capped per app');
  t.equal(noisy.hostsMore, 10_001 - HOSTS_PER_APP, 'and counted');
  t.equal(doc.rejections.filter((r) => r.service === appName(0)).length, REJECTIONS_PER_SERVICE, 'rejections capped per service');
  t.same(
    doc.rejectionsPage.more.map((m) => [m.service, m.shown, m.total]),
    [
      [appName(0), REJECTIONS_PER_SERVICE, 3_000],
      [appName(1), REJECTIONS_PER_SERVICE, 300],
    ],
  );
  t.ok(
    doc.health.warnings.every((w) => w.length < 1_000),
    'warnings stay short',
  );

  const whole = statusDocument(state, info, NOW, undefined, query(`app=${appName(0)}`));
  t.same(
    whole.apps.map((a) => a.name),
    [appName(0)],
  );
  t.equal(whole.apps[0]!.hosts.length, 10_001, '?app= gives the app whole');
  t.equal(whole.apps[0]!.hostsMore, 0);
  t.equal(whole.rejections.length, 3_000, 'with every rejected input of that service');
  t.same(whole.rejectionsPage.more, []);
});

t.test('the size of a page does not grow with what tenants write', async (t) => {
  const small = JSON.stringify(statusDocument(tenantState(50, 100, 30), info, NOW)).length;
  const big = JSON.stringify(statusDocument(tenantState(50, 10_000, 3_000), info, NOW)).length;
  t.ok(big < small * 1.5, `100× the input, ${big} vs ${small} bytes`);
});

t.test('paging: sorted by name, after/next, total, q, every app exactly once', async (t) => {
  const state = tenantState(1_234, 0, 0);
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const doc: StatusDocument = statusDocument(state, info, NOW, undefined, query(`limit=500${after ? `&after=${after}` : ''}`));
    t.equal(doc.total, 1_234);
    seen.push(...doc.apps.map((a) => a.name));
    after = doc.next;
    pages += 1;
  } while (after !== null);
  t.equal(pages, 3);
  t.same(
    seen,
    Array.from({ length: 1_234 }, (_, i) => appName(i)),
    'every app once, in order',
  );
  const first = statusDocument(state, info, NOW);
  t.equal(first.apps.length, 200, 'default limit 200');
  t.equal(first.next, appName(199));
  // After a name that is gone: the next one in order.
  t.equal(statusDocument(state, info, NOW, undefined, query('after=app-00099x&limit=1')).apps[0]!.name, appName(100));
  const found = statusDocument(state, info, NOW, undefined, query('q=APP-0111'));
  t.same(
    found.apps.map((a) => a.name),
    Array.from({ length: 10 }, (_, i) => appName(1110 + i)),
    'q filters by name, case-insensitively, beyond the first page',
  );
  t.equal(found.total, 10);
  t.equal(found.next, null);
  t.same(
    statusDocument(state, info, NOW, undefined, query('q=app-01233.production')).apps.map((a) => a.name),
    [appName(1233)],
    'q filters by host',
  );
});

t.test('rejections are paged by service', async (t) => {
  const state = tenantState(10, 0, 0);
  const services: Record<string, ReturnType<typeof inst>[]> = {};
  for (let i = 0; i < 700; i++) {
    const s = inst(appName(i), i);
    s.tags = ['router.colour=blue', 'router.size=xl'];
    services[appName(i)] = [s];
  }
  state.builtModel = buildModel({ services, claims: [], settings });
  const rows: string[] = [];
  let after: string | null = null;
  do {
    const doc: StatusDocument = statusDocument(state, info, NOW, undefined, query(`limit=300${after ? `&rejections_after=${after}` : ''}`));
    t.ok(doc.rejections.length <= 300 + REJECTIONS_PER_SERVICE);
    rows.push(...doc.rejections.map((r) => `${r.service} ${r.subject}`));
    after = doc.rejectionsPage.next;
  } while (after !== null);
  t.equal(rows.length, 1_400, 'every rejection once');
  t.equal(new Set(rows).size, 1_400);
  t.same(
    statusDocument(state, info, NOW, undefined, query('q=app-00042')).rejections.map((r) => r.subject),
    ['router.colour=blue', 'router.size=xl'],
    'q filters rejections',
  );
});

t.test('bad query parameters are named', async (t) => {
  const cases: [string, RegExp][] = [
    ['limit=0', /^limit: must be a whole number from 1 to 1000, got "0"$/],
    ['limit=1001', /^limit: must be a whole number from 1 to 1000/],
    ['limit=ten', /^limit: .*got "ten"/],
    ['limit=1&limit=2', /^limit: given more than once/],
    ['sort=size', /^sort: must be one of name, rate, errors, response/],
    ['page=2', /^page: unknown parameter/],
  ];
  for (const [text, message] of cases) t.throws(() => query(text), { code: 'BAD_STATUS_QUERY', message }, text);
  t.same(query(''), { limit: 200, after: null, q: null, app: null, sort: 'name', rejectionsAfter: null });
});

/** GET with an explicit Host header (fetch would set its own). */
function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host === undefined ? {} : { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the listener: pages over HTTP, 400s, and only its own Host names', async (t) => {
  const state = tenantState(450, 2_000, 500);
  const runner = Object.assign(new EventEmitter(), { state }) as unknown as Runner;
  const start = async (hosts?: string[]) => {
    const server = new StatusServer({
      listen: { host: '127.0.0.1', port: 0 },
      runner,
      metrics: new RouterMetrics(),
      info: { version: 't', pid: 1, cluster: 'production', clusterDomain: 'production.mozilla.community', configDir: '/tmp', consulAddress: 'x' },
      log: createLogger('silent'),
      ...(hosts ? { hosts } : {}),
    });
    await server.start();
    t.teardown(() => server.stop());
    return server;
  };
  const server = await start();
  const { port, url } = server;

  await t.test('Host: evil.example is refused, the listener names work', async (t) => {
    for (const host of ['evil.example', `evil.example:${port}`, 'rebind.127.0.0.1.nip.io', `127.0.0.1:${port + 1}`]) {
      for (const path of ['/status', '/healthz', '/', '/metrics']) {
        const r = await get(`${url}${path}`, host);
        t.equal(r.status, 421, `${path} with Host ${JSON.stringify(host)}`);
        t.notMatch(r.body, /app-00/, 'nothing of the status leaks');
      }
    }
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', 'localhost', `LOCALHOST:${port}`, `[::1]:${port}`]) {
      t.equal((await get(`${url}/status?limit=1`, host)).status, 200, `Host ${host}`);
    }
  });

  await t.test('listen_hosts replaces the defaults', async (t) => {
    const named = await start(['status.node-1.example.org', 'proxy.example.org:8443']);
    t.equal((await get(`${named.url}/healthz`, 'status.node-1.example.org')).status, 200);
    t.equal((await get(`${named.url}/healthz`, `status.node-1.example.org:${named.port}`)).status, 200);
    t.equal((await get(`${named.url}/healthz`, 'proxy.example.org:8443')).status, 200);
    t.equal((await get(`${named.url}/healthz`, 'proxy.example.org')).status, 421);
    t.equal((await get(`${named.url}/healthz`, `127.0.0.1:${named.port}`)).status, 421);
  });

  await t.test('paging through every app over HTTP', async (t) => {
    const names: string[] = [];
    let next: string | null = null;
    do {
      const r = await get(`${url}/status?limit=200${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      t.equal(r.status, 200);
      const doc = JSON.parse(r.body) as StatusDocument;
      t.ok(r.body.length < 400_000, `page of ${r.body.length} bytes`);
      names.push(...doc.apps.map((a) => a.name));
      next = doc.next;
    } while (next !== null);
    t.equal(names.length, 450);
    t.equal(new Set(names).size, 450);
    const one = JSON.parse((await get(`${url}/status?app=${appName(0)}`)).body) as StatusDocument;
    t.equal(one.apps[0]!.hosts.length, 2_001);
  });

  await t.test('a bad parameter is a 400 naming it', async (t) => {
    const r = await get(`${url}/status?limit=5000`);
    t.equal(r.status, 400);
    t.match(r.body, /^bad \/status query: limit: must be a whole number from 1 to 1000, got "5000"/);
    t.match((await get(`${url}/status?sort=rate&after=nope`)).body, /after: no app named "nope"/);
  });
});

t.test('sort=errors: by the mean 5xx rate over the last minute, not one interval', async (t) => {
  const state = tenantState(3, 0, 0);
  const ring = new TrafficRing(30);
  // app-00000: 2 5xx/s, then an interval with none; app-00001: 0.5 5xx/s steadily; app-00002: none.
  const totals = [0, 0, 0];
  for (let k = 0; k < 5; k++) {
    const perSecond = [k < 4 ? 2 : 0, 0.5, 0];
    const backends = [0, 1, 2].map((i) => {
      totals[i]! += perSecond[i]! * 5;
      return {
        backend: `app_${appName(i)}`,
        requests: 100 * k,
        responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': totals[i]! },
        responseMs: 1,
        sessions: 0,
        status: 'UP',
        cache: { lookups: 0, hits: 0 },
      };
    });
    ring.record(NOW - (4 - k) * 5000, { backends, servers: [] });
  }
  t.equal(ring.recentErrors(`app_${appName(0)}`, 12), 1.5, 'the mean of 2, 2, 2, 0 (the first sample has no rate)');
  t.equal(ring.recentErrors(`app_${appName(0)}`, 1), 0, 'the latest interval alone');
  const status: SamplerStatus = { intervalMs: 5000, windowMs: 150_000, lastSampleAt: NOW, samples: 5, failures: 0, lastError: undefined, lastSampleMs: 1 };
  const server = new StatusServer({
    listen: { host: '127.0.0.1', port: 0 },
    runner: Object.assign(new EventEmitter(), { state }) as unknown as Runner,
    metrics: new RouterMetrics(),
    info: { version: 't', pid: 1, cluster: 'production', clusterDomain: 'production.mozilla.community', configDir: '/tmp', consulAddress: 'x' },
    log: createLogger('silent'),
    traffic: { ring, status },
  });
  await server.start();
  t.teardown(() => server.stop());
  const doc = JSON.parse((await get(`${server.url}/status?sort=errors`)).body) as StatusDocument;
  t.same(
    doc.apps.map((a) => a.name),
    [appName(0), appName(1), appName(2)],
  );
  const second = JSON.parse((await get(`${server.url}/status?sort=errors&limit=1&after=${appName(0)}`)).body) as StatusDocument;
  t.same(
    second.apps.map((a) => a.name),
    [appName(1)],
    'after, in that order',
  );
  t.equal(second.next, appName(1));
});

t.test('property: pages by name, with any limit and filter, hold every matching app once, in order', async (t) => {
  const { default: fc } = await import('fast-check');
  const nameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
  fc.assert(
    fc.property(
      fc.uniqueArray(nameArb, { maxLength: 60 }),
      fc.integer({ min: 1, max: 25 }),
      fc.option(fc.stringMatching(/^[a-z0-9]{1,2}$/)),
      (names, limit, q) => {
        const apps = names
          .slice()
          .sort()
          .map((n) => ({ name: n, hosts: [`${n}.production.mozilla.community`] }) as unknown as AppRoute);
        const expected = apps.filter((a) => q === null || a.name.includes(q) || a.hosts.some((h) => h.includes(q))).map((a) => a.name);
        const seen: string[] = [];
        let after: string | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const page = pageApps(apps, { ...DEFAULT_QUERY, limit, q, after });
          if (page.total !== expected.length) return false;
          seen.push(...page.apps.map((a) => a.name));
          after = page.next;
          if (after === null) break;
        }
        return JSON.stringify(seen) === JSON.stringify(expected);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random app sets, limits and filters');
});
