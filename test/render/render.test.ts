// Golden tests for the shipped templates, plus the real HAProxy: every golden case must pass
// `haproxy -c`, and one rendered configuration is started and exercised over the network.
//
// Golden files live in test/render/golden/<case>/. They are rewritten only with UPDATE_GOLDEN=1:
//   UPDATE_GOLDEN=1 npx tap test/render/render.test.ts
// Otherwise a difference fails the test with a diff.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, connect } from 'node:net';
import { createServer as createHttpServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';

import type { RoutingModel } from '../../src/model/types.js';
import { serverCookie } from '../../src/render/haproxy-syntax.js';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import type { RenderSettings } from '../../src/render/types.js';
import { readTemplateSource } from '../../src/sources/files/templates-source.js';
import { edgeCases } from './edge-cases.js';
import { tenantCases } from './tenant-cases.js';
import { httpApp, model, server, settings, tcpApp } from './fixtures.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { HASHES } from '../helpers/auth-hashes.js';

const here = dirname(fileURLToPath(import.meta.url));
const templatesDir = join(here, '..', '..', 'templates');
const goldenDir = join(here, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';
const run = promisify(execFile);

// ---- cases ------------------------------------------------------------------------------------

interface Case {
  model: RoutingModel;
  settings: RenderSettings;
}

const cases: Record<string, Case> = {
  empty: { model: model([]), settings },
  'http-defaults': {
    model: model([httpApp('wordpress-community', [server('10.0.0.5', 31000), server('10.0.0.6', 31002)]), httpApp('discourse', [server('10.0.0.7', 31005)])]),
    settings,
  },
  'all-tags': {
    model: model([
      httpApp('discourse', [server('10.0.0.7', 31005), server('10.0.0.8', 31007, false)], {
        balance: 'leastconn',
        healthcheck: '/srv/status?probe=1',
        httpsOnly: true,
        sticky: true,
        maxconn: 100,
        timeoutServer: '120s',
      }),
    ]),
    settings,
  },
  tcp: {
    model: model([
      tcpApp('irc', 6667, [server('10.0.0.9', 31010), server('10.0.0.10', 31011)]),
      tcpApp('postgres', 10001, [server('10.0.0.11', 31020), server('10.0.0.12', 31021, false)], {
        balance: 'source',
        sticky: true,
        maxconn: 20,
        timeoutServer: '1h',
        healthcheck: '/health',
      }),
      httpApp('web', [server('10.0.0.13', 31030)]),
    ]),
    settings,
  },
  'no-passing': {
    model: model([httpApp('broken', [server('10.0.0.20', 31040, false), server('10.0.0.21', 31041, false)]), httpApp('scaled-to-zero', [])]),
    settings,
  },
  'custom-domains': {
    model: model([httpApp('wordpress-community', [server('10.0.0.5', 31000)]), httpApp('blog', [server('10.0.0.30', 31050)])], {
      'wordpress-community': ['www.mozilla-community.org', 'mozilla-community.org'],
      blog: ['blog.example.org'],
    }),
    settings,
  },
  'stats-auth': {
    model: model([httpApp('web', [server('10.0.0.13', 31030)])]),
    settings: { ...settings, stats: { user: 'admin', password: `p4ss w#rd'"\\$x:y` } },
  },
  'bind-ipv6': {
    model: model([httpApp('web', [server('fd00::13', 31030), server('10.0.0.14', 31031)]), tcpApp('irc', 6667, [server('fd00::9', 31010)])]),
    settings: { ...settings, bindAddress: '::', maxconn: 2000, hardStopAfter: '5m', stats: { user: 'ops', password: 'secret' } },
  },
  'bind-ipv4': {
    model: model([httpApp('web', [server('10.0.0.13', 31030)])]),
    settings: { ...settings, bindAddress: '10.1.2.3', httpPort: 8080, statsPort: 9000 },
  },
  // ACME on: HTTP-01 answered from the account thumbprint in the HTTP frontend (issue 13).
  acme: {
    model: model([httpApp('blog', [server('10.0.0.30', 31050)])], { blog: ['blog.example.org'] }),
    settings: { ...settings, acme: { thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } },
  },
  // haproxy.spare_backends: default backends, no host, no server, after the apps (issue 12).
  spares: {
    model: model([httpApp('web', [server('10.0.0.13', 31030)])]),
    settings: { ...settings, spareBackends: 3 },
  },
  // router.rate-limit: a whole-site limit, and one on a path behind trusted proxies, shared with two other routers.
  'rate-limit-peers': {
    model: model([
      httpApp('wordpress', [server('10.0.0.5', 31000)], { rateLimit: { requests: 20, period: '10s', periodMs: 10_000, path: '/wp-login.php' } }),
      httpApp('api', [server('10.0.0.6', 31001)], { rateLimit: { requests: 600, period: '1m', periodMs: 60_000 } }),
      httpApp('web', [server('10.0.0.7', 31002)]),
    ]),
    settings: {
      ...settings,
      edge: { trustedProxies: ['10.0.0.0/8'] },
      peers: {
        self: 'master-2',
        list: [
          { name: 'master-1', address: '10.0.16.11', port: 8405 },
          { name: 'master-2', address: '10.0.16.12', port: 8405 },
          { name: 'master-3', address: 'fd00::13', port: 8405 },
        ],
      },
    },
  },
  ...edgeCases,
  ...tenantCases,
};

/** Second-wave features: redirect, allow (http and tcp), maintenance, a weighted group, paths. */
function featuresModel(): RoutingModel {
  const weighted = (app: string, weight: number, address: string, port: number) => ({
    ...server(address, port),
    name: `${app}_${address}:${port}`,
    app,
    weight,
  });
  const m = model(
    [
      httpApp('wordpress', [server('10.0.0.5', 31000)], { redirect: 'example.org', allow: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] }),
      httpApp('forum', [server('10.0.0.6', 31001)], {
        path: '/forum',
        stripPath: true,
        maintenance: { key: 'paas-router/maintenance/forum', message: 'Back at 10:00 "UTC" \\ <b>soon</b>' },
      }),
      httpApp('docs', [server('10.0.0.7', 31002)], { path: '/forum/v1.0', stripPath: false }),
      httpApp(
        'web',
        [weighted('web-blue', 90, '10.0.0.8', 31003), weighted('web-green', 10, '10.0.0.9', 31004), weighted('web-green', 0, '10.0.0.10', 31005)],
        {
          members: [
            { app: 'web-blue', weight: 90, weightFrom: 'kv', servers: 1 },
            { app: 'web-green', weight: 10, weightFrom: 'kv', servers: 2 },
          ],
          weightsKey: 'paas-router/weights/web',
        },
      ),
      tcpApp('irc', 6667, [server('10.0.0.9', 31010)], { allow: ['10.0.0.0/8'] }),
    ],
    { wordpress: ['example.org', 'www.example.org'], forum: ['example.org'], docs: ['example.org'] },
  );
  const pathOf = new Map(m.apps.map((a) => [a.name, a.path]));
  return { ...m, hosts: m.hosts.map((h) => (pathOf.get(h.app) !== undefined ? { ...h, path: pathOf.get(h.app)! } : h)) };
}
cases.features = { model: featuresModel(), settings };

/** router.auth: users of every accepted crypt scheme; the three ways to answer 503 instead. */
function authModel(): RoutingModel {
  const path = (app: string) => `secret/data/paas-router/auth/${app}`;
  return model([
    httpApp('staging', [server('10.0.0.40', 31060)], {
      auth: {
        realm: 'staging',
        path: path('staging'),
        users: [
          { name: 'alice', hash: HASHES.bcrypt2b },
          { name: 'bob.smith@example.org', hash: HASHES.sha512 },
          { name: 'carol', hash: HASHES.bcrypt2y },
          { name: 'dave', hash: HASHES.sha256 },
          { name: 'erin', hash: HASHES.yescrypt },
        ],
      },
    }),
    httpApp('admin', [server('10.0.0.41', 31061)], { auth: { realm: 'admin', path: path('admin'), users: [], failure: 'no-entry' } }),
    httpApp('wiki', [server('10.0.0.42', 31062)], { auth: { realm: 'wiki', path: path('wiki'), users: [], failure: 'invalid' } }),
    httpApp('novault', [server('10.0.0.43', 31063)], { auth: { realm: 'x', path: '<vault.kv_prefix>auth/novault', users: [], failure: 'no-vault' } }),
    httpApp('open', [server('10.0.0.44', 31064)]),
  ]);
}
cases.auth = { model: authModel(), settings };

const templates = compileTemplates(await readTemplateSource(templatesDir));

// ---- golden -----------------------------------------------------------------------------------

t.test('golden files', async (t) => {
  for (const [name, { model, settings }] of Object.entries(cases)) {
    await t.test(name, async (t) => {
      const files = renderFiles(templates, model, settings);
      t.same(Object.keys(files).sort(), ['haproxy.cfg', 'hosts.map', 'maintenance.map']);
      for (const [file, content] of Object.entries(files)) {
        t.ok(content.endsWith('\n'), `${file} ends with a newline`);
        const path = join(goldenDir, name, file);
        if (update) {
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, content);
          continue;
        }
        const golden = await readFile(path, 'utf8').catch(() => undefined);
        if (golden === undefined) {
          t.fail(`${path} is missing: run UPDATE_GOLDEN=1 npx tap test/render/render.test.ts`);
          continue;
        }
        t.equal(content, golden, `${name}/${file} matches the golden file (UPDATE_GOLDEN=1 to accept changes)`);
      }
    });
  }
});

