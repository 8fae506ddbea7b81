import t from 'tap';
import { parseRouterTag, resolveTags, type AppSettings } from '../../src/model/tags.js';
import { mc, settings } from './helpers.js';

const DEFAULTS: AppSettings = { mode: 'http', balance: 'roundrobin', httpsOnly: false, sticky: false };

t.test('parseRouterTag: tags that are not ours are ignored', async (t) => {
  for (const tag of ['primary', 'traefik.enable=true', 'Router.mode=tcp', 'router', 'routerx.mode=tcp', '']) {
    t.equal(parseRouterTag(tag, settings), undefined, `ignored: ${JSON.stringify(tag)}`);
  }
});

t.test('parseRouterTag: valid tags, normalised', async (t) => {
  const cases: [string, string, string][] = [
    ['router.mode=http', 'mode', 'http'],
    ['router.mode=tcp', 'mode', 'tcp'],
    ['router.mode=TCP', 'mode', 'tcp'],
    ['router.port=1', 'port', '1'],
    ['router.port=10001', 'port', '10001'],
    ['router.port=65535', 'port', '65535'],
    ['router.balance=roundrobin', 'balance', 'roundrobin'],
    ['router.balance=static-rr', 'balance', 'static-rr'],
    ['router.balance=leastconn', 'balance', 'leastconn'],
    ['router.balance=first', 'balance', 'first'],
    ['router.balance=source', 'balance', 'source'],
    ['router.balance=random', 'balance', 'random'],
    ['router.balance=uri', 'balance', 'uri'],
    ['router.balance=LeastConn', 'balance', 'leastconn'],
    ['router.healthcheck=/', 'healthcheck', '/'],
    ['router.healthcheck=/wp-login.php', 'healthcheck', '/wp-login.php'],
    ['router.healthcheck=/Health?full=1&x=a,b', 'healthcheck', '/Health?full=1&x=a,b'],
    ['router.healthcheck=/caf%C3%A9/~u/@x:y/!*+.', 'healthcheck', '/caf%C3%A9/~u/@x:y/!*+.'],
    [`router.healthcheck=/${'a'.repeat(199)}`, 'healthcheck', `/${'a'.repeat(199)}`],
    ['router.https-only=true', 'https-only', 'true'],
    ['router.https-only=false', 'https-only', 'false'],
    ['router.https-only', 'https-only', 'true'],
    ['router.sticky', 'sticky', 'true'],
    ['router.sticky=true', 'sticky', 'true'],
    ['router.sticky=False', 'sticky', 'false'],
    ['router.maxconn=1', 'maxconn', '1'],
    ['router.maxconn=100000', 'maxconn', '100000'],
    ['router.timeout-server=1ms', 'timeout-server', '1ms'],
    ['router.timeout-server=120s', 'timeout-server', '120s'],
    ['router.timeout-server=30m', 'timeout-server', '30m'],
    ['router.timeout-server=24h', 'timeout-server', '24h'],
    ['router.timeout-server=1440m', 'timeout-server', '1440m'],
    ['router.timeout-server=86400000ms', 'timeout-server', '86400000ms'],
    ['router.timeout-server=120S', 'timeout-server', '120s'],
    ['router.expose', 'expose', 'true'],
    ['router.expose=true', 'expose', 'true'],
    ['router.expose=false', 'expose', 'false'],
    ['router.skip', 'skip', 'true'],
    ['router.skip=true', 'skip', 'true'],
  ];
  for (const [tag, key, value] of cases) {
    t.strictSame(parseRouterTag(tag, settings), { ok: true, key, value }, tag);
  }
});

