// The daemon end to end: a real Consul agent (the stand-in where noted) → routing model → templates → haproxy -c → real HAProxy.
import t from 'tap';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestCluster } from '../helpers/cluster.js';
import { deregisterMesosTask, setMesosTaskStatus } from '../../dev/consul/mesos.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { eventually } from '../helpers/net.js';

const foo: MarathonApp = { id: '/foo', instances: 1, tags: [], mode: 'http' };
const bar: MarathonApp = { id: '/team/bar', instances: 1, tags: ['router.balance=roundrobin'], mode: 'http' };

t.test('daemon end to end with a real HAProxy', async (t) => {
  const cluster = await startTestCluster(t, { apps: [foo, bar] });
  const { httpPort, templatesDir } = cluster;
  const { consul, daemon } = cluster;
  const state = daemon.runner.state;
  const get = (host: string) => requestThrough(httpPort, host);
  const served = (host: string, status: number, body?: RegExp) =>
    eventually(`${host} → ${status}`, async () => {
      const r = await get(host);
      return r.status === status && (!body || body.test(r.body)) ? r : undefined;
    });

  await t.test('a deployed app is reachable at its default host', async (t) => {
    const r = await served('foo.production.mozilla.community', 200, /\/foo #1/);
    t.equal(r.body.trim(), '/foo #1');
    t.equal((await served('bar-team.production.mozilla.community', 200)).body.trim(), '/team/bar #1');
  });

  await t.test('an unknown host answers 404 from the default backend', async (t) => {
    const r = await get('nope.example.org');
    t.equal(r.status, 404);
    t.match(r.body, /No app is routed/);
  });

  await t.test('scaled to 3 instances, all three serve', async (t) => {
    await cluster.addTask(foo);
    await cluster.addTask(foo);
    const seen = await eventually('three foo instances', async () => {
      const bodies = new Set<string>();
      for (let i = 0; i < 12; i++) bodies.add((await get('foo.production.mozilla.community')).body.trim());
      return bodies.size === 3 ? bodies : undefined;
    });
    t.same([...seen].sort(), ['/foo #1', '/foo #2', '/foo #3']);
  });

  await t.test('a custom domain put in K/V is served, and 404 once deleted', async (t) => {
    await fetch(`${consul.url}/v1/kv/paas-router/domains/foo`, { method: 'PUT', body: 'www.example.org' });
    await served('www.example.org', 200, /\/foo/);
    await eventually('the model lists the custom host', () =>
      state.deployment?.model?.hosts.some((h) => h.host === 'www.example.org' && h.source === 'kv' && h.key === 'paas-router/domains/foo'),
    );
    await fetch(`${consul.url}/v1/kv/paas-router/domains/foo`, { method: 'DELETE' });
    await served('www.example.org', 404);
    t.pass('deleted domain answers 404');
  });

  await t.test('a bad custom domain is rejected with a reason and breaks nothing', async (t) => {
    await fetch(`${consul.url}/v1/kv/paas-router/domains/bar-team`, { method: 'PUT', body: 'good.example.org,bad domain;x.org' });
    await served('good.example.org', 200, /\/team\/bar/);
    const rejection = await eventually('rejection recorded', () => state.builtModel?.rejections.find((r) => r.kind === 'domain' && r.service === 'bar-team'));
    t.match(rejection.reason, /./);
    t.equal((await get('foo.production.mozilla.community')).status, 200);
  });

  await t.test('an app with no passing instance answers 503 and keeps its route', async (t) => {
    const task = { app: bar.id, agent: 'solo', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: cluster.backends.get(bar.id)![0]!.port };
    // The dev cluster registered bar's task on dev-agent-N: find its id from the model instead.
    const server = state.deployment!.model!.apps.find((a) => a.name === 'bar-team')!.servers[0]!;
    const agent = server.id.split(':')[1]!;
    await setMesosTaskStatus(consul.url, { ...task, agent, status: 'critical' });
    await served('bar-team.production.mozilla.community', 503);
    t.ok(
      state.deployment?.model?.apps.some((a) => a.name === 'bar-team'),
      'the app is still in the model',
    );
    await setMesosTaskStatus(consul.url, { ...task, agent, status: 'passing' });
    await served('bar-team.production.mozilla.community', 200);
  });

  await t.test('a broken template is refused and the previous config keeps serving', async (t) => {
    await writeFile(join(templatesDir, 'haproxy.cfg.hbs'), '{{#each apps}}\nbroken {{/if}}\n');
    await eventually('templates source down', () => state.sources.templates?.state === 'down');
    t.match(state.sources.templates?.lastError?.message, /haproxy\.cfg/);
    // A change while the template is broken must still not take anything down.
    const extra = await cluster.addTask(bar);
    await new Promise((r) => setTimeout(r, 300));
    t.equal((await get('foo.production.mozilla.community')).status, 200);
    await cp(join(SHIPPED_TEMPLATES_DIR, 'haproxy.cfg.hbs'), join(templatesDir, 'haproxy.cfg.hbs'));
    await eventually('templates source ok', () => state.sources.templates?.state === 'ok');
    await eventually('the change made meanwhile is applied', () =>
      state.deployment?.model?.apps.find((a) => a.name === 'bar-team')?.servers.some((s) => s.port === extra.backend.port),
    );
    await deregisterMesosTask(consul.url, extra.task);
  });
});

// The stand-in keeps its data across stop/start and can restore an older index (a snapshot
// restore): the real agent in -dev mode can do neither.
t.test('Consul stopped and restored (stand-in)', async (t) => {
  const cluster = await startTestCluster(t, { consul: 'stand-in', apps: [foo, bar] });
  const { httpPort, daemon } = cluster;
  const consul = cluster.standIn!;
  const state = daemon.runner.state;
  const get = (host: string) => requestThrough(httpPort, host);
  const served = (host: string, status: number) =>
    eventually(`${host} → ${status}`, async () => ((await get(host)).status === status ? true : undefined), 15_000);
  await served('foo.production.mozilla.community', 200);

  await t.test('Consul stopped: routes keep serving, the source reports down, and recovers', async (t) => {
    await consul.stop();
    await eventually('consul source down', () => state.sources['consul-catalog']?.state === 'down', 15_000);
    t.equal((await get('foo.production.mozilla.community')).status, 200, 'still served while Consul is down');
    t.ok(state.deployment?.model?.apps.length === 2, 'an error is never "no services"');
    await consul.start();
    await eventually('consul source ok', () => state.sources['consul-catalog']?.state === 'ok', 30_000);
    const fresh = await cluster.registerOn('/fresh', foo.id);
    t.equal(fresh.serviceName, 'fresh');
    await served('fresh.production.mozilla.community', 200);
  });

  await t.test('after an index reset (snapshot restore) no update is lost', async (t) => {
    consul.resetIndex(1);
    const after = await cluster.registerOn('/after-reset', foo.id);
    await served(`${after.serviceName}.production.mozilla.community`, 200);
    await fetch(`${consul.url}/v1/kv/paas-router/domains/after-reset`, { method: 'PUT', body: 'after.example.org' });
    await served('after.example.org', 200);
    t.pass('changes after the reset were applied');
  });
});