t.test('deterministic output', async (t) => {
  for (const [name, { model, settings }] of Object.entries(cases)) {
    const first = renderFiles(templates, model, settings);
    // Same content in another order, from a fresh compilation: same bytes.
    const shuffled: RoutingModel = {
      apps: [...model.apps].reverse().map((app) => ({ ...app, servers: [...app.servers].reverse() })),
      hosts: [...model.hosts].reverse(),
      rejections: [],
    };
    const second = renderFiles(compileTemplates(await readTemplateSource(templatesDir)), shuffled, { ...settings });
    t.same(second, first, name);
  }
});

t.test('what the shipped templates promise', async (t) => {
  const cfg = (name: string) => renderFiles(templates, cases[name]!.model, cases[name]!.settings)['haproxy.cfg']!;
  const empty = cfg('empty');
  t.notMatch(empty, /^\s*daemon\b/m, 'no daemon keyword');
  t.match(empty, /^ {4}master-worker$/m);
  t.match(empty, 'stats socket /run/haproxy/paas-router.sock mode 600 level admin expose-fd listeners');
  t.match(empty, 'server-state-file /etc/haproxy/paas-router/server-state');
  // The whole Host value (req.fhdr: never split on commas), after the one-host check that answers 400.
  t.match(empty, 'use_backend %[req.fhdr(host),lower,word(1,:),map(/etc/haproxy/paas-router/hosts.map)]');
  t.notMatch(empty, /req\.hdr\(host\)/, 'no rule reads one comma-separated element of Host');
  const frontends = [empty, cfg('edge-all')].flatMap((c) => c.split(/^frontend /m).slice(1));
  t.equal(frontends.length, 3, 'http_in, and http_in and https_in');
  for (const frontend of frontends) {
    t.match(frontend, /http-request deny deny_status 400 [^\n]* if \{ req\.fhdr_cnt\(host\) gt 1 \}\n/, 'several Host lines: 400');
    t.match(frontend, /http-request deny deny_status 400 [^\n]* !\{ req\.fhdr\(host\) -m reg /, 'not one valid host: 400');
  }
  t.notMatch(empty, /stats auth|stats admin/, 'no credentials: read-only stats page');
  t.notMatch(empty, /^\s*(user|group) /m, 'no haproxy.user/group: the workers keep the user HAProxy was started as');
  t.match(cfg('edge-all'), /^global\n {4}master-worker\n {4}user haproxy\n {4}group haproxy\n/m, 'the workers drop to haproxy.user/group');

  const tags = cfg('all-tags');
  const cookie = serverCookie('app_discourse', '10_0_0_7_31005');
  t.match(tags, `server 10_0_0_7_31005 10.0.0.7:31005 check cookie ${cookie} maxconn 100\n`);
  t.match(tags, /server 10_0_0_8_31007 10\.0\.0\.8:31007 check cookie [0-9a-f]{16} maxconn 100 disabled\n/);
  t.notMatch(tags, /cookie [^\n]*10\.0\.0/, 'cookies do not reveal addresses');
  t.notMatch(tags, /frontend https_in|crt-list|:443/, 'no HTTPS frontend without a certificate');

  const none = cfg('no-passing');
  t.match(
    none,
    /backend app_scaled-to-zero\n {4}balance roundrobin\n {4}load-server-state-from-file none\n {4}http-request return status 503 [^\n]*maintenance.map[^\n]*\n\n/,
  );
  t.notMatch(none, / check\b/, 'no check without router.healthcheck');

  t.match(cfg('stats-auth'), `    stats auth admin:p4ss\\ w\\#rd\\'\\"\\\\$x:y\n    stats admin if TRUE\n`);
  t.match(cfg('bind-ipv6'), 'bind ipv6@:::80 v4v6\n');
  t.match(cfg('bind-ipv6'), 'server fd00__13_31030 ipv6@fd00::13:31030\n');
});

// ---- real haproxy -----------------------------------------------------------------------------

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-render-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeRendered(dir: string, files: Record<string, string>): Promise<string> {
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content, { mode: 0o600 });
  return join(dir, 'haproxy.cfg');
}

