// ACL tokens on the dev Consul: where the token may come from, the 403 texts, runtime token
// changes, and the 'filter' mode that reproduces default_policy=deny list filtering.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import { fixture, withConsul } from './support.js';

const ANONYMOUS = / The anonymous token is used implicitly when a request does not specify a token\.$/;

t.test('without a token every endpoint answers 403 with the anonymous-token text', async (t) => {
  const c = await withConsul(t, { aclToken: 's3cret' });
  const cases: [string, 'GET' | 'PUT', string][] = [
    ['/v1/catalog/services', 'GET', "Permission denied: anonymous token lacks permission 'service:read'."],
    ['/v1/health/service/web', 'GET', `Permission denied: anonymous token lacks permission 'service:read' on "web".`],
    ['/v1/kv/paas-router/domains/web', 'GET', `Permission denied: anonymous token lacks permission 'key:read' on "paas-router/domains/web".`],
    ['/v1/kv/paas-router/domains/?recurse', 'GET', `Permission denied: anonymous token lacks permission 'key:list' on "paas-router/domains/".`],
    ['/v1/kv/x', 'PUT', `Permission denied: anonymous token lacks permission 'key:write' on "x".`],
  ];
  for (const [path, method, start] of cases) {
    const answer = await consulCall(c.url, path, { method, body: method === 'PUT' ? 'v' : undefined });
    t.equal(answer.status, 403, path);
    t.ok(answer.text.startsWith(start), `${path}: ${answer.text}`);
    t.match(answer.text, ANONYMOUS);
    t.match(answer.headers.get('content-type'), /^text\/plain/);
  }
  const register = await consulCall(c.url, '/v1/catalog/register', { method: 'PUT', body: { Node: 'n1', Address: '10.0.0.1' } });
  t.equal(register.status, 403);
  t.match(register.text, /^Permission denied: anonymous token lacks permission 'node:write' on "n1"\./);
  t.equal((await consulCall(c.url, '/v1/kv/x', { token: 's3cret' })).status, 404, 'the refused PUT wrote nothing');
});

t.test('an unknown token answers 403 "ACL not found"; the right one passes in any accepted place', async (t) => {
  const c = await withConsul(t, { aclToken: 's3cret' });
  const wrong = await consulCall(c.url, '/v1/catalog/services', { token: 'nope' });
  t.equal(wrong.status, 403);
  t.equal(wrong.text, 'ACL not found');
  t.equal((await consulCall(c.url, '/v1/catalog/services', { token: 's3cret' })).status, 200, 'X-Consul-Token');
  t.equal((await consulCall(c.url, '/v1/catalog/services', { headers: { Authorization: 'Bearer s3cret' } })).status, 200, 'Authorization: Bearer');
  t.equal((await consulCall(c.url, '/v1/catalog/services', { headers: { Authorization: 'Basic s3cret' } })).status, 403, 'other schemes are not tokens');
  t.equal((await consulCall(c.url, '/v1/catalog/services?token=s3cret')).status, 200, '?token= (deprecated)');
  t.equal(wrong.headers.get('x-consul-default-acl-policy'), 'deny');
});

t.test('setAclToken changes the required token at runtime, undefined turns ACLs off', async (t) => {
  const c = await withConsul(t, { aclToken: 'old' });
  c.setAclToken('new');
  t.equal((await consulCall(c.url, '/v1/catalog/services', { token: 'old' })).text, 'ACL not found');
  t.equal((await consulCall(c.url, '/v1/catalog/services', { token: 'new' })).status, 200);
  c.setAclToken(undefined);
  const open = await consulCall(c.url, '/v1/catalog/services');
  t.equal(open.status, 200);
  t.equal(open.headers.get('x-consul-default-acl-policy'), 'allow');
  const unsecured = await withConsul(t);
  t.equal((await consulCall(unsecured.url, '/v1/catalog/services', { token: 'anything' })).status, 200, 'no ACLs: tokens are ignored');
});

t.test("'filter' mode: anonymous list reads look empty, flagged by a header, as on a real default-deny Consul", async (t) => {
  const c = await withConsul(t, { aclToken: 's3cret', anonymous: 'filter' });
  await consulCall(c.url, '/v1/catalog/register', {
    method: 'PUT',
    token: 's3cret',
    body: { Node: 'n', Address: '10.0.0.1', Service: { Service: 'web' } },
  });
  await consulCall(c.url, '/v1/kv/app/k', { method: 'PUT', token: 's3cret', body: 'v' });
  const expected = fixture<{ acl_filtered_example: Record<string, string> }>('catalog-services.headers.json').acl_filtered_example;

  const services = await consulCall(c.url, '/v1/catalog/services');
  t.equal(services.status, 200);
  t.strictSame(services.json(), {});
  for (const [name, value] of Object.entries(expected)) t.equal(services.headers.get(name), value, name);
  t.ok((services.index ?? 0) > 1, 'the real index is still reported');

  const health = await consulCall(c.url, '/v1/health/service/web');
  t.strictSame(health.json(), []);
  t.equal(health.headers.get('x-consul-results-filtered-by-acls'), 'true');
  t.equal((await consulCall(c.url, '/v1/kv/app/?recurse')).status, 404);
  t.strictSame((await consulCall(c.url, '/v1/kv/?keys')).json(), []);
  t.equal((await consulCall(c.url, '/v1/kv/app/k')).status, 403, 'a single key is refused, not filtered');
  t.equal((await consulCall(c.url, '/v1/kv/app/k', { method: 'PUT', body: 'x' })).status, 403);
  t.equal((await consulCall(c.url, '/v1/catalog/services', { token: 'bad' })).text, 'ACL not found');
  const withToken = await consulCall(c.url, '/v1/catalog/services', { token: 's3cret' });
  t.ok('web' in withToken.json<object>());
  t.equal(withToken.headers.get('x-consul-results-filtered-by-acls'), null);
});
