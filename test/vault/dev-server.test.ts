// The dev Vault against the documented shapes in test/fixtures/vault/ (from Vault's API docs): every field a fixture
// shows is there with the same JSON type; errors are {"errors":[...]} with Vault's statuses.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routerAppRole, routerPolicy, writeRouterSecrets } from '../../dev/vault/router.js';
import { startDevVault, type DevVault } from '../../dev/vault/server.js';
import { sleep } from './helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/vault');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every key of `expected` exists in `actual` with the same JSON type (null allowed where the docs show an object). */
function sameShape(t: Test, actual: unknown, expected: unknown, path = 'body'): void {
  if (typeOf(expected) !== 'object') return;
  for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
    const got = (actual as Record<string, unknown> | null)?.[key];
    const want = typeOf(value);
    const ok = typeOf(got) === want || (want === 'object' && got === null) || (want === 'null' && got !== undefined);
    t.ok(ok, `${path}.${key}: ${want} expected, got ${typeOf(got)}`);
    if (want === 'object' && typeOf(got) === 'object' && key !== 'data' && key !== 'custom_metadata' && key !== 'meta' && key !== 'metadata')
      sameShape(t, got, value, `${path}.${key}`);
    if (key === 'data' && path.endsWith('data') === false && typeOf(got) === 'object') sameShape(t, got, value, `${path}.${key}`);
  }
}

async function call(vault: DevVault, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

t.test('shapes follow the fixtures', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const { roleId, secretId } = routerAppRole(vault, { tokenTtl: 1200 });
  writeRouterSecrets(vault, { consulToken: 'c0nsul-token', stats: { user: 'admin', password: 'pw' } });

  const login = await call(vault, 'POST', 'auth/approle/login', undefined, { role_id: roleId, secret_id: secretId });
  t.equal(login.status, 200);
  sameShape(t, login.body, fixture('approle-login.json'));
  t.equal(login.body!.lease_duration, 0, 'top-level lease_duration is 0 on a login');
  t.equal(login.body!.data, null);
  t.equal(login.body!.auth.lease_duration, 1200);
  t.match(login.body!.auth.client_token, /^hvs\./);
  const token = login.body!.auth.client_token as string;

  const lookup = await call(vault, 'GET', 'auth/token/lookup-self', token);
  t.equal(lookup.status, 200);
  sameShape(t, lookup.body, fixture('token-lookup-self.json'));
  t.match(lookup.body!.data.expire_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$/, 'RFC 3339 with fractional seconds');
  t.ok(lookup.body!.data.ttl > 1190 && lookup.body!.data.ttl <= 1200);

  const renew = await call(vault, 'POST', 'auth/token/renew-self', token, { increment: '1h' });
  t.equal(renew.status, 200);
  sameShape(t, renew.body, fixture('token-renew-self.json'));
  t.equal(renew.body!.auth.lease_duration, 3600, 'the increment is honoured below the max TTL');

  const read = await call(vault, 'GET', 'secret/data/paas-router/consul', token);
  t.equal(read.status, 200);
  sameShape(t, read.body, fixture('kv2-read.json'));
  sameShape(t, read.body!.data, fixture('kv2-read.json').data as Record<string, unknown>, 'body.data');
  sameShape(t, read.body!.data.metadata, (fixture('kv2-read.api-docs.json').data as any).metadata, 'body.data.metadata');
  t.same(read.body!.data.data, { token: 'c0nsul-token' });
  t.equal(read.body!.lease_id, '');
  t.equal(read.body!.renewable, false, 'KV issues no lease');
});

t.test('errors have Vault statuses and the {"errors": [...]} body', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  vault.addPolicy('router', routerPolicy());
  const token = vault.createToken({ policies: ['router'] }).id;
  writeRouterSecrets(vault, { consulToken: 'x-token' });
  vault.kvPut('secret', 'other/thing', { a: 1 });

  const missing = await call(vault, 'GET', 'secret/data/paas-router/haproxy', token);
  t.same(missing, { status: 404, body: { errors: [] } }, 'a missing secret: 404 with an empty errors list');
  const forbidden = await call(vault, 'GET', 'secret/data/other/thing', token);
  t.equal(forbidden.status, 403);
  t.match(forbidden.body!.errors[0], /permission denied/);
  const v1Style = vault.createToken({ policies: ['v1'] }).id;
  vault.addPolicy('v1', [{ path: 'secret/paas-router/*', capabilities: ['read'] }]);
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul', v1Style)).status, 403, 'a v1-style policy path grants nothing on KV v2');
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul')).status, 403, 'no token: 403');
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul', 'hvs.not-a-token')).status, 403, 'unknown token: 403');
  const badLogin = await call(vault, 'POST', 'auth/approle/login', undefined, { role_id: 'nope', secret_id: 'nope' });
  t.equal(badLogin.status, 400);
  t.match(badLogin.body!.errors[0], /invalid role or secret ID/);

  vault.seal();
  const sealed = await call(vault, 'GET', 'secret/data/paas-router/consul', token);
  t.same(sealed, { status: 503, body: { errors: ['Vault is sealed'] } });
  t.equal((await call(vault, 'GET', 'sys/health')).status, 503, 'sys/health answers 503 while sealed');
  t.equal((await call(vault, 'GET', 'sys/seal-status')).body!.sealed, true);
  vault.unseal();
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul', token)).status, 200);
});

