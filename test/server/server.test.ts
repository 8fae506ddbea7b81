// The status listener of a running dev cluster (dev Consul, real HAProxy, the daemon): /status,
// /healthz flipping to 503 when Consul goes away, /metrics parsed by a Prometheus text parser.
import t from 'tap';
import { startDevCluster, type DevCluster } from '../../dev/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { createLogger } from '../../src/log.js';
import type { StatusDocument } from '../../src/server/status.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';
import { families, getText, sample } from './helpers.js';

const foo: MarathonApp = { id: '/foo', instances: 2, tags: [], mode: 'http' };
const bar: MarathonApp = { id: '/team/bar', instances: 1, tags: ['router.colour=blue'], mode: 'http' };

t.test('status listener of a running dev cluster', async (t) => {
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster: DevCluster = await startDevCluster({
    consul: 'stand-in', // stopped and started again with its data below
    ...ports,
    apps: [foo, bar],
    domains: { foo: 'www.example.org, bad_host.example.org', 'bar-team': 'www.example.org, bar.example.org' },
    log: createLogger('silent'),
  });
  t.teardown(() => cluster.stop());
  const base = cluster.daemon.server.url;
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'bound on loopback, free port');
  // HAProxy starts from the file the daemon wrote; the daemon reloads it once it answers.
  await eventually('first reload', async () => (await requestThrough(httpPort, 'foo.production.mozilla.community')).status === 200);
  await eventually('healthy', async () => (await getText(`${base}/healthz`)).status === 200, 15_000);

  await t.test('/status: routes, servers, custom domains, rejections, conflicts, sources, HAProxy', async (t) => {
    const r = await getText(`${base}/status`);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type'), /^application\/json/);
    const doc = JSON.parse(r.body) as StatusDocument;
    t.equal(doc.routesFrom, 'serving');
    t.same(
      doc.apps.map((a) => a.name),
      ['bar-team', 'foo'],
    );
    const appFoo = doc.apps.find((a) => a.name === 'foo')!;
    t.same(
      appFoo.hosts.map((h) => [h.host, h.source, h.key]),
      [
        ['foo.production.mozilla.community', 'default', null],
        ['www.example.org', 'kv', 'paas-router/domains/foo'],
      ],
    );
    t.equal(appFoo.servers.length, 2);
    t.ok(appFoo.servers.every((s) => s.state === 'up' && s.address === '127.0.0.1'));
    t.same(doc.customDomains, [
      { host: 'bar.example.org', app: 'bar-team', key: 'paas-router/domains/bar-team' },
      { host: 'www.example.org', app: 'foo', key: 'paas-router/domains/foo' },
    ]);
    t.match(doc.rejections, [
      { kind: 'tag', service: 'bar-team', subject: 'router.colour=blue' },
      { kind: 'domain', service: 'foo', subject: 'bad_host.example.org', key: 'paas-router/domains/foo', reason: /"_" is not allowed/ },
    ]);
    t.match(doc.conflicts, [
      // The wording of the owner's name changes with the claims of the third wave; the owner does not.
      { service: 'bar-team', subject: 'www.example.org', key: 'paas-router/domains/bar-team', reason: /(already claimed by service|belongs to app) foo/ },
    ]);
    // The required sources first, then the optional ones (more come with new K/V keys), all up.
    t.same(
      doc.sources.slice(0, 5).map((s) => s.name),
      ['consul-catalog', 'consul-domains', 'templates', 'consul-weights', 'consul-maintenance'],
    );
    t.ok(
      doc.sources.every((s) => s.state === 'ok'),
      'every source is up',
    );
    t.ok(doc.sources.every((s) => typeof s.syncAgeSeconds === 'number'));
    t.match(doc.haproxy.runningChecksum, /^[0-9a-f]{64}$/);
    t.equal(doc.haproxy.lastApply?.status, 'reloaded');
    t.ok(doc.haproxy.lastReloadAt);
    t.equal(doc.router.auth, 'none (loopback only)');
    t.equal(doc.health.ok, true);
  });

  await t.test('/healthz is 200 when healthy', async (t) => {
    const r = await getText(`${base}/healthz`);
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body), { status: 'ok', reasons: [], warnings: [] });
  });

  await t.test('/metrics parses as Prometheus text and counts what happened', async (t) => {
    const r = await getText(`${base}/metrics`);
    t.equal(r.status, 200);
    t.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const m = families(r.body);
    for (const name of [
      'paas_router_source_sync_age_seconds',
      'paas_router_source_up',
      'paas_router_changes_applied_total',
      'paas_router_reload_failures_total',
      'paas_router_config_refused_total',
      'paas_router_rejected_inputs',
      'paas_router_render_duration_seconds',
      'paas_router_validate_duration_seconds',
      'paas_router_routes',
      'paas_router_servers',
      'paas_router_healthy',
    ]) {
      t.ok(m.has(name), `${name} exported`);
    }
    t.equal(m.get('paas_router_changes_applied_total')?.type, 'COUNTER');
    t.equal(m.get('paas_router_render_duration_seconds')?.type, 'HISTOGRAM');
    t.ok(sample(m, 'paas_router_changes_applied_total', { method: 'reload' })! >= 1, 'at least one reload');
    t.equal(sample(m, 'paas_router_reload_failures_total'), 0);
    t.equal(sample(m, 'paas_router_source_up', { source: 'consul-catalog' }), 1);
    t.ok(sample(m, 'paas_router_source_sync_age_seconds', { source: 'consul-domains' })! >= 0);
    t.equal(sample(m, 'paas_router_rejected_inputs', { kind: 'domain' }), 1);
    t.equal(sample(m, 'paas_router_rejected_inputs', { kind: 'conflict' }), 1);
    t.equal(sample(m, 'paas_router_rejected_inputs', { kind: 'tag' }), 1);
    t.equal(sample(m, 'paas_router_routes', { source: 'default' }), 2);
    t.equal(sample(m, 'paas_router_routes', { source: 'kv' }), 2);
    t.equal(sample(m, 'paas_router_servers', { state: 'up' }), 3);
    t.equal(sample(m, 'paas_router_servers', { state: 'down' }), 0);
    t.ok(sample(m, 'paas_router_render_duration_seconds')! >= 1, 'render observed');
    t.ok(sample(m, 'paas_router_validate_duration_seconds')! >= 1, 'validate observed');
    t.equal(sample(m, 'paas_router_healthy'), 1);
    t.equal(sample(m, 'paas_router_change_held'), 0, 'nothing held by the never-shrink guard');
    t.ok(m.has('paas_router_process_cpu_seconds_total'), 'process metrics share the prefix');
  });

  await t.test('a server going down shows in /status and /metrics', async (t) => {
    const extra = await cluster.addTask(foo, 'critical');
    t.teardown(() => undefined);
    const doc = await eventually('down server in /status', async () => {
      const d = JSON.parse((await getText(`${base}/status`)).body) as StatusDocument;
      return d.apps.find((a) => a.name === 'foo')?.servers.some((s) => s.id === extra.serviceId && s.state === 'down') ? d : undefined;
    });
    t.equal(doc.apps.find((a) => a.name === 'foo')?.serversDown, 1);
    const m = families((await getText(`${base}/metrics`)).body);
    t.equal(sample(m, 'paas_router_servers', { state: 'down' }), 1);
  });

  await t.test('read-only, nothing else served', async (t) => {
    const post = await fetch(`${base}/status`, { method: 'POST' });
    t.equal(post.status, 405);
    t.equal(post.headers.get('allow'), 'GET, HEAD');
    t.equal((await getText(`${base}/../../etc/passwd`)).status, 404);
    t.equal((await getText(`${base}/static/../server.ts`)).status, 404);
    const page = await getText(`${base}/`);
    t.equal(page.status, 200);
    t.match(page.body, /<title>paas-router status<\/title>/);
    t.match(page.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    t.equal(page.headers.get('x-frame-options'), 'DENY');
    t.equal((await getText(`${base}/static/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  });

  await t.test('/healthz flips to 503 when Consul goes away, and back to 200', async (t) => {
    await cluster.standIn!.stop();
    const down = await eventually(
      '503',
      async () => {
        const r = await getText(`${base}/healthz`);
        return r.status === 503 ? r : undefined;
      },
      15_000,
    );
    const body = JSON.parse(down.body) as { status: string; reasons: string[] };
    t.equal(body.status, 'unavailable');
    t.match(body.reasons.join('\n'), /source consul-(catalog|domains) is down: .*cannot reach Consul/);
    const m = families((await getText(`${base}/metrics`)).body);
    t.equal(sample(m, 'paas_router_healthy'), 0);
    t.ok(
      [sample(m, 'paas_router_source_up', { source: 'consul-catalog' }), sample(m, 'paas_router_source_up', { source: 'consul-domains' })].includes(0),
      'a Consul source is down',
    );
    t.equal((await requestThrough(httpPort, 'foo.production.mozilla.community')).status, 200, 'HAProxy still serves');
    await cluster.standIn!.start();
    await eventually('200 again', async () => (await getText(`${base}/healthz`)).status === 200, 30_000);
    t.pass('healthy again after Consul came back');
  });
});
