// The dev Consul's catalog and health endpoints against the documented shapes
// (test/fixtures/consul) and Consul's registration semantics.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import type { DevConsul } from '../../dev/consul/server.js';
import { fixture, withConsul } from './support.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type HealthEntry = { Node: Record<string, Json>; Service: Record<string, Json>; Checks: Record<string, Json>[] };

const register = async (c: DevConsul, body: unknown) => {
  const answer = await consulCall(c.url, '/v1/catalog/register', { method: 'PUT', body });
  if (answer.status !== 200) throw new Error(`register failed: ${answer.status} ${answer.text}`);
};
const health = async (c: DevConsul, query: string) => consulCall(c.url, `/v1/health/service/${query}`);

/** The fixture's instance, as a registration body. */
const REDIS_REGISTRATION = {
  ID: '40e4a748-2192-161a-0510-9bf59fe950b5',
  Node: 'foobar',
  Address: '10.1.10.12',
  Datacenter: 'dc1',
  TaggedAddresses: { lan: '10.1.10.12', wan: '10.1.10.12' },
  NodeMeta: { instance_type: 't2.medium' },
  Service: {
    ID: 'redis',
    Service: 'redis',
    Tags: ['primary'],
    Address: '10.1.10.12',
    TaggedAddresses: { lan: { address: '10.1.10.12', port: 8000 }, wan: { address: '10.1.20.2', port: 80 } },
    Meta: { redis_version: '4.0' },
    Port: 8000,
    Weights: { Passing: 10, Warning: 1 },
  },
  Checks: [
    { CheckID: 'service:redis', Name: "Service 'redis' check", Status: 'passing', ServiceID: 'redis' },
    { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' },
  ],
};

/** Drops the fields the docs' sample does not show (indexes) and orders checks by ID. */
function comparable(entries: HealthEntry[]): unknown {
  const strip = (o: Record<string, Json>) => {
    const { CreateIndex: _c, ModifyIndex: _m, ...rest } = o;
    return rest;
  };
  return entries.map((e) => ({
    Node: strip(e.Node),
    Service: strip(e.Service),
    Checks: e.Checks.map(strip).sort((a, b) => String(a.CheckID).localeCompare(String(b.CheckID))),
  }));
}

t.test('health/service answers exactly the documented sample for the same registration', async (t) => {
  const c = await withConsul(t, { registerSelf: false });
  await register(c, REDIS_REGISTRATION);
  const answer = await health(c, 'redis');
  t.equal(answer.status, 200);
  t.equal(answer.headers.get('content-type'), 'application/json');
  const entries = answer.json<HealthEntry[]>();
  t.same(comparable(entries), comparable(fixture<HealthEntry[]>('health-service.json')));
  t.strictSame(comparable(entries), comparable(fixture<HealthEntry[]>('health-service.json')), 'no extra or missing fields');
  const [entry] = entries;
  t.ok(entry && entry.Service.CreateIndex === answer.index && entry.Checks.every((c) => typeof c.ModifyIndex === 'number'));
});

t.test('catalog/services answers the documented sample: names with the union of their tags', async (t) => {
  const c = await withConsul(t); // registers its own `consul` service, like a real agent
  await register(c, { Node: 'n1', Address: '10.0.0.1', Service: { Service: 'redis', Port: 6379 } });
  await register(c, { Node: 'n1', Address: '10.0.0.1', Service: { ID: 'pg1', Service: 'postgresql', Tags: ['primary'] } });
  await register(c, { Node: 'n2', Address: '10.0.0.2', Service: { ID: 'pg2', Service: 'postgresql', Tags: ['secondary', 'primary'] } });
  const answer = await consulCall(c.url, '/v1/catalog/services');
  t.strictSame(answer.json(), fixture('catalog-services.json'));
});

t.test('read headers match the documented consistency example', async (t) => {
  const c = await withConsul(t);
  const expected = fixture<{ consistency_example: Record<string, string> }>('catalog-services.headers.json').consistency_example;
  const answer = await consulCall(c.url, '/v1/catalog/services');
  for (const [name, value] of Object.entries(expected)) t.equal(answer.headers.get(name), value, name);
  t.match(answer.headers.get('x-consul-index'), /^[1-9]\d*$/);
  t.equal(answer.headers.get('x-consul-default-acl-policy'), 'allow');
  t.equal((await consulCall(c.url, '/v1/catalog/services?stale')).headers.get('x-consul-effective-consistency'), 'stale');
  t.equal((await consulCall(c.url, '/v1/catalog/services?consistent')).headers.get('x-consul-effective-consistency'), 'consistent');
  const both = await consulCall(c.url, '/v1/catalog/services?stale&consistent');
  t.equal(both.status, 400);
  t.equal(both.text, 'Cannot specify ?stale with ?consistent, conflicting semantics.');
});

t.test('an empty Service.Address is kept empty (clients fall back to Node.Address)', async (t) => {
  const c = await withConsul(t);
  await register(c, { Node: 'agent-1', Address: '10.0.0.7', Service: { ID: 'a1', Service: 'app', Port: 31001 } });
  const [entry] = (await health(c, 'app')).json<HealthEntry[]>();
  t.equal(entry?.Service.Address, '');
  t.equal(entry?.Node.Address, '10.0.0.7');
  t.strictSame(entry?.Node.TaggedAddresses, { lan: '10.0.0.7', wan: '10.0.0.7' });
  t.equal(entry?.Checks.length, 0);
});

t.test('?passing keeps only instances whose checks all pass, node checks included', async (t) => {
  const c = await withConsul(t);
  const instance = (node: string, id: string, serviceStatus: string, serfStatus: string) =>
    register(c, {
      Node: node,
      Address: '10.0.0.1',
      Service: { ID: id, Service: 'web', Port: 80 },
      Checks: [
        { CheckID: `service:${id}`, Name: 'svc', Status: serviceStatus, ServiceID: id },
        { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: serfStatus },
      ],
    });
  await instance('n-ok', 'ok', 'passing', 'passing');
  await instance('n-warn', 'warn', 'warning', 'passing');
  await instance('n-crit', 'crit', 'critical', 'passing');
  await instance('n-serf', 'serf', 'passing', 'critical');
  const ids = async (query: string) =>
    (await health(c, query))
      .json<HealthEntry[]>()
      .map((e) => e.Service.ID)
      .sort();
  t.strictSame(await ids('web'), ['crit', 'ok', 'serf', 'warn']);
  t.strictSame(await ids('web?passing'), ['ok']);
  t.strictSame(await ids('web?passing=true'), ['ok']);
  t.strictSame(await ids('web?passing=false'), ['crit', 'ok', 'serf', 'warn']);
  const bad = await health(c, 'web?passing=maybe');
  t.equal(bad.status, 400);
  t.equal(bad.text, 'Invalid value for ?passing');

  // A node check applies to every service on its node.
  await register(c, { Node: 'n-ok', Address: '10.0.0.1', Check: { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'warning' } });
  t.strictSame(await ids('web?passing'), []);
});

t.test('a check registered without a status is critical; ?tag filters instances', async (t) => {
  const c = await withConsul(t);
  await register(c, { Node: 'n', Address: '10.0.0.1', Service: { ID: 'a', Service: 'web', Tags: ['x', 'y'] }, Check: { Name: 'c', ServiceID: 'a' } });
  await register(c, { Node: 'n', Address: '10.0.0.1', Service: { ID: 'b', Service: 'web', Tags: ['x'] } });
  const entries = (await health(c, 'web')).json<HealthEntry[]>();
  t.equal(entries.find((e) => e.Service.ID === 'a')?.Checks[0]?.Status, 'critical');
  t.equal(entries.find((e) => e.Service.ID === 'a')?.Checks[0]?.CheckID, 'c', 'CheckID defaults to the name');
  t.strictSame(
    (await health(c, 'web?tag=x&tag=y')).json<HealthEntry[]>().map((e) => e.Service.ID),
    ['a'],
  );
});

t.test('an unknown service answers 200 [] with an index', async (t) => {
  const c = await withConsul(t);
  const answer = await health(c, 'nope');
  t.equal(answer.status, 200);
  t.strictSame(answer.json(), []);
  t.ok((answer.index ?? 0) >= 1);
});

t.test('indexes: re-registering the same data moves nothing; a check flap moves health only', async (t) => {
  const c = await withConsul(t);
  const body = {
    Node: 'n',
    Address: '10.0.0.1',
    Service: { ID: 's1', Service: 'web', Port: 80 },
    Check: { CheckID: 'c1', Name: 'c', Status: 'passing', ServiceID: 's1' },
  };
  await register(c, body);
  const catalogBefore = (await consulCall(c.url, '/v1/catalog/services')).index;
  const healthBefore = (await health(c, 'web')).index;
  const raftBefore = c.index;

  await register(c, body);
  t.equal(c.index, raftBefore + 1, 'every write takes a raft index');
  t.equal((await health(c, 'web')).index, healthBefore, 'same data: health index unchanged');
  t.equal((await consulCall(c.url, '/v1/catalog/services')).index, catalogBefore);

  await register(c, { ...body, Check: { ...body.Check, Status: 'critical' } });
  const afterFlap = await health(c, 'web');
  t.equal(afterFlap.index, c.index, 'health index is the flap write');
  t.equal(afterFlap.json<HealthEntry[]>()[0]?.Checks[0]?.ModifyIndex, c.index);
  t.equal((await consulCall(c.url, '/v1/catalog/services')).index, catalogBefore, 'catalog index unchanged by a check flap');
  t.equal(afterFlap.json<HealthEntry[]>()[0]?.Service.ModifyIndex, healthBefore, 'service record untouched');
});

t.test('deregister: a service (with its checks), a check, or a whole node', async (t) => {
  const c = await withConsul(t);
  await register(c, {
    Node: 'n1',
    Address: '10.0.0.1',
    Service: { ID: 'a', Service: 'web' },
    Check: { CheckID: 'ca', Name: 'c', ServiceID: 'a', Status: 'passing' },
  });
  await register(c, { Node: 'n1', Address: '10.0.0.1', Service: { ID: 'b', Service: 'web' }, Check: { CheckID: 'serfHealth', Name: 's', Status: 'passing' } });
  await register(c, { Node: 'n2', Address: '10.0.0.2', Service: { ID: 'c', Service: 'api' } });
  const ids = async (name: string) => (await health(c, name)).json<HealthEntry[]>().map((e) => e.Service.ID);

  const before = (await health(c, 'web')).index ?? 0;
  const res = await consulCall(c.url, '/v1/catalog/deregister', { method: 'PUT', body: { Node: 'n1', ServiceID: 'a' } });
  t.equal(res.text, 'true');
  t.strictSame(await ids('web'), ['b']);
  t.ok(((await health(c, 'web')).index ?? 0) > before, 'health index moved');

  await consulCall(c.url, '/v1/catalog/deregister', { method: 'PUT', body: { Node: 'n1', CheckID: 'serfHealth' } });
  t.strictSame((await health(c, 'web')).json<HealthEntry[]>()[0]?.Checks, []);

  await consulCall(c.url, '/v1/catalog/deregister', { method: 'PUT', body: { Node: 'n1' } });
  t.strictSame(await ids('web'), []);
  t.strictSame(await ids('api'), ['c']);
  const services = (await consulCall(c.url, '/v1/catalog/services')).json<Record<string, string[]>>();
  t.notOk('web' in services);
  const again = await consulCall(c.url, '/v1/catalog/deregister', { method: 'PUT', body: { Node: 'n1' } });
  t.equal(again.text, 'true', 'deregistering something absent still answers true');
});

t.test('registration errors use Consul status codes and texts', async (t) => {
  const c = await withConsul(t);
  const put = (body: unknown) => consulCall(c.url, '/v1/catalog/register', { method: 'PUT', body });
  const noNode = await put({ Address: '10.0.0.1' });
  t.equal(noNode.status, 500);
  t.equal(noNode.text, 'Must provide node');
  t.equal((await put({ Node: 'n' })).text, 'Must provide address if SkipNodeUpdate is not set');
  t.equal((await put({ Node: 'n', Address: '1.2.3.4', Check: { CheckID: 'x', ServiceID: 'ghost' } })).text, 'Missing service registration');
  const badJson = await put('{"Node":');
  t.equal(badJson.status, 400);
  t.match(badJson.text, /^Request decode failed: /);
  t.equal((await put({ Node: 'n', Address: 7 })).status, 400);
  t.equal((await put({ Node: 'n', Address: '1.2.3.4', Check: { CheckID: 'x', Status: 'ok' } })).status, 400);
  t.equal((await consulCall(c.url, '/v1/catalog/services?dc=dc9')).text, 'No path to datacenter');
  t.strictSame(Object.keys((await consulCall(c.url, '/v1/catalog/services')).json<object>()), ['consul'], 'failed writes left nothing behind');
});

t.test('registration field names are matched case-insensitively, like Go encoding/json', async (t) => {
  const c = await withConsul(t);
  await register(c, { node: 'n', address: '10.0.0.1', service: { service: 'lower', port: 1 } });
  t.equal((await health(c, 'lower')).json<HealthEntry[]>()[0]?.Service.Port, 1);
});

t.test('unknown paths answer 404, wrong methods 405 with Allow', async (t) => {
  const c = await withConsul(t);
  const missing = await consulCall(c.url, '/v1/agent/self');
  t.equal(missing.status, 404);
  t.equal(missing.text, '');
  const wrong = await consulCall(c.url, '/v1/kv/x', { method: 'POST', body: 'v' });
  t.equal(wrong.status, 405);
  t.equal(wrong.text, 'method POST not allowed');
  t.equal(wrong.headers.get('allow'), 'OPTIONS,GET,PUT,DELETE');
  t.equal((await consulCall(c.url, '/v1/catalog/register')).status, 405);
  const options = await consulCall(c.url, '/v1/catalog/services', { method: 'OPTIONS' });
  t.equal(options.status, 200);
  t.equal(options.headers.get('allow'), 'OPTIONS,GET');
  t.equal((await consulCall(c.url, '/v1/health/service/')).text, 'Missing service name');
});
