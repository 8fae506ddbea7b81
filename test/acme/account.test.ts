// The ACME account key: RFC 7638 thumbprints, the same key authorization acme-client computes,
// and one key for the cluster even when routers start at once (check-and-set in Vault).
import t from 'tap';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import acme from 'acme-client';
import { ACCOUNT_PATH, jwkThumbprint, loadOrCreateAccount } from '../../src/acme/account.js';
import { VaultClient } from '../../src/sources/vault/client.js';
import { startDevVault } from '../../dev/vault/server.js';
import { ACME_POLICY, acmeIssuerPolicy, routerPolicy, ROUTER_POLICY } from '../../dev/vault/router.js';

const KV = 'secret/data/paas-router/';

t.test('RFC 7638 §3.1: the example RSA key has the example thumbprint', async (t) => {
  const n =
    '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
  const pem = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  t.equal(jwkThumbprint(pem), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

t.test('the thumbprint is what acme-client puts after the token (EC P-256 and RSA keys)', async (t) => {
  for (const key of [generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey]) {
    const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
    const client = new acme.Client({ directoryUrl: 'https://acme.invalid/dir', accountKey: pem });
    const keyAuthorization = await client.getChallengeKeyAuthorization({ type: 'http-01', token: 'tok-123', url: 'https://acme.invalid/c', status: 'pending' });
    t.equal(keyAuthorization, `tok-123.${jwkThumbprint(pem)}`, key.asymmetricKeyType!);
  }
});

t.test('one account key for the cluster, created once in Vault, read back by everyone', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  vault.addPolicy(ROUTER_POLICY, routerPolicy(KV));
  vault.addPolicy(ACME_POLICY, acmeIssuerPolicy(KV));
  const clients = [0, 1, 2].map(() => {
    const c = new VaultClient({ address: vault.url });
    c.setToken(vault.rootToken);
    return c;
  });
  const results = await Promise.all(clients.map((c) => loadOrCreateAccount(c, KV, 'https://acme.example/dir')));
  t.equal(results.filter((r) => r.created).length, 1, 'exactly one router created it');
  t.equal(new Set(results.map((r) => r.account.thumbprint)).size, 1, 'every router has the same thumbprint');
  const again = await loadOrCreateAccount(clients[0]!, KV, 'https://acme.example/dir');
  t.equal(again.created, false);
  t.equal(again.account.thumbprint, results[0]!.account.thumbprint);
  const stored = vault.state.kvRead('secret', `paas-router/${ACCOUNT_PATH}`);
  t.match(stored?.data, { private_key: /BEGIN PRIVATE KEY/, directory_url: 'https://acme.example/dir' });

  await t.test('a broken account secret is an error naming the path, never silently replaced', async (t) => {
    vault.kvPut('secret', `paas-router/${ACCOUNT_PATH}`, { private_key: 'not a key' });
    await t.rejects(loadOrCreateAccount(clients[1]!, KV, 'https://acme.example/dir'), {
      code: 'ACME_ACCOUNT_INVALID',
      message: /secret\/data\/paas-router\/acme\/account: "private_key" is not an unencrypted PEM private key/,
    });
  });

  await t.test('without write access to acme/*, creating the key fails with a Vault 403', async (t) => {
    const fresh = await startDevVault();
    t.teardown(() => fresh.close());
    fresh.addPolicy(ROUTER_POLICY, routerPolicy(KV));
    const token = fresh.state.createToken({ ttl: 3600, policies: [ROUTER_POLICY], renewable: true, displayName: 'reader' }).id;
    const reader = new VaultClient({ address: fresh.url });
    reader.setToken(token);
    await t.rejects(loadOrCreateAccount(reader, KV, 'https://acme.example/dir'), { code: 'VAULT_AUTH_FAILED' });
  });
});
