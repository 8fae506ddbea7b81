// VaultClient + VaultAuth against the dev Vault: token and AppRole flows, renewal before expiry,
// re-login at max TTL and after revocation, TLS verification, namespaces, and error messages
// that never carry a secret.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { routerAppRole, writeRouterSecrets } from '../../dev/vault/router.js';
import { startDevVault } from '../../dev/vault/server.js';
import { VaultAuth, type VaultAuthMethod } from '../../src/sources/vault/auth.js';
import { VaultClient } from '../../src/sources/vault/client.js';
import { eventually } from '../helpers/net.js';
import { assertNoSecrets, captureLog, sleep } from './helpers.js';

const dir = await mkdtemp(join(tmpdir(), 'paas-router-vault-auth-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

function authFor(client: VaultClient, auth: VaultAuthMethod, log = captureLog().log) {
  return new VaultAuth({ client, auth, renewBeforeMs: 60_000, retryMaxMs: 500, log });
}

t.test('VAULT_TOKEN: looked up, renewed before it expires, usable past its first TTL', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'c' });
  const token = vault.createToken({ ttl: 2, policies: ['root'] }).id;
  const client = new VaultClient({ address: vault.url });
  const auth = authFor(client, { method: 'token', token });
  t.teardown(() => auth.stop());
  await auth.ensure();
  t.equal(client.token, token);
  await sleep(3_000);
  t.ok(auth.counters.renewals >= 1, `renewed (${auth.counters.renewals} times)`);
  t.same(await client.kvRead('secret/data/paas-router/consul'), { token: 'c' }, 'still valid after its first 2 s TTL');
  t.ok(vault.requests.some((r) => r.path === 'auth/token/renew-self' && r.status === 200));
});

t.test('VAULT_TOKEN refused (revoked or wrong): a clear error without the token', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const token = vault.createToken({ ttl: 60 }).id;
  vault.revokeToken(token);
  const client = new VaultClient({ address: vault.url });
  const auth = authFor(client, { method: 'token', token });
  const err = await auth.ensure().then(
    () => undefined,
    (e: Error) => e,
  );
  t.match(err, { code: 'VAULT_AUTH_FAILED' });
  t.match(err!.message, /refused the token \(403 permission denied\)/);
  t.notMatch(inspect(err, { depth: 10 }), token, 'the token is nowhere in the error');
  await t.rejects(auth.ensure(), /VAULT_TOKEN was refused/, 'and it is not retried as if it could come back');
});

t.test('AppRole: login, renewal, re-login at max TTL; the secret id file is read at each login', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'c' });
  const { roleId, secretId } = routerAppRole(vault, { tokenTtl: 2, tokenMaxTtl: 3 });
  const file = join(dir, 'secret-id');
  await writeFile(file, `${secretId}\n`, { mode: 0o600 });
  const client = new VaultClient({ address: vault.url });
  const captured = captureLog();
  const auth = authFor(client, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' }, captured.log);
  t.teardown(() => auth.stop());
  await auth.ensure();
  t.equal(auth.counters.logins, 1);
  const first = client.token;
  // TTL 2 s, max 3 s: renewed at ~1.3 s (capped), then a new login before the 3 s cap.
  await eventually('a second login', () => auth.counters.logins >= 2, 6_000);
  t.ok(auth.counters.renewals >= 1, 'renewed before logging in again');
  t.not(client.token, first, 'a new token');
  await sleep(2_500);
  t.same(await client.kvRead('secret/data/paas-router/consul'), { token: 'c' }, 'reads keep working across max TTLs');
  t.ok(
    vault.requests.filter((r) => r.path === 'auth/approle/login').every((r) => !r.withToken),
    'logins send no token',
  );

  // Operators rotate the secret id: the next login reads the new one from the file.
  const rotated = vault.addAppRole('paas-router', { roleId, tokenTtl: 2, tokenMaxTtl: 3, tokenPolicies: ['paas-router'] }).secretId;
  await writeFile(file, rotated);
  const logins = auth.counters.logins;
  await eventually('a login with the rotated secret id', () => auth.counters.logins > logins, 6_000);
  assertNoSecrets(t, captured.lines, { 'secret id': secretId, 'rotated secret id': rotated, 'role id': roleId, token: client.token });
});

t.test('AppRole: a revoked token is replaced by a new login', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const { roleId, secretId } = routerAppRole(vault, { tokenTtl: 60 });
  const file = join(dir, 'secret-id-2');
  await writeFile(file, secretId);
  const client = new VaultClient({ address: vault.url });
  const auth = authFor(client, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' });
  t.teardown(() => auth.stop());
  await auth.ensure();
  vault.revokeToken(client.token!);
  await t.rejects(client.kvRead('secret/data/paas-router/consul'), { code: 'VAULT_AUTH_FAILED' });
  t.equal(auth.invalidate(), true, 'AppRole can recover');
  await auth.ensure();
  t.equal(auth.counters.logins, 2);
  t.equal(await client.kvRead('secret/data/paas-router/consul'), undefined, 'the new token reads (404: no secret)');
});

