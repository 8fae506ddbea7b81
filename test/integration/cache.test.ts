// router.cache end to end (issue 22, docs/features.md): Marathon-style tags → the real Consul
// agent → daemon → real HAProxy, with real clients. The apps are loopback servers of this test
// that count the requests they see per path: a request answered from the cache never reaches
// them. Every wait is on a state (a route, a count, a sample), never on a fixed sleep.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atLeast, readHaproxyVersion } from '../../src/apply/haproxy-version.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import type { StatusDocument } from '../../src/server/status.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { serveApp } from '../helpers/http-app.js';
import { eventually } from '../helpers/net.js';
import { families, sample } from '../server/helpers.js';
import { header, rawRequest } from './edge-client.js';

const host = (app: string) => `${app}.production.mozilla.community`;

/** A loopback app of this test: `seen(path)` is how many requests for `path` reached it. */
async function countingApp(
  t: { teardown(fn: () => unknown): void },
  respond: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; seen(path: string): number }> {
  const counts = new Map<string, number>();
  const { port } = await serveApp(t, (req, res) => {
    counts.set(req.url ?? '', (counts.get(req.url ?? '') ?? 0) + 1);
    respond(req, res);
  });
  return { port, seen: (path) => counts.get(path) ?? 0 };
}

async function deploy(cluster: TestCluster, id: string, port: number, tags: string[]): Promise<void> {
  await registerMesosTask(cluster.consul.url, { app: id, agent: 'cache-agent', ip: '127.0.0.1', port, tags });
}

const get = (cluster: TestCluster, app: string, path: string, headers: [string, string][] = []) =>
  rawRequest({ port: cluster.httpPort, path, headers: [['host', host(app)], ...headers] });

async function routed(cluster: TestCluster, app: string, path: string): Promise<void> {
  await eventually(`${app} routed`, async () => (await get(cluster, app, path, [['cookie', 'warm=up']])).status === 200, 20_000);
}

const reloads = async (cluster: TestCluster) => (await showProc(cluster.config.haproxy.masterSocket)).master.reloads;

const PAGE = `<!doctype html><title>cached</title>${'<p>A community page. '.repeat(100)}`;

