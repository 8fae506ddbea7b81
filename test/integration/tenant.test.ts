// The third-wave tenant features end to end (issue 22, docs/features.md): Marathon-style tags →
// the real Consul agent → daemon → real HAProxy, with real clients. The apps are small servers of
// this test (registered the way mesos-consul registers tasks), so each assertion is about what a
// client and an app really exchange.
import { gunzipSync, gzipSync } from 'node:zlib';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { showProc } from '../../src/apply/reload.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually, freePort } from '../helpers/net.js';
import { openWebSocket, startWebSocketEcho } from './websocket.js';
import { header, rawRequest } from './edge-client.js';

const host = (app: string) => `${app}.production.mozilla.community`;

/** A loopback server of this test, closed at teardown. */
async function serve(
  t: { teardown(fn: () => unknown): void },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, server };
}

/** Registers one task of Marathon app `id` on `port`, as mesos-consul does. */
async function deploy(cluster: TestCluster, id: string, port: number, tags: string[], agent = 'tenant-agent'): Promise<void> {
  await registerMesosTask(cluster.consul.url, { app: id, agent, ip: '127.0.0.1', port, tags });
}

async function routed(cluster: TestCluster, app: string, path = '/'): Promise<void> {
  await eventually(`${app} routed`, async () => (await rawRequest({ port: cluster.httpPort, path, headers: [['host', host(app)]] })).status === 200, 20_000);
}

const reloads = async (cluster: TestCluster) => (await showProc(cluster.config.haproxy.masterSocket)).master.reloads;

const PAGE = `<!doctype html><title>compress</title>${'<p>A community site, served from the router. '.repeat(200)}`;

t.test('third-wave tenant features through a real HAProxy', async (t) => {
  // Dev Vault for the certificates of *.production.mozilla.community (wss://); Consul without ACLs,
  // so the test registers its own apps as mesos-consul would.
  const cluster = await startTestCluster(t, { apps: [], httpsPort: await freePort(), vault: { consulAcl: false } });
  const httpsPort = cluster.config.haproxy.httpsPort;

  await t.test('router.compress: negotiated, never doubled, only for text', async (t) => {
    // The app sends text uncompressed, except /already (it compressed it itself) and /logo.png.
    const app = await serve(t, (req, res) => {
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

  await t.test('a tag change reloads once, validated', async (t) => {
    await cluster.daemon.runner.settled();
    const before = await reloads(cluster);
    const app = await serve(t, (_req, res) => {
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