t.test('parseRouterTag: rejected tags', async (t) => {
  const cases: [string, RegExp][] = [
    ['router.', /empty key/],
    ['router.=tcp', /empty key/],
    [
      'router.foo=bar',
      /unknown key "foo": known keys are allow, auth, balance, cache, canary, compress, expose, group, healthcheck, .*, port, proto, rate-limit, rate-limit-path, redirect, skip, sticky, strip-path, timeout-client, timeout-connect, timeout-server, timeout-tunnel$/,
    ],
    ['router.Mode=tcp', /unknown key "Mode"/],
    ['router.mode', /router\.mode needs a value.*allowed: http, tcp/],
    ['router.port', /router\.port needs a value/],
    ['router.balance', /needs a value/],
    ['router.healthcheck', /needs a value/],
    ['router.maxconn', /needs a value/],
    ['router.timeout-server', /needs a value/],
    ['router.mode=', /router\.mode: empty value; allowed: http, tcp/],
    ['router.mode=udp', /router\.mode: bad value "udp"; allowed: http, tcp/],
    ['router.mode=tcp ', /whitespace or control/],
    ['router.mode =tcp', /whitespace or control/],
    ['router.mode=t\u001bcp', /whitespace or control/],
    ['router.mode=tcp\n', /whitespace or control/],
    ['router.port=0', /router\.port: bad value "0"; allowed: an integer 1\.\.65535/],
    ['router.port=65536', /bad value "65536"/],
    ['router.port=-1', /bad value "-1"/],
    ['router.port=10001.5', /bad value/],
    ['router.port=abc', /bad value "abc"/],
    ['router.port=010001', /bad value/],
    ['router.port=0x10', /bad value/],
    ['router.port=80', /port 80 is reserved by the router \(reserved: 80, 443, 8404\)/],
    ['router.port=443', /port 443 is reserved/],
    ['router.port=8404', /port 8404 is reserved/],
    ['router.balance=hdr(host)', /router\.balance: bad value "hdr\(host\)"; allowed: roundrobin, static-rr, leastconn, first, source, random, uri/],
    ['router.balance=weighted', /bad value "weighted"/],
    ['router.healthcheck=health', /router\.healthcheck: bad value "health"; allowed: an HTTP path/],
    ['router.healthcheck=/a b', /whitespace/],
    ['router.healthcheck=/a"b', /bad value/],
    ["router.healthcheck=/a'b", /bad value/],
    ['router.healthcheck=/a#b', /bad value/],
    ['router.healthcheck=/a\\b', /bad value/],
    ['router.healthcheck=/a;b', /bad value/],
    ['router.healthcheck=/a(b)', /bad value/],
    ['router.healthcheck=/${HOME}', /bad value/],
    ['router.healthcheck=/$HOME', /bad value/],
    ['router.healthcheck=/%zz', /bad value/],
    ['router.healthcheck=/%4', /bad value/],
    ['router.healthcheck=/é', /bad value/],
    [`router.healthcheck=/${'a'.repeat(200)}`, /bad value/],
    ['router.https-only=yes', /router\.https-only: bad value "yes"; allowed: true, false/],
    ['router.https-only=1', /bad value "1"/],
    ['router.sticky=on', /router\.sticky: bad value "on"/],
    ['router.sticky=', /router\.sticky: empty value/],
    ['router.maxconn=0', /router\.maxconn: bad value "0"; allowed: an integer 1\.\.100000/],
    ['router.maxconn=100001', /bad value "100001"/],
    ['router.maxconn=abc', /bad value "abc"/],
    ['router.maxconn=010', /bad value "010"/],
    ['router.maxconn=1e3', /bad value "1e3"/],
    ['router.timeout-server=0s', /router\.timeout-server: bad value "0s"; allowed: a duration/],
    ['router.timeout-server=25h', /bad value "25h"/],
    ['router.timeout-server=86400001ms', /bad value/],
    ['router.timeout-server=1441m', /bad value/],
    ['router.timeout-server=120', /bad value "120"/],
    ['router.timeout-server=10d', /bad value "10d"/],
    ['router.timeout-server=1.5s', /bad value/],
    ['router.timeout-server=-1s', /bad value/],
    ['router.timeout-server=10us', /bad value/],
    ['router.expose=yes', /router\.expose: bad value "yes"; allowed: true, false/],
    ['router.skip=1', /router\.skip: bad value "1"/],
  ];
  for (const [tag, reason] of cases) {
    const p = parseRouterTag(tag, settings);
    t.equal(p?.ok, false, `${JSON.stringify(tag)} rejected`);
    if (p && !p.ok) t.match(p.reason, reason, `${JSON.stringify(tag)} reason`);
  }
});

t.test('parseRouterTag: long values are shortened in reasons', async (t) => {
  const p = parseRouterTag(`router.mode=${'x'.repeat(1000)}`, settings);
  t.equal(p?.ok, false);
  if (p && !p.ok) t.ok(p.reason.length < 200, 'reason stays short');
});

