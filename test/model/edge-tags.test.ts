// The edge tags (docs/edge.md): router.hsts, router.hsts-subdomains, router.timeout-client,
// router.timeout-connect, router.max-body, and router.port bounded by haproxy.tcp_ports.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { parseRouterTag, resolveTags, type AppSettings } from '../../src/model/tags.js';
import { parsePortRange } from '../../src/model/port-ranges.js';
import type { ModelSettings } from '../../src/model/types.js';
import { mc, settings } from './helpers.js';

const DEFAULTS: AppSettings = { mode: 'http', balance: 'roundrobin', httpsOnly: false, sticky: false };
const bounded: ModelSettings = {
  ...settings,
  tcpPorts: [
    { from: 10000, to: 10999 },
    { from: 12000, to: 12000 },
  ],
};

t.test('edge tags: valid values, normalised', async (t) => {
  const cases: [string, string, string][] = [
    ['router.hsts=0', 'hsts', '0'],
    ['router.hsts=1', 'hsts', '1'],
    ['router.hsts=31536000', 'hsts', '31536000'],
    ['router.hsts=63072000', 'hsts', '63072000'],
    ['router.hsts-subdomains', 'hsts-subdomains', 'true'],
    ['router.hsts-subdomains=TRUE', 'hsts-subdomains', 'true'],
    ['router.hsts-subdomains=false', 'hsts-subdomains', 'false'],
    ['router.timeout-client=30s', 'timeout-client', '30s'],
    ['router.timeout-client=24h', 'timeout-client', '24h'],
    ['router.timeout-connect=500ms', 'timeout-connect', '500ms'],
    ['router.timeout-connect=5S', 'timeout-connect', '5s'],
    ['router.max-body=1', 'max-body', '1'],
    ['router.max-body=1k', 'max-body', '1024'],
    ['router.max-body=20M', 'max-body', String(20 * 1024 ** 2)],
    ['router.max-body=64g', 'max-body', String(64 * 1024 ** 3)],
    ['router.port=10000', 'port', '10000'],
    ['router.port=10999', 'port', '10999'],
    ['router.port=12000', 'port', '12000'],
  ];
  for (const [tag, key, value] of cases) t.strictSame(parseRouterTag(tag, bounded), { ok: true, key, value }, tag);
});

t.test('edge tags: bad values are rejected with a reason naming the tag and what is allowed', async (t) => {
  const cases: [string, RegExp][] = [
    ['router.hsts', /router\.hsts needs a value/],
    ['router.hsts=', /router\.hsts: empty value/],
    ['router.hsts=-1', /router\.hsts: bad value "-1"; allowed: a max-age in seconds, an integer 0\.\.63072000/],
    ['router.hsts=00', /bad value "00"/],
    ['router.hsts=63072001', /bad value "63072001"/],
    ['router.hsts=1y', /bad value "1y"/],
    ['router.hsts=max-age=5', /bad value/],
    ['router.hsts-subdomains=yes', /router\.hsts-subdomains: bad value "yes"; allowed: true, false/],
    ['router.timeout-client=0s', /router\.timeout-client: bad value "0s"; allowed: a duration/],
    ['router.timeout-client=25h', /bad value "25h"/],
    ['router.timeout-connect=5', /router\.timeout-connect: bad value "5"/],
    ['router.timeout-connect=1.5s', /bad value/],
    ['router.max-body=0', /router\.max-body: bad value "0"; allowed: a size/],
    ['router.max-body=65g', /bad value "65g"/],
    ['router.max-body=1t', /bad value "1t"/],
    ['router.max-body=1kb', /bad value "1kb"/],
    ['router.max-body=-1', /bad value/],
    ['router.max-body=1.5m', /bad value/],
    ['router.port=9999', /router\.port: port 9999 is outside haproxy\.tcp_ports \(10000-10999, 12000\), the ports the load balancer forwards/],
    ['router.port=11000', /outside haproxy\.tcp_ports/],
    ['router.port=2181', /port 2181 is outside/],
    ['router.port=80', /port 80 is reserved by the router/],
  ];
  for (const [tag, reason] of cases) {
    const p = parseRouterTag(tag, bounded);
    t.equal(p?.ok, false, `${JSON.stringify(tag)} rejected`);
    if (p && !p.ok) t.match(p.reason, reason, `${JSON.stringify(tag)} reason`);
  }
  t.strictSame(parseRouterTag('router.port=2181', settings), { ok: true, key: 'port', value: '2181' }, 'no haproxy.tcp_ports: any port not reserved');
});

