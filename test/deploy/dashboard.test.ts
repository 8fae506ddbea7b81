// deploy/grafana/paas-router.json: valid JSON in Grafana's dashboard shape, and every panel query
// (and every alert rule) reads only metrics the router exports or a real HAProxy 2.6 exports on
// the stats listener (its Prometheus exporter, scraped here from a running HAProxy).
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startHaproxy } from '../../dev/haproxy-process.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { eventually, freePort } from '../helpers/net.js';
import { exposedNames, metricNames, routerMetricNames } from './support.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}

async function haproxyExporterNames(t: { teardown(fn: () => unknown): void }): Promise<Set<string>> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-promex-'));
  const port = await freePort();
  const backend = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(
    cfg,
    `global\n    master-worker\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nbackend app_x\n    server s1 127.0.0.1:${backend} check\nlisten stats\n    bind 127.0.0.1:${port}\n    http-request use-service prometheus-exporter if { path /metrics }\n`,
  );
  const haproxy = await startHaproxy({ configFile: cfg, masterSocket: join(dir, 'master.sock') });
  t.teardown(async () => {
    await haproxy.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const text = await eventually('exporter', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
    return r?.status === 200 ? r.text() : undefined;
  });
  return exposedNames(text);
}

t.test('metricNames reads names, not functions, labels or keywords', async (t) => {
  t.same(metricNames('sum by (proxy) (rate(a_total{code="5xx", x=~"{b}"}[5m])) / on(instance) group_left b_seconds > 0.1 and c'), [
    'a_total',
    'b_seconds',
    'c',
  ]);
  t.same(metricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket{i=~"$instance"}[$__rate_interval])))'), ['x_bucket']);
  t.same(metricNames('(m - time()) / 86400'), ['m']);
});

t.test('the dashboard', async (t) => {
  const text = await readFile(join(PACKAGE_ROOT, 'deploy', 'grafana', 'paas-router.json'), 'utf8');
  const dash = JSON.parse(text) as { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: { name: string }[] } };
  t.equal(dash.uid, 'paas-router');
  t.ok(dash.schemaVersion >= 30, 'a current Grafana schema');
  t.same(
    dash.templating.list.map((v) => v.name),
    ['datasource', 'instance', 'haproxy'],
  );
  const ids = dash.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dash.panels) {
    t.ok(p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.w > 0 && p.gridPos.h > 0, `${p.title}: fits the 24-column grid`);
    if (p.type === 'row') continue;
    t.ok(p.targets && p.targets.length > 0, `${p.title}: has a query`);
    for (const q of p.targets ?? []) t.equal(q.datasource?.uid, '${datasource}', `${p.title} ${q.refId}: the datasource variable`);
  }

  const known = new Set([...(await routerMetricNames()), ...(await haproxyExporterNames(t)), 'up']);
  const queries = dash.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ where: `${p.title} ${q.refId}`, expr: q.expr })));
  t.ok(queries.length >= 20);
  const unknown = queries.flatMap((q) =>
    metricNames(q.expr)
      .filter((n) => !known.has(n))
      .map((n) => `${q.where}: ${n}`),
  );
  t.same(unknown, [], 'every panel query names a metric the router or HAProxy exports');
  t.ok(
    queries.some((q) => /haproxy_backend_http_responses_total/.test(q.expr)) && queries.some((q) => /paas_router_app_requests_total/.test(q.expr)),
    'both HAProxy and per-app router series are used',
  );

  const rules = (
    parse(await readFile(join(PACKAGE_ROOT, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
  ).groups.flatMap((g) => g.rules);
  const unknownInAlerts = rules.flatMap((r) =>
    metricNames(r.expr)
      .filter((n) => !known.has(n))
      .map((n) => `${r.alert}: ${n}`),
  );
  t.same(unknownInAlerts, [], 'every alert reads exported metrics too');
  t.notOk(known.has('paas_router_no_such_metric'), 'the check can fail');
});
