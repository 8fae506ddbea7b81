// buildTemplateData: formatting of listeners and servers, credential escaping, and the guards that
// refuse to print a value HAProxy would read differently.
import t from 'tap';

import type { AppRoute, RoutingModel } from '../../src/model/types.js';
import { REDIRECT_HOSTS_PER_RULE } from '../../src/render/views.js';
import { buildTemplateData } from '../../src/render/data.js';
import { escapeConfigWord, formatBind, formatEndpoint, serverCookie } from '../../src/render/haproxy-syntax.js';
import type { RenderSettings } from '../../src/render/types.js';
import { httpApp, model as modelOf, settings } from './fixtures.js';

function app(extra: Partial<AppRoute> = {}): AppRoute {
  return httpApp('web', [{ name: 's1', id: 'x', address: '10.0.0.1', port: 31000, passing: true }], extra);
}

t.test('formatBind', async (t) => {
  t.equal(formatBind('*', 80), '*:80');
  t.equal(formatBind('0.0.0.0', 80), '0.0.0.0:80');
  t.equal(formatBind('10.1.2.3', 8080), '10.1.2.3:8080');
  t.equal(formatBind('::', 80), 'ipv6@:::80 v4v6', ':: takes IPv4 too');
  t.equal(formatBind('::1', 80), 'ipv6@::1:80');
  t.equal(formatBind('[fd00::1]', 80), 'ipv6@fd00::1:80');
  for (const bad of ['localhost', '10.0.0.1:80', '', '1.2.3.4 #', '[::1']) {
    t.throws(() => formatBind(bad, 80), { name: 'TemplateError' }, JSON.stringify(bad));
  }
  for (const port of [0, 65536, 1.5, Number.NaN]) t.throws(() => formatBind('*', port), { name: 'TemplateError' });
});

t.test('formatEndpoint', async (t) => {
  t.equal(formatEndpoint('10.0.0.1', 31000), '10.0.0.1:31000');
  t.equal(formatEndpoint('fd00::1', 31000), 'ipv6@fd00::1:31000');
  t.equal(formatEndpoint('Agent-1.Mesos', 31000), 'agent-1.mesos:31000');
  for (const bad of ['', 'a b', 'a#b', '-x', 'x\n']) t.throws(() => formatEndpoint(bad, 1), { name: 'TemplateError' });
});

t.test('escapeConfigWord follows HAProxy quoting rules (manual section 2.2)', async (t) => {
  t.equal(escapeConfigWord('plain-Pa55', 'x'), 'plain-Pa55');
  t.equal(escapeConfigWord(`a b#c'd"e\\f`, 'x'), `a\\ b\\#c\\'d\\"e\\\\f`);
  t.equal(escapeConfigWord('$HOME', 'x'), '$HOME', '$ is literal outside double quotes');
  t.equal(escapeConfigWord('tab\there\nnl\x7f', 'x'), 'tab\\x09here\\x0anl\\x7f');
  t.equal(escapeConfigWord('mot de passé', 'x'), 'mot\\ de\\ pass\\xc3\\xa9', 'non-ASCII as its UTF-8 bytes');
  t.equal(escapeConfigWord('\u00a0\u0085\u2028\u{1f600}', 'x'), '\\xc2\\xa0\\xc2\\x85\\xe2\\x80\\xa8\\xf0\\x9f\\x98\\x80');
  t.throws(() => escapeConfigWord('', 'the stats password'), { name: 'TemplateError', message: /the stats password is empty/ });
  t.throws(() => escapeConfigWord('a\0b', 'the stats password'), { name: 'TemplateError', message: /NUL/ });
});

