// Hitless changes: what goes through HAProxy's runtime API, what falls back to a reload, and that a
// reload after runtime changes serves exactly the same.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestCluster } from '../helpers/cluster.js';
import { deregisterMesosTask, setMesosTaskStatus } from '../../dev/consul/mesos.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import type { ApplyReport } from '../../src/apply/applier.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { eventually } from '../helpers/net.js';

const web: MarathonApp = { id: '/web', instances: 1, tags: [], mode: 'http' };
const sticky: MarathonApp = { id: '/sticky', instances: 1, tags: ['router.sticky=true'], mode: 'http' };
const HOST = 'web.production.mozilla.community';

t.test('runtime API path with a real HAProxy', async (t) => {
  const cluster = await startTestCluster(t, { apps: [web, sticky] });
  const { httpPort, templatesDir } = cluster;
  const { consul, config } = cluster;
  const state = cluster.daemon.runner.state;
  const runtimeSocket = config.haproxy.runtimeSocket;
  const get = (host: string, path = '/') => requestThrough(httpPort, host, path);
  // The master CLI does not answer while the master re-executes for a reload: ask until it does.
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const bodies = async (n = 12) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await get(HOST)).body.trim());
    return [...seen].sort();
  };
  await eventually('web served', async () => (await get(HOST)).status === 200);
  await eventually('first apply done', () => state.lastApply && state.lastApply.status !== 'haproxy-unreachable');
  // The dev cluster starts HAProxy after the first write and then reloads once (pending reload).
  const settle = () => cluster.daemon.runner.settled();
  // Every apply report, so a test can look at what its own change caused.
  const reports: (ApplyReport & { at: number })[] = [];
  cluster.daemon.runner.on('applied', (r: ApplyReport) => reports.push({ ...r, at: Date.now() }));
  const reportsSince = (since: number) => reports.filter((r) => r.at >= since && r.status !== 'unchanged' && r.status !== 'already-refused');
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 15_000);

  await t.test('a new instance of an existing app: runtime, no reload', async (t) => {
    await settle();
    const before = await reloads();
    const added = await cluster.addTask(web);
    await wait('two instances serve', async () => (await bodies()).length === 2);
    // Served first, then validated and written: wait for the apply to finish.
    await settle();
    t.equal(reports.at(-1)?.status, 'runtime');
    t.equal(await reloads(), before, 'no reload');
    t.match(
      await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8'),
      new RegExp(`server 127\\.0\\.0\\.1:${added.backend.port} `),
      'written to the file too',
    );
  });

  await t.test('an instance failing its check, then recovering: runtime, no reload', async (t) => {
    const before = await reloads();
    const [, second] = cluster.backends.get(web.id)!;
    const task = { app: web.id, agent: 'dev-agent-3', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: second!.port };
    const server = state.deployment!.model!.apps.find((a) => a.name === 'web')!.servers.find((s) => s.port === second!.port)!;
    task.agent = server.id.split(':')[1]!;
    await setMesosTaskStatus(consul.url, { ...task, status: 'critical' });
    await wait('only the first instance serves', async () => (await bodies()).join() === '/web #1');
    await settle();
    t.match(await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${second!.port} \\S+.*disabled`));
    await setMesosTaskStatus(consul.url, { ...task, status: 'passing' });
    await wait('both serve again', async () => (await bodies()).length === 2);
    await settle();
    t.equal(await reloads(), before, 'no reload');
  });

  await t.test('an instance removed while a request is in flight: drained, the request completes', async (t) => {
    const before = await reloads();
    const list = cluster.backends.get(web.id)!;
    const second = list[1]!;
    const server = state.deployment!.model!.apps.find((a) => a.name === 'web')!.servers.find((s) => s.port === second.port)!;
    // Hold a slow request on the second instance (retry until round-robin lands on it).
    let inflight: Promise<{ status: number; body: string }> | undefined;
    for (let i = 0; i < 6 && !inflight; i++) {
      const p = get(HOST, '/slow?ms=1500');
      await new Promise((r) => setTimeout(r, 100));
      const conn = await sendSocketCommand(runtimeSocket, `show servers conn app_web`);
      if (new RegExp(`app_web/127\\.0\\.0\\.1:${second.port} \\S+ \\S+ \\S+ - \\d+ [1-9]`).test(conn)) inflight = p;
      else await p;
    }
    t.ok(inflight, 'a request is in flight on the instance being removed');
    await deregisterMesosTask(consul.url, { app: web.id, agent: server.id.split(':')[1]!, ip: '127.0.0.1', port: second.port });
    await wait('only the first instance gets new requests', async () => (await bodies()).join() === '/web #1');
    await settle();
    const done = await inflight!;
    t.equal(done.status, 200, 'the in-flight request completed');
    t.equal(done.body.trim(), '/web #2');
    await wait(
      'the drained server is deleted',
      async () => !(await sendSocketCommand(runtimeSocket, 'show servers state app_web')).includes(`:${second.port} `),
    );
    t.equal(await reloads(), before, 'no reload');
  });

  await t.test('a custom domain added and removed: runtime, no reload', async (t) => {
    const before = await reloads();
    await fetch(`${consul.url}/v1/kv/paas-router/domains/web`, { method: 'PUT', body: 'www.web.example' });
    await wait('custom domain served', async () => (await get('www.web.example')).status === 200);
    t.match(await sendSocketCommand(runtimeSocket, `show map ${join(config.haproxy.configDir, 'hosts.map')}`), /www\.web\.example app_web/);
    await fetch(`${consul.url}/v1/kv/paas-router/domains/web`, { method: 'DELETE' });
    await wait('custom domain gone', async () => (await get('www.web.example')).status === 404);
    await settle();
    t.equal(await reloads(), before, 'no reload');
  });

  // A default app takes a spare backend instead (test/integration/spares.test.ts).
  await t.test('a brand-new app with backend settings needs a reload', async (t) => {
    const before = await reloads();
    const since = Date.now();
    await cluster.addTask({ id: '/fresh', instances: 1, tags: ['router.balance=leastconn'], mode: 'http' });
    await settle();
    await wait('fresh served', async () => (await get('fresh.production.mozilla.community')).status === 200);
    await settle();
    t.ok((await reloads()) > before);
    t.match(
      reportsSince(since)[0],
      { status: 'reloaded', reloadReason: 'app fresh was added with backend settings a spare backend lacks' },
      'the plan from the builds: a new backend with its own settings needs a reload',
    );
  });

  await t.test('a sticky app (cookie) cannot take dynamic servers: validated reload', async (t) => {
    await settle();
    const before = await reloads();
    const since = Date.now();
    await cluster.addTask(sticky);
    await wait('two sticky instances', () => state.deployment?.model?.apps.find((a) => a.name === 'sticky')?.servers.length === 2);
    t.ok((await reloads()) > before);
    t.match(reportsSince(since)[0], { status: 'reloaded', reloadReason: /cookie/ });
  });

  await t.test('a change the runtime API refuses falls back to a validated reload', async (t) => {
    // An operator's template adds `redir` to server lines: haproxy -c accepts it, `add server` does not.
    const serverPartial = join(templatesDir, 'partials', 'server.hbs');
    const original = await readFile(serverPartial, 'utf8');
    await writeFile(
      serverPartial,
      original.replace('{{#unless passing}}', '{{#if (eq app.name "web")}} redir http://www.web.example{{/if}}{{#unless passing}}'),
    );
    await wait('template applied by a reload', async () =>
      (await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8')).includes('redir http://www.web.example'),
    );
    await settle();
    const before = await reloads();
    const since = Date.now();
    const added = await cluster.addTask(web);
    await wait('applied', () => reportsSince(since).length > 0);
    t.ok((await reloads()) > before, 'reloaded instead');
    t.match(reportsSince(since)[0], { status: 'reloaded', reloadReason: /redir/ });
    t.match(await sendSocketCommand(runtimeSocket, 'show servers state app_web'), new RegExp(`:${added.backend.port} `));
    await writeFile(serverPartial, original);
    await wait('template restored', async () => !(await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8')).includes('redir'));
    await settle();
  });

  await t.test("HAProxy's state differing from the model is repaired by a reload", async (t) => {
    await settle();
    const first = state.deployment!.model!.apps.find((a) => a.name === 'web')!.servers[0]!;
    // Someone puts a server into maintenance behind the router's back.
    await sendSocketCommand(runtimeSocket, `disable server app_web/${first.name}`);
    const since = Date.now();
    await cluster.addTask(web);
    await wait('applied', () => reportsSince(since).length > 0);
    t.match(reportsSince(since)[0], { status: 'reloaded', reloadReason: /differs from the configuration/ });
    t.notMatch(
      await sendSocketCommand(runtimeSocket, `show servers state app_web`),
      new RegExp(`${first.name.replace(/\./g, '\\.')} 127\\.0\\.0\\.1 \\d+ 1 `),
      'back to the config',
    );
  });

  await t.test('a reload after runtime changes serves exactly the same', async (t) => {
    await settle();
    const mapPath = join(config.haproxy.configDir, 'hosts.map');
    const snapshot = async () => {
      const servers = (await sendSocketCommand(runtimeSocket, 'show servers state'))
        .split('\n')
        .filter((l) => /^\d+ /.test(l))
        .map((l) => l.split(/\s+/))
        .map((f) => `${f[1]}/${f[3]} ${f[4]}:${f[18]} admin=${f[6]}`)
        .sort();
      const map = (await sendSocketCommand(runtimeSocket, `show map ${mapPath}`))
        .split('\n')
        .map((l) => l.replace(/^0x[0-9a-f]+ /, ''))
        .filter(Boolean)
        .sort();
      return { servers, map, bodies: await bodies(20) };
    };
    const since = Date.now();
    await cluster.addTask(web); // one more runtime change right before
    await wait('runtime change', () => reportsSince(since)[0]?.status === 'runtime');
    await settle();
    const before = await snapshot();
    const proc = await reloads();
    await sendSocketCommand(config.haproxy.masterSocket, 'reload').catch(() => undefined);
    await wait('reloaded', async () => (await reloads()) > proc);
    await new Promise((r) => setTimeout(r, 300));
    t.same(await snapshot(), before);
  });
});
