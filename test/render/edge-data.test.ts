// buildTemplateData's edge fields (docs/edge.md): what the templates see, and the guards that
// refuse a value HAProxy would read differently.
import t from 'tap';
import type { AppRoute } from '../../src/model/types.js';
import { TRUSTED_PROXIES_PER_ACL } from '../../src/render/views.js';
import { buildTemplateData } from '../../src/render/data.js';
import { httpApp, model, server, settings, tcpApp } from './fixtures.js';

const web = (extra: Partial<AppRoute> = {}) => httpApp('web', [server('10.0.0.1', 31000)], extra);

t.test('edge view: defaults and values', async (t) => {
  const data = buildTemplateData(model([web()]), settings);
  t.same(data.edge, { acceptProxy: false, trustedProxies: [], trusted: false, ssl: data.edge.ssl });
  t.equal(data.edge.ssl.minVer, 'TLSv1.2');
  t.equal(data.binds.stats, '127.0.0.1:8404', 'stats on loopback by default');
  const app = data.apps[0]!;
  t.same([app.hsts, app.timeoutClient, app.timeoutConnect, app.maxBody, app.acceptProxy], [null, null, null, null, false]);

  const proxies = Array.from({ length: TRUSTED_PROXIES_PER_ACL + 1 }, (_, i) => `10.${i}.0.0/16`);
  const full = buildTemplateData(
    model([
      web({ hsts: 600, hstsSubdomains: true, maxBody: 1024, timeoutConnect: '2s', timeoutClient: '9s' }),
      tcpApp('irc', 10001, [server('10.0.0.2', 31001)], { timeoutServer: '1h' }),
    ]),
    { ...settings, edge: { acceptProxy: true, trustedProxies: proxies, statsBindAddress: '::1' } },
  );
  t.same(
    full.edge.trustedProxies.map((chunk) => chunk.length),
    [TRUSTED_PROXIES_PER_ACL, 1],
    'one acl line per chunk',
  );
  t.equal(full.binds.stats, 'ipv6@::1:8404');
  const [irc, shop] = full.apps;
  t.equal(shop!.hsts, 'max-age=600; includeSubDomains');
  t.equal(shop!.timeoutClient, null, 'http apps: no per-app client timeout');
  t.equal(irc!.timeoutClient, '1h', 'tcp apps: the server timeout when timeout-client is not set');
  t.equal(irc!.acceptProxy, true);
  t.equal(shop!.acceptProxy, false, 'http apps are behind the frontends');
});

t.test('edge guards', async (t) => {
  const cases: [string, Parameters<typeof buildTemplateData>[0], Parameters<typeof buildTemplateData>[1], RegExp][] = [
    ['trusted proxy', model([]), { ...settings, edge: { trustedProxies: ['10.0.0.0/8 or 1'] } }, /haproxy\.trusted_proxies: .*prefix length/],
    ['trusted host', model([]), { ...settings, edge: { trustedProxies: ['lb.example.org'] } }, /haproxy\.trusted_proxies: .*not an IP address/],
    ['trusted prefix', model([]), { ...settings, edge: { trustedProxies: ['10.0.0.0/40'] } }, /haproxy\.trusted_proxies: .*0-32/],
    ['ciphers', model([]), { ...settings, edge: { sslCiphers: 'A B' } }, /haproxy\.ssl_ciphers/],
    ['ciphersuites', model([]), { ...settings, edge: { sslCiphersuites: "x'y" } }, /haproxy\.ssl_ciphersuites/],
    ['min version', model([]), { ...settings, edge: { sslMinVer: 'SSLv3' } }, /haproxy\.ssl_min_ver/],
    ['stats bind', model([]), { ...settings, edge: { statsBindAddress: 'localhost' } }, /bind address/],
    ['hsts', model([web({ hsts: -1 })]), settings, /app web: hsts/],
    ['hsts text', model([web({ hsts: '5; preload' as unknown as number })]), settings, /app web: hsts/],
    ['max-body', model([web({ maxBody: 1.5 })]), settings, /app web: max-body/],
    ['timeout-connect', model([web({ timeoutConnect: '2 s' })]), settings, /app web: timeout-connect/],
    ['timeout-client', model([tcpApp('irc', 10001, [], { timeoutClient: '1m\n' })]), settings, /app irc: timeout-client/],
  ];
  for (const [what, m, s, message] of cases) t.throws(() => buildTemplateData(m, s), { name: 'TemplateError', message }, what);
});