t.test('stats credentials', async (t) => {
  const model = modelOf([]);
  t.same(buildTemplateData(model, settings).stats, { auth: null, user: null, password: null });
  t.same(buildTemplateData(model, { ...settings, stats: { user: 'admin', password: 'a b:c' } }).stats, {
    auth: 'admin:a\\ b:c',
    // The same words for the userlist that guards HAProxy's Prometheus exporter.
    user: 'admin',
    password: 'a\\ b:c',
  });
  t.throws(() => buildTemplateData(model, { ...settings, stats: { user: 'ad:min', password: 'x' } }), {
    name: 'TemplateError',
    message: /stats user name contains ":"/,
  });
  t.throws(() => buildTemplateData(model, { ...settings, stats: { user: 'admin', password: '' } }), {
    name: 'TemplateError',
    message: /stats password is empty/,
  });
  const data = buildTemplateData(model, { ...settings, stats: { user: 'admin', password: 'secret' } });
  t.notOk('stats' in data.settings, 'raw credentials are not in the template data');
});

t.test('views: every field present, optional ones null', async (t) => {
  const data = buildTemplateData(
    modelOf([app(), app({ name: 'db', backend: 'app_db', mode: 'tcp', port: 5432, defaultHost: undefined, hosts: [] })]),
    settings,
  );
  t.same(
    data.apps.map((a) => a.name),
    ['db', 'web'],
    'sorted by name',
  );
  t.same(
    data.tcpApps.map((a) => a.name),
    ['db'],
  );
  t.same(
    data.httpApps.map((a) => a.name),
    ['web'],
  );
  const web = data.httpApps[0]!;
  t.same(
    { port: web.port, bind: web.bind, healthcheck: web.healthcheck, maxconn: web.maxconn, timeoutServer: web.timeoutServer },
    { port: null, bind: null, healthcheck: null, maxconn: null, timeoutServer: null },
  );
  t.equal(data.tcpApps[0]!.bind, '*:5432');
  t.equal(data.tcpApps[0]!.defaultHost, null);
  t.same(data.hosts[0], { host: 'web.production.mozilla.community', backend: 'app_web', app: 'web', source: 'default', key: null });
  t.equal(data.hostsMapPath, '/etc/haproxy/paas-router/hosts.map');
  t.equal(data.serverStatePath, '/etc/haproxy/paas-router/server-state');
  t.equal(data.settings.maxconn, 4096);
  t.equal(data.defaultBackend, 'be_default');
  const walk = (value: unknown, path: string): void => {
    t.not(value, undefined, `${path} is defined`);
    if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  };
  walk(data, 'data');
});

// Regression (property tests): 300 covered hosts made one redirect line of 312 words; HAProxy
// stops at 64 ("too many words") and refused the whole configuration.
t.test('https redirects: at most REDIRECT_HOSTS_PER_RULE hosts per rule', async (t) => {
  const hosts = Array.from({ length: 100 }, (_, i) => `h${String(i).padStart(3, '0')}.example.org`);
  const many = modelOf([httpApp('web', [], { httpsOnly: true }), httpApp('api', [], { httpsOnly: true })], { web: hosts, api: ['api.example.org'] });
  const data = buildTemplateData(many, {
    ...settings,
    tls: { crtList: '/etc/haproxy/tls/crt-list', coveredHosts: [...hosts, 'web.production.mozilla.community', 'api.example.org'] },
  });
  const web = ['web.production.mozilla.community', ...hosts];
  t.ok(REDIRECT_HOSTS_PER_RULE <= 52, 'fits HAProxy 2.6: 64 words minus the 12 of the rule');
  t.same(data.httpsRedirects, [
    { app: 'api', hosts: ['api.example.org'] },
    { app: 'web', hosts: web.slice(0, REDIRECT_HOSTS_PER_RULE) },
    { app: 'web', hosts: web.slice(REDIRECT_HOSTS_PER_RULE, 2 * REDIRECT_HOSTS_PER_RULE) },
    { app: 'web', hosts: web.slice(2 * REDIRECT_HOSTS_PER_RULE) },
  ]);
});

t.test('serverCookie: stable, short, no address', async (t) => {
  t.equal(serverCookie('app_web', '10_0_0_1_31000'), serverCookie('app_web', '10_0_0_1_31000'));
  t.not(serverCookie('app_web', '10_0_0_1_31000'), serverCookie('app_blog', '10_0_0_1_31000'));
  t.match(serverCookie('app_web', '10_0_0_1_31000'), /^[0-9a-f]{16}$/);
});

