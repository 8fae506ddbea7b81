// router.auth on the status page, in a real headless Chromium: each protected app's card says who
// may pass (realm, user names, the Vault path) or why it answers 503, the rejection is listed, and
// no hash ever reaches the rendered page.
import t from 'tap';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../dev/chromium.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { putAuthUsers } from '../../dev/vault/router.js';
import { HASHES } from '../helpers/auth-hashes.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

const apps: MarathonApp[] = [
  { id: '/staging', instances: 1, tags: ['router.auth=staging'], mode: 'http' },
  { id: '/admin', instances: 1, tags: ['router.auth=admin'], mode: 'http' },
];

t.test('router.auth on the status page', async (t) => {
  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());
  const cluster = await startTestCluster(t, { apps, vault: true });
  putAuthUsers(cluster.vault!.vault, 'staging', `alice:${HASHES.bcrypt2b}\nbob:${HASHES.sha512}`);
  const { state } = cluster.daemon.runner;
  await eventually('staging has its users', () => state.deployment?.model?.apps.find((a) => a.name === 'staging')?.auth?.users.length === 2, 20_000);

  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${cluster.daemon.server.url}/`);
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });

  t.match(
    (await page.locator('ul[data-features="staging"]').textContent()) ?? '',
    'basic auth (realm staging): 2 users from Vault secret/data/paas-router/auth/staging (alice, bob); others get 401',
  );
  t.match(
    (await page.locator('ul[data-features="admin"]').textContent()) ?? '',
    /basic auth \(realm admin\): answers 503, authentication is not configured: no users in Vault/,
  );
  t.match((await page.locator('#rejections').textContent()) ?? '', /auth[\s\S]*admin[\s\S]*no users at Vault secret\/data\/paas-router\/auth\/admin/);
  const html = await page.content();
  for (const hash of [HASHES.bcrypt2b, HASHES.sha512]) t.notOk(html.includes(hash), 'no hash on the page');
  t.same(errors, [], 'no script errors');
});