t.test('resolveTags: union over instances, majority vote', async (t) => {
  const cases: {
    name: string;
    tags: string[][];
    settings: AppSettings;
    routable?: boolean;
    rejected?: [string, RegExp][];
  }[] = [
    { name: 'no tags: defaults', tags: [[]], settings: DEFAULTS },
    { name: 'no instances: defaults', tags: [], settings: DEFAULTS },
    {
      name: 'tags from different instances are merged',
      tags: [['router.balance=leastconn'], ['router.sticky'], ['router.maxconn=200', 'router.timeout-server=120s']],
      settings: { ...DEFAULTS, balance: 'leastconn', sticky: true, maxconn: 200, timeoutServer: '120s' },
    },
    {
      name: 'majority wins',
      tags: [['router.balance=leastconn'], ['router.balance=source'], ['router.balance=leastconn']],
      settings: { ...DEFAULTS, balance: 'leastconn' },
    },
    {
      name: 'tie goes to the smallest value',
      tags: [['router.balance=source'], ['router.balance=first']],
      settings: { ...DEFAULTS, balance: 'first' },
    },
    {
      name: 'tie on numbers is by text, not number',
      tags: [['router.maxconn=200'], ['router.maxconn=1000']],
      settings: { ...DEFAULTS, maxconn: 1000 },
    },
    {
      name: 'a repeated tag on one instance is one vote',
      tags: [['router.balance=source', 'router.balance=source', 'router.balance=SOURCE'], ['router.balance=uri'], ['router.balance=uri']],
      settings: { ...DEFAULTS, balance: 'uri' },
    },
    {
      name: 'bare and =true are the same vote',
      tags: [['router.sticky'], ['router.sticky=true'], ['router.sticky=false']],
      settings: { ...DEFAULTS, sticky: true },
    },
    {
      name: 'bad values take no part in the vote',
      tags: [['router.balance=bogus'], ['router.balance=bogus'], ['router.balance=source']],
      settings: { ...DEFAULTS, balance: 'source' },
      rejected: [['router.balance=bogus', /bad value "bogus"/]],
    },
    {
      name: 'mode decided by majority, then tcp needs a port',
      tags: [['router.mode=tcp', 'router.port=10001'], ['router.mode=tcp'], ['router.mode=http']],
      settings: { ...DEFAULTS, mode: 'tcp', port: 10001 },
    },
    {
      name: 'tcp without a port is not routable',
      tags: [['router.mode=tcp']],
      settings: { ...DEFAULTS, mode: 'tcp' },
      routable: false,
      rejected: [['router.mode=tcp', /needs a valid router\.port.*not routed/]],
    },
    {
      name: 'tcp with reserved port is not routable',
      tags: [['router.mode=TCP', 'router.port=443']],
      settings: { ...DEFAULTS, mode: 'tcp' },
      routable: false,
      rejected: [
        ['router.mode=TCP', /needs a valid router\.port/],
        ['router.port=443', /reserved/],
      ],
    },
    {
      name: 'port on an http app is ignored',
      tags: [['router.port=10001']],
      settings: DEFAULTS,
      rejected: [['router.port=10001', /only valid with router\.mode=tcp/]],
    },
    {
      name: 'http-only keys on a tcp app are ignored',
      tags: [['router.mode=tcp', 'router.port=10001', 'router.sticky', 'router.https-only=true', 'router.healthcheck=/ping']],
      settings: { ...DEFAULTS, mode: 'tcp', port: 10001, healthcheck: '/ping' },
      rejected: [
        ['router.https-only=true', /only valid with router\.mode=http/],
        ['router.sticky', /only valid with router\.mode=http/],
      ],
    },
  ];
  for (const c of cases) {
    const instances = c.tags.map((tags, i) => mc('app', i + 1, { tags }));
    const r = resolveTags('app', instances, settings);
    t.strictSame(r.settings, c.settings, `${c.name}: settings`);
    t.equal(r.routable, c.routable ?? true, `${c.name}: routable`);
    const got = [...new Map(r.rejections.map((x) => [x.subject, x])).values()].sort((a, b) => (a.subject < b.subject ? -1 : 1));
    t.strictSame(
      got.map((x) => x.subject),
      (c.rejected ?? []).map((x) => x[0]).sort(),
      `${c.name}: rejected tags`,
    );
    for (const [subject, reason] of c.rejected ?? []) {
      t.match(got.find((x) => x.subject === subject)?.reason, reason, `${c.name}: reason for ${subject}`);
      t.equal(got.find((x) => x.subject === subject)?.kind, 'tag', `${c.name}: kind for ${subject}`);
    }
  }
});
