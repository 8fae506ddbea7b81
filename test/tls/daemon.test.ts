// The daemon end to end with Vault: dev Vault (AppRole) → Consul ACL token, stats credentials and
// certificates → real HAProxy serving HTTPS with SNI. Certificates are added, rotated and removed
// in Vault while HAProxy serves; Vault goes away and comes back; the Consul token rotates. Every
// log line the daemon writes is captured and searched for every secret value.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevCluster, type DevCluster } from '../../dev/cluster.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { putCertificate, removeCertificate, writeRouterSecrets } from '../../dev/vault/router.js';
import { requestTls } from '../../dev/vault/tls-probe.js';
import { showProc } from '../../src/apply/reload.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';
import { assertNoSecrets, captureLog } from '../vault/helpers.js';
import { httpGet } from './helpers.js';

const shop: MarathonApp = { id: '/shop', instances: 1, tags: ['router.https-only=true'], mode: 'http' };
const blog: MarathonApp = { id: '/blog', instances: 1, tags: [], mode: 'http' };
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

t.test('daemon with Vault: TLS, https-only, runtime certificates, outages, token rotation', async (t) => {
  const templatesDir = await mkdtemp(join(tmpdir(), 'paas-router-templates-'));
  await cp(SHIPPED_TEMPLATES_DIR, templatesDir, { recursive: true });
  const { httpPort, httpsPort, statsPort } = await freeListenerPorts();
  const captured = captureLog('debug');
  const cluster: DevCluster = await startDevCluster({
    consul: 'stand-in', // its ACL token is switched at run time below
    httpPort,
    httpsPort,
    statsPort,
    apps: [shop, blog],
    domains: { blog: 'www.example.org' },
    log: captured.log,
    vault: { tokenTtl: 3, tokenMaxTtl: 6 },
    configOverrides: { templates_dir: templatesDir },
  });
  t.teardown(async () => {
    await cluster.stop();
    await rm(templatesDir, { recursive: true, force: true });
  });
  const { consul, daemon } = cluster;
  const vault = cluster.vault!;
  const runner = daemon.runner;
  const state = runner.state;
  const certs = { ...vault.certificates };
  const haproxyReloads = async () => (await showProc(cluster.config.haproxy.masterSocket)).master.reloads;
  const served = (host: string, fingerprint: string) =>
    eventually(
      `${host} served with the expected certificate`,
      async () => {
        const r = await requestTls(httpsPort, host);
        return r.fingerprint256 === fingerprint && r.status > 0 ? r : undefined;
      },
      15_000,
    );

  await t.test('HTTPS with SNI: the wildcard default and a per-FQDN certificate', async (t) => {
    const r = await served('shop.production.mozilla.community', fp(certs.default!.certificate));
    t.equal(r.subject, '*.production.mozilla.community');
    await eventually('blog over HTTPS', async () => (await requestTls(httpsPort, 'blog.production.mozilla.community')).status === 200);
    const www = await served('www.example.org', fp(certs['www.example.org']!.certificate));
    t.equal(www.status, 200);
    t.equal(www.body.trim(), '/blog #1');
    t.equal(state.sources.vault?.state, 'ok');
  });

  await t.test('the stats page asks for the credentials from Vault', async (t) => {
    t.equal((await httpGet(statsPort, 'stats')).status, 401);
    t.equal((await httpGet(statsPort, 'stats', '/', `${vault.stats.user}:${vault.stats.password}`)).status, 200);
    t.equal((await httpGet(statsPort, 'stats', '/', `${vault.stats.user}:wrong`)).status, 401);
  });

  await t.test('https-only redirects where a certificate covers the host; a custom FQDN without one stays on HTTP and is reported', async (t) => {
    const redirect = await httpGet(httpPort, 'shop.production.mozilla.community', '/cart');
    t.equal(redirect.status, 308);
    t.equal(redirect.location, 'https://shop.production.mozilla.community/cart');
    t.equal((await httpGet(httpPort, 'blog.production.mozilla.community')).status, 200, 'not https-only: plain HTTP stays');

    await fetch(`${consul.url}/v1/kv/paas-router/domains/shop`, { method: 'PUT', body: 'shop.example.net', headers: { 'X-Consul-Token': vault.consulToken } });
    await eventually('shop.example.net routed', async () => (await requestThrough(httpPort, 'shop.example.net')).status === 200);
    t.equal((await httpGet(httpPort, 'shop.example.net')).status, 200, 'no certificate: served on HTTP, not redirected to a broken HTTPS');
    t.same(
      runner.tls?.httpOnlyHosts.find((h) => h.host === 'shop.example.net'),
      { host: 'shop.example.net', app: 'shop', source: 'kv', httpsOnly: true },
    );
    t.ok(
      captured.lines.some((l) => l.includes('no certificate in Vault covers shop.example.net') && l.includes('"level":40')),
      'a warning says so',
    );
  });

  await t.test('a certificate added in Vault: served at once (runtime API), then the redirect follows', async (t) => {
    await runner.settled();
    const reloads = await haproxyReloads();
    certs['shop.example.net'] = await selfSignedCertificate({ commonName: 'shop.example.net' });
    putCertificate(vault.vault, 'shop.example.net', certs['shop.example.net']);
    await served('shop.example.net', fp(certs['shop.example.net'].certificate));
    await eventually('redirect once covered', async () => (await httpGet(httpPort, 'shop.example.net')).status === 308);
    t.notOk(
      runner.tls?.httpOnlyHosts.some((h) => h.host === 'shop.example.net'),
      'no longer reported',
    );
    await runner.settled();
    t.ok((await haproxyReloads()) <= reloads + 1, 'at most the one reload the new redirect rule needs');
  });

  await t.test('a certificate rotated in Vault: the new one is served with no reload', async (t) => {
    await runner.settled();
    const reloads = await haproxyReloads();
    const rotated = await selfSignedCertificate({ commonName: 'www.example.org', keyType: 'rsa' });
    putCertificate(vault.vault, 'www.example.org', rotated);
    await served('www.example.org', fp(rotated.certificate));
    certs['www.example.org'] = rotated;
    await runner.settled();
    t.equal(await haproxyReloads(), reloads, 'HAProxy was not reloaded');
  });

  await t.test('a certificate removed from Vault: the host falls back to the default certificate, with no reload', async (t) => {
    const reloads = await haproxyReloads();
    removeCertificate(vault.vault, 'www.example.org');
    await served('www.example.org', fp(certs.default!.certificate));
    await eventually('reported as HTTP only', () => runner.tls?.httpOnlyHosts.some((h) => h.host === 'www.example.org'));
    await runner.settled();
    t.equal(await haproxyReloads(), reloads, 'HAProxy was not reloaded (blog is not https-only: its config does not change)');
    delete certs['www.example.org'];
  });

  await t.test('Vault lost: degraded, routing and HTTPS go on, Consul still gets the cached token; back: changes picked up', async (t) => {
    await vault.vault.stop();
    await eventually('vault degraded', () => state.sources.vault?.state === 'degraded', 15_000);
    t.match(state.sources.vault?.lastError?.message, /cannot reach Vault .*using the secrets read at/);
    t.equal((await requestTls(httpsPort, 'shop.example.net')).status, 200, 'HTTPS still served');
    const task = await cluster.registerOn('/during-outage', blog.id, { agent: 'dev-agent-7', token: vault.consulToken });
    await eventually(
      'a new app routed while Vault is down',
      async () => (await requestThrough(httpPort, `${task.serviceName}.production.mozilla.community`)).status === 200,
    );
    // Longer than the token TTL (3 s, max 6 s): the login happens again once Vault is back.
    await new Promise((r) => setTimeout(r, 3_500));
    const back = await selfSignedCertificate({ commonName: 'www.example.org' });
    putCertificate(vault.vault, 'www.example.org', back);
    await vault.vault.start();
    await eventually('vault ok', () => state.sources.vault?.state === 'ok', 15_000);
    await served('www.example.org', fp(back.certificate));
    certs['www.example.org'] = back;
  });

  await t.test('the Consul token rotated in Vault is used without a restart', async (t) => {
    const next = 'rotated-consul-token-0f3c9a';
    const seen = vault.vault.requests.length;
    writeRouterSecrets(vault.vault, { consulToken: next });
    await eventually('the new token read from Vault', () =>
      vault.vault.requests.slice(seen).some((r) => r.path === 'secret/data/paas-router/consul' && r.status === 200),
    );
    cluster.standIn!.setAclToken(next); // the old token stops working in Consul
    const task = await cluster.registerOn('/after-rotation', blog.id, { agent: 'dev-agent-8', token: next });
    await eventually(
      'routed with the new token',
      async () => (await requestThrough(httpPort, `${task.serviceName}.production.mozilla.community`)).status === 200,
      20_000,
    );
    t.pass('Consul reads went on with the token from Vault');
    assertNoSecrets(t, captured.lines, { 'rotated Consul token': next });
  });

  await t.test('no secret value in any log line', async (t) => {
    const keys = Object.fromEntries(Object.entries(certs).map(([name, pair]) => [`private key of ${name}`, pair.privateKey]));
    const tokens = Object.fromEntries([...vault.vault.state.tokens.values()].map((tok, i) => [`Vault token #${i}`, tok.id]));
    assertNoSecrets(t, captured.lines, {
      'Consul token': vault.consulToken,
      'stats password': vault.stats.password,
      'AppRole role id': vault.roleId,
      'AppRole secret id': [...vault.vault.state.approles.values()][0]!.secretIds.values().next().value as string,
      ...keys,
      ...tokens,
    });
    t.ok(captured.lines.length > 20, `${captured.lines.length} lines checked`);
  });
});
