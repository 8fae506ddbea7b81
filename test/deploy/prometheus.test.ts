// A real Prometheus (Debian's package, /usr/bin/prometheus) on a free port with temporary storage,
// scraping a dev cluster: the router's /metrics (with metrics.per_app) and HAProxy's own exporter
// on the stats listener (behind the stats credentials from the dev Vault). The series arrive,
// traffic sent through HAProxy shows up in both, the shipped alert rules load and evaluate, and
// every metric the Grafana dashboard reads is among the series Prometheus has.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevCluster } from '../../dev/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { createLogger } from '../../src/log.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { eventually, freeListenerPorts, freePort } from '../helpers/net.js';
import { basic } from '../server/helpers.js';
import { metricNames } from './support.js';

const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const apps: MarathonApp[] = [
  { id: '/shop', instances: 2, tags: [], mode: 'http' },
  { id: '/blog', instances: 1, tags: [], mode: 'http' },
];

t.test('a real Prometheus scrapes the router and HAProxy of a dev cluster', async (t) => {
  if (!existsSync(PROMETHEUS)) {
    t.fail(`Prometheus not found at ${PROMETHEUS}: install Debian's prometheus package (scripts/setup.sh --test does) or set PROMETHEUS_PATH`);
    return;
  }
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster = await startDevCluster({
    ...ports,
    apps,
    domains: {},
    vault: true,
    log: createLogger('silent'),
    configOverrides: { metrics: { per_app: true }, traffic: { interval: '1s', window: '1m' } },
  });
  t.teardown(() => cluster.stop());
  const shop = 'shop.production.mozilla.community';
  await eventually('routed', async () => (await requestThrough(httpPort, shop).catch(() => ({ status: 0 }))).status === 200, 20_000);
  const { user, password } = cluster.vault!.stats;
  const statsUrl = `http://127.0.0.1:${cluster.config.haproxy.statsPort}/metrics`;

  await t.test("HAProxy's exporter on the stats listener asks for the stats credentials", async (t) => {
    t.equal((await fetch(statsUrl)).status, 401, 'no credentials: 401');
    t.equal((await fetch(statsUrl, { headers: basic(user, 'wrong') })).status, 401, 'wrong password: 401');
    const r = await fetch(statsUrl, { headers: basic(user, password) });
    t.equal(r.status, 200);
    t.match(await r.text(), /haproxy_backend_http_responses_total\{proxy="app_shop",code="2xx"\}/);
  });

  const dir = await mkdtemp(join(tmpdir(), 'paas-router-prometheus-'));
  const promPort = await freePort();
  const router = new URL(cluster.daemon.server.url);
  await writeFile(join(dir, 'password'), password, { mode: 0o600 });
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(join(PACKAGE_ROOT, 'deploy', 'prometheus', 'alerts.yml'))}]`,
      'scrape_configs:',
      `  - job_name: paas-router`,
      `    static_configs: [{ targets: ["${router.host}"] }]`,
      `  - job_name: haproxy`,
      `    basic_auth: { username: ${JSON.stringify(user)}, password_file: ${JSON.stringify(join(dir, 'password'))} }`,
      `    static_configs: [{ targets: ["127.0.0.1:${cluster.config.haproxy.statsPort}"] }]`,
      '',
    ].join('\n'),
  );
  const prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let promLog = '';
  prom.stderr!.on('data', (d) => (promLog += d));
  t.teardown(async () => {
    if (prom.exitCode === null) {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  const api = `http://127.0.0.1:${promPort}/api/v1`;
  await eventually('prometheus ready', async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined))?.status === 200, 30_000).catch(
    (err) => {
      throw new Error(`${(err as Error).message}\n${promLog}`);
    },
  );
  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const r = (await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as {
      status: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return r.status === 'success' ? r.data.result : [];
  };
  const value = async (q: string): Promise<number | undefined> => {
    const [first] = await query(q);
    return first ? Number(first.value[1]) : undefined;
  };

  await t.test('both targets are up and the series arrive', async (t) => {
    await eventually('targets up', async () => (await value('sum(up{job=~"paas-router|haproxy"})')) === 2, 30_000);
    t.equal(await value('up{job="paas-router"}'), 1);
    t.equal(await value('up{job="haproxy"}'), 1, 'HAProxy scraped with the stats credentials');
    await eventually('healthy', async () => (await value('paas_router_healthy')) === 1, 20_000);
    t.equal(await value('paas_router_apps{mode="http"}'), 2);
    t.equal(await value('paas_router_source_up{source="consul-catalog"}'), 1);
    t.ok((await value('paas_router_changes_applied_total{method="reload"}'))! >= 1, 'the first reload was counted');
    t.ok((await value('paas_router_certificate_not_after_timestamp_seconds'))! > Date.now() / 1000, 'certificates from the dev Vault, with their expiry');
  });

  await t.test('traffic through HAProxy: per-app router series and HAProxy backend series agree', async (t) => {
    // After the start-up reloads (a reload starts HAProxy's counters again).
    await cluster.daemon.runner.settled();
    for (let i = 0; i < 20; i++) await requestThrough(httpPort, shop);
    for (let i = 0; i < 5; i++) t.equal((await requestThrough(httpPort, shop, '/status/503')).status, 503);
    const fiveXx = await eventually(
      '5xx counted',
      async () => {
        const n = await value('paas_router_app_responses_total{app="shop",code="5xx"}');
        return n !== undefined && n >= 5 ? n : undefined;
      },
      30_000,
    );
    t.ok(fiveXx >= 5);
    t.ok((await value('paas_router_app_requests_total{app="shop"}'))! >= 25, 'at least the 25 requests sent');
    // HAProxy is a target of its own, scraped at its own moments: its series may lag the router's.
    const haproxy5xx = await eventually(
      "HAProxy's 5xx scraped",
      async () => {
        const n = await value('haproxy_backend_http_responses_total{proxy="app_shop",code="5xx"}');
        return n !== undefined && n >= 5 ? n : undefined;
      },
      30_000,
    );
    t.ok(haproxy5xx >= 5, 'HAProxy counted the same 5xx');
    t.ok((await value('paas_router_traffic_samples_total'))! >= 1);
  });

  await t.test('the shipped alert rules load and evaluate in Prometheus; nothing fires on a healthy cluster', async (t) => {
    const rules = (await (await fetch(`${api}/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; state: string; lastError?: string }[] }[] };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    t.equal(all.length, 9);
    await eventually(
      'rules evaluated',
      async () => {
        const r = (await (await fetch(`${api}/rules`)).json()) as typeof rules;
        return r.data.groups.flatMap((g) => g.rules).every((x) => x.health === 'ok');
      },
      20_000,
    );
    const firing = (await query('ALERTS{alertstate="firing"}')).map((r) => r.metric.alertname);
    // The 5xx ratio needs 5 minutes of it: pending at most, never firing within this test.
    t.same(firing, [], 'no alert fires');
  });

  await t.test("every metric the Grafana dashboard reads is among Prometheus' series", async (t) => {
    const dash = JSON.parse(await readFile(join(PACKAGE_ROOT, 'deploy', 'grafana', 'paas-router.json'), 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const wanted = new Set(dash.panels.flatMap((p) => (p.targets ?? []).flatMap((q) => metricNames(q.expr))));
    const names = new Set(((await (await fetch(`${api}/label/__name__/values`)).json()) as { data: string[] }).data);
    t.same(
      [...wanted].filter((n) => !names.has(n)),
      [],
      `all ${wanted.size} names arrived`,
    );
  });
});
