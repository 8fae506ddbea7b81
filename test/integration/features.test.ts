// Per-app features end to end, with real HTTP through a real HAProxy: router.redirect (308),
// router.allow (403), router.path + strip-path, router.group with weights from K/V, maintenance
// pages from K/V. Weights and maintenance change through the runtime API: the reload count from
// the master CLI's `show proc` stays the same.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import type { ApplyReport } from '../../src/apply/applier.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { explainHost, formatExplanation, readLiveView } from '../../src/cli/explain.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

const app = (id: string, tags: string[], instances = 1): MarathonApp => ({ id, instances, tags, mode: 'http' });
const apps = [
  app('/site', ['router.redirect=site.example.org']),
  app('/forum', ['router.path=/forum', 'router.strip-path=true']),
  app('/private', ['router.allow=10.99.0.0/16 2001:db8::/32']),
  app('/lan', ['router.allow=127.0.0.0/8 ::1']),
  app('/web-blue', ['router.group=web']),
  app('/web-green', ['router.group=web']),
  app('/bad-a', ['router.group=bad', 'router.balance=leastconn']),
  app('/bad-b', ['router.group=bad']),
  // issue 20: members disagreeing on an edge tag (router.hsts) were once served together.
  app('/strict-a', ['router.group=strict', 'router.hsts=600']),
  app('/strict-b', ['router.group=strict']),
];
const zone = 'production.mozilla.community';

