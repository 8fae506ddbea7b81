// The traffic series in the router's registry, scraped as Prometheus would: the sampler's
// health and certificate expiry always, the cache hits and misses of apps with router.cache
// always, other per-app series only with metrics.per_app, and a second
// registration (a SIGHUP restart) pointing the same series at the new daemon.
import t from 'tap';
import { Registry } from 'prom-client';
import { buildModel } from '../../src/model/build.js';
import { settings } from '../model/helpers.js';
import { initialState, type RouterState } from '../../src/state.js';
import { registerTrafficMetrics } from '../../src/traffic/metrics.js';
import { TrafficRing } from '../../src/traffic/ring.js';
import type { SamplerStatus } from '../../src/traffic/sampler.js';
import type { TrafficSource } from '../../src/server/traffic-view.js';
import { families, sample } from '../server/helpers.js';
import { deploymentOf } from '../helpers/deployment.js';

const inst = (app: string) => ({
  id: `mesos-consul:a:${app}:10.0.0.1:31000`,
  node: 'n1',
  address: '10.0.0.1',
  port: 31000,
  tags: [],
  passing: true,
  checks: [],
  createIndex: 1,
});

function daemon(requests: number): { state: RouterState; traffic: TrafficSource } {
  const deployment = deploymentOf(buildModel({ services: { shop: [inst('shop')], blog: [inst('blog')] }, claims: [], settings }));
  const state = initialState(0, () => deployment);
  state.tls = {
    certificates: [
      { name: 'shop', notAfter: '2030-01-01T00:00:00.000Z' },
      { name: 'broken', notAfter: 'not a date' },
    ],
  } as unknown as RouterState['tls'];
  const ring = new TrafficRing(4);
  ring.record(10_000, {
    backends: [
      {
        backend: 'app_shop',
        requests,
        responses: { '2xx': requests - 3, '3xx': 0, '4xx': 1, '5xx': 2 },
        responseMs: 250,
        sessions: 4,
        status: 'UP',
        cache: { lookups: 0, hits: 0 },
      },
    ],
    servers: [],
  });
  const status: SamplerStatus = { intervalMs: 5000, windowMs: 20_000, lastSampleAt: 10_000, samples: 7, failures: 2, lastError: undefined, lastSampleMs: 1 };
  return { state, traffic: { ring, status } };
}

t.test('always: samples, failures, last sample, certificate expiry', async (t) => {
  const registry = new Registry();
  const d = daemon(40);
  registerTrafficMetrics(registry, { state: () => d.state, traffic: () => d.traffic }, false);
  const f = families(await registry.metrics());
  t.equal(sample(f, 'paas_router_traffic_samples_total'), 7);
  t.equal(sample(f, 'paas_router_traffic_sample_failures_total'), 2);
  t.equal(sample(f, 'paas_router_traffic_last_sample_timestamp_seconds'), 10);
  t.equal(sample(f, 'paas_router_traffic_series_bytes'), 4 * 3 * 4, 'one app with traffic: capacity 4 × 3 series × 4 bytes');
  t.equal(sample(f, 'paas_router_certificate_not_after_timestamp_seconds', { name: 'shop' }), Date.parse('2030-01-01') / 1000);
  t.equal(f.get('paas_router_certificate_not_after_timestamp_seconds')?.metrics.length, 1, 'a date that does not parse is left out');
  t.equal(f.get('paas_router_traffic_samples_total')?.type, 'COUNTER');
  t.notOk(
    [...f.keys()].some((n) => n.startsWith('paas_router_app_') && !n.startsWith('paas_router_app_cache_')),
    'no per-app series without metrics.per_app',
  );
  t.same(
    [...f].filter(([n]) => n.startsWith('paas_router_app_cache_')).flatMap(([, fam]) => fam.metrics),
    [],
    'the cache series (always registered) have no sample: no app has router.cache',
  );

  const empty = new Registry();
  registerTrafficMetrics(empty, { state: () => undefined, traffic: () => undefined }, false);
  const e = families(await empty.metrics());
  t.equal(sample(e, 'paas_router_traffic_samples_total'), 0, 'before the sampler: 0');
  t.equal(sample(e, 'paas_router_traffic_series_bytes'), 0);
  t.equal(sample(e, 'paas_router_traffic_last_sample_timestamp_seconds'), 0, 'no last sample: 0 (prom-client exports an unlabelled gauge always)');
});

t.test('metrics.per_app: one set per app the latest sample has', async (t) => {
  const registry = new Registry();
  let d = daemon(40);
  registerTrafficMetrics(registry, { state: () => d.state, traffic: () => d.traffic }, true);
  let f = families(await registry.metrics());
  t.equal(sample(f, 'paas_router_app_requests_total', { app: 'shop' }), 40);
  t.same(
    ['2xx', '3xx', '4xx', '5xx'].map((code) => sample(f, 'paas_router_app_responses_total', { app: 'shop', code })),
    [37, 0, 1, 2],
  );
  t.equal(sample(f, 'paas_router_app_response_time_seconds', { app: 'shop' }), 0.25);
  t.equal(sample(f, 'paas_router_app_sessions', { app: 'shop' }), 4);
  t.equal(sample(f, 'paas_router_app_requests_total', { app: 'blog' }), undefined, 'blog has no sample yet');
  t.equal(f.get('paas_router_app_sessions')?.type, 'GAUGE');

  // A restart registers again: the same series now read the new daemon.
  const next = daemon(5);
  registerTrafficMetrics(registry, { state: () => next.state, traffic: () => next.traffic }, true);
  d = next;
  f = families(await registry.metrics());
  t.equal(sample(f, 'paas_router_app_requests_total', { app: 'shop' }), 5);
});

t.test('router.cache: hits and misses of the apps with a cache, with or without metrics.per_app', async (t) => {
  const deployment = deploymentOf(
    buildModel({
      services: { shop: [{ ...inst('shop'), tags: ['router.cache=64m'] }], blog: [inst('blog')] },
      claims: [],
      settings,
    }),
  );
  const state = initialState(0, () => deployment);
  const ring = new TrafficRing(4);
  const stat = (backend: string, lookups: number, hits: number) => ({
    backend,
    requests: 10,
    responses: { '2xx': 10, '3xx': 0, '4xx': 0, '5xx': 0 },
    responseMs: 1,
    sessions: 0,
    status: 'UP',
    cache: { lookups, hits },
  });
  // blog has no cache: HAProxy counts nothing for it, and no series is made for it whatever it says.
  ring.record(1_000, { backends: [stat('app_shop', 9, 6), stat('app_blog', 4, 4)], servers: [] });
  const status: SamplerStatus = { intervalMs: 5000, windowMs: 20_000, lastSampleAt: 1_000, samples: 1, failures: 0, lastError: undefined, lastSampleMs: 1 };
  for (const perApp of [false, true]) {
    const registry = new Registry();
    registerTrafficMetrics(registry, { state: () => state, traffic: () => ({ ring, status }) }, perApp);
    const f = families(await registry.metrics());
    t.equal(sample(f, 'paas_router_app_cache_hits_total', { app: 'shop' }), 6, `hits (per_app ${perApp})`);
    t.equal(sample(f, 'paas_router_app_cache_misses_total', { app: 'shop' }), 3, `misses = lookups - hits (per_app ${perApp})`);
    t.equal(f.get('paas_router_app_cache_hits_total')?.type, 'COUNTER');
    t.equal(sample(f, 'paas_router_app_cache_hits_total', { app: 'blog' }), undefined, 'no series for an app without router.cache');
  }
});