t.test('values that cannot be printed safely are refused with the app and field named', async (t) => {
  const cases: [string, RoutingModel, RenderSettings, RegExp][] = [
    ['app name', modelOf([app({ name: 'we b', backend: 'app_we b' })]), settings, /app name/],
    ['backend prefix', modelOf([app({ backend: 'be_default' })]), settings, /app web: backend must be "app_web"/],
    ['healthcheck', modelOf([app({ healthcheck: '/x #y' })]), settings, /app web: healthcheck/],
    ['healthcheck relative', modelOf([app({ healthcheck: 'health' })]), settings, /app web: healthcheck/],
    ['timeout', modelOf([app({ timeoutServer: '10 s' })]), settings, /app web: timeout-server/],
    ['balance', modelOf([app({ balance: 'roundrobin\n    server evil 1.2.3.4:80' })]), settings, /app web: balance/],
    ['maxconn', modelOf([app({ maxconn: 0 })]), settings, /app web: maxconn/],
    ['server name', modelOf([app({ servers: [{ name: 's 1', id: 'x', address: '10.0.0.1', port: 1, passing: true }] })]), settings, /server "s 1"/],
    ['server port', modelOf([app({ servers: [{ name: 's1', id: 'x', address: '10.0.0.1', port: 0, passing: true }] })]), settings, /server "s1" address port/],
    ['tcp without port', modelOf([app({ mode: 'tcp', hosts: [] })]), settings, /app web: router\.port/],
    ['tcp on the http port', modelOf([app({ mode: 'tcp', port: 80, hosts: [] })]), settings, /app web wants port 80.*HTTP listener/],
    ['listeners clash', modelOf([]), { ...settings, statsPort: 80 }, /stats listener wants port 80/],
    ['configDir', modelOf([]), { ...settings, configDir: 'relative/dir' }, /configDir/],
    ['configDir spaces', modelOf([]), { ...settings, configDir: '/etc/ha proxy' }, /configDir/],
    ['configDir dots', modelOf([]), { ...settings, configDir: '/etc/../tmp' }, /configDir/],
    ['hard-stop-after', modelOf([]), { ...settings, hardStopAfter: '30 s' }, /hardStopAfter/],
    ['max old workers', modelOf([]), { ...settings, maxOldWorkers: 0 }, /maxOldWorkers/],
    ['runtime socket group', modelOf([]), { ...settings, runtimeSocketGroup: 'ha proxy' }, /runtimeSocketGroup/],
    ['worker user', modelOf([]), { ...settings, user: 'root\n    lua-load /tmp/x.lua' }, /user/],
    ['worker group', modelOf([]), { ...settings, group: 'ha proxy' }, /group/],
    ['bind address', modelOf([]), { ...settings, bindAddress: 'eth0' }, /bind address/],
  ];
  for (const [what, model, s, message] of cases) {
    t.throws(() => buildTemplateData(model, s), { name: 'TemplateError', code: 'TEMPLATE_ERROR', message }, what);
  }

  const twoApps = modelOf([app(), app({ name: 'db', backend: 'app_db', mode: 'tcp', port: 5432, hosts: [] })]);
  t.throws(() => buildTemplateData({ ...twoApps, hosts: [{ host: 'x.example.org', backend: 'app_db', app: 'db', source: 'kv' }] }, settings), {
    name: 'TemplateError',
    message: /host x\.example\.org points at "app_db", which is not the backend of an http app/,
  });
  const web = modelOf([app()]);
  t.throws(() => buildTemplateData({ ...web, hosts: [...web.hosts, ...web.hosts] }, settings), {
    name: 'TemplateError',
    message: /routed twice/,
  });
  t.throws(() => buildTemplateData({ ...web, hosts: [{ ...web.hosts[0]!, host: 'evil.org app_x\nother' }] }, settings), {
    name: 'TemplateError',
    message: /host has characters/,
  });
  t.throws(() => buildTemplateData(modelOf([app(), app()]), settings), { name: 'TemplateError', message: /two apps are named web/ });
});