t.test('per-app features through a real HAProxy', async (t) => {
  const cluster = await startTestCluster(t, {
    apps,
    domains: { site: 'site.example.org www.site.example.org', forum: 'site.example.org' },
    // site owns site.example.org: only its delegation puts forum under /forum there.
    kv: { 'paas-router/paths/site': 'site.example.org/forum=forum' },
  });
  const { httpPort, consul, config } = cluster;
  const state = cluster.daemon.runner.state;
  const get = (host: string, path = '/') => requestThrough(httpPort, host, path);
  const kv = (key: string, value?: string) => fetch(`${consul.url}/v1/kv/${key}`, value === undefined ? { method: 'DELETE' } : { method: 'PUT', body: value });
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const settle = () => cluster.daemon.runner.settled();
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 15_000);
  const reports: ApplyReport[] = [];
  cluster.daemon.runner.on('applied', (r: ApplyReport) => reports.push(r));
  const bodies = async (host: string, n = 12) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await get(host)).body.trim());
    return [...seen].sort();
  };

  await wait('site served', async () => (await get('site.example.org')).status === 200);
  await wait('first apply done', () => state.lastApply !== undefined && state.lastApply.status !== 'haproxy-unreachable');
  await settle();

  await t.test('router.redirect: other hosts answer 308 to the canonical host, path and query kept', async (t) => {
    const r = await get('www.site.example.org', '/a/b?x=1&y=2');
    t.equal(r.status, 308);
    t.equal(r.headers.location, 'http://site.example.org/a/b?x=1&y=2');
    const d = await get(`site.${zone}`, '/');
    t.equal(d.status, 308, 'the default host redirects too');
    t.equal(d.headers.location, 'http://site.example.org/');
    const c = await get('site.example.org', '/a');
    t.equal(c.status, 200, 'the canonical host is served');
    t.equal(c.body.trim(), '/site #1');
  });

  await t.test('router.allow: other networks get 403, listed ones are served', async (t) => {
    const denied = await get(`private.${zone}`);
    t.equal(denied.status, 403, '127.0.0.1 is not in 10.99.0.0/16 or 2001:db8::/32');
    t.notMatch(denied.body, /private #1/);
    const allowed = await get(`lan.${zone}`);
    t.equal(allowed.status, 200);
    t.equal(allowed.body.trim(), '/lan #1');
  });

  await t.test('router.path + strip-path: the prefix routes to its app, which gets the path without it', async (t) => {
    const sub = await get('site.example.org', '/forum/t/42?page=2');
    t.equal(sub.status, 200);
    t.equal(sub.body.trim(), '/forum #1');
    t.equal(sub.headers['x-path'], '/t/42?page=2', 'prefix stripped, query kept');
    const bare = await get('site.example.org', '/forum');
    t.equal(bare.body.trim(), '/forum #1');
    t.equal(bare.headers['x-path'], '/');
    const other = await get('site.example.org', '/forumx');
    t.equal(other.body.trim(), '/site #1', "/forumx is not under /forum: the host's own app");
    const own = await get(`forum.${zone}`, '/forum/x');
    t.equal(own.body.trim(), '/forum #1', 'the prefix applies on the default host too');
    t.equal((await get(`forum.${zone}`, '/')).status, 404, 'outside its prefix the default host has no app');
  });

  await t.test('router.group: one route for both apps; weights from K/V at runtime, no reload', async (t) => {
    const host = `web.${zone}`;
    t.same(await bodies(host), ['/web-blue #1', '/web-green #1'], 'default: equal weights');
    t.equal((await get(`web-blue.${zone}`)).status, 404, 'members have no route of their own');
    await settle();
    const before = await reloads();
    await kv('paas-router/weights/web', 'web-blue=256 web-green=0');
    await wait('only blue', async () => (await bodies(host)).join() === '/web-blue #1');
    await settle();
    t.equal(reports.at(-1)?.status, 'runtime');
    t.match(
      await sendSocketCommand(config.haproxy.runtimeSocket, 'show servers state app_web'),
      /web-green_\S+ 127\.0\.0\.1 \d+ \d+ 0 /,
      'green has weight 0 in HAProxy',
    );
    await kv('paas-router/weights/web', 'web-blue=0 web-green=10');
    await wait('only green', async () => (await bodies(host)).join() === '/web-green #1');
    await settle();
    t.equal(await reloads(), before, 'weights changed twice with no reload');
    // A new instance of a member joins the group's backend at runtime, with its app's weight.
    await cluster.addTask(apps.find((a) => a.id === '/web-green')!);
    await wait('two green instances', async () => (await bodies(host)).join() === '/web-green #1,/web-green #2');
    await settle();
    t.equal(reports.at(-1)?.status, 'runtime', 'add server with its weight');
    t.equal(await reloads(), before, 'a new member instance: no reload');
    t.match(await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8'), /server web-green_\S+ \S+ weight 10\n/, 'written to the file too');
    const route = state.builtModel!.apps.find((a) => a.name === 'web')!;
    t.match(route.members, [
      { app: 'web-blue', weight: 0, weightFrom: 'kv' },
      { app: 'web-green', weight: 10, weightFrom: 'kv' },
    ]);
    await kv('paas-router/weights/web', 'web-blue=lots');
    await wait('bad weights rejected', () => state.builtModel!.rejections.some((r) => r.kind === 'weight' && /bad token "web-blue=lots"/.test(r.reason)));
    await wait('back to equal weights', async () => (await bodies(host)).length === 3);
    await settle();
    t.equal(await reloads(), before, 'still no reload');
  });

  await t.test('a member that disagrees with its group is rejected alone; the group and everything else are served', async (t) => {
    // bad-a and bad-b disagree on router.balance: the one registered first holds group bad.
    const served = (await get(`bad.${zone}`)).body.trim();
    t.match(served, /^\/bad-[ab] #1$/);
    const holder = served.slice(1, 6);
    const other = holder === 'bad-a' ? 'bad-b' : 'bad-a';
    t.ok(
      state.builtModel!.rejections.some(
        (r) => r.kind === 'group' && r.service === other && new RegExp(`disagrees with app ${holder} on balance`).test(r.reason),
      ),
    );
    t.equal((await get(`lan.${zone}`)).status, 200);
  });

  await t.test('members that disagree on router.hsts: the one without the group is rejected, HAProxy serves the holder only', async (t) => {
    const served = await bodies(`strict.${zone}`);
    t.equal(served.length, 1, `one member serves the group: ${served.join(', ')}`);
    t.match(served[0], /^\/strict-[ab] #1$/);
    const holder = served[0]!.slice(1, 9);
    const other = holder === 'strict-a' ? 'strict-b' : 'strict-a';
    t.ok(
      state.builtModel!.rejections.some((r) => r.kind === 'group' && r.service === other && new RegExp(`disagrees with app ${holder} on hsts`).test(r.reason)),
      `${other} is rejected for its router.hsts`,
    );
  });

  await t.test('maintenance from K/V: 503 with the text and Retry-After, at runtime, no reload; deleting the key restores', async (t) => {
    await settle();
    const before = await reloads();
    const message = 'Migrating to a new server.\nBack at 10:00 UTC. <b>"quoted"</b> \\ %[src]';
    await kv('paas-router/maintenance/site', message);
    await wait('site in maintenance', async () => (await get('site.example.org')).status === 503);
    const r = await get('site.example.org', '/any');
    t.equal(r.body, `${message.replace('\n', ' ')}\n`, 'the exact text, not interpreted (a line break is served as a space)');
    t.equal(r.headers['retry-after'], '120');
    t.match(r.headers['content-type'], /^text\/plain/);
    t.equal((await get('site.example.org', '/forum/x')).status, 200, 'the app under /forum on the same host is not in maintenance');
    t.ok(state.builtModel!.apps.find((a) => a.name === 'site')!.maintenance?.since, 'the status shows since when');
    await kv('paas-router/maintenance/web', 'Group down');
    await wait('group in maintenance', async () => (await get(`web.${zone}`)).body === 'Group down\n');
    await kv('paas-router/maintenance/lan', 'x'.repeat(1025));
    await wait('too long refused', () =>
      state.builtModel!.rejections.some((r) => r.kind === 'maintenance' && r.service === 'lan' && /1025 bytes long \(max 1024\)/.test(r.reason)),
    );
    t.equal((await get(`lan.${zone}`)).status, 200, 'a refused message leaves the app serving');
    await kv('paas-router/maintenance/site');
    await kv('paas-router/maintenance/web');
    await wait('site back', async () => (await get('site.example.org')).status === 200);
    await wait('group back', async () => (await get(`web.${zone}`)).status === 200);
    await settle();
    t.equal(await reloads(), before, 'maintenance on and off with no reload');
  });

  await t.test('the status page document and explain say what each feature does', async (t) => {
    await kv('paas-router/weights/web', 'web-blue=90 web-green=10');
    await kv('paas-router/maintenance/lan', 'Moving racks');
    await wait(
      'applied',
      () =>
        state.builtModel!.apps.find((a) => a.name === 'lan')?.maintenance !== undefined &&
        state.builtModel!.apps.find((a) => a.name === 'web')!.members![0]!.weight === 90,
    );
    await settle();
    const doc = (await (await fetch(`${cluster.daemon.server.url}/status`)).json()) as {
      apps: { name: string; features: string[]; members: unknown; maintenance: { since: string | null } | null }[];
    };
    const of = (name: string) => doc.apps.find((a) => a.name === name)!;
    t.ok(of('site').features.includes('www.site.example.org → 308 to site.example.org'), 'redirect');
    t.ok(of('site').features.includes(`site.${zone} → 308 to site.example.org`));
    t.match(of('web').features, [/^group of web-blue, web-green: weights web-blue 90 \/ web-green 10 \(from paas-router\/weights\/web\)$/]);
    t.match(of('lan').features.join('\n'), /in maintenance since \d{4}-\d\d-\d\dT.* \(paas-router\/maintenance\/lan\): 503 "Moving racks"/);
    t.ok(of('lan').maintenance?.since, 'since is in the document');
    t.match(of('private').features, [/^only 10\.99\.0\.0\/16, 2001:db8::\/32 reach it \(others get 403\)$/]);
    t.match(of('forum').features, [/served under \/forum on each host \(the app gets the path without \/forum\)/]);

    const view = await readLiveView(config);
    const www = formatExplanation(explainHost(view, config, 'www.site.example.org'));
    t.match(www, /servers: HAProxy answers 308 to site\.example\.org/);
    t.match(www, /www\.site\.example\.org → 308 to site\.example\.org/);
    t.match(formatExplanation(explainHost(view, config, 'site.example.org')), /also on this host: \/forum → app forum/);
    t.match(formatExplanation(explainHost(view, config, `web.${zone}`)), /weights web-blue 90 \/ web-green 10/);
    t.match(formatExplanation(explainHost(view, config, `lan.${zone}`)), /in maintenance: HAProxy answers 503 "Moving racks" with Retry-After: 120/);
    await kv('paas-router/maintenance/lan');
  });
});
