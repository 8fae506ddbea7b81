// Vault faults under load, with the dev cluster's Vault (AppRole with a 2 s token TTL and a 4 s max
// TTL, so the daemon renews and logs in again all the time; the Consul ACL token comes from Vault):
// Vault stopped for longer than the token's max TTL (the token expires meanwhile), Vault sealed,
// and the daemon's token revoked. Routing, HTTPS and Consul reads (cached token) go on; the source
// is `degraded`; once Vault is back a change made in Vault (a rotated certificate) is served.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import type { MarathonApp } from '../../dev/marathon.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { putCertificate } from '../../dev/vault/router.js';
import { requestTls } from '../../dev/vault/tls-probe.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually, freePort } from '../helpers/net.js';
import { LoadLoop, faultLog, get, healthy, haproxyCheck, healthz, hostOf, recordFigure, servedAt, sleep, sourceOf, statusOf } from './helpers.js';

const apps: MarathonApp[] = ['alpha', 'beta'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

t.test('Vault faults under load', async (t) => {
  const httpsPort = await freePort();
  const cluster = await startTestCluster(t, {
    apps,
    domains: { beta: 'www.example.org' },
    httpsPort,
    vault: { tokenTtl: 2, tokenMaxTtl: 4 },
    log: faultLog(),
  });
  const { consul, httpPort } = cluster;
  const vault = cluster.vault!;
  const { configDir } = cluster.config.haproxy;
  const statusUrl = cluster.daemon.server.url;
  const token = vault.consulToken;
  const existing = [hostOf('alpha'), hostOf('beta'), 'www.example.org'];
  for (const host of existing) await servedAt(httpPort, host);
  await eventually('HTTPS served', async () => (await requestTls(httpsPort, 'www.example.org').catch(() => undefined))?.status === 200, 15_000);
  await healthy(statusUrl);
  const load = new LoadLoop(httpPort, existing).start();
  t.teardown(() => load.stop());
  await load.warmUp();

  let domains: string[] = [];
  const addDomain = async (host: string) => {
    domains = [...domains, host];
    const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: domains.join(' '), headers: { 'X-Consul-Token': token } });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}`);
  };
  const tlsFingerprint = async () => (await requestTls(httpsPort, 'www.example.org').catch(() => undefined))?.fingerprint256;
  /** A new certificate for www.example.org in Vault; resolves when HAProxy presents it. */
  const rotate = async () => {
    const pair = await selfSignedCertificate({ commonName: 'www.example.org' });
    putCertificate(vault.vault, 'www.example.org', pair);
    return pair;
  };

  const fault = (name: string, what: string, inject: () => Promise<void> | void, heal: () => Promise<void> | void, expected: RegExp, holdMs: number) =>
    t.test(what, async (t) => {
      const from = Date.now();
      const logins = vault.vault.requests.filter((r) => r.path === 'auth/approle/login' && r.status === 200).length;
      await inject();
      const doc = await eventually(
        'vault degraded in /status',
        async () => {
          const d = await statusOf(statusUrl);
          return sourceOf(d, 'vault')?.state === 'degraded' ? d : undefined;
        },
        15_000,
      );
      const error = sourceOf(doc, 'vault')!.lastError!;
      t.match(error.message, expected, `the reason: ${error.message}`);
      t.match(doc.health.warnings.join('\n'), /vault is degraded/, 'a warning on the status page');
      const hz = await healthz(statusUrl);
      t.equal(hz.status, 200, `/healthz stays 200: the cached secrets keep routing going ${hz.body}`);
      // Consul reads go on with the cached token: a change made meanwhile is applied.
      await addDomain(`during-${name}.example.org`);
      await servedAt(httpPort, `during-${name}.example.org`, /alpha/);
      t.equal((await requestTls(httpsPort, 'www.example.org')).status, 200, 'HTTPS still served with the cached certificates');
      await sleep(holdMs);

      const pair = await rotate(); // written while Vault is down, sealed or refusing the token
      await heal();
      const end = Date.now();
      await eventually('the rotated certificate served', async () => (await tlsFingerprint()) === fp(pair.certificate), 30_000);
      const served = Date.now();
      await addDomain(`after-${name}.example.org`);
      await servedAt(httpPort, `after-${name}.example.org`, /alpha/);
      const back = await eventually('vault ok in /status', async () => {
        const d = await statusOf(statusUrl);
        return sourceOf(d, 'vault')?.state === 'ok' ? d : undefined;
      });
      t.ok(back.health.ok, 'healthy again');
      const relogins = vault.vault.requests.filter((r) => r.path === 'auth/approle/login' && r.status === 200).length - logins;
      t.ok(relogins >= 1, `logged in again with AppRole (${relogins} logins)`);
      const w = load.window(from);
      t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
      await recordFigure(t, {
        fault: `vault-${name}`,
        requests: w.requests,
        failedExisting: w.failed,
        recoveryMs: served - end,
        reported: `vault degraded: ${error.message}; warning, /healthz 200`,
        notes: `recovery = fault end → a certificate rotated in Vault served by HAProxy; ${relogins} AppRole logins meanwhile`,
      });
    });

  // Longer than the token's max TTL: the token expires while Vault is away, a new login is needed.
  await fault(
    'down',
    'Vault stopped for longer than the token max TTL, then started',
    () => vault.vault.stop(),
    () => vault.vault.start(),
    /cannot reach Vault/,
    4_500,
  );
  await fault(
    'sealed',
    'Vault sealed, then unsealed',
    () => vault.vault.seal(),
    () => vault.vault.unseal(),
    /sealed/,
    1_000,
  );

  await t.test("the daemon's token revoked (AppRole login again)", async (t) => {
    const from = Date.now();
    const loginsBefore = vault.vault.requests.filter((r) => r.path === 'auth/approle/login' && r.status === 200).length;
    for (const tok of [...vault.vault.state.tokens.values()]) if (tok.id !== vault.vault.rootToken) vault.vault.revokeToken(tok.id);
    const end = Date.now();
    const pair = await rotate();
    await eventually('the rotated certificate served', async () => (await tlsFingerprint()) === fp(pair.certificate), 30_000);
    const served = Date.now();
    const logins = vault.vault.requests.filter((r) => r.path === 'auth/approle/login' && r.status === 200).length - loginsBefore;
    t.ok(logins >= 1, `logged in again (${logins})`);
    const doc = await statusOf(statusUrl);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'vault-token-revoked',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `vault ${sourceOf(doc, 'vault')?.state} (a refused token is logged and replaced by a new AppRole login)`,
      notes: 'recovery = revocation → a certificate rotated in Vault served',
    });
  });

  await t.test('the files on disk are valid and HAProxy still serves', async (t) => {
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the live files: ${check.output}`);
    for (const host of existing) t.equal((await get(httpPort, host)).status, 200, `${host} still served`);
    t.equal(load.window().failed, 0, 'no failed request to existing routes over the whole run');
  });
});