t.test('list with GET ?list=true; the LIST verb never reaches the server', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const token = vault.rootToken;
  vault.kvPut('secret', 'paas-router/tls/www.example.org', { certificate: 'c', private_key: 'k' });
  vault.kvPut('secret', 'paas-router/tls/deep/x', { a: 1 });
  const list = await call(vault, 'GET', 'secret/metadata/paas-router/tls/?list=true', token);
  t.same(list.body!.data.keys, ['deep/', 'www.example.org'], 'folders end in /');
  t.same(await call(vault, 'GET', 'secret/metadata/paas-router/nothing/?list=1', token), { status: 404, body: { errors: [] } }, 'an empty listing is a 404');
  const status = await new Promise<number>((resolve) => {
    const req = request(`${vault.url}/v1/secret/metadata/paas-router/tls/`, { method: 'LIST', headers: { 'X-Vault-Token': token } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
    req.end();
  });
  t.not(status, 200, `a LIST request fails in Node's HTTP parser (got ${status})`);
  t.notOk(
    vault.requests.some((r) => r.method === 'LIST'),
    'no handler ever saw a LIST',
  );
});

t.test('token TTLs: expiry, renewal, max TTL cap with a warning, non-renewable', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const short = vault.createToken({ ttl: 1 }).id;
  t.equal((await call(vault, 'GET', 'auth/token/lookup-self', short)).status, 200);
  await sleep(1100);
  t.equal((await call(vault, 'GET', 'auth/token/lookup-self', short)).status, 403, 'an expired token is refused');

  const capped = vault.createToken({ ttl: 2, explicitMaxTtl: 3 }).id;
  const renewed = await call(vault, 'POST', 'auth/token/renew-self', capped, { increment: '10s' });
  t.ok(renewed.body!.auth.lease_duration <= 3, 'capped at the explicit max TTL');
  t.match(renewed.body!.warnings[0], /exceeded the effective max_ttl/);
  await sleep(1100);
  const again = await call(vault, 'POST', 'auth/token/renew-self', capped, {});
  t.ok(again.body!.auth.lease_duration < 3, 'each renewal gives less once the cap is in sight');

  const fixed = vault.createToken({ ttl: 60, renewable: false }).id;
  const refused = await call(vault, 'POST', 'auth/token/renew-self', fixed, {});
  t.equal(refused.status, 400);
  t.match(refused.body!.errors[0], /not renewable/);

  const root = await call(vault, 'GET', 'auth/token/lookup-self', vault.rootToken);
  t.equal(root.body!.data.ttl, 0, 'the root token does not expire');
  t.equal(root.body!.data.expire_time, null);

  const revoked = vault.createToken({ ttl: 60 }).id;
  t.equal((await call(vault, 'POST', 'auth/token/revoke-self', revoked)).status, 204);
  t.equal((await call(vault, 'GET', 'auth/token/lookup-self', revoked)).status, 403, 'a revoked token is refused');
});

t.test('namespaces: nothing exists outside the configured namespace', async (t) => {
  const vault = await startDevVault({ namespace: 'ns1' });
  t.teardown(() => vault.close());
  const token = vault.rootToken;
  vault.kvPut('secret', 'paas-router/consul', { token: 'x' });
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul', token)).status, 403, 'no namespace header: the token does not exist there');
  t.equal((await call(vault, 'GET', 'secret/data/paas-router/consul', token, undefined, { 'X-Vault-Namespace': 'ns1/' })).status, 200, 'header');
  t.equal((await call(vault, 'GET', 'ns1/secret/data/paas-router/consul', token)).status, 200, 'path prefix');
});

t.test('stop and start keep the data and the port', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const url = vault.url;
  vault.kvPut('secret', 'a', { b: 'c' });
  await vault.stop();
  await t.rejects(fetch(`${url}/v1/sys/health`), 'refused while stopped');
  await vault.start();
  t.equal(vault.url, url);
  t.equal((await call(vault, 'GET', 'secret/data/a', vault.rootToken)).body!.data.data.b, 'c');
});
