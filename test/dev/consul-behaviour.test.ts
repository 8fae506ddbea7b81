// The Consul behaviours the router (and the ACME lock, issue 13) relies on, pinned against the real
// agent (consul 1.8.7) and, with the same assertions, against the dev stand-in: a behaviour the
// stand-in fakes is checked here against the real one. Differences the stand-in keeps on purpose are
// listed in dev/consul/README.md.
import { request, Agent } from 'node:http';
import t, { type Test } from 'tap';
import { startDevConsul } from '../../dev/consul/server.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { serverHasRead } from '../helpers/sockets.js';

type Start = (t: Test, opts: { maxConnsPerClient?: number }) => Promise<{ url: string }>;

const backends: { name: string; skip: string | false; start: Start }[] = [
  { name: 'real agent', skip: consulAgentSkip(), start: (t, opts) => startTestConsulAgent(t, opts) },
  {
    name: 'dev stand-in',
    skip: false,
    start: async (t, opts) => {
      const consul = await startDevConsul(opts);
      t.teardown(() => consul.close());
      return consul;
    },
  },
];

interface Answer {
  status: number;
  index: number;
  body: string;
  json<T = unknown>(): T;
}

async function call(url: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> {
  const res = await fetch(url + path, {
    method: init.method ?? 'GET',
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const body = await res.text();
  return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? Number.NaN), body, json: () => JSON.parse(body) };
}

const register = (url: string, service: string, id: string, status = 'passing') =>
  call(url, '/v1/catalog/register', {
    method: 'PUT',
    body: {
      Node: 'n1',
      Address: '127.0.0.1',
      Service: { ID: id, Service: service, Port: 1 },
      Check: { CheckID: `service:${id}`, ServiceID: id, Name: 'c', Status: status },
    },
  });

for (const backend of backends) {
  t.test(backend.name, { skip: backend.skip }, async (t) => {
    const { url } = await backend.start(t, {});

    t.test('blocking K/V read: returns on a change with a higher index, or at the end of the wait with the same one', async (t) => {
      t.equal((await call(url, '/v1/kv/pin/a', { method: 'PUT', body: 'one' })).body.trim(), 'true');
      const first = await call(url, '/v1/kv/pin/a');
      t.equal(first.status, 200);
      t.ok(first.index >= 1);
      const timedOut = await call(url, `/v1/kv/pin/a?index=${first.index}&wait=50ms`);
      t.equal(timedOut.status, 200, 'a wait that ends is a normal answer');
      t.equal(timedOut.index, first.index, 'with the same index');
      const blocked = call(url, `/v1/kv/pin/a?index=${first.index}&wait=30s`);
      await call(url, '/v1/kv/pin/a', { method: 'PUT', body: 'two' });
      const woken = await blocked;
      t.ok(woken.index > first.index, 'the index moved past the one asked for');
      t.equal(Buffer.from(woken.json<{ Value: string }[]>()[0]!.Value, 'base64').toString(), 'two');
    });

    t.test('empty K/V prefix: 404 with an X-Consul-Index, and a blocked read of it is not woken by writes elsewhere', async (t) => {
      const missing = await call(url, '/v1/kv/pin-empty/?recurse');
      t.equal(missing.status, 404);
      t.equal(missing.body, '');
      t.ok(missing.index >= 1, `X-Consul-Index ${missing.index}`);
      const blocked = call(url, `/v1/kv/pin-empty/?recurse&index=${missing.index}&wait=300ms`);
      await call(url, '/v1/kv/pin-other', { method: 'PUT', body: 'x' });
      const still = await blocked;
      t.equal(still.status, 404, 'still not found at the end of its wait');
    });

    t.test('health/service/<name> has its own index: a write to another service does not move it; a check change does', async (t) => {
      await register(url, 'pin-a', 'pin-a-1');
      await register(url, 'pin-b', 'pin-b-1');
      const a = await call(url, '/v1/health/service/pin-a');
      t.equal(a.json<unknown[]>().length, 1);
      await register(url, 'pin-b', 'pin-b-2');
      t.equal((await call(url, '/v1/health/service/pin-a')).index, a.index, "pin-b's new instance leaves pin-a's index alone");
      const blocked = call(url, `/v1/health/service/pin-a?index=${a.index}&wait=30s`);
      await register(url, 'pin-a', 'pin-a-1', 'critical');
      const woken = await blocked;
      t.ok(woken.index > a.index);
      t.equal(woken.json<{ Checks: { Status: string }[] }[]>()[0]!.Checks.find((c) => c.Status !== 'passing')?.Status, 'critical');
      const unknown = await call(url, '/v1/health/service/pin-never-registered');
      t.equal(unknown.status, 200, 'an unknown service is an empty list, not a 404');
      t.same(unknown.json(), []);
    });

    t.test('catalog/services: a new instance of a known service moves its index; the body lists names and tags', async (t) => {
      await register(url, 'pin-c', 'pin-c-1');
      const before = await call(url, '/v1/catalog/services');
      t.same(before.json<Record<string, string[]>>()['pin-c'], []);
      await register(url, 'pin-c', 'pin-c-2');
      const after = await call(url, '/v1/catalog/services');
      t.ok(after.index > before.index, 'an instance registration moves the catalog index');
      t.same(after.json(), before.json(), 'with the same body');
    });

    t.test('health/state/critical and ui/services: what the change detectors read', async (t) => {
      await register(url, 'pin-d', 'pin-d-1');
      await register(url, 'pin-d', 'pin-d-2');
      const critical = await call(url, '/v1/health/state/critical');
      t.notOk(critical.json<{ ServiceName: string }[]>().some((c) => c.ServiceName === 'pin-d'));
      const blocked = call(url, `/v1/health/state/critical?index=${critical.index}&wait=30s`);
      await register(url, 'pin-d', 'pin-d-2', 'critical');
      const woken = await blocked;
      t.ok(woken.index > critical.index, 'a check going critical wakes the critical list');
      const entry = woken.json<{ ServiceName: string }[]>().filter((c) => c.ServiceName === 'pin-d');
      t.match(entry, [{ ServiceName: 'pin-d', ServiceID: 'pin-d-2', CheckID: 'service:pin-d-2', Status: 'critical', Node: 'n1' }]);
      const catalog = await call(url, '/v1/catalog/services');
      const summaries = await call(url, '/v1/internal/ui/services');
      t.ok(summaries.index >= catalog.index, 'ui/services moves at least with the catalog');
      t.match(
        summaries.json<unknown[]>().find((s) => (s as { Name: string }).Name === 'pin-d'),
        { Name: 'pin-d', InstanceCount: 2, ChecksPassing: 1, ChecksWarning: 0, ChecksCritical: 1 },
      );
      const passingAgain = call(url, `/v1/health/state/critical?index=${woken.index}&wait=30s`);
      await register(url, 'pin-d', 'pin-d-2');
      t.notOk(
        (await passingAgain).json<{ ServiceName: string }[]>().some((c) => c.ServiceName === 'pin-d'),
        'and back',
      );
      // Node checks count in the summary as /v1/health/service lists them: per instance.
      await call(url, '/v1/catalog/register', {
        method: 'PUT',
        body: { Node: 'n2', Address: '127.0.0.1', Check: { CheckID: 'serfHealth', Name: 'serf', Status: 'passing' } },
      });
      await call(url, '/v1/catalog/register', {
        method: 'PUT',
        body: {
          Node: 'n2',
          Address: '127.0.0.1',
          Service: { ID: 'pin-e-1', Service: 'pin-e', Port: 1 },
          Check: { CheckID: 'service:pin-e-1', ServiceID: 'pin-e-1', Name: 'c', Status: 'passing' },
        },
      });
      const e = (await call(url, '/v1/internal/ui/services')).json<{ Name: string }[]>().find((s) => s.Name === 'pin-e');
      t.match(e, { InstanceCount: 1, ChecksPassing: 2 }, 'the node check counts');
      t.same(
        (await call(url, '/v1/health/service/pin-e')).json<{ Checks: { CheckID: string }[] }[]>()[0]!.Checks.map((c) => c.CheckID),
        ['serfHealth', 'service:pin-e-1'],
      );
      const before = await call(url, '/v1/catalog/services');
      await register(url, 'pin-d', 'pin-d-2', 'warning');
      t.equal((await call(url, '/v1/catalog/services')).index, before.index, 'a check change does not move the catalog index');
    });

    t.test('sessions: TTL, renew, acquire/release, Behavior release/delete, lock-delay', async (t) => {
      const create = async (body: Record<string, unknown>) => {
        const r = await call(url, '/v1/session/create', { method: 'PUT', body });
        t.equal(r.status, 200, r.body);
        return r.json<{ ID: string }>().ID;
      };
      const s1 = await create({ Name: 'acme-lock', TTL: '15s', Behavior: 'release', LockDelay: '0s' });
      const s2 = await create({ Name: 'acme-lock', TTL: '15s', LockDelay: '0s' });
      t.match(s1, /^[0-9a-f-]{36}$/);
      const renewed = await call(url, `/v1/session/renew/${s1}`, { method: 'PUT' });
      t.equal(renewed.status, 200);
      t.match(renewed.json(), [{ ID: s1, TTL: '15s', Behavior: 'release' }]);
      const info = await call(url, `/v1/session/info/${s1}`);
      t.match(info.json(), [{ ID: s1, Name: 'acme-lock', LockDelay: 0 }]);
      t.ok(info.index >= 1);

      const put = (path: string, body = 'holder') => call(url, path, { method: 'PUT', body }).then((r) => r.body.trim());
      t.equal(await put(`/v1/kv/pin/lock?acquire=${s1}`, 'router-1'), 'true', 's1 acquires');
      t.equal(await put(`/v1/kv/pin/lock?acquire=${s1}`, 'router-1'), 'true', 'acquiring again with the holding session is fine');
      t.equal(await put(`/v1/kv/pin/lock?acquire=${s2}`, 'router-2'), 'false', 's2 cannot while s1 holds it');
      let entry = (await call(url, '/v1/kv/pin/lock')).json<{ Session?: string; LockIndex: number; Value: string }[]>()[0]!;
      t.equal(entry.Session, s1);
      t.equal(entry.LockIndex, 1);
      t.equal(Buffer.from(entry.Value, 'base64').toString(), 'router-1');
      t.equal(await put(`/v1/kv/pin/lock?release=${s2}`), 'false', 'only the holder releases');
      t.equal(await put(`/v1/kv/pin/lock?release=${s1}`, 'released'), 'true');
      entry = (await call(url, '/v1/kv/pin/lock')).json<(typeof entry)[]>()[0]!;
      t.equal(entry.Session, undefined, 'no holder after release');
      t.equal(Buffer.from(entry.Value, 'base64').toString(), 'released', 'release writes the value too');
      t.equal(await put(`/v1/kv/pin/lock?acquire=${s2}`, 'router-2'), 'true', 's2 acquires once it is free');
      entry = (await call(url, '/v1/kv/pin/lock')).json<(typeof entry)[]>()[0]!;
      t.equal(entry.LockIndex, 2, 'each acquisition by a new holder counts');

      // Behavior release: destroying the session frees the key and keeps it.
      t.equal(await put(`/v1/kv/pin/released?acquire=${s1}`), 'true');
      t.equal((await call(url, `/v1/session/destroy/${s1}`, { method: 'PUT' })).body.trim(), 'true');
      const kept = await call(url, '/v1/kv/pin/released');
      t.equal(kept.status, 200, 'Behavior release keeps the key');
      t.equal(kept.json<{ Session?: string }[]>()[0]!.Session, undefined);
      t.same((await call(url, `/v1/session/info/${s1}`)).json() ?? [], [], 'a destroyed session has no info');
      const gone = await call(url, `/v1/session/renew/${s1}`, { method: 'PUT' });
      t.equal(gone.status, 404, 'renewing a destroyed session: 404');
      const stale = await call(url, `/v1/kv/pin/lock2?acquire=${s1}`, { method: 'PUT', body: 'x' });
      t.equal(stale.status, 500, 'acquiring with a destroyed session is an error');
      t.match(stale.body, `invalid session "${s1}"`);

      // Behavior delete: destroying the session deletes the key it held.
      const s3 = await create({ TTL: '15s', Behavior: 'delete', LockDelay: '0s' });
      t.equal(await put(`/v1/kv/pin/deleted?acquire=${s3}`), 'true');
      await call(url, `/v1/session/destroy/${s3}`, { method: 'PUT' });
      t.equal((await call(url, '/v1/kv/pin/deleted')).status, 404, 'Behavior delete removes the key');

      // Lock-delay: after its holder is invalidated, nobody acquires the key for LockDelay.
      const s4 = await create({ TTL: '15s', LockDelay: '1m' });
      const s5 = await create({ TTL: '15s', LockDelay: '0s' });
      t.equal(await put(`/v1/kv/pin/delayed?acquire=${s4}`), 'true');
      await call(url, `/v1/session/destroy/${s4}`, { method: 'PUT' });
      t.equal(await put(`/v1/kv/pin/delayed?acquire=${s5}`), 'false', 'within the lock-delay of the invalidated holder');
      t.equal(await put(`/v1/kv/pin/other?acquire=${s5}`), 'true', 'another key is not delayed');

      const bad = await call(url, '/v1/session/create', { method: 'PUT', body: { TTL: '1s' } });
      t.equal(bad.status, 500, 'a TTL below 10s is refused');
      t.match(bad.body, /Invalid Session TTL/);
    });
  });
}

for (const backend of backends) {
  t.test(
    `${backend.name}: past limits.http_max_conns_per_client a new connection is reset; freeing one lets the next in`,
    { skip: backend.skip },
    async (t) => {
      const { url } = await backend.start(t, { maxConnsPerClient: 4 });
      // Nothing but this agent's sockets talk to the server here (fetch keeps a pool of its own).
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      t.teardown(() => agent.destroy());
      const first = await rawGet(url, '/v1/kv/pin-limit', agent);
      t.equal(first.status, 404);
      const index = first.index;
      // Four blocking reads hold the four allowed connections (until their short wait ends). The
      // fifth goes out once the server has read all four requests: then it has accepted and counted
      // each connection (a fixed pause lost that race under CPU pressure).
      const ports: number[] = [];
      const held = Array.from({ length: 4 }, () =>
        rawGet(url, `/v1/kv/pin-limit?index=${index}&wait=2s`, agent, (port) => ports.push(port)).then(
          (r) => r.status,
          (err: Error) => err.message,
        ),
      );
      const serverPort = Number(new URL(url).port);
      await eventually('the server has read the four held requests', async () => ports.length === 4 && (await serverHasRead(serverPort, ports)), 20_000);
      const refused = await rawGet(url, '/v1/kv/pin-limit', agent).then(
        (r) => `answered ${r.status}`,
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
      t.match(refused, /^(ECONNRESET|EPIPE)$/, `the fifth connection is cut before any answer (${refused})`);
      t.same(await Promise.all(held), [404, 404, 404, 404], 'the connections within the limit were answered');
      agent.destroy();
      // The server frees a slot when it sees the close: until then a new connection is still cut.
      const fresh = new Agent({ keepAlive: false });
      const after = await eventually('a new connection served once the held ones closed', () =>
        rawGet(url, '/v1/kv/pin-limit', fresh).then(
          (r) => r.status,
          () => undefined,
        ),
      );
      t.equal(after, 404, 'once connections close, new ones are served');
    },
  );
}

/**
 * One GET on `agent` (its own sockets), rejecting on a socket error. `sent(port)`: the request is
 * written, on the connection from that local port.
 */
function rawGet(url: string, path: string, agent: Agent, sent?: (port: number) => void): Promise<{ status: number; body: string; index: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, index: Number(res.headers['x-consul-index']) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (sent) req.on('finish', () => sent(req.socket!.localPort!));
    req.end();
  });
}
