// The status page's traffic in a real headless Chromium against a dev cluster with traffic sent
// through its HAProxy (dev/traffic.ts, as `npm run dev -- --traffic` does): figures and
// sparklines move, sorting by rate / 5xx / response time, the per-app detail view with servers
// and charts, the change timeline filtered by app, on a laptop and a phone, under the strict CSP.
// Screenshots go to test-artifacts/.
import t from 'tap';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../dev/chromium.js';
import { startDevCluster } from '../../dev/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { startTrafficGenerator, trafficPlan } from '../../dev/traffic.js';
import { createLogger } from '../../src/log.js';
import type { StatusDocument } from '../../src/server/status.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';
import { ARTIFACTS, cardsInOrder, overflow, PHONE, pageOpener, filterBy, settled } from '../helpers/page.js';

const apps: MarathonApp[] = [
  { id: '/blog', instances: 1, tags: [], mode: 'http' },
  { id: '/shop', instances: 2, tags: ['router.healthcheck=/'], mode: 'http' },
  { id: '/wiki', instances: 1, tags: [], mode: 'http' },
];

const figure = (page: Page, app: string, name: string): Promise<string> => page.locator(`article[data-app="${app}"] [data-figure="${name}"]`).innerText();

t.test('traffic on the status page in headless Chromium', async (t) => {
  // First: a missing Chromium fails the test with the fix before any cluster starts.
  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster = await startDevCluster({
    ...ports,
    apps,
    domains: { shop: 'www.shop.example' },
    log: createLogger('silent'),
    configOverrides: { traffic: { interval: '1s', window: '2m' } },
  });
  let stopTraffic = async () => undefined as unknown;
  t.teardown(async () => {
    await stopTraffic();
    await cluster.stop();
  });
  await eventually('healthy', async () => (await fetch(`${cluster.daemon.server.url}/healthz`)).status === 200, 20_000);
  await eventually(
    'routed',
    async () => (await requestThrough(httpPort, 'shop.production.mozilla.community').catch(() => ({ status: 0 }))).status === 200,
    20_000,
  );
  await cluster.daemon.runner.settled();
  // blog 3, shop 6 (20% answered 503), wiki 9 req/s; half of that every other minute (calm phase).
  const hosts = ['blog.production.mozilla.community', 'shop.production.mozilla.community', 'wiki.production.mozilla.community'];
  const generator = startTrafficGenerator(httpPort, trafficPlan(hosts, 3));
  stopTraffic = () => generator.stop();
  const url = `${cluster.daemon.server.url}/`;
  const open = await pageOpener(browser, url);

  await t.test('/status has the traffic fields, per app and per server', async (t) => {
    const doc = await eventually(
      'traffic sampled',
      async () => {
        const d = (await (await fetch(`${cluster.daemon.server.url}/status`)).json()) as StatusDocument;
        const shop = d.apps.find((a) => a.name === 'shop');
        // Until HAProxy's first health check of each server has run, its check status is INI.
        const checked = shop?.servers.every((s) => s.traffic?.check.status === 'L7OK');
        return shop?.traffic?.rate && shop.traffic.responses['5xx'] > 0 && checked ? d : undefined;
      },
      20_000,
    );
    const shop = doc.apps.find((a) => a.name === 'shop')!;
    t.match(shop.traffic, {
      requests: Number,
      rate: Number,
      responses: { '2xx': Number, '3xx': 0, '4xx': 0, '5xx': Number },
      responseMs: Number,
      sessions: Number,
    });
    t.ok(shop.traffic!.requests >= shop.traffic!.responses['2xx'] + shop.traffic!.responses['5xx'] - 1);
    t.equal(shop.servers.length, 2);
    for (const s of shop.servers)
      t.match(s.traffic, { requests: Number, state: 'UP', check: { status: 'L7OK' } }, `server ${s.name}: HAProxy's state and check`);
    t.match(doc.traffic, { intervalSeconds: 1, windowSeconds: 120, samples: Number, lastError: null });
    // The daemon wrote the first configuration before HAProxy ran, then reloaded it once HAProxy answered.
    t.match(doc.timeline?.at(-1), { kind: 'haproxy-unreachable', apps: ['blog', 'shop', 'wiki'] }, 'the first configuration, naming every app');
    t.ok(
      doc.timeline?.some((e) => e.kind === 'reload'),
      'then a reload',
    );
    const series = (await (await fetch(`${cluster.daemon.server.url}/traffic`)).json()) as { at: number[]; apps: Record<string, { rate: unknown[] }> };
    t.ok(series.at.length >= 2);
    t.equal(series.apps.shop!.rate.length, series.at.length, 'series aligned with the sample times');
    const since = series.at.at(-1)!;
    const newer = (await (await fetch(`${cluster.daemon.server.url}/traffic?since=${since}`)).json()) as { at: number[] };
    t.ok(
      newer.at.every((x) => x > since),
      '?since= gives only newer samples',
    );
    t.equal((await fetch(`${cluster.daemon.server.url}/traffic?since=yesterday`)).status, 400);
  });

  await t.test('laptop: figures and sparklines move, sorting, timeline filtered by app', async (t) => {
    const page = await open();
    await page.waitForFunction(
      () => {
        const rate = document.querySelector('article[data-app="shop"] [data-figure="rate"]')?.textContent ?? '';
        return /^[1-9]/.test(rate) && document.querySelectorAll('article[data-app="shop"] .sparks svg.rate polyline').length > 0;
      },
      null,
      { timeout: 30_000 },
    );
    t.match(await figure(page, 'shop', 'rate'), /^\d+(\.\d)? req\/s$/);
    await page.waitForFunction(
      () => /^[1-9]|^0\.[1-9]/.test(document.querySelector('article[data-app="shop"] [data-figure="errors"]')?.textContent ?? ''),
      null,
      { timeout: 20_000 },
    );
    t.equal(await page.locator('article[data-app="shop"] [data-figure="errors"].down').count(), 1, 'the 5xx figure is marked');
    const flat = await page.$$eval('article[data-app="blog"] .sparks svg.errors polyline', (els) =>
      els.flatMap((e) => (e.getAttribute('points') ?? '').split(' ').map((p) => p.split(',')[1])),
    );
    t.ok(flat.length > 0 && flat.every((y) => Number(y) === 23), 'blog has no 5xx: its 5xx sparkline lies on the axis (y = 23 of 24)');
    const shopLine = await page.$$eval('article[data-app="shop"] .sparks svg.errors polyline', (els) =>
      els.flatMap((e) => (e.getAttribute('points') ?? '').split(' ').map((p) => Number(p.split(',')[1]))),
    );
    t.ok(
      shopLine.some((y) => y < 23),
      "shop's 5xx sparkline rises",
    );

    t.same(await cardsInOrder(page), ['blog', 'shop', 'wiki'], 'by name first');
    await page.selectOption('#sort', 'rate');
    await settled(page);
    await page.waitForFunction(() => document.querySelector('#routes article.app')?.getAttribute('data-app') === 'wiki', null, { timeout: 15_000 });
    t.same(await cardsInOrder(page), ['wiki', 'shop', 'blog'], 'by request rate (9, 6, 3 req/s)');
    t.match(page.url(), /[?&]sort=rate/, 'the sort is kept in the URL');
    await page.selectOption('#sort', 'errors');
    await settled(page);
    t.equal((await cardsInOrder(page))[0], 'shop', 'by 5xx rate: shop first');
    await page.selectOption('#sort', 'response');
    await settled(page);
    t.equal((await cardsInOrder(page)).length, 3, 'by response time');
    await page.selectOption('#sort', 'rate');
    await settled(page);
    await page.screenshot({ path: join(ARTIFACTS, 'traffic-laptop.png'), fullPage: true });

    // A change at runtime lands in the timeline, naming the app.
    await cluster.addTask(apps[0]!);
    await page.waitForSelector('#timeline li[data-kind="runtime"][data-apps~="blog"]', { timeout: 20_000 });
    t.match(await page.locator('#timeline li[data-kind="runtime"]').first().innerText(), /runtime API, no reload[\s\S]*blog/);
    t.equal((await page.locator('#timeline li[data-kind="reload"]').count()) >= 1, true, 'the start-up reload with its reason');
    t.match(
      await page.locator('#timeline li[data-kind="reload"]').last().innerText(),
      /HAProxy reloaded \(loads the files written while HAProxy was not reachable\)/,
    );
    await filterBy(page, 'wiki');
    const kinds = await page.$$eval('#timeline li[data-kind]', (els) => els.map((e) => e.getAttribute('data-apps') ?? ''));
    t.ok(kinds.length >= 1 && kinds.every((a) => a.split(' ').includes('wiki')), 'timeline filtered by app: only events naming wiki');
    await filterBy(page, '');
    await page.close();
  });

  await t.test("detail view: servers with HAProxy state and checks, charts, the app's changes", async (t) => {
    const page = await open();
    await page.click('article[data-app="shop"] h3 a');
    await page.waitForSelector('#detail-section[data-app="shop"]:not([hidden])');
    t.equal(await page.locator('#routes-section').isVisible(), false, 'the overview is hidden');
    t.match(page.url(), /#app=shop$/);
    t.equal(await page.locator('#detail-servers tbody tr[data-server]').count(), 2);
    t.match(await page.locator('#detail-servers tbody tr[data-server]').first().innerText(), /127\.0\.0\.1:\d+[\s\S]*up[\s\S]*UP[\s\S]*L7OK 200[\s\S]*\d+/);
    await page.waitForFunction(() => document.querySelectorAll('#detail-section figure.big svg polyline').length >= 3, null, { timeout: 15_000 });
    t.same(await page.$$eval('#detail-section figure.big', (els) => els.map((e) => e.getAttribute('data-chart'))), ['rate', 'errors', 'response']);
    t.ok((await page.locator('#detail-timeline li').count()) >= 1, 'the changes of shop');
    t.ok(await page.$$eval('#detail-timeline li', (els) => els.every((e) => (e.getAttribute('data-apps') ?? '').split(' ').includes('shop'))));
    await page.screenshot({ path: join(ARTIFACTS, 'traffic-detail-laptop.png'), fullPage: true });
    await page.click('#detail-back');
    await page.waitForSelector('#routes-section', { state: 'visible' });
    t.equal(await page.locator('#detail-section').isVisible(), false, 'back to the overview');
    await page.goto(`${url}#app=no-such-app`);
    await page.waitForSelector('#detail-section .problem');
    t.match(await page.locator('#detail-section .problem').innerText(), /No app named no-such-app/);
    await page.close();
  });

  await t.test('phone: readable, no horizontal scrolling, detail view too', async (t) => {
    for (const [path, shot] of [
      ['?sort=rate', 'traffic-phone.png'],
      ['#app=shop', 'traffic-detail-phone.png'],
    ] as const) {
      const page = await open(path, PHONE, true);
      if (path.startsWith('#'))
        await page.waitForFunction(() => document.querySelectorAll('#detail-section figure.big svg polyline').length >= 1, null, { timeout: 15_000 });
      else {
        // Sparklines are drawn only for cards near the screen: bring shop's card there first.
        await page.locator('article[data-app="shop"]').scrollIntoViewIfNeeded();
        await page.waitForSelector('article[data-app="shop"] .sparks svg polyline', { timeout: 15_000 });
      }
      t.equal(await overflow(page), 0, `${path}: no horizontal overflow`);
      await page.screenshot({ path: join(ARTIFACTS, shot), fullPage: true });
      // One screen as a phone shows it, at the app cards (or the top of the detail view).
      if (!path.startsWith('#')) await page.locator('#routes-section').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(ARTIFACTS, shot.replace('.png', '-screen.png')) });
      await page.close();
    }
  });

  t.same(open.errors, [], 'no script errors or CSP violations in the console');
});
