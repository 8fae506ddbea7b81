// The Consul client against a scripted HTTP server: consistency mode on reads only, refusals (429,
// a connection reset before any answer) retried with backoff and counted, the socket budget held.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import t, { type Test } from 'tap';
import { ConsulClient } from '../../src/sources/consul/client.js';

async function scripted(t: Tap, answer: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const urls: string[] = [];
  const sockets = new Set<Socket>();
  let peak = 0;
  const server = createServer((req, res) => {
    urls.push(`${req.method} ${req.url}`);
    answer(req, res, urls.length);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    peak = Math.max(peak, sockets.size);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => server.close(r)));
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, urls, peak: () => peak };
}
type Tap = Test;

const ok = (res: ServerResponse, body: unknown = []) => {
  res.setHeader('X-Consul-Index', '7');
  res.end(JSON.stringify(body));
};
const client = (t: Tap, url: string, extra: Partial<ConstructorParameters<typeof ConsulClient>[0]> = {}) => {
  const c = new ConsulClient({ address: url, token: () => '', refusalBackoff: { baseMs: 1, maxMs: 5 }, ...extra });
  t.teardown(() => c.close());
  return c;
};

t.test('consul.consistency: ?stale or ?consistent on every read, never on a write', async (t) => {
  for (const mode of ['default', 'stale', 'consistent'] as const) {
    const s = await scripted(t, (req, res) => (req.method === 'PUT' ? res.end('true') : ok(res)));
    const c = client(t, s.url, { consistency: mode });
    await c.healthService('web', 0, 0);
    await c.catalogServices(12, 1000);
    await c.kvSetCas('paas-router/domains/web', 'x.example', 0);
    const [health, catalog, put] = s.urls;
    if (mode === 'default') t.notMatch(health, /stale|consistent/);
    else t.match(health, new RegExp(`[?&]${mode}(=|&|$)`), `${mode}: ${health}`);
    t.match(catalog, /index=12/);
    t.notMatch(put, /stale|consistent/, 'writes carry no consistency mode');
  }
});

t.test('429 and connections reset before an answer are retried with backoff and counted; the read succeeds', async (t) => {
  const s = await scripted(t, (req, res, n) => {
    if (n === 1) {
      res.statusCode = 429;
      return res.end('Your IP is issuing too many concurrent connections, please rate limit your calls');
    }
    if (n === 2) return req.socket.resetAndDestroy();
    ok(res, { web: [] });
  });
  const c = client(t, s.url);
  let seen = 0;
  c.onRefused = () => seen++;
  const r = await c.catalogServices(0, 0);
  t.same(r.data, { web: [] });
  t.equal(c.traffic.refused, 2);
  t.equal(seen, 2);
  t.equal(c.traffic.requests, 3);
});

t.test('a Consul that keeps refusing: a clear error after the retries, never an empty answer', async (t) => {
  const s = await scripted(t, (_req, res) => {
    res.statusCode = 429;
    res.end('too many');
  });
  const c = client(t, s.url, { refusalAttempts: 3 });
  await t.rejects(c.healthService('web', 0, 0), {
    code: 'CONSUL_UNAVAILABLE',
    message: /health of service "web": Consul .* kept refusing the connection \(Consul answered 429/,
  });
  t.equal(c.traffic.refused, 3);
});

t.test('never more sockets than maxConnections, however many reads are asked for at once', async (t) => {
  const s = await scripted(t, (_req, res) => setTimeout(() => ok(res), 20));
  const c = client(t, s.url, { maxConnections: 8 });
  const blocking = Array.from({ length: 6 }, () => c.catalogServices(3, 1000));
  const reads = Array.from({ length: 100 }, (_, i) => c.healthService(`s${i}`, 0, 0));
  await Promise.all([...blocking, ...reads]);
  t.ok(s.peak() <= 8, `server saw at most ${s.peak()} connections`);
  t.ok(c.traffic.maxConnectionsHeld <= 8);
  t.equal(s.urls.length, 106);
});

t.test('bad answers are errors that name what was read', async (t) => {
  const s = await scripted(t, (req, res) => {
    if (req.url!.includes('nohdr')) return res.end('[]');
    res.setHeader('X-Consul-Index', '3');
    res.end('<html>proxy error</html>');
  });
  const c = client(t, s.url);
  await t.rejects(c.healthService('web', 0, 0), { code: 'CONSUL_BAD_RESPONSE', message: /health of service "web".*not valid JSON/ });
  await t.rejects(c.healthService('nohdr', 0, 0), { code: 'CONSUL_BAD_RESPONSE', message: /without an X-Consul-Index/ });
});

t.test('untilAnswering: after a 5xx, resolves once a probe started after it gets an answer; other errors get no probe', async (t) => {
  let leader = false;
  const s = await scripted(t, (req, res) => {
    if (req.url?.startsWith('/v1/catalog/service/consul')) {
      res.statusCode = leader ? 200 : 500;
      return leader ? ok(res, []) : res.end('No cluster leader');
    }
    if (req.url?.startsWith('/v1/kv/garbage')) {
      res.setHeader('X-Consul-Index', '7');
      return res.end('<html>');
    }
    res.statusCode = 500;
    res.end('rpc error making call: No cluster leader');
  });
  const c = client(t, s.url);
  const failure = await c.catalogServices(0, 0).catch((e: unknown) => e);
  const signal = new AbortController().signal;
  const waiting = c.untilAnswering(failure, signal);
  t.ok(waiting, 'a 500 is an outage: probed');
  let resolved = false;
  void waiting!.then(() => (resolved = true));
  const probes = () => s.urls.filter((u) => u.includes('catalog/service/consul')).length;
  while (probes() < 2) await new Promise((r) => setTimeout(r, 20));
  t.notOk(resolved, 'not while the probes get 500');
  leader = true;
  await waiting;
  t.pass('resolved once a probe was answered');
  const garbage = await c.kvGet('garbage').catch((e: unknown) => e);
  t.equal(c.untilAnswering(garbage, signal), undefined, 'a body that does not parse is no outage: no probe');
  const aborted = new AbortController();
  const more = c.untilAnswering(await c.catalogServices(0, 0).catch((e: unknown) => e), aborted.signal)!;
  aborted.abort();
  await t.rejects(more, 'a waiter whose sleep ended is dropped');
});