t.test('AppRole failures: wrong secret id, missing file, Vault down — no secret in any message', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const { roleId } = routerAppRole(vault);
  const wrong = 'a2c6e6a4-0000-4000-8000-wrongsecret01';
  const file = join(dir, 'secret-id-wrong');
  await writeFile(file, wrong);
  const client = new VaultClient({ address: vault.url });
  const err = await authFor(client, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' })
    .ensure()
    .then(
      () => undefined,
      (e: Error) => e,
    );
  t.match(err, { code: 'VAULT_AUTH_FAILED', message: /invalid role or secret ID/ });
  const shown = `${inspect(err, { depth: 10 })} ${JSON.stringify(err)}`;
  t.notMatch(shown, wrong, 'the secret id is not in the error');
  t.notMatch(shown, roleId, 'nor the role id');

  const missing = await authFor(client, { method: 'approle', roleId, secretIdFile: join(dir, 'nope'), mount: 'approle' })
    .ensure()
    .then(
      () => undefined,
      (e: Error) => e,
    );
  t.match(missing?.message, /cannot read the AppRole secret id file .*nope/);

  await vault.stop();
  const down = await authFor(client, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' })
    .ensure()
    .then(
      () => undefined,
      (e: Error) => e,
    );
  t.match(down, { code: 'VAULT_UNAVAILABLE', message: /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED/ });
  t.notMatch(`${inspect(down, { depth: 10 })}`, wrong);
});

t.test('TLS: verification is on (VAULT_CACERT trusted, VAULT_SKIP_VERIFY ignored)', async (t) => {
  const pair = await selfSignedCertificate({ commonName: 'vault.test', altNames: ['127.0.0.1', 'localhost'] });
  const vault = await startDevVault({ tls: { cert: pair.certificate, key: pair.privateKey } });
  t.teardown(() => vault.close());
  const ca = join(dir, 'vault-ca.pem');
  await writeFile(ca, pair.certificate);
  writeRouterSecrets(vault, { consulToken: 'over-tls' });
  t.match(vault.url, /^https:/);

  const trusted = new VaultClient({ address: vault.url, cacert: ca });
  trusted.setToken(vault.rootToken);
  t.same(await trusted.kvRead('secret/data/paas-router/consul'), { token: 'over-tls' }, 'with VAULT_CACERT');

  const before = process.env.VAULT_SKIP_VERIFY;
  process.env.VAULT_SKIP_VERIFY = '1';
  t.teardown(() => (before === undefined ? delete process.env.VAULT_SKIP_VERIFY : (process.env.VAULT_SKIP_VERIFY = before)));
  const untrusted = new VaultClient({ address: vault.url });
  untrusted.setToken(vault.rootToken);
  const err = await untrusted.kvRead('secret/data/paas-router/consul').then(
    () => undefined,
    (e: Error) => e,
  );
  t.match(
    err,
    { code: 'VAULT_UNAVAILABLE', message: /TLS verification of Vault .* failed .*VAULT_CACERT/ },
    'a self-signed Vault without VAULT_CACERT is refused even with VAULT_SKIP_VERIFY=1',
  );
  t.notMatch(inspect(err, { depth: 10 }), vault.rootToken);
});

t.test('namespace: sent as X-Vault-Namespace on every request', async (t) => {
  const vault = await startDevVault({ namespace: 'team/paas' });
  t.teardown(() => vault.close());
  const { roleId, secretId } = routerAppRole(vault);
  writeRouterSecrets(vault, { consulToken: 'ns-token' });
  const file = join(dir, 'secret-id-ns');
  await writeFile(file, secretId);
  const inNs = new VaultClient({ address: vault.url, namespace: 'team/paas' });
  const auth = authFor(inNs, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' });
  t.teardown(() => auth.stop());
  await auth.ensure();
  t.same(await inNs.kvRead('secret/data/paas-router/consul'), { token: 'ns-token' });
  t.ok(
    vault.requests.every((r) => r.namespace === 'team/paas'),
    'every request named the namespace',
  );
  const outside = new VaultClient({ address: vault.url });
  await t.rejects(
    authFor(outside, { method: 'approle', roleId, secretIdFile: file, mount: 'approle' }).ensure(),
    { code: 'VAULT_AUTH_FAILED' },
    'without it the role does not exist',
  );
});

t.test('environment fallbacks of node-vault are not used: VAULT_TOKEN is never sent on its own', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const before = process.env.VAULT_TOKEN;
  process.env.VAULT_TOKEN = vault.rootToken;
  t.teardown(() => (before === undefined ? delete process.env.VAULT_TOKEN : (process.env.VAULT_TOKEN = before)));
  const client = new VaultClient({ address: vault.url });
  await t.rejects(client.kvRead('secret/data/paas-router/consul'), { code: 'VAULT_AUTH_FAILED' }, 'no token until VaultAuth sets one');
  t.equal(vault.requests.at(-1)?.withToken, false);
});
