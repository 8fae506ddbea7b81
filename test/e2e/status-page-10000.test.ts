// The status page at 10 000 apps (issue 23), in a real headless Chromium, on built state: the real
// status server on a model built from 10 000 services of 2 instances and a traffic ring fed known
// samples (no Consul, no HAProxy, so it runs in seconds). Paging ("show more" from 200 to 400 of
// 10 000), the sort by rate across pages, the filter finding apps far beyond the first page (sent
// to the daemon, which searches all 10 000) and their detail view, and the phone layout. Every
// wait is on a state of the page (data-loaded, data-busy, data-q), never on time.
import t from 'tap';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../dev/chromium.js';
import { buildModel } from '../../src/model/build.js';
import { settings } from '../model/helpers.js';
import type { StatSample } from '../../src/traffic/stat.js';
import { serveBuiltState } from '../helpers/built-state-server.js';
import { ARTIFACTS, cardsInOrder, filterBy, overflow, PHONE, pageOpener, settled } from '../helpers/page.js';

const APPS = 10_000;
const name = (i: number) => `app-${String(i).padStart(5, '0')}`;
// Known traffic: app i gets i / 10 req/s, so app-09999 is the busiest (the last page by name).
const rate = (i: number) => i / 10;

function inst(i: number, n: number) {
  const address = `10.${n}.${i >> 8}.${i & 255}`;
  return {
    id: `mesos-consul:a:${name(i)}:${address}:31000`,
    node: 'n1',
    address,
    port: 31000,
    tags: [] as string[],
    passing: true,
    checks: [],
    createIndex: 10,
  };
}

/** The `k`th sample (5 s apart): counters grown by each app's rate. */
function sampleAt(k: number, serverNames: Map<string, string[]>): StatSample {
  const backends = [];
  const servers = [];
  for (let i = 0; i < APPS; i++) {
    const backend = `app_${name(i)}`;
    const requests = rate(i) * 5 * k;
    backends.push({
      backend,
      requests,
      responses: { '2xx': requests, '3xx': 0, '4xx': 0, '5xx': 0 },
      responseMs: 10,
      sessions: 0,
      status: 'UP',
      cache: { lookups: 0, hits: 0 },
    });
    for (const server of serverNames.get(backend) ?? [])
      servers.push({ backend, server, requests: requests / 2, status: 'UP', check: { status: 'L7OK', code: 200, description: 'Layer7 check passed' } });
  }
  return { backends, servers };
}

t.test(`${APPS} apps on built state: paging, the filter beyond the first page, a phone`, async (t) => {
  // First: a missing Chromium fails the test with the fix before anything starts.
  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());

  const model = buildModel({
    services: Object.fromEntries(Array.from({ length: APPS }, (_, i) => [name(i), [inst(i, 1), inst(i, 2)]])),
    claims: [],
    settings,
  });
  t.equal(model.apps.length, APPS);
  const server = await serveBuiltState(t, model, sampleAt);
  const open = await pageOpener(browser, `${server.url}/`);

  await t.test('paging: 200 cards of 10 000, then 200 more, in order', async (t) => {
    const page = await open();
    let cards = await cardsInOrder(page);
    t.equal(cards.length, 200, 'the first page');
    t.same([cards[0], cards.at(-1)], ['app-00000', 'app-00199'], 'by name');
    t.match(await page.locator('#routes-count').textContent(), /^\(10000\)$/);
    const more = page.locator('#routes-more');
    t.match(await more.textContent(), /^Show 200 more \(200 of 10000 shown\)$/);
    await more.dispatchEvent('click');
    await settled(page);
    cards = await cardsInOrder(page);
    t.same(
      cards,
      Array.from({ length: 400 }, (_, i) => name(i)),
      'the second page follows the first',
    );
    t.match(await more.textContent(), /^Show 200 more \(400 of 10000 shown\)$/);
    await page.screenshot({ path: join(ARTIFACTS, 'status-10000-laptop.png') });
    await page.close();
  });

  await t.test('sorted by rate: the busiest app, from the last page by name, first; the order holds across pages', async (t) => {
    const page = await open('?sort=rate');
    t.same((await cardsInOrder(page)).slice(0, 3), ['app-09999', 'app-09998', 'app-09997']);
    await page.locator('#routes-more').dispatchEvent('click');
    await settled(page);
    const cards = await cardsInOrder(page);
    t.equal(cards.length, 400);
    t.same([cards[199], cards[200]], ['app-09800', 'app-09799'], 'the second page carries on where the first stopped');
    await page.close();
  });

  await t.test('the filter finds apps far beyond the first page; the detail view of one', async (t) => {
    const page = await open();
    t.equal(await page.locator('article[data-app="app-09431"]').count(), 0, 'app-09431 is not on the first page');
    await filterBy(page, 'app-09431');
    t.same(await cardsInOrder(page), ['app-09431']);
    t.match(await page.locator('#routes-count').textContent(), /^\(1 of 10000\)$/);
    t.equal(await page.locator('#routes-more').isVisible(), false);
    // app-05000 … app-05099: 100 matches from the middle of the 10 000.
    await filterBy(page, 'app-050');
    t.same(
      await cardsInOrder(page),
      Array.from({ length: 100 }, (_, i) => name(5000 + i)),
      'every match of the 10 000, from the daemon',
    );
    await filterBy(page, 'app-09431');
    t.equal(await page.locator('article[data-app="app-09431"] [data-figure="rate"]').textContent(), '943 req/s');
    await page.click('article[data-app="app-09431"] h3 a');
    await page.waitForSelector('#detail-section[data-app="app-09431"]:not([hidden]) #detail-servers');
    t.match(page.url(), /#app=app-09431$/);
    t.equal(await page.locator('#detail-servers tbody tr[data-server]').count(), 2, 'both servers');
    await page.close();
  });

  await t.test('phone: the busiest apps first, no horizontal scrolling; an app of the last page by its link', async (t) => {
    const page = await open('?sort=rate', PHONE, true);
    t.equal((await cardsInOrder(page))[0], 'app-09999');
    t.equal(await overflow(page), 0, 'no horizontal overflow');
    // One screen as a phone shows it, from the top of the app cards: the busiest card fits the screen.
    await page.evaluate(() => document.getElementById('routes-section')?.scrollIntoView());
    const box = await page.locator('article[data-app="app-09999"]').boundingBox();
    t.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, 'the first card fits the phone width');
    t.equal(await page.locator('article[data-app="app-09999"] [data-figure="rate"]').textContent(), '1000 req/s');
    await page.screenshot({ path: join(ARTIFACTS, 'status-10000-phone.png') });
    await page.goto(`${server.url}/#app=app-09990`);
    await page.waitForSelector('#detail-section[data-app="app-09990"]:not([hidden]) #detail-servers');
    t.equal(await page.locator('#detail-servers tbody tr[data-server]').count(), 2);
    t.equal(await overflow(page), 0, 'detail view: no horizontal overflow');
    await page.screenshot({ path: join(ARTIFACTS, 'status-10000-detail-phone.png'), fullPage: true });
    await page.close();
  });

  t.same(open.errors, [], 'no script errors or CSP violations in the console');
});
