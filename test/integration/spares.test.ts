// Brand-new apps without a reload (issue 12): a real HAProxy serves a new default app from a spare
// backend (`show proc`: no reload), the app's later changes go to the spare, an empty pool falls
// back to a validated reload that gives every app its own backend and frees the pool, and the
// consolidation reload (spare_settle of quiet, or asked for) serves the same.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestCluster } from '../helpers/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import type { ApplyReport } from '../../src/apply/applier.js';
import { explainHost, formatExplanation, readLiveView, spareOf } from '../../src/cli/explain.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { statusDocument, type StatusDocument, type StatusInfo } from '../../src/server/status.js';
import type { TrafficSeriesDocument } from '../../src/server/traffic-view.js';
import { startDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { eventually } from '../helpers/net.js';

const app = (name: string, tags: string[] = []): MarathonApp => ({ id: `/${name}`, instances: 1, tags, mode: 'http' });
const host = (name: string) => `${name}.production.mozilla.community`;

t.test('spare backends with a real HAProxy', async (t) => {
  const cluster = await startTestCluster(t, {
    apps: [app('web')],
    configOverrides: { haproxy: { spare_backends: 2, spare_settle: '1h' }, metrics: { per_app: true } },
  });
  const { httpPort, config } = cluster;
  const runner = cluster.daemon.runner;
  const state = runner.state;
  const socket = config.haproxy.runtimeSocket;
  const hostsMap = join(config.haproxy.configDir, 'hosts.map');
  const get = (name: string, path = '/') => requestThrough(httpPort, host(name), path);
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 20_000);
  const settle = () => runner.settled();
  const runtimeMap = () => sendSocketCommand(socket, `show map ${hostsMap}`);
  const reports: (ApplyReport & { at: number })[] = [];
  runner.on('applied', (r: ApplyReport) => reports.push({ ...r, at: Date.now() }));
  const since = (at: number) => reports.filter((r) => r.at >= at && r.status !== 'unchanged' && r.status !== 'already-refused');
  const status = async () => (await (await fetch(`${cluster.daemon.server.url}/status`)).json()) as StatusDocument;

  await wait('web served', async () => (await get('web')).status === 200);
  await wait('first apply done', () => state.lastApply !== undefined && state.lastApply.status !== 'haproxy-unreachable');
  await settle();

  await t.test('a brand-new default app is served from a spare: no reload', async (t) => {
    const before = await reloads();
    const at = Date.now();
    await cluster.addTask(app('blog'));
    await wait('blog served', async () => (await get('blog')).status === 200);
    await settle();
    t.equal(await reloads(), before, 'show proc: no reload');
    t.match(since(at), [{ status: 'runtime', spares: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] }]);
    t.match(await runtimeMap(), new RegExp(`${host('blog')} spare_1`), 'HAProxy maps the host to the spare');
    t.match(await sendSocketCommand(socket, 'show servers state spare_1'), /spare_1 \d+ 127\.0\.0\.1:\d+ 127\.0\.0\.1/, 'the server is on the spare');
    // The files say what the next reload or a restart loads: the app's own backend.
    t.match(await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8'), /\nbackend app_blog\n[\s\S]*server 127\.0\.0\.1:/);
    t.match(await readFile(hostsMap, 'utf8'), new RegExp(`${host('blog')} app_blog`));
    const doc = await status();
    t.match(doc.haproxy.spares, { total: 2, free: 1, apps: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] });
    const blog = doc.apps.find((a) => a.name === 'blog')!;
    t.match(blog, { name: 'blog', backend: 'app_blog', spare: 'spare_1' }, '/status names the app');
    t.match(blog.features[0], /served from spare backend spare_1/);
    // `paas-router explain` asks the running daemon where the app is served from.
    const view = await readLiveView(config);
    const e = { ...explainHost(view, config, host('blog')), spare: await spareOf(cluster.daemon.server.url, 'blog') };
    t.match(
      formatExplanation(e),
      new RegExp(`^${host('blog')} is served by app blog \\(backend app_blog; HAProxy serves it from spare backend spare_1 until the next reload\\)`),
    );
    t.equal(await spareOf(cluster.daemon.server.url, 'web'), undefined, 'an app on its own backend');
    t.equal(await spareOf('http://127.0.0.1:1', 'blog'), undefined, 'no daemon: nothing said');
  });

  await t.test('HAProxy counts the app under the spare: its charts, figures and metrics name the app (issue 20)', async (t) => {
    const { traffic, server } = cluster.daemon;
    await traffic.sample();
    for (let i = 0; i < 4; i++) t.equal((await get('blog')).status, 200);
    await traffic.sample();
    const series = (await (await fetch(`${server.url}/traffic`)).json()) as TrafficSeriesDocument;
    t.ok(
      series.apps.blog?.rate.some((r) => r !== null && r > 0),
      '/traffic: the chart series of blog has points',
    );
    const blog = (await status()).apps.find((a) => a.name === 'blog')!;
    t.ok(blog.traffic && blog.traffic.requests >= 4, '/status: the traffic figures of blog');
    t.ok(blog.servers[0]?.traffic, '/status: the traffic of its server');
    t.match(await (await fetch(`${server.url}/metrics`)).text(), /paas_router_app_requests_total\{app="blog"\} [1-9]/, 'metrics.per_app');
  });

  await t.test('the app on the spare gets its next instance and a maintenance page at runtime', async (t) => {
    const before = await reloads();
    await cluster.addTask(app('blog'));
    await wait('two instances of blog', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add((await get('blog')).body.trim());
      return seen.size === 2;
    });
    await fetch(`${cluster.consul.url}/v1/kv/paas-router/maintenance/blog`, { method: 'PUT', body: 'Blog moving house' });
    await wait('blog in maintenance', async () => (await get('blog')).status === 503);
    t.match((await get('blog')).body, /Blog moving house/);
    await fetch(`${cluster.consul.url}/v1/kv/paas-router/maintenance/blog`, { method: 'DELETE' });
    await wait('blog back', async () => (await get('blog')).status === 200);
    await settle();
    t.equal(await reloads(), before, 'no reload');
    t.equal(state.deployment?.spares.list().length, 1, 'still on its spare');
  });

  await t.test('an app whose tags need backend settings still reloads', async (t) => {
    const before = await reloads();
    const at = Date.now();
    await cluster.addTask(app('slow', ['router.timeout-server=120s']));
    await wait('slow served', async () => (await get('slow')).status === 200);
    await settle();
    t.ok((await reloads()) > before, 'reloaded');
    t.match(since(at)[0], { status: 'reloaded', reloadReason: /app slow was added with backend settings a spare backend lacks/ });
    t.same(state.deployment?.spares.list(), [], 'that reload gave blog its own backend');
    t.match(await runtimeMap(), new RegExp(`${host('blog')} app_blog`));
    t.equal((await get('blog')).status, 200, 'blog served the same');
  });

  await t.test('the pool empty: the next new app reloads, and that reload refills the pool', async (t) => {
    let before = await reloads();
    await cluster.addTask(app('shop'));
    await wait('shop served', async () => (await get('shop')).status === 200);
    await cluster.addTask(app('cart'));
    await wait('cart served', async () => (await get('cart')).status === 200);
    await settle();
    t.equal(await reloads(), before, 'two new apps, two spares, no reload');
    t.match(state.deployment?.spares.list(), [
      { app: 'cart', spare: 'spare_2' },
      { app: 'shop', spare: 'spare_1' },
    ]);

    before = await reloads();
    const at = Date.now();
    await cluster.addTask(app('till'));
    await wait('till served', async () => (await get('till')).status === 200);
    await settle();
    t.equal(await reloads(), before + 1, 'one reload');
    t.match(since(at)[0], { status: 'reloaded', reloadReason: /app till was added and every spare backend is taken \(haproxy.spare_backends: 2\)/ });
    t.same(state.deployment?.spares.list(), [], 'every spare free again');
    const map = await runtimeMap();
    for (const name of ['shop', 'cart', 'till']) {
      t.match(map, new RegExp(`${host(name)} app_${name}`), `${name} on its own backend`);
      t.equal((await get(name)).status, 200, `${name} served`);
    }
    t.notMatch(await sendSocketCommand(socket, 'show servers state spare_1'), /127\.0\.0\.1/, 'spare_1 is empty');

    // Refilled: the next new app takes a spare again.
    before = await reloads();
    await cluster.addTask(app('late'));
    await wait('late served', async () => (await get('late')).status === 200);
    await settle();
    t.equal(await reloads(), before, 'no reload');
    t.match(state.deployment?.spares.list(), [{ app: 'late', spare: 'spare_1' }]);
  });

  await t.test('HAProxy refusing the spare (its state differs) falls back to a validated reload', async (t) => {
    await runner.consolidateSpares();
    // Someone put a server on the free spare behind the daemon's back: the check after the
    // commands finds it, and the change reloads instead (which also drops the stray server).
    t.match(await sendSocketCommand(socket, 'add server spare_1/stray 127.0.0.1:9'), /New server registered/);
    const before = await reloads();
    const at = Date.now();
    await cluster.addTask(app('odd'));
    await wait('odd served', async () => (await get('odd')).status === 200);
    await settle();
    t.equal(await reloads(), before + 1, 'one reload');
    t.match(since(at)[0], { status: 'reloaded', reloadReason: /server spare_1\/stray is not in the config/ });
    t.same(state.deployment?.spares.list(), [], 'not left on the spare');
    t.match(await runtimeMap(), new RegExp(`${host('odd')} app_odd`));
    t.notMatch(await sendSocketCommand(socket, 'show servers state spare_1'), /stray/, 'the reload dropped the stray server');
    await cluster.addTask(app('later'));
    await wait('later served', async () => (await get('later')).status === 200);
    await settle();
    t.match(state.deployment?.spares.list(), [{ app: 'later', spare: 'spare_1' }], 'the pool works again');
  });

  await t.test('the consolidation reload serves the same', async (t) => {
    const before = await reloads();
    const at = Date.now();
    await runner.consolidateSpares();
    t.equal(await reloads(), before + 1);
    t.match(since(at), [{ status: 'reloaded', reloadReason: /consolidating 1 app\(s\) on spare backends into their own backends \(later\)/ }]);
    t.match(await runtimeMap(), new RegExp(`${host('later')} app_later`));
    t.equal((await get('later')).status, 200);
    t.same(state.deployment?.spares.list(), []);
    await runner.consolidateSpares();
    t.equal(await reloads(), before + 1, 'nothing on a spare: no reload');
  });
});

