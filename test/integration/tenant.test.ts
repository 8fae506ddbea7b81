// The third-wave tenant features end to end (issue 22, docs/features.md): Marathon-style tags →
// the real Consul agent → daemon → real HAProxy, with real clients. The apps are small servers of
// this test (registered the way mesos-consul registers tasks), so each assertion is about what a
// client and an app really exchange.
import { gunzipSync, gzipSync } from 'node:zlib';
import { connect as connectH2, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { showProc } from '../../src/apply/reload.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually, freePort } from '../helpers/net.js';
import { openWebSocket, startWebSocketEcho } from './websocket.js';
import { h2Request, header, rawRequest } from './edge-client.js';
import { serveApp } from '../helpers/http-app.js';

const host = (app: string) => `${app}.production.mozilla.community`;

/** A loopback server of this test, closed at teardown. */
/** Registers one task of Marathon app `id` on `port`, as mesos-consul does. */
async function deploy(cluster: TestCluster, id: string, port: number, tags: string[], agent = 'tenant-agent'): Promise<void> {
  await registerMesosTask(cluster.consul.url, { app: id, agent, ip: '127.0.0.1', port, tags });
}

async function routed(cluster: TestCluster, app: string, path = '/'): Promise<void> {
  await eventually(`${app} routed`, async () => (await rawRequest({ port: cluster.httpPort, path, headers: [['host', host(app)]] })).status === 200, 20_000);
}

const reloads = async (cluster: TestCluster) => (await showProc(cluster.config.haproxy.masterSocket)).master.reloads;

/** A cleartext HTTP/2 server (prior knowledge, as `proto h2` speaks): /health, /echo, and a gRPC-style unary call. */
async function serveH2(t: { teardown(fn: () => unknown): void }, label: string): Promise<{ port: number; checks(): number }> {
  let checks = 0;
  const server = createH2Server((req, res) => {
    if (req.url === '/health') {
      checks++;
      res.writeHead(200).end('ok');
    } else if (req.headers['content-type'] === 'application/grpc') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const message = Buffer.from(`${label}: hello ${Buffer.concat(chunks).subarray(5).toString()}`);
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(message.length, 1);
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' });
        res.end(Buffer.concat([prefix, message]));
      });
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          label,
          httpVersion: req.httpVersion,
          authority: req.headers[':authority'] ?? req.headers.host,
          proto: req.headers['x-forwarded-proto'],
        }),
      );
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, checks: () => checks };
}

/** A unary gRPC-style call over TLS (ALPN h2): one length-prefixed message, `te: trailers`; resolves with headers, body and trailers. */
function grpcCall(
  port: number,
  authority: string,
  message: Buffer,
): Promise<{ alpn: string | false | undefined; status: number; headers: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const session = connectH2(`https://127.0.0.1:${port}`, { servername: authority, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    session.on('error', reject);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/helloworld.Greeter/SayHello',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (h) => (trailers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ alpn, status: Number(headers[':status']), headers, body: Buffer.concat(chunks), trailers });
    });
    stream.end(Buffer.concat([prefix, message]));
  });
}

const PAGE = `<!doctype html><title>compress</title>${'<p>A community site, served from the router. '.repeat(200)}`;

