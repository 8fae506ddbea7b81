// The production edge end to end (docs/edge.md): Marathon-style tags and `haproxy.*` keys →
// daemon → real HAProxy, with real HTTP/1.1, HTTP/2 and raw TCP clients. The apps' backends echo
// the request they received (dev/backends.ts `/echo`), so every assertion is about what an app
// really sees.
import { connect } from 'node:net';
import t from 'tap';
import type { MarathonApp } from '../../dev/marathon.js';
import { putCertificate } from '../../dev/vault/router.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { showProc } from '../../src/apply/reload.js';
import { atLeast, readHaproxyVersion } from '../../src/apply/haproxy-version.js';
import { captureLog } from '../vault/helpers.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually, freePort } from '../helpers/net.js';
import { echoed, h2Request, header, proxyV1, proxyV2, rawH2Request, rawRequest } from './edge-client.js';

const PLAIN = 'plain.production.mozilla.community';
const SHOP = 'shop.production.mozilla.community';

function rejectionsOf(cluster: TestCluster, app: string) {
  return (cluster.daemon.runner.state.deployment?.model?.rejections ?? []).filter((r) => r.service === app);
}

t.test('defaults: forwarded headers, HTTP/2, HSTS, 308, cookies, body limit, hosts, tcp ports, stats bind', async (t) => {
  const tcpPort = await freePort();
  const statsPort = await freePort();
  const apps: MarathonApp[] = [
    { id: '/plain', instances: 1, mode: 'http', tags: ['router.sticky', 'router.hsts=600', 'router.max-body=1k'] },
    {
      id: '/shop',
      instances: 1,
      mode: 'http',
      tags: ['router.https-only=true', 'router.sticky', 'router.hsts=31536000', 'router.hsts-subdomains=true', 'router.timeout-connect=2s'],
    },
    { id: '/chat', instances: 1, mode: 'tcp', port: tcpPort, tags: ['router.mode=tcp', `router.port=${tcpPort}`, 'router.timeout-client=1m'] },
    { id: '/rogue', instances: 1, mode: 'tcp', port: 2181, tags: ['router.mode=tcp', 'router.port=2181'] },
    { id: '/sloppy', instances: 1, mode: 'http', tags: ['router.hsts=forever', 'router.max-body=0', 'router.timeout-client=5s', 'router.hsts-subdomains'] },
  ];
  const captured = captureLog('info');
  const cluster = await startTestCluster(t, {
    apps,
    httpsPort: await freePort(),
    domains: { shop: 'www.example.org', plain: 'plain.example.net' },
    vault: true,
    log: captured.log,
    configOverrides: { haproxy: { tcp_ports: [`${tcpPort}-${tcpPort}`], stats_bind_address: '127.0.0.3', stats_port: statsPort } },
  });
  const { httpPort } = cluster;
  const httpsPort = cluster.config.haproxy.httpsPort;
  await eventually('plain routed', async () => (await rawRequest({ port: httpPort, headers: [['host', PLAIN]] })).status === 200, 20_000);
  await eventually('shop over HTTPS', async () => (await h2Request(httpsPort, SHOP, SHOP)).status === 200, 20_000);
  // HAProxy starts from the first written file; the daemon's reload of it is the last start-up step.
  await eventually('the first configuration applied', () => cluster.daemon.runner.state.lastApply?.status !== 'haproxy-unreachable', 20_000);

  await t.test('plain HTTP: forged X-Forwarded-* and Forwarded never reach the app', async (t) => {
    const r = await rawRequest({
      port: httpPort,
      headers: [
        ['host', PLAIN],
        ['x-forwarded-proto', 'https'],
        ['x-forwarded-for', '6.6.6.6'],
        ['forwarded', 'for=6.6.6.6;proto=https'],
        ['x-forwarded-host', 'evil.example'],
        ['x-forwarded-port', '443'],
      ],
    });
    t.equal(r.status, 200);
    const seen = echoed(r);
    t.same(header(seen, 'x-forwarded-proto'), ['http']);
    t.same(header(seen, 'x-forwarded-for'), ['127.0.0.1'], 'only the real client address');
    t.same(header(seen, 'forwarded'), [], 'Forwarded from the client is dropped');
    t.same(header(seen, 'x-forwarded-host'), [PLAIN]);
    t.same(header(seen, 'x-forwarded-port'), [String(httpPort)]);
    t.same(header(r, 'strict-transport-security'), [], 'no HSTS over plain HTTP');
    const cookie = header(r, 'set-cookie').find((c) => c.startsWith('PAASRT='));
    t.match(cookie, /; HttpOnly$/, 'sticky cookie HttpOnly');
    t.notMatch(cookie, /Secure/, 'not Secure over plain HTTP (browsers would drop it)');
  });

  await t.test('HTTPS negotiates h2 for the wildcard default and a per-FQDN crt-list entry', async (t) => {
    for (const host of [SHOP, 'www.example.org']) {
      const r = await h2Request(httpsPort, host, host, '/echo', { 'x-forwarded-proto': 'http', 'x-forwarded-for': '6.6.6.6' });
      t.equal(r.alpn, 'h2', `${host}: ALPN h2`);
      t.equal(r.status, 200);
      const seen = echoed(r);
      t.same(header(seen, 'x-forwarded-proto'), ['https'], `${host}: X-Forwarded-Proto https`);
      t.same(header(seen, 'x-forwarded-for'), ['127.0.0.1'], `${host}: forged X-Forwarded-For dropped`);
      t.same(header(seen, 'x-forwarded-port'), [String(httpsPort)]);
      t.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', `${host}: HSTS`);
      const cookie = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((c) => c.startsWith('PAASRT='));
      t.match(cookie, /; HttpOnly; Secure$/, `${host}: sticky cookie HttpOnly and Secure`);
    }
    const plain = await h2Request(httpsPort, PLAIN, PLAIN);
    t.equal(plain.headers['strict-transport-security'], 'max-age=600', 'HSTS without includeSubDomains');
    // HTTP/2 reuses a connection across hosts one certificate covers: routing follows :authority.
    const other = await h2Request(httpsPort, SHOP, PLAIN);
    t.equal(echoed(other).label, '/plain #1', 'routed on the Host (:authority), not on SNI');
  });

  await t.test('a certificate added at runtime (no reload) negotiates h2 too', async (t) => {
    await cluster.daemon.runner.settled();
    const reloads = (await showProc(cluster.config.haproxy.masterSocket)).master.reloads;
    putCertificate(cluster.vault!.vault, 'plain.example.net', await selfSignedCertificate({ commonName: 'plain.example.net' }));
    const r = await eventually(
      'plain.example.net served with its certificate',
      async () => {
        const answer = await h2Request(httpsPort, 'plain.example.net', 'plain.example.net');
        return answer.subject === 'plain.example.net' ? answer : undefined;
      },
      15_000,
    );
    t.equal(r.alpn, 'h2');
    t.equal(echoed(r).label, '/plain #1');
    await cluster.daemon.runner.settled();
    t.equal((await showProc(cluster.config.haproxy.masterSocket)).master.reloads, reloads, 'HAProxy was not reloaded');
    t.ok(
      captured.lines.some((l) => l.includes('add plain.example.net') && l.includes('through the runtime API')),
      'added through the runtime API',
    );
  });

  await t.test('https-only answers 308 and keeps the method', async (t) => {
    const r = await rawRequest({
      port: httpPort,
      method: 'POST',
      path: '/cart?x=1',
      headers: [
        ['host', SHOP],
        ['content-length', '3'],
      ],
      body: 'a=1',
    });
    t.equal(r.status, 308);
    t.same(header(r, 'location'), [`https://${SHOP}/cart?x=1`]);
  });

  await t.test('router.max-body: 413 past the limit, 411 without a length', async (t) => {
    const post = (body: string, headers: [string, string][]) => rawRequest({ port: httpPort, method: 'POST', headers: [['host', PLAIN], ...headers], body });
    const small = await post('x'.repeat(1024), [['content-length', '1024']]);
    t.equal(small.status, 200, 'at the limit: forwarded');
    t.equal(echoed(small).bodyLength, 1024);
    const big = await post('x'.repeat(1025), [['content-length', '1025']]);
    t.equal(big.status, 413);
    t.equal(big.body, 'Request body too large.\n');
    const chunked = await post('5\r\nhello\r\n0\r\n\r\n', [['transfer-encoding', 'chunked']]);
    t.equal(chunked.status, 411);
  });

  await t.test('host normalisation: trailing dot and case route like the canonical name; IPv6 literal → 404', async (t) => {
    const dotted = await rawRequest({ port: httpPort, headers: [['host', `PLAIN.Production.Mozilla.Community.:${httpPort}`]] });
    t.equal(dotted.status, 200);
    t.equal(echoed(dotted).label, '/plain #1');
    t.same(header(echoed(dotted), 'host'), [`PLAIN.Production.Mozilla.Community:${httpPort}`], 'the app sees the host without the dot');
    const redirect = await rawRequest({ port: httpPort, headers: [['host', `${SHOP}.`]] });
    t.equal(redirect.status, 308, 'the https-only redirect sees the canonical host too');
    for (const host of ['[::1]', `[::1]:${httpPort}`, '[fd00::1]', '127.0.0.1']) {
      const r = await rawRequest({ port: httpPort, headers: [['host', host]] });
      t.equal(r.status, 404, `Host: ${host}`);
    }
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    t.equal((await rawRequest({ port: httpPort, headers: [['host', long]] })).status, 404, '253-character host');
  });

  await t.test('Host poisoning: anything but exactly one valid host gets 400, on h1 and h2, HTTP and HTTPS', async (t) => {
    const BAD = 'Bad Host header: one host name and an optional port.\n';
    // Each is the Host header lines exactly as an attacker sends them.
    const poisoned: [string, [string, string][]][] = [
      ['comma list, evil first', [['host', `evil.attacker.com, ${PLAIN}`]]],
      ['comma list, evil last', [['host', `${PLAIN}, evil.attacker.com`]]],
      ['comma list without space', [['host', `evil.attacker.com,${PLAIN}`]]],
      ['trailing comma', [['host', `${PLAIN},`]]],
      [
        'two Host headers',
        [
          ['host', 'evil.attacker.com'],
          ['host', PLAIN],
        ],
      ],
      [
        'two Host headers, routed one first',
        [
          ['host', PLAIN],
          ['host', 'evil.attacker.com'],
        ],
      ],
      ['space inside', [['host', `evil.attacker.com ${PLAIN}`]]],
      ['tab inside', [['host', `evil.attacker.com\t${PLAIN}`]]],
      ['trailing path', [['host', `${PLAIN}/evil`]]],
      ['userinfo', [['host', `evil.attacker.com@${PLAIN}`]]],
      ['garbage after the port', [['host', `${PLAIN}:${httpPort}x`]]],
      ['quoted', [['host', `"${PLAIN}"`]]],
      ['empty', [['host', '']]],
    ];
    // HAProxy 3.0+ refuses some of these in its own parsers before any rule (measured on 3.0.11 and
    // 3.2.26): over HTTP/1.1 with its own 400 page, over HTTP/2 by resetting the stream. 2.6 lets
    // them reach the router's rule. Either way nothing is routed.
    const parserRefuses = atLeast(await readHaproxyVersion('haproxy'), '3.0');
    const h1ParserRefused = [
      'comma list, evil first',
      'comma list, evil last',
      'comma list without space',
      'trailing comma',
      'space inside',
      'tab inside',
      'trailing path',
      'userinfo',
    ];
    for (const [what, headers] of poisoned) {
      const r = await rawRequest({ port: httpPort, headers });
      t.equal(r.status, 400, `HTTP/1.1: ${what}`);
      if (r.status === 400 && headers.length === 1) {
        if (parserRefuses && h1ParserRefused.includes(what)) t.match(r.body, /<h1>400 Bad request<\/h1>/, `HTTP/1.1: ${what}: HAProxy's parser answers`);
        else t.equal(r.body, BAD, `HTTP/1.1: ${what}: the router's answer`);
      }
      const tls = await rawRequest({ port: httpsPort, servername: PLAIN, headers });
      t.equal(tls.status, 400, `HTTP/1.1 over TLS: ${what}`);
    }
    // HTTP/2 (HPACK fields as sent): a comma list or a bad character in host or :authority.
    const h2 = (fields: [string, string][]) => rawH2Request(httpsPort, PLAIN, [[':method', 'GET'], [':scheme', 'https'], [':path', '/echo'], ...fields]);
    const h2Poisoned: [string, [string, string][]][] = [
      [':authority comma list', [[':authority', `evil.attacker.com, ${PLAIN}`]]],
      ['host comma list', [['host', `evil.attacker.com, ${PLAIN}`]]],
      ['host with a space', [['host', `evil.attacker.com ${PLAIN}`]]],
      ['host with a tab', [['host', `evil.attacker.com\t${PLAIN}`]]],
      [':authority with userinfo', [[':authority', `evil.attacker.com@${PLAIN}`]]],
      ['host with a path', [['host', `${PLAIN}/evil`]]],
    ];
    for (const [what, fields] of h2Poisoned) {
      const r = await h2(fields);
      if (parserRefuses) t.match(r, { status: 0, reset: true }, `HTTP/2: ${what}: HAProxy's parser resets the stream`);
      else t.equal(r.status, 400, `HTTP/2: ${what}`);
    }
    // HTTP/2 keeps one host before any rule runs (:authority, else the first host field): the
    // app sees exactly the host it was routed on.
    for (const fields of [
      [
        [':authority', PLAIN],
        ['host', 'evil.attacker.com'],
      ],
      [
        ['host', PLAIN],
        ['host', 'evil.attacker.com'],
      ],
    ] as [string, string][][]) {
      const r = await h2(fields);
      t.equal(r.status, 200, `HTTP/2 ${JSON.stringify(fields)}: routed`);
      const seen = echoed(r);
      t.equal(seen.label, '/plain #1');
      t.same(header(seen, 'host'), [PLAIN], 'the app sees one host, the routed one');
      t.same(header(seen, 'x-forwarded-host'), [PLAIN]);
    }

    // What stays valid: a port, upper case, the same Host line twice (HAProxy merges it).
    const valid: [string, [string, string][], string][] = [
      ['with port', [['host', `${PLAIN}:${httpPort}`]], `${PLAIN}:${httpPort}`],
      ['upper case', [['host', PLAIN.toUpperCase()]], PLAIN.toUpperCase()],
      [
        'the same line twice',
        [
          ['host', PLAIN],
          ['host', PLAIN],
        ],
        PLAIN,
      ],
    ];
    for (const [what, headers, host] of valid) {
      const r = await rawRequest({ port: httpPort, headers });
      t.equal(r.status, 200, `${what}: routed`);
      const seen = echoed(r);
      t.equal(seen.label, '/plain #1', what);
      t.same(header(seen, 'host'), [host], `${what}: the app sees the one host`);
      t.same(header(seen, 'x-forwarded-host'), [host], `${what}: X-Forwarded-Host likewise`);
    }
    const h2Valid = echoed(await h2([[':authority', PLAIN]]));
    t.same(header(h2Valid, 'host'), [PLAIN], 'HTTP/2 :authority: the app sees it as Host');
    const noHost = await rawRequest({ port: httpPort, version: 'HTTP/1.0', headers: [] });
    t.equal(noHost.status, 404, 'HTTP/1.0 without Host: the default backend, as before');
    t.equal(noHost.body, 'No app is routed at this host.\n');
  });

  await t.test('haproxy.tcp_ports bounds router.port', async (t) => {
    const banner = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = connect(tcpPort, '127.0.0.1');
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data.trim()));
      socket.on('error', reject);
    });
    t.equal(banner, '/chat #1', 'a port inside the range is served');
    const rogue = rejectionsOf(cluster, 'rogue');
    t.match(rogue, [
      { subject: 'router.mode=tcp', reason: `router.mode=tcp needs a valid router.port=<a port in ${tcpPort}>; app not routed` },
      { subject: 'router.port=2181', reason: `router.port: port 2181 is outside haproxy.tcp_ports (${tcpPort}), the ports the load balancer forwards` },
    ]);
    t.notOk(
      cluster.daemon.runner.state.deployment?.model?.apps.some((a) => a.name === 'rogue'),
      'rogue not routed',
    );
  });

  await t.test('bad edge tags are rejected with a reason naming the app and the tag', async (t) => {
    const reasons = Object.fromEntries(rejectionsOf(cluster, 'sloppy').map((r) => [r.subject, r.reason]));
    t.match(reasons['router.hsts=forever'], /router\.hsts: bad value "forever"; allowed: a max-age in seconds/);
    t.match(reasons['router.max-body=0'], /router\.max-body: bad value "0"/);
    t.match(reasons['router.timeout-client=5s'], /only valid with router\.mode=tcp/);
    t.match(reasons['router.hsts-subdomains'], /needs router\.hsts=<max-age>/);
    t.equal((await rawRequest({ port: httpPort, headers: [['host', 'sloppy.production.mozilla.community']] })).status, 200, 'the app is still served');
  });

  await t.test('/status shows the edge settings of each app', async (t) => {
    const doc = (await (await fetch(`${cluster.daemon.server.url}/status`)).json()) as { apps: { name: string; settings: Record<string, unknown> }[] };
    const settingsOf = (name: string) => doc.apps.find((a) => a.name === name)?.settings;
    t.match(settingsOf('shop'), { httpsOnly: true, sticky: true, hsts: 31536000, hstsSubdomains: true, timeoutConnect: '2s' });
    t.match(settingsOf('plain'), { hsts: 600, maxBody: 1024 });
    t.match(settingsOf('chat'), { timeoutClient: '1m' });
  });

  await t.test('stats listener: on haproxy.stats_bind_address only; admin actions only with credentials', async (t) => {
    const { user, password } = cluster.vault!.stats;
    const auth: [string, string] = ['authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`];
    const stats = (headers: [string, string][], method = 'GET', body = '') =>
      rawRequest({ port: statsPort, address: '127.0.0.3', method, path: '/', headers: [['host', 'stats'], ...headers], body });
    t.equal((await stats([])).status, 401);
    t.equal((await stats([auth])).status, 200);
    await t.rejects(rawRequest({ port: statsPort, address: '127.0.0.1', headers: [['host', 'stats']] }), { code: 'ECONNREFUSED' }, 'not on the public address');
    const server = cluster.daemon.runner.state.deployment!.model!.apps.find((a) => a.name === 'plain')!.servers[0]!.name;
    const action = (a: string) => `s=${server}&action=${a}&b=app_plain`;
    const form = (body: string): [string, string][] => [
      ['content-type', 'application/x-www-form-urlencoded'],
      ['content-length', String(body.length)],
    ];
    t.equal((await stats(form(action('maint')), 'POST', action('maint'))).status, 401, 'no admin action without credentials');
    t.equal((await rawRequest({ port: httpPort, headers: [['host', PLAIN]] })).status, 200, 'still served');
    const done = await stats([auth, ...form(action('maint'))], 'POST', action('maint'));
    t.equal(done.status, 303);
    t.match(header(done, 'location')[0], /st=DONE/);
    t.equal((await rawRequest({ port: httpPort, headers: [['host', PLAIN]] })).status, 503, 'the admin action took effect');
    await stats([auth, ...form(action('ready'))], 'POST', action('ready'));
    t.equal((await rawRequest({ port: httpPort, headers: [['host', PLAIN]] })).status, 200, 'back in service');
  });
});

