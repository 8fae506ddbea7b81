// The status page in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// it renders the routes of a running dev cluster, shows a rejected domain with its reason, the
// filter works, on a laptop and on a phone. Screenshots go to test-artifacts/.
import t from 'tap';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../dev/chromium.js';
import { startDevCluster, type DevCluster } from '../../dev/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { createLogger } from '../../src/log.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';
import { filterBy } from '../helpers/page.js';

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

const apps: MarathonApp[] = [
  { id: '/community/wordpress', instances: 2, tags: [], mode: 'http' },
  { id: '/community/discourse', instances: 1, tags: ['router.sticky=true'], mode: 'http' },
  { id: '/irc', instances: 1, tags: ['router.mode=tcp', 'router.port=0'], mode: 'tcp' },
];

async function visibleApps(page: Page): Promise<string[]> {
  return page.$$eval('#routes article.app', (els) => els.map((e) => e.getAttribute('data-app') ?? ''));
}

t.test('status page in headless Chromium', async (t) => {
  // First: a missing Chromium fails the test with the fix before any cluster starts.
  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());
  await mkdir(ARTIFACTS, { recursive: true });
  const cluster: DevCluster = await startDevCluster({
    ...(await freeListenerPorts()),
    apps,
    domains: { 'wordpress-community': 'www.example.org, bad_host.example.org', 'discourse-community': 'www.example.org, forum.example.org' },
    log: createLogger('silent'),
  });
  t.teardown(async () => {
    await cluster.stop();
  });
  const { state } = cluster.daemon.runner;
  // HAProxy starts from the file the daemon wrote; the daemon reloads it once it answers.
  await eventually('healthy', async () => (await fetch(`${cluster.daemon.server.url}/healthz`)).status === 200, 20_000);
  const url = `${cluster.daemon.server.url}/`;
  const errors: string[] = [];

  const open = async (viewport: { width: number; height: number }, isMobile = false) => {
    const context = await browser.newContext({ viewport, isMobile, hasTouch: isMobile, deviceScaleFactor: isMobile ? 2 : 1 });
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    return page;
  };

  await t.test('laptop: every route, the rejected domain with its reason, the conflict, the filter', async (t) => {
    const page = await open({ width: 1366, height: 900 });
    const model = state.deployment!.model!;
    t.same(
      await visibleApps(page),
      model.apps.map((a) => a.name),
      'one card per routed app',
    );
    t.ok(model.apps.length >= 2);

    const wp = page.locator('article[data-app="wordpress-community"]');
    t.equal(await wp.locator('li[data-host="wordpress-community.production.mozilla.community"]').count(), 1, 'default host');
    t.match(
      await wp.locator('li[data-host="www.example.org"]').innerText(),
      /custom[\s\S]*paas-router\/domains\/wordpress-community/,
      'custom domain with its key',
    );
    t.equal(await wp.locator('li[data-server][data-state="up"]').count(), 2, 'both servers up');

    const rejected = page.locator('#rejections tr[data-subject="bad_host.example.org"]');
    t.equal(await rejected.count(), 1, 'the rejected domain is listed');
    t.match(await rejected.innerText(), /wordpress-community[\s\S]*bad_host\.example\.org[\s\S]*character "_" is not allowed/);
    t.match(await page.locator('#rejections').innerText(), /router\.port=0/, 'a rejected tag (tcp app without a usable port)');
    const conflict = page.locator('#conflicts tr[data-service="discourse-community"]');
    t.match(await conflict.innerText(), /www\.example\.org[\s\S]*(already claimed by service|belongs to app) wordpress-community/);

    t.match(await page.locator('#health').innerText(), /^healthy/);
    t.match(await page.locator('#sources').innerText(), /consul-catalog[\s\S]*ok/);
    t.match(await page.locator('[data-checksum]').getAttribute('data-checksum'), /^[0-9a-f]{64}$/, 'running config checksum');

    await page.screenshot({ path: join(ARTIFACTS, 'status-page-laptop.png'), fullPage: true });

    await filterBy(page, 'discourse');
    t.same(await visibleApps(page), ['discourse-community'], 'filter by app');
    t.equal(await page.locator('#rejections tr[data-subject="bad_host.example.org"]').count(), 0, 'rejections filtered too');
    t.match(await page.locator('#routes-count').innerText(), /\(1 of \d+\)/);
    t.match(page.url(), /\?q=discourse$/, 'the filter is kept in the URL');

    await filterBy(page, 'www.example.org');
    t.same(await visibleApps(page), ['wordpress-community'], 'filter by host');
    await filterBy(page, 'forum.EXAMPLE');
    t.same(await visibleApps(page), ['discourse-community'], 'case-insensitive');
    await filterBy(page, 'no-such-thing');
    t.same(await visibleApps(page), []);
    t.equal(await page.locator('#routes-empty').isVisible(), true, 'says nothing matches');
    await filterBy(page, '');
    t.same(
      await visibleApps(page),
      model.apps.map((a) => a.name),
    );
    await page.close();
  });

  await t.test('a filter in the URL applies on load; the page refreshes itself', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${url}?q=wordpress`);
    await page.waitForSelector('body[data-loaded="true"]');
    t.equal(await page.inputValue('#filter'), 'wordpress');
    t.same(await visibleApps(page), ['wordpress-community']);
    const extra = await cluster.addTask(apps[0]!, 'critical');
    await page.waitForSelector(`li[data-server="127.0.0.1:${extra.backend.port}"][data-state="down"]`, { timeout: 20_000 });
    t.pass('a new, failing instance appeared without a reload of the page');
    await context.close();
  });

  await t.test('phone: one column, no horizontal scrolling, readable tables', async (t) => {
    const page = await open({ width: 390, height: 844 }, true);
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    t.ok(width.scroll <= width.client, `no horizontal overflow (${width.scroll} <= ${width.client})`);
    t.equal(await page.locator('#rejections thead').isVisible(), false, 'table headers folded into cell labels');
    t.match(await page.locator('#rejections tr[data-subject="bad_host.example.org"] td[data-label="Reason"]').innerText(), /"_"/);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
    await page.close();
  });

  t.same(errors, [], 'no script errors or CSP violations in the console');
});