t.test('after haproxy.spare_settle of quiet the apps on spares get their own backends', async (t) => {
  const cluster = await startTestCluster(t, { apps: [app('web')], configOverrides: { haproxy: { spare_backends: 1, spare_settle: '1s' } } });
  const { httpPort, config } = cluster;
  const state = cluster.daemon.runner.state;
  const get = (name: string) => requestThrough(httpPort, host(name));
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const reports: ApplyReport[] = [];
  cluster.daemon.runner.on('applied', (r: ApplyReport) => reports.push(r));
  await eventually('web served', async () => (await get('web')).status === 200, 20_000);
  await eventually('first apply done', () => state.lastApply !== undefined && state.lastApply.status !== 'haproxy-unreachable', 20_000);
  await cluster.daemon.runner.settled();
  const before = await reloads();
  await cluster.addTask(app('blog'));
  await eventually('blog on the spare', () => state.deployment?.spares.list()[0]?.app === 'blog', 20_000);
  await eventually('consolidated', () => reports.some((r) => r.status === 'reloaded' && /consolidating/.test(r.reloadReason ?? '')), 30_000);
  t.equal(await reloads(), before + 1, 'one reload: the consolidation');
  t.same(state.deployment?.spares.list(), []);
  t.equal((await get('blog')).status, 200, 'served the same');
});