t.test('edge tags: resolved per app', async (t) => {
  const cases: { name: string; tags: string[][]; settings: AppSettings; routable?: boolean; rejected?: [string, RegExp][] }[] = [
    {
      name: 'every http edge tag',
      tags: [['router.hsts=600', 'router.hsts-subdomains', 'router.timeout-connect=2s', 'router.max-body=10m']],
      settings: { ...DEFAULTS, hsts: 600, hstsSubdomains: true, timeoutConnect: '2s', maxBody: 10 * 1024 ** 2 },
    },
    {
      name: 'hsts-subdomains without hsts is reported and ignored',
      tags: [['router.hsts-subdomains=true']],
      settings: DEFAULTS,
      rejected: [['router.hsts-subdomains=true', /router\.hsts-subdomains needs router\.hsts=<max-age>; ignored/]],
    },
    { name: 'hsts-subdomains=false with hsts', tags: [['router.hsts=5', 'router.hsts-subdomains=false']], settings: { ...DEFAULTS, hsts: 5 } },
    {
      name: 'timeout-client on an http app is ignored (one client timeout per frontend)',
      tags: [['router.timeout-client=5s']],
      settings: DEFAULTS,
      rejected: [['router.timeout-client=5s', /only valid with router\.mode=tcp/]],
    },
    {
      name: 'tcp app: timeout-client and timeout-connect; http-only edge keys ignored',
      tags: [['router.mode=tcp', 'router.port=10001', 'router.timeout-client=1m', 'router.timeout-connect=3s', 'router.hsts=600', 'router.max-body=1k']],
      settings: { ...DEFAULTS, mode: 'tcp', port: 10001, timeoutClient: '1m', timeoutConnect: '3s' },
      rejected: [
        ['router.hsts=600', /only valid with router\.mode=http/],
        ['router.max-body=1k', /only valid with router\.mode=http/],
      ],
    },
    {
      name: 'max-body majority by normalised value (1k = 1024)',
      tags: [['router.max-body=1k'], ['router.max-body=1024'], ['router.max-body=2k']],
      settings: { ...DEFAULTS, maxBody: 1024 },
    },
    {
      name: 'tcp port outside haproxy.tcp_ports: not routed, both reasons name the range',
      tags: [['router.mode=tcp', 'router.port=5050']],
      settings: { ...DEFAULTS, mode: 'tcp' },
      routable: false,
      rejected: [
        ['router.mode=tcp', /needs a valid router\.port=<a port in 10000-10999, 12000>; app not routed/],
        ['router.port=5050', /port 5050 is outside haproxy\.tcp_ports \(10000-10999, 12000\)/],
      ],
    },
  ];
  for (const c of cases) {
    const r = resolveTags(
      'app',
      c.tags.map((tags, i) => mc('app', i + 1, { tags })),
      bounded,
    );
    t.strictSame(r.settings, c.settings, `${c.name}: settings`);
    t.equal(r.routable, c.routable ?? true, `${c.name}: routable`);
    const got = [...new Map(r.rejections.map((x) => [x.subject, x])).values()];
    t.strictSame(got.map((x) => x.subject).sort(), (c.rejected ?? []).map((x) => x[0]).sort(), `${c.name}: rejected tags`);
    for (const [subject, reason] of c.rejected ?? []) {
      const found = got.find((x) => x.subject === subject);
      t.match(found?.reason, reason, `${c.name}: reason for ${subject}`);
      t.equal(found?.service, 'app', `${c.name}: names the app`);
    }
  }
});

t.test('edge tags reach the AppRoute; unset ones stay absent', async (t) => {
  const model = buildModel({
    services: {
      shop: [mc('shop', 1, { tags: ['router.hsts=600', 'router.max-body=1k'] })],
      plain: [mc('plain', 2)],
    },
    claims: [],
    settings: bounded,
  });
  const shop = model.apps.find((a) => a.name === 'shop')!;
  t.equal(shop.hsts, 600);
  t.equal(shop.maxBody, 1024);
  t.notOk('hstsSubdomains' in shop || 'timeoutClient' in shop || 'timeoutConnect' in shop, 'unset edge fields absent');
  const plain = model.apps.find((a) => a.name === 'plain')!;
  t.notOk(
    ['hsts', 'hstsSubdomains', 'timeoutClient', 'timeoutConnect', 'maxBody'].some((k) => k in plain),
    'no edge field without tags',
  );
});

t.test('parsePortRange', async (t) => {
  t.strictSame(parsePortRange('10000-10999'), { from: 10000, to: 10999 });
  t.strictSame(parsePortRange('12000'), { from: 12000, to: 12000 });
  t.strictSame(parsePortRange('1-65535'), { from: 1, to: 65535 });
  for (const bad of ['', '0-10', '10-5', '1-65536', 'a-b', '10000 - 10999', '10000-', '-5', '010-20', '1,2']) {
    t.equal(parsePortRange(bad), undefined, JSON.stringify(bad));
  }
});