t.test('accept_proxy, trusted_proxies and bind_address "::"', async (t) => {
  const tcpPort = await freePort();
  const cluster = await startTestCluster(t, {
    apps: [
      { id: '/plain', instances: 1, mode: 'http', tags: [] },
      { id: '/chat', instances: 1, mode: 'tcp', port: tcpPort, tags: ['router.mode=tcp', `router.port=${tcpPort}`] },
    ],
    configOverrides: { haproxy: { bind_address: '::', accept_proxy: true, trusted_proxies: ['198.51.100.0/24'], tcp_ports: [String(tcpPort)] } },
  });
  const { httpPort } = cluster;
  const viaProxy = (prefix: Buffer, xff?: string, address = '127.0.0.1') =>
    rawRequest({ port: httpPort, address, prefix, headers: [['host', PLAIN], ...(xff ? [['x-forwarded-for', xff] as [string, string]] : [])] });
  await eventually('plain routed', async () => (await viaProxy(proxyV1('203.0.113.9', '192.0.2.1', 40000, 80))).status === 200, 20_000);

  await t.test('PROXY v1: the client address comes from the header; an untrusted X-Forwarded-For is dropped', async (t) => {
    const seen = echoed(await viaProxy(proxyV1('203.0.113.9', '192.0.2.1', 40000, 80), '6.6.6.6'));
    t.same(header(seen, 'x-forwarded-for'), ['203.0.113.9']);
    t.same(header(seen, 'x-forwarded-port'), ['80'], 'the port the client connected to, from the PROXY header');
  });

  await t.test('PROXY v2 from a trusted proxy: its X-Forwarded-For is kept and the peer appended', async (t) => {
    const seen = echoed(await viaProxy(proxyV2('198.51.100.7', '192.0.2.1', 40001, 443), '6.6.6.6'));
    t.same(header(seen, 'x-forwarded-for'), ['6.6.6.6', '198.51.100.7']);
    const untrusted = echoed(await viaProxy(proxyV2('203.0.113.10', '192.0.2.1', 40002, 80), '6.6.6.6'));
    t.same(header(untrusted, 'x-forwarded-for'), ['203.0.113.10']);
  });

  await t.test('PROXY v1 over IPv6 on the "::" bind', async (t) => {
    const seen = echoed(await viaProxy(proxyV1('2001:db8::5', '2001:db8::1', 40003, 80), undefined, '::1'));
    t.same(header(seen, 'x-forwarded-for'), ['2001:db8::5']);
  });

  await t.test('a connection without a PROXY header gets no answer', async (t) => {
    const r = await rawRequest({ port: httpPort, headers: [['host', PLAIN]] }).catch((err: Error) => err);
    t.type(r, Error, `refused: ${r instanceof Error ? r.message : JSON.stringify(r)}`);
  });

  await t.test('the tcp listen takes PROXY too', async (t) => {
    const banner = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = connect(tcpPort, '::1', () => socket.write(proxyV2('203.0.113.11', '192.0.2.1', 40004, tcpPort)));
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data.trim()));
      socket.on('error', reject);
    });
    t.equal(banner, '/chat #1');
  });
});