// Issue 20: a restart, an upgrade or a crash of the daemon must not cost the next brand-new app a
// reload. The new daemon reads from HAProxy which spares hold which app (`show map`, `show servers state`).
t.test('a daemon restarted on a running HAProxy knows its spares at once', async (t) => {
  const cluster = await startTestCluster(t, { apps: [app('web')], configOverrides: { haproxy: { spare_backends: 2, spare_settle: '1h' } } });
  const { httpPort, config } = cluster;
  const get = (name: string) => requestThrough(httpPort, host(name));
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 20_000);
  const first = cluster.daemon.runner.state;
  await wait('web served', async () => (await get('web')).status === 200);
  await wait('first apply done', () => first.lastApply !== undefined && first.lastApply.status !== 'haproxy-unreachable');
  await cluster.addTask(app('blog'));
  await wait('blog on a spare', () => first.deployment?.spares.list()[0]?.app === 'blog');
  await cluster.daemon.runner.settled();
  const ran = first.deployment?.checksum;
  await cluster.daemon.stop();

  const before = await reloads();
  const daemon = await startDaemon(config, createLogger('silent'));
  t.teardown(() => daemon.stop());
  const state = daemon.runner.state;
  // Before its first build, /status already says what HAProxy runs: the applier's record, rebuilt
  // at start from the files and from HAProxy's spares (before the Deployment: nothing until a build).
  t.equal(state.lastApply, undefined, 'no build yet');
  const adopted = statusDocument(state, {} as StatusInfo, Date.now()).haproxy;
  t.equal(adopted.runningChecksum, ran, 'the checksum of what the old daemon left running');
  t.match(adopted.spares, { total: 2, free: 1, apps: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] }, 'and which spare holds which app');
  await wait('the restarted daemon built once', () => state.lastApply !== undefined);
  t.equal(state.lastApply?.status, 'unchanged', 'it adopted what runs');
  t.match(
    { total: state.deployment?.spareTotal, apps: state.deployment?.spares.list() },
    { total: 2, apps: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] },
    'which spare holds which app, from HAProxy',
  );

  await cluster.addTask(app('shop'));
  await wait('shop served', async () => (await get('shop')).status === 200);
  await daemon.runner.settled();
  t.equal(await reloads(), before, 'the first brand-new app after the restart: no reload');
  t.match(state.deployment?.spares.list(), [
    { app: 'blog', spare: 'spare_1' },
    { app: 'shop', spare: 'spare_2' },
  ]);

  await cluster.addTask(app('blog'));
  await wait('two instances of blog', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await get('blog')).body.trim());
    return seen.size === 2;
  });
  await daemon.runner.settled();
  t.equal(await reloads(), before, 'the app the old daemon put on a spare changes at runtime too');
});