t.test('third-wave tenant features through a real HAProxy', async (t) => {
  // Dev Vault for the certificates of *.production.mozilla.community (wss://); Consul without ACLs,
  // so the test registers its own apps as mesos-consul would.
  const cluster = await startTestCluster(t, { apps: [], httpsPort: await freePort(), vault: { consulAcl: false } });
  const httpsPort = cluster.config.haproxy.httpsPort;

  await t.test('router.compress: negotiated, never doubled, only for text', async (t) => {
    // The app sends text uncompressed, except /already (it compressed it itself) and /logo.png.
    const app = await serveApp(t, (req, res) => {
      const seen = req.headers['accept-encoding'] ?? '';
      if (req.url === '/already') {
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'x-seen-accept-encoding': seen });
        res.end(gzipSync(PAGE));
      } else if (req.url === '/logo.png') {
        res.writeHead(200, { 'content-type': 'image/png', 'x-seen-accept-encoding': seen });
        res.end(Buffer.alloc(4096, 7));
      } else if (req.url === '/data.json') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ i, text: 'community' })) }));
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-seen-accept-encoding': seen });
        res.end(PAGE);
      }
    });
    await deploy(cluster, '/zip', app.port, ['router.compress=true']);
    await deploy(cluster, '/nozip', app.port, []);
    await routed(cluster, 'zip');
    await routed(cluster, 'nozip');
    const get = (app: string, path: string, ae?: string) =>
      rawRequest({ port: cluster.httpPort, path, headers: [['host', host(app)], ...(ae ? [['accept-encoding', ae] as [string, string]] : [])] });
    const bytes = (body: string) => Buffer.from(body, 'latin1');

    const gz = await get('zip', '/', 'gzip, deflate, br');
    t.equal(gz.status, 200);
    t.same(header(gz, 'content-encoding'), ['gzip'], 'gzip for a client that accepts it');
    t.match(header(gz, 'vary').join(','), /accept-encoding/i, 'Vary: Accept-Encoding for caches');
    t.equal(gunzipSync(bytes(gz.body)).toString(), PAGE, 'the page, compressed once');
    t.ok(gz.body.length < PAGE.length / 4, `smaller on the wire (${gz.body.length} of ${PAGE.length} bytes)`);
    t.same(header(gz, 'x-seen-accept-encoding'), ['gzip, deflate, br'], 'the app still sees the Accept-Encoding (no offload)');

    const json = await get('zip', '/data.json', 'gzip');
    t.same(header(json, 'content-encoding'), ['gzip'], 'application/json with a charset parameter is compressed');
    t.equal(JSON.parse(gunzipSync(bytes(json.body)).toString()).items.length, 300);

    const plain = await get('zip', '/');
    t.same(header(plain, 'content-encoding'), [], 'no Accept-Encoding: sent as is');
    t.equal(plain.body, PAGE);
    const identity = await get('zip', '/', 'identity');
    t.same(header(identity, 'content-encoding'), [], 'Accept-Encoding without gzip: sent as is');

    const already = await get('zip', '/already', 'gzip');
    t.same(header(already, 'content-encoding'), ['gzip'], 'one Content-Encoding: the app’s own');
    t.equal(gunzipSync(bytes(already.body)).toString(), PAGE, 'one gunzip gives the page: never compressed twice');

    const png = await get('zip', '/logo.png', 'gzip');
    t.same(header(png, 'content-encoding'), [], 'an image is not a text type: not compressed');
    t.equal(png.body.length, 4096);

    const off = await get('nozip', '/', 'gzip');
    t.same(header(off, 'content-encoding'), [], 'an app without router.compress is never compressed');
    t.equal(off.body, PAGE);
  });

  await t.test('WebSockets through HTTP and HTTPS; router.timeout-tunnel bounds an idle tunnel', async (t) => {
    const echo = await startWebSocketEcho('chat');
    t.teardown(() => echo.close());
    // Two apps on the same server: one with a short tunnel timeout, one with the default (1h).
    await deploy(cluster, '/chat', echo.port, ['router.timeout-tunnel=3s']);
    await deploy(cluster, '/forum', echo.port, []);
    await routed(cluster, 'chat');
    await routed(cluster, 'forum');
    await eventually(
      'HTTPS up',
      async () => {
        try {
          const ws = await openWebSocket({ port: httpsPort, host: host('forum'), servername: host('forum') });
          ws.close();
          return true;
        } catch {
          return false;
        }
      },
      20_000,
    );

    for (const [scheme, servername] of [
      ['ws', undefined],
      ['wss', host('forum')],
    ] as const) {
      const ws = await openWebSocket({ port: scheme === 'ws' ? cluster.httpPort : httpsPort, host: host('forum'), ...(servername ? { servername } : {}) });
      t.equal(ws.status, 101, `${scheme}: 101 Switching Protocols`);
      t.equal(ws.headers.upgrade?.toLowerCase(), 'websocket');
      ws.send('hello');
      t.equal(await ws.next(), 'chat: hello', `${scheme}: a frame echoed through HAProxy`);
      ws.send('x'.repeat(1000));
      t.equal(await ws.next(), `chat: ${'x'.repeat(1000)}`, `${scheme}: a larger frame too`);
      ws.close();
    }
    const seen = echo.upgrades.at(-1)!;
    t.equal(seen.headers['x-forwarded-proto'], 'https', 'the app sees the upgrade came over HTTPS');

    // The idle tunnel of the app with router.timeout-tunnel=3s is closed by HAProxy; the other stays open.
    const short = await openWebSocket({ port: cluster.httpPort, host: host('chat') });
    const long = await openWebSocket({ port: cluster.httpPort, host: host('forum') });
    short.send('ping');
    t.equal(await short.next(), 'chat: ping');
    const idle = await short.closed;
    t.ok(idle >= 2_500, `closed by HAProxy after ${Math.round(idle)} ms idle (timeout tunnel 3s)`);
    t.ok(long.isOpen(), 'the app without the tag keeps its tunnel (defaults: 1h)');
    long.send('still there');
    t.equal(await long.next(), 'chat: still there');
    long.close();
  });

  await t.test('router.proto=h2: HTTP/2 to the servers, gRPC-style over TLS at the edge', async (t) => {
    const reports: { status: string; reloadReason?: string }[] = [];
    const onApplied = (r: { status: string; reloadReason?: string }) => reports.push(r);
    cluster.daemon.runner.on('applied', onApplied);
    t.teardown(() => cluster.daemon.runner.off('applied', onApplied));
    const first = await serveH2(t, 'greeter #1');
    await deploy(cluster, '/greeter', first.port, ['router.proto=h2', 'router.healthcheck=/health'], 'agent-1');
    // Routed only once HAProxy's own health check (over HTTP/2 too) has passed.
    await routed(cluster, 'greeter', '/echo');
    // HAProxy's new worker serves before the daemon has confirmed the reload: wait for the report.
    await cluster.daemon.runner.settled();
    t.ok(
      reports.some(
        (r) =>
          r.status === 'reloaded' &&
          /app greeter was added with servers speaking h2, and spare backends are rendered for HTTP\/1\.1/.test(r.reloadReason ?? ''),
      ),
      `a new h2 app never takes a spare rendered for HTTP/1.1: it reloads (${JSON.stringify(reports)})`,
    );
    t.ok(first.checks() > 0, 'the health check reached the app over HTTP/2');

    const viaH1 = await rawRequest({ port: cluster.httpPort, path: '/echo', headers: [['host', host('greeter')]] });
    t.equal(viaH1.status, 200);
    t.match(JSON.parse(viaH1.body), { httpVersion: '2.0', authority: host('greeter'), proto: 'http' }, 'an HTTP/1.1 client: the app is spoken to in HTTP/2');

    const call = await grpcCall(httpsPort, host('greeter'), Buffer.from('world'));
    t.equal(call.alpn, 'h2', 'the client negotiated h2 at the edge');
    t.equal(call.status, 200);
    t.equal(call.headers['content-type'], 'application/grpc');
    t.equal(call.body.subarray(5).toString(), 'greeter #1: hello world', 'the message came back in its gRPC frame');
    t.match(call.trailers, { 'grpc-status': '0', 'grpc-message': 'OK' }, 'trailers pass through (gRPC status)');

    // A second instance joins at runtime (`add server ... proto h2`), no reload.
    await cluster.daemon.runner.settled();
    const before = await reloads(cluster);
    const second = await serveH2(t, 'greeter #2');
    await deploy(cluster, '/greeter', second.port, ['router.proto=h2', 'router.healthcheck=/health'], 'agent-2');
    await eventually(
      'greeter #2 answers',
      async () => (await grpcCall(httpsPort, host('greeter'), Buffer.from('again'))).body.subarray(5).toString() === 'greeter #2: hello again',
      20_000,
    );
    await cluster.daemon.runner.settled();
    t.equal(await reloads(cluster), before, 'the new h2 server was added through the runtime API');
  });

  await t.test('router.canary by header and by cookie beside the group weights', async (t) => {
    const label = (name: string) =>
      serveApp(t, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-app': name });
        res.end(`${name}\n`);
      });
    const [blue, green, red] = await Promise.all([label('blue'), label('green'), label('red')]);
    await deploy(cluster, '/shop-blue', blue.port, ['router.group=shop'], 'agent-b');
    await routed(cluster, 'shop');
    // The owner (shop-blue) admits the others with weight 0: no share of the traffic, only their canaries.
    await fetch(`${cluster.consul.url}/v1/kv/paas-router/weights/shop`, { method: 'PUT', body: 'shop-blue=100 shop-green=0 shop-red=0' });
    await deploy(cluster, '/shop-green', green.port, ['router.group=shop', 'router.canary=header:X-Canary=green'], 'agent-g');
    await deploy(cluster, '/shop-red', red.port, ['router.group=shop', 'router.canary=cookie:shop_track=red'], 'agent-r');
    const who = async (headers: [string, string][] = []) => {
      const r = await rawRequest({ port: cluster.httpPort, path: '/', headers: [['host', host('shop')], ...headers] });
      return header(r, 'x-app')[0];
    };
    await eventually('green canary routed', async () => (await who([['x-canary', 'green']])) === 'green', 20_000);
    await eventually('red canary routed', async () => (await who([['cookie', 'a=1; shop_track=red']])) === 'red', 20_000);
    await cluster.daemon.runner.settled();

    const plain = await Promise.all(Array.from({ length: 8 }, () => who()));
    t.same(new Set(plain), new Set(['blue']), 'without the header or cookie: the weights (blue 100, the canaries 0)');
    t.equal(await who([['X-Canary', 'green']]), 'green', 'the header (any case) goes to its member, whatever its weight');
    t.equal(await who([['x-canary', 'red']]), 'blue', 'another value of the header: the weights');
    t.equal(await who([['cookie', 'shop_track=red']]), 'red', 'the cookie goes to its member');
    t.equal(await who([['cookie', 'shop_track=green']]), 'blue', 'another value of the cookie: the weights');
    const overTls = await h2Request(httpsPort, host('shop'), host('shop'), '/', { 'x-canary': 'green' });
    t.equal(overTls.headers['x-app'], 'green', 'HTTP/2 over TLS too');

    // The weights still change at runtime while the canaries are in place.
    const before = await reloads(cluster);
    await fetch(`${cluster.consul.url}/v1/kv/paas-router/weights/shop`, { method: 'PUT', body: 'shop-blue=0 shop-green=100 shop-red=0' });
    await eventually('the weights moved to green', async () => (await Promise.all(Array.from({ length: 4 }, () => who()))).every((a) => a === 'green'), 20_000);
    t.equal(await who([['cookie', 'shop_track=red']]), 'red', 'the cookie canary is untouched by the weights');
    await cluster.daemon.runner.settled();
    t.equal(await reloads(cluster), before, 'weights: runtime, no reload');

    // A canary member without a usable server: its requests follow the weights instead of a 503.
    await registerMesosTask(cluster.consul.url, {
      app: '/shop-red',
      agent: 'agent-r',
      ip: '127.0.0.1',
      port: red.port,
      tags: ['router.group=shop', 'router.canary=cookie:shop_track=red'],
      status: 'critical',
    });
    await eventually('red drained', async () => (await who([['cookie', 'shop_track=red']])) === 'green', 20_000);
    t.pass('the red canary falls back to the group while it has no passing instance');
    await cluster.daemon.runner.settled();
    t.equal(await reloads(cluster), before, "the canary member's instance was disabled in both backends at runtime");
  });

  await t.test('a tag change reloads once, validated', async (t) => {
    await cluster.daemon.runner.settled();
    const before = await reloads(cluster);
    const app = await serveApp(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(PAGE);
    });
    await deploy(cluster, '/late', app.port, []);
    await routed(cluster, 'late');
    await cluster.daemon.runner.settled();
    const added = await reloads(cluster);
    // Re-registering the task with the tag (a Marathon redeploy with a new label).
    await deploy(cluster, '/late', app.port, ['router.compress']);
    await eventually(
      'late compressed',
      async () =>
        header(
          await rawRequest({
            port: cluster.httpPort,
            path: '/',
            headers: [
              ['host', host('late')],
              ['accept-encoding', 'gzip'],
            ],
          }),
          'content-encoding',
        )[0] === 'gzip',
      20_000,
    );
    await cluster.daemon.runner.settled();
    t.equal((await reloads(cluster)) - added, 1, 'router.compress turned on: one reload');
    t.ok(added >= before, 'the new app itself went live (from a spare or by a reload)');
  });
});