t.test('every golden case passes haproxy -c', async (t) => {
  for (const [name, { model, settings }] of Object.entries(cases)) {
    await t.test(name, async (t) => {
      const dir = await tempDir(t);
      // An HTTPS frontend needs a certificate that exists: a throwaway one in the same place.
      const tls = settings.tls === undefined ? undefined : { ...settings.tls, crtList: await throwawayCrtList(dir) };
      const files = renderFiles(templates, model, { ...settings, configDir: dir, runtimeSocket: join(dir, 'rt.sock'), tls });
      const cfg = await writeRendered(dir, files);
      const result = await run('haproxy', ['-c', '-f', cfg]).then(
        ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, output: `${err.stdout}${err.stderr}` }),
      );
      t.equal(result.code, 0, `haproxy -c accepts ${name}:\n${result.output}`);
      // The only warning allowed: the state file does not exist before the first reload.
      const warnings = result.output.split('\n').filter((line) => line.includes('[WARNING]'));
      t.same(
        warnings.filter((line) => !line.includes("Can't open global server state file")),
        [],
        'no other warnings',
      );
    });
  }
});

async function throwawayCrtList(dir: string): Promise<string> {
  const pair = await selfSignedCertificate({ commonName: 'default.example.org' });
  await writeFile(join(dir, 'default.pem'), `${pair.certificate}${pair.privateKey}`, { mode: 0o600 });
  await writeFile(join(dir, 'crt-list'), `${join(dir, 'default.pem')}\n`);
  return join(dir, 'crt-list');
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('a rendered configuration routes, answers 404/503 and protects the stats page', async (t) => {
  const dir = await tempDir(t);
  const upstream = createHttpServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from upstream; xff=${req.headers['x-forwarded-for'] ?? ''}`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => upstream.close(resolve)));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  // A reset from HAProxy ends the connection; unhandled, it would crash the test process.
  const echo = createServer((socket) => socket.on('error', () => undefined).pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => echo.close(resolve)));
  const echoPort = (echo.address() as AddressInfo).port;

  const [httpPort, statsPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
  // Non-ASCII is printed as \xNN escapes of its UTF-8 bytes: HAProxy must read back the same bytes.
  const password = `p4ss w#rd'"\\$x:y pass\u00e9\u00a0\u{1f600}`;
  const settings: RenderSettings = {
    configDir: dir,
    runtimeSocket: join(dir, 'rt.sock'),
    bindAddress: '127.0.0.1',
    httpPort: httpPort!,
    httpsPort: await freePort(),
    statsPort: statsPort!,
    hardStopAfter: '1s',
    maxconn: 256,
    stats: { user: 'admin', password },
  };
  const routing = model(
    [
      httpApp('web', [server('127.0.0.1', upstreamPort)], { sticky: true }),
      httpApp('broken', [server('127.0.0.1', upstreamPort, false)]),
      tcpApp('echo', tcpPort!, [server('127.0.0.1', echoPort)]),
    ],
    { web: ['www.example.org'] },
  );
  const cfg = await writeRendered(dir, renderFiles(templates, routing, settings));

  const haproxy = spawn('haproxy', ['-W', '-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  haproxy.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  haproxy.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => haproxy.once('exit', resolve));
  t.teardown(async () => {
    haproxy.kill('SIGTERM');
    await exited;
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${statsPort}/`)).status === 401, 'haproxy to listen').catch((err: Error) => {
    throw new Error(`${err.message}; haproxy output:\n${output}`);
  });

  // fetch() drops the Host header (a forbidden header name): use node:http.
  const get = (host: string) =>
    new Promise<{ status: number; body: string; cookie: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cookie: String(res.headers['set-cookie'] ?? '') }));
      });
      req.on('error', reject);
      req.end();
    });

  const unknown = await get('nothing.example.org');
  t.equal(unknown.status, 404);
  t.equal(unknown.body, 'No app is routed at this host.\n');

  const routed = await get(`WEB.production.mozilla.community:${httpPort}`);
  t.equal(routed.status, 200, 'host lookup is case-insensitive and ignores the port');
  t.equal(routed.body, 'hello from upstream; xff=127.0.0.1');
  t.match(routed.cookie, `PAASRT=${serverCookie('app_web', `127_0_0_1_${upstreamPort}`)}`);
  t.equal((await get('www.example.org')).status, 200, 'custom domain');
  t.equal((await get('broken.production.mozilla.community')).status, 503, 'no passing instance: 503');

  const auth = (user: string, pass: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
  });
  t.equal((await fetch(`http://127.0.0.1:${statsPort}/`, { headers: auth('admin', password) })).status, 200, 'escaped password');
  t.equal((await fetch(`http://127.0.0.1:${statsPort}/`, { headers: auth('admin', 'p4ss') })).status, 401);

  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(tcpPort!, '127.0.0.1', () => socket.end('ping'));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  t.equal(reply, 'ping', 'tcp listen forwards to the server');
});