t.test('router.cache through a real HAProxy', async (t) => {
  // haproxy.cache_max_size 16m: big enough for site (8m), small and zip (1m each), too small for greedy (10m) after them.
  const cluster = await startTestCluster(t, {
    apps: [],
    vault: false,
    configOverrides: { traffic: { interval: '1s', window: '1m' }, haproxy: { cache_max_size: '16m' } },
  });
  const state = cluster.daemon.runner.state;
  // `show cache` with several caches, one of them holding objects, spins HAProxy 3.0.11 and 3.2.26
  // until the watchdog kills the worker (2.6 answers): on 3.x the caches are read from the
  // configuration HAProxy runs instead, and the block count of the eviction check is left out.
  const version = await readHaproxyVersion('haproxy');
  const showCache = !atLeast(version, '3.0');
  const runningCaches = async () =>
    showCache
      ? (await sendSocketCommand(cluster.config.haproxy.runtimeSocket, 'show cache'))
          .split('\n')
          .filter((l) => /^0x[0-9a-f]+: \S+ \(shctx/.test(l))
          .map((l) => l.split(' ')[1]!)
      : [...(await readFile(join(cluster.config.haproxy.configDir, 'haproxy.cfg'), 'utf8')).matchAll(/^cache (\S+)$/gm)].map((m) => m[1]!);

  const site = await countingApp(t, (req, res) => {
    const url = req.url ?? '/';
    const headers: Record<string, string> = { 'content-type': 'text/html; charset=utf-8' };
    if (url === '/page' || url === '/page2') headers['cache-control'] = 'public, max-age=60';
    else if (url === '/login') Object.assign(headers, { 'cache-control': 'public, max-age=60', 'set-cookie': 'session=s3cret; HttpOnly' });
    else if (url === '/nostore') headers['cache-control'] = 'no-store, max-age=60';
    else if (url === '/private') headers['cache-control'] = 'private, max-age=60';
    else if (url === '/validator') headers['last-modified'] = 'Wed, 21 Oct 2015 07:28:00 GMT';
    else if (url === '/expires') headers.expires = new Date(Date.now() + 60_000).toUTCString();
    res.writeHead(200, headers);
    res.end(PAGE);
  });
  // 60 000-byte objects: under the 1m cache's max-object-size (64 KiB), 17 of them fill it.
  const OBJECT = 'o'.repeat(60_000);
  const small = await countingApp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
    res.end(OBJECT);
  });
  const greedy = await countingApp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('greedy');
  });
  // router.compress beside router.cache: the cache keeps what the app sent, gzip on the way out.
  const zip = await countingApp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=60' });
    res.end(PAGE);
  });
  const plain = await countingApp(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('plain');
  });

  // site and small first: their names are recorded before greedy's, which sorts first by name.
  await deploy(cluster, '/site', site.port, ['router.cache=8m']);
  await deploy(cluster, '/small', small.port, ['router.cache=1m']);
  await deploy(cluster, '/zip', zip.port, ['router.cache=1m', 'router.compress']);
  await routed(cluster, 'site', '/warm');
  await routed(cluster, 'small', '/warm');
  await routed(cluster, 'zip', '/warm');
  await eventually(
    'site, small and zip recorded',
    () => ['site', 'small', 'zip'].every((n) => state.deployment?.model?.owners?.some((o) => o.kind === 'name' && o.name === n && o.record?.valid)),
    20_000,
  );
  await deploy(cluster, '/greedy', greedy.port, ['router.cache=10m']);
  await deploy(cluster, '/plain', plain.port, []);
  await routed(cluster, 'greedy', '/warm');
  await routed(cluster, 'plain', '/warm');
  await cluster.daemon.runner.settled();

  await t.test('haproxy.cache_max_size: the app past it is served without a cache, with a reason naming it', async (t) => {
    const reason = state.deployment?.model?.rejections.find((r) => r.service === 'greedy' && r.subject === 'router.cache=10m')?.reason;
    t.equal(
      reason,
      'router.cache=10m of app greedy does not fit in haproxy.cache_max_size 16m: 10m are taken by the caches of 3 apps ahead of it (site, small, zip), the oldest names first; served without a cache',
    );
    t.same(
      state.deployment?.model?.apps.filter((a) => a.cache !== undefined).map((a) => [a.name, a.cache]),
      [
        ['site', 8],
        ['small', 1],
        ['zip', 1],
      ],
    );
    await get(cluster, 'greedy', '/g');
    await get(cluster, 'greedy', '/g');
    t.equal(greedy.seen('/g'), 2, 'greedy: every request reaches the app');
    await get(cluster, 'plain', '/p');
    await get(cluster, 'plain', '/p');
    t.equal(plain.seen('/p'), 2, 'an app without router.cache: every request reaches the app');
    t.same((await runningCaches()).sort(), ['app_site', 'app_small', 'app_zip'], `HAProxy ${version.text} runs exactly the three caches`);
  });

  await t.test('a miss, then a hit; requests with a Cookie or Authorization always reach the app', async (t) => {
    const first = await get(cluster, 'site', '/page');
    t.equal(first.status, 200);
    t.equal(first.body, PAGE);
    t.equal(site.seen('/page'), 1, 'the first request is a miss');
    const second = await get(cluster, 'site', '/page');
    t.equal(second.body, PAGE, 'the same page');
    t.equal(site.seen('/page'), 1, 'the second is a hit: the app saw one request');
    t.same(header(second, 'age').length, 1, 'a hit carries Age');
    t.same(header(first, 'age'), [], 'a miss does not');

    for (const [name, value] of [
      ['cookie', 'session=alice'],
      ['authorization', 'Basic YWxpY2U6c2VjcmV0'],
    ] as const) {
      const before = site.seen('/page');
      for (let i = 0; i < 2; i++) {
        const r = await get(cluster, 'site', '/page', [[name, value]]);
        t.same(header(r, 'age'), [], `a request with ${name} is never answered from the cache`);
      }
      t.equal(site.seen('/page') - before, 2, `both requests with ${name} reached the app`);
    }
    // …and what the app answered them was not stored: a plain request of a new page is still a miss then a hit.
    await get(cluster, 'site', '/page2', [['cookie', 'session=alice']]);
    await get(cluster, 'site', '/page2');
    await get(cluster, 'site', '/page2');
    t.equal(site.seen('/page2'), 2, "the Cookie request's response was not stored; the next plain one was");
  });

  await t.test('what the app says is not cacheable is never stored', async (t) => {
    for (const [path, why] of [
      ['/login', 'a response with Set-Cookie'],
      ['/nostore', 'Cache-Control: no-store'],
      ['/private', 'Cache-Control: private'],
      ['/validator', 'no freshness (only a validator)'],
    ] as const) {
      for (let i = 0; i < 3; i++) {
        const r = await get(cluster, 'site', path);
        t.same(header(r, 'age'), [], `${why}: not from the cache`);
      }
      t.equal(site.seen(path), 3, `${why}: every request reached the app`);
    }
    const login = await get(cluster, 'site', '/login');
    t.same(header(login, 'set-cookie'), ['session=s3cret; HttpOnly'], 'the app’s own cookie, for this client only');
    await get(cluster, 'site', '/expires');
    await get(cluster, 'site', '/expires');
    t.equal(site.seen('/expires'), 1, 'Expires is a freshness too: stored');
  });

  await t.test('hits and misses in /metrics and /status', async (t) => {
    // Since the last reload (none since the apps were added): /page miss, hit; /page2 miss, hit;
    // /login, /nostore, /private, /validator 3 + 1 misses ... counted below from what the app saw.
    const hits = 2 + 1;
    const url = cluster.daemon.server.url;
    const f = await eventually(
      'a sample with the hits',
      async () => {
        const fams = families(await (await fetch(`${url}/metrics`)).text());
        return sample(fams, 'paas_router_app_cache_hits_total', { app: 'site' }) === hits ? fams : undefined;
      },
      20_000,
    );
    const misses = sample(f, 'paas_router_app_cache_misses_total', { app: 'site' })!;
    // Lookups are the requests without Cookie or Authorization; each that is not a hit reached the app.
    const lookedUp = ['/page', '/page2', '/login', '/nostore', '/private', '/validator', '/expires'].reduce((n, p) => n + site.seen(p), 0) - 4 - 1;
    t.equal(misses, lookedUp, `misses: every looked-up request that reached the app (${misses})`);
    t.equal(sample(f, 'paas_router_app_cache_hits_total', { app: 'greedy' }), undefined, 'no series for the app the budget left out');
    t.equal(sample(f, 'paas_router_app_cache_hits_total', { app: 'plain' }), undefined, 'no series for an app without router.cache');

    const doc = (await (await fetch(`${url}/status?app=site`)).json()) as StatusDocument;
    const app = doc.apps.find((a) => a.name === 'site')!;
    t.same(app.cache, { sizeMb: 8 });
    t.match(app.traffic?.cache, { hits, misses });
    t.match(app.features, [/HAProxy cache of 8m/]);
    const other = ((await (await fetch(`${url}/status?app=plain`)).json()) as StatusDocument).apps.find((a) => a.name === 'plain')!;
    t.equal(other.cache, null);
    t.equal(other.traffic?.cache, null);
  });

  await t.test('with router.compress: stored as sent, gzipped on the way out for hits as for misses', async (t) => {
    const ae: [string, string] = ['accept-encoding', 'gzip'];
    const miss = await get(cluster, 'zip', '/z', [ae]);
    const hit = await get(cluster, 'zip', '/z', [ae]);
    const identity = await get(cluster, 'zip', '/z');
    t.equal(zip.seen('/z'), 1, 'one request reached the app');
    t.same(header(hit, 'age').length, 1, 'the second was a hit');
    for (const [r, what] of [
      [miss, 'the miss'],
      [hit, 'the hit'],
    ] as const) {
      t.same(header(r, 'content-encoding'), ['gzip'], `${what} is gzipped for a client that takes it`);
      t.equal(gunzipSync(Buffer.from(r.body, 'latin1')).toString(), PAGE, `${what} gunzips to the page`);
    }
    t.same(header(identity, 'content-encoding'), [], 'a client without Accept-Encoding gets the page as the app sent it, from the cache');
    t.equal(identity.body, PAGE);
  });

  await t.test('eviction: a full cache drops its oldest objects and stays within its size', async (t) => {
    const N = 40;
    for (let i = 0; i < N; i++) t.equal((await get(cluster, 'small', `/obj/${i}`)).status, 200);
    for (let i = 0; i < N; i++) if (small.seen(`/obj/${i}`) !== 1) t.fail(`/obj/${i} reached the app ${small.seen(`/obj/${i}`)} times`);
    // The newest is still there; the oldest was evicted to make room for the later ones.
    await get(cluster, 'small', `/obj/${N - 1}`);
    t.equal(small.seen(`/obj/${N - 1}`), 1, 'the newest object: a hit');
    await get(cluster, 'small', '/obj/0');
    t.equal(small.seen('/obj/0'), 2, 'the oldest object was evicted: the app sees it again');

    if (!showCache) {
      t.comment(`HAProxy ${version.text}: no "show cache" (it hangs this version with several caches); the objects kept are not counted`);
      return;
    }
    const show = await sendSocketCommand(cluster.config.haproxy.runtimeSocket, 'show cache');
    const lines = show.split('\n');
    const start = lines.findIndex((l) => / app_small \(shctx/.test(l));
    t.ok(start >= 0, 'show cache lists app_small');
    const end = lines.findIndex((l, i) => i > start && /^0x[0-9a-f]+: \S+ \(shctx/.test(l));
    const entries = lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => /size:\d+/.test(l));
    const blocks = entries.reduce((n, l) => n + Number(/\((\d+) blocks\)/.exec(l)?.[1] ?? 0), 0);
    t.ok(entries.length > 0 && entries.length <= Math.floor((1024 * 1024) / 60_000), `${entries.length} objects kept, at most what 1m holds`);
    t.ok(blocks <= 1024, `${blocks} blocks of 1 KiB in use: within the 1m cache`);
  });

  await t.test('turning router.cache on is one validated reload', async (t) => {
    await cluster.daemon.runner.settled();
    const before = await reloads(cluster);
    await deploy(cluster, '/plain', plain.port, ['router.cache=2m']);
    await eventually('plain cached', () => state.deployment?.model?.apps.find((a) => a.name === 'plain')?.cache === 2, 20_000);
    await cluster.daemon.runner.settled();
    t.equal((await reloads(cluster)) - before, 1, 'one reload');
    const seen = plain.seen('/q');
    await get(cluster, 'plain', '/q');
    await get(cluster, 'plain', '/q');
    t.equal(plain.seen('/q') - seen, 1, 'the second request is a hit');
  });
});
