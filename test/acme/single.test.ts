// One router end to end with a real ACME server: a domain put in Consul K/V is served over HTTPS
// with a Pebble-issued certificate (verified chain, SNI) and no HAProxy reload; HAProxy itself
// answers HTTP-01; a hand-placed Vault certificate wins; a domain that does not reach the router
// fails its pre-flight (no order sent), backs off visibly, and is issued once it points here.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { launchChromium } from '../../dev/chromium.js';
import { requestThrough } from '../../dev/probe.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { acmeHost, acmeLog, startAcmeCluster, verifiedTls } from './helpers.js';

t.test('single router: K/V domain → Pebble certificate served over HTTPS', { skip: consulAgentSkip() }, async (t) => {
  const cluster = await startAcmeCluster(t);
  const router = await cluster.startRouter();
  const { pebble, vault } = cluster;

  const ready = await eventually(
    'the router holds the lock and knows the thumbprint',
    async () => {
      const s = await router.status();
      return s.acme?.lock.held && s.acme.thumbprint && s.haproxy.runningChecksum ? s : undefined;
    },
    60_000,
  );
  const thumbprint = ready.acme!.thumbprint!;

  await t.test('HAProxy answers any challenge token with <token>.<thumbprint>, for any host', async (t) => {
    const answer = await eventually(
      'challenge answered',
      async () => {
        const r = await requestThrough(router.httpPort, 'anything.example.net', '/.well-known/acme-challenge/Tok_en-123');
        return r.status === 200 ? r : undefined;
      },
      30_000,
    );
    t.equal(answer.body, `Tok_en-123.${thumbprint}`);
    const bad = await requestThrough(router.httpPort, 'anything.example.net', '/.well-known/acme-challenge/<script>');
    t.equal(bad.status, 404, 'a token that is not base64url falls through to routing');
  });

  const root = await pebble.rootPem();
  const reloadsBefore = await router.reloads();
  await cluster.putDomain('blog', 'acme.example.org www.example.org');

  await t.test('the new domain is served over HTTPS with a Pebble certificate, no reload', async (t) => {
    const served = await eventually(
      'acme.example.org with a verified Pebble certificate',
      async () => {
        const r = await verifiedTls(router.httpsPort, 'acme.example.org', root).catch(() => undefined);
        return r?.authorized ? r : undefined;
      },
      90_000,
    );
    t.match(served.issuer, /Pebble/);
    t.equal(served.status, 200);
    t.equal(served.body.trim(), 'blog #1');
    t.equal(await router.reloads(), reloadsBefore, 'HAProxy was not reloaded: map and certificate went through the runtime API');
    const secret = vault.vault.state.kvRead('secret', 'paas-router/tls/acme.example.org')?.data;
    t.match(secret, { source: 'acme', certificate: /BEGIN CERTIFICATE/, private_key: /PRIVATE KEY/ });
    t.equal(new Date(new X509Certificate(String(secret?.certificate)).validTo).toISOString(), secret?.not_after);
    const status = await fetch(`${cluster.consul.url}/v1/kv/paas-router/acme/status/acme.example.org?raw`).then((r) => r.json());
    t.match(status, { lastResult: 'issued', failures: 0 });
    const view = await eventually('status shows the ACME certificate', async () => {
      const h = await acmeHost(router, 'acme.example.org');
      return h?.certificateSource === 'acme' ? h : undefined;
    });
    t.match(view, { action: 'none', lastResult: 'issued', nextTryAt: null, certificateName: 'acme.example.org' });
    t.equal(view.notAfter, secret?.not_after);
  });

  await t.test('a hand-placed certificate in Vault wins: served, never ordered', async (t) => {
    const hand = vault.certificates['www.example.org']!;
    const r = await verifiedTls(router.httpsPort, 'www.example.org', hand.certificate);
    t.ok(r.authorized, 'the hand-placed (self-signed) certificate is the one served');
    t.equal(r.fingerprint256, new X509Certificate(hand.certificate).fingerprint256);
    const view = await acmeHost(router, 'www.example.org');
    t.match(view, { certificateSource: 'vault', action: 'none', lastResult: null, reason: /hand-placed certificate tls\/www.example.org wins/ });
    t.notOk(vault.vault.state.kvRead('secret', 'paas-router/tls/www.example.org')?.data?.source, 'Vault still holds the hand-placed one');
  });

  await t.test('metrics: expiry per host and orders by result', async (t) => {
    const text = await router.metrics();
    t.match(text, /paas_router_acme_orders_total\{result="issued"\} 1\n/);
    t.match(text, /paas_router_acme_orders_total\{result="preflight-failed"\} 0\n/);
    const expiry = Number(/paas_router_certificate_expiry_seconds\{host="acme.example.org"\} (-?\d+)/.exec(text)?.[1]);
    t.ok(expiry > 86_400, `acme.example.org expires in ${expiry} s`);
    t.match(text, /paas_router_certificate_expiry_seconds\{host="www.example.org"\} \d+/);
    t.match(text, /paas_router_acme_lock_held 1\n/);
  });

  await t.test('a domain that does not reach the router: pre-flight fails, no order, backoff shown; fixed DNS → issued', async (t) => {
    await pebble.setAddress('elsewhere.example.org', '127.0.0.2');
    const issued = pebble.issuedCount();
    const ordersBefore = pebble.orderCount();
    t.ok(ordersBefore >= 1, `Pebble logged ${ordersBefore} order(s) so far`);
    await cluster.putDomain('blog', 'acme.example.org www.example.org elsewhere.example.org');
    const failed = await eventually(
      'pre-flight failure with a backoff',
      async () => {
        const h = await acmeHost(router, 'elsewhere.example.org');
        return h?.lastResult === 'preflight-failed' ? h : undefined;
      },
      60_000,
    );
    t.match(failed.lastError, /127\.0\.0\.2:\d+ is not reachable/);
    t.ok(failed.nextTryAt && Date.parse(failed.nextTryAt) > Date.parse(failed.lastAttemptAt!), 'a next try after the attempt');
    t.equal(failed.certificateSource, null);
    t.equal(pebble.orderCount(), ordersBefore, 'no order reached Pebble');
    t.equal(pebble.issuedCount(), issued);
    t.match(await router.metrics(), /paas_router_acme_orders_total\{result="preflight-failed"\} [1-9]/);
    const row = await statusPageRow(router.statusUrl, 'elsewhere.example.org');
    t.match(
      row,
      {
        Certificate: 'none',
        Next: /^order: no certificate in Vault/,
        'Last order': /^preflight-failed: http:\/\/elsewhere.example.org\/ at 127\.0\.0\.2/,
        'Next try': /^\d{4}-\d\d-\d\dT/,
      },
      'the status page shows the failure and the next try',
    );
    t.equal((await requestThrough(router.httpPort, 'acme.example.org')).status, 200, 'everything else keeps serving');

    await pebble.setAddress('elsewhere.example.org', '127.0.0.1');
    const root = await pebble.rootPem();
    await eventually(
      'issued after the backoff',
      async () => (await verifiedTls(router.httpsPort, 'elsewhere.example.org', root).catch(() => undefined))?.authorized,
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${acmeLog(router)}`);
    });
    t.match(await acmeHost(router, 'elsewhere.example.org'), { certificateSource: 'acme', lastResult: 'issued', failures: 0 });
  });
});

/** The ACME table row of `host` on the status page, as headless Chromium renders it (label → text). */
async function statusPageRow(statusUrl: string, host: string): Promise<Record<string, string>> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${statusUrl}/`);
    await page.waitForSelector('body[data-loaded="true"]');
    await page.waitForSelector('#acme-section:not([hidden])');
    return await page.$$eval(
      '#acme tbody tr',
      (rows, wanted) => {
        for (const tr of rows) {
          const cells = [...tr.querySelectorAll('td')].map((td) => [td.getAttribute('data-label') ?? '', td.textContent ?? ''] as const);
          if (cells[0]?.[1] === wanted) return Object.fromEntries(cells);
        }
        return {};
      },
      host,
    );
  } finally {
    await browser.close();
  }
}
