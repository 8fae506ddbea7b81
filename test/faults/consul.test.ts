// Consul faults under load, against a real HAProxy: Consul stopped, slow, answering 500, garbage or
// truncated JSON, and an index reset (snapshot restore). For each: existing routes keep serving
// (0 failed requests), the files on disk stay valid, /status says what is wrong, and once the fault
// ends a new change is applied and served; the time that takes is measured.
import t from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import type { FaultMode } from '../../dev/consul/server.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';
import { LoadLoop, faultLog, get, healthy, haproxyCheck, healthz, hostOf, recordFigure, servedAt, sleep, sourceOf, statusOf } from './helpers.js';

const apps: MarathonApp[] = ['alpha', 'beta', 'gamma'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));

t.test('Consul faults under load', async (t) => {
  // The stand-in: these faults (500s, garbage, truncated or slow answers, index reset, stop/start
  // with the data kept) are ones a real agent cannot be made to produce on demand.
  const cluster = await startTestCluster(t, {
    consul: 'stand-in',
    apps,
    domains: { gamma: 'www.gamma.example' },
    log: faultLog(),
    // A short blocking wait: a 'slow' Consul holds each read for its wait + 2 s.
    configOverrides: { consul: { wait: '3s' } },
  });
  const { httpPort } = cluster;
  const consul = cluster.standIn!;
  const statusUrl = cluster.daemon.server.url;
  const existing = [hostOf('alpha'), hostOf('beta'), 'www.gamma.example'];
  for (const host of existing) await servedAt(httpPort, host);
  await healthy(statusUrl);
  const load = new LoadLoop(httpPort, existing).start();
  t.teardown(() => load.stop());
  await load.warmUp();
  const appsServed = () => cluster.daemon.runner.state.deployment?.model?.apps.length ?? 0;
  /** HAProxy serves a reload's new worker a moment before the daemon has confirmed it: settle first. */
  const settledApps = async () => {
    await cluster.daemon.runner.settled();
    return appsServed();
  };

  /** A new custom domain for alpha, through K/V (applied through the runtime API). */
  const newDomain = async (name: string) => {
    const host = `${name}.example.org`;
    const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: `${host}` });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}`);
    return host;
  };
  let appCount = 0;
  /** A brand-new app (a new backend: a validated reload). */
  const newApp = async () => {
    const name = `fresh${++appCount}`;
    const backend = cluster.backends.get('/alpha')![0]!;
    await registerMesosTask(consul.url, { app: `/${name}`, agent: 'dev-agent-9', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
    return hostOf(name);
  };

  const errorFault = (mode: Exclude<FaultMode, 'none' | 'slow'>, expected: RegExp) =>
    t.test(`Consul answers ${mode}`, async (t) => {
      const from = Date.now();
      const count = await settledApps();
      consul.setFault(mode);
      const doc = await eventually(
        'consul-catalog down in /status',
        async () => {
          const d = await statusOf(statusUrl);
          // A read already in flight when the fault starts may fail for another reason first.
          const reason = sourceOf(d, 'consul-catalog')?.lastError?.message ?? '';
          return sourceOf(d, 'consul-catalog')?.state === 'down' && sourceOf(d, 'consul-domains')?.state === 'down' && expected.test(reason) ? d : undefined;
        },
        15_000,
      );
      const error = sourceOf(doc, 'consul-catalog')!.lastError!;
      t.match(error.message, expected, `the reason is given: ${error.message}`);
      const health = await healthz(statusUrl);
      t.equal(health.status, 503, '/healthz answers 503 while Consul cannot be read');
      await sleep(1_500); // the fault lasts: the watches keep failing and backing off
      t.equal(appsServed(), count, 'an error is never "no services": every app is still served');
      t.equal(doc.apps.length, count, '/status still lists every app');
      consul.setFault('none');
      const end = Date.now();
      const host = await newDomain(`after-${mode}`);
      const served = await servedAt(httpPort, host, /alpha/);
      await eventually('consul-catalog ok again', async () => sourceOf(await statusOf(statusUrl), 'consul-catalog')?.state === 'ok');
      const w = load.window(from);
      t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
      await recordFigure(t, {
        fault: `consul-${mode}`,
        requests: w.requests,
        failedExisting: w.failed,
        recoveryMs: served - end,
        reported: `consul-catalog/consul-domains down: ${error.message}; /healthz 503`,
      });
    });

  await t.test('Consul stopped, then started again', async (t) => {
    const from = Date.now();
    const count = await settledApps();
    await consul.stop();
    const doc = await eventually(
      'consul-catalog down in /status',
      async () => {
        const d = await statusOf(statusUrl);
        return sourceOf(d, 'consul-catalog')?.state === 'down' ? d : undefined;
      },
      15_000,
    );
    const error = sourceOf(doc, 'consul-catalog')!.lastError!;
    t.match(error.message, /cannot reach Consul/);
    t.match(doc.health.reasons.join('\n'), /consul-catalog is down/);
    await sleep(3_000); // long enough for the watches to back off to consul.retry_max
    t.equal(appsServed(), count, 'every app is still served');
    await consul.start();
    const end = Date.now();
    const host = await newApp();
    const served = await servedAt(httpPort, host, /alpha/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'consul-down',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `consul-catalog down: ${error.message}; /healthz 503`,
    });
  });

  await errorFault('http500', /HTTP 500/);
  await errorFault('garbage', /not valid JSON|without an X-Consul-Index/);
  await errorFault('truncated', /not valid JSON/);

  await t.test('Consul slow (every read held for its wait + 2 s)', async (t) => {
    const from = Date.now();
    const count = await settledApps();
    consul.setFault('slow');
    // A change while Consul is slow: the blocked reads wake at once; the reads after them are slow.
    const during = await newDomain('during-slow');
    await servedAt(httpPort, during, /alpha/);
    await sleep(2_000);
    const doc = await statusOf(statusUrl);
    const catalog = sourceOf(doc, 'consul-catalog')!;
    t.equal(appsServed(), count, 'every app is still served');
    consul.setFault('none');
    const end = Date.now();
    const host = await newDomain('after-slow');
    const served = await servedAt(httpPort, host, /alpha/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'consul-slow',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `consul-catalog ${catalog.state}${catalog.state === 'ok' ? '' : `: ${catalog.lastError?.message}`} (an answer within the client timeout, wait + wait/16 + 5 s, is not an error)`,
      notes: 'reads already held when the fault ends still take their wait + 2 s: recovery is bounded by consul.wait + 2 s',
    });
  });

  await t.test('index reset (snapshot restore): no update is lost', async (t) => {
    const from = Date.now();
    const indexBefore = consul.index;
    consul.resetIndex(1);
    const end = Date.now();
    // Several changes right after the reset, of every kind the watches carry.
    const app = await newApp();
    const domain = await newDomain('after-reset');
    const extra = await cluster.addTask(apps[1]!);
    const servedApp = await servedAt(httpPort, app, /alpha/);
    const servedDomain = await servedAt(httpPort, domain, /alpha/);
    const servedInstance = await eventually(
      'the new beta instance serves',
      async () => {
        for (let i = 0; i < 6; i++) if ((await get(httpPort, hostOf('beta'))).body.includes(extra.backend.label)) return Date.now();
        return undefined;
      },
      30_000,
    );
    t.ok(consul.index < indexBefore, `the index went backwards (${indexBefore} → ${consul.index})`);
    const doc = await statusOf(statusUrl);
    t.equal(sourceOf(doc, 'consul-catalog')?.state, 'ok');
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'consul-index-reset',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: Math.max(servedApp, servedDomain, servedInstance) - end,
      reported: 'nothing to report: the watches start again from index 0 (consul-catalog stays ok)',
      notes: 'a new app, a new domain and a new instance written after the reset were all served',
    });
  });

  await t.test('the files on disk are valid and HAProxy still serves', async (t) => {
    const check = await haproxyCheck(cluster.config.haproxy.configDir);
    t.ok(check.ok, `haproxy -c passes on the live files: ${check.output}`);
    for (const host of existing) t.equal((await get(httpPort, host)).status, 200, `${host} still served`);
    const doc = await statusOf(statusUrl);
    t.ok(doc.health.ok, `healthy again: ${doc.health.reasons.join('; ')}`);
    t.equal(load.window().failed, 0, 'no failed request to existing routes over the whole run');
  });
});
