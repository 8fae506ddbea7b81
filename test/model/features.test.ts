// Table tests of the per-app features: Consul data (tags, domains, weights, maintenance) → routes
// and rejections. Each bad value is rejected with a reason naming the app and leaves other apps as
// they are.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { parseCidr } from '../../src/util/cidr.js';
import { parseWeights } from '../../src/model/groups.js';
import { parseRouterTag } from '../../src/model/tags.js';
import type { AppRoute, KvEntry, ModelInput } from '../../src/model/types.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import { CLUSTER, type Rej, checkRejections, claim, mc, server, settings } from './helpers.js';

const kvEntry = (key: string, value: string, createIndex = 20, firstSeenAt?: number): KvEntry => ({
  key,
  value,
  createIndex,
  modifyIndex: createIndex,
  ...(firstSeenAt !== undefined ? { firstSeenAt } : {}),
});
const weights = (group: string, value: string) => kvEntry(`paas-router/weights/${group}`, value);
const maint = (name: string, value: string, since?: number) => kvEntry(`paas-router/maintenance/${name}`, value, 30, since);

const delegate = (owner: string, value: string) => kvEntry(`paas-router/paths/${owner}`, value);

function build(services: Record<string, ServiceInstance[]>, extra: Partial<Omit<ModelInput, 'services' | 'settings'>> = {}) {
  return buildModel({ services, settings, ...extra, claims: extra.claims ?? [] });
}
const appOf = (m: ReturnType<typeof build>, name: string) => m.apps.find((a) => a.name === name);

t.test('tag syntax: the feature tags, valid and normalised', async (t) => {
  const cases: [string, string, string][] = [
    ['router.redirect=Example.org', 'redirect', 'example.org'],
    ['router.allow=10.0.0.0/8', 'allow', '10.0.0.0/8'],
    ['router.allow=10.0.0.0/8 192.0.2.7 2001:DB8::/32 ::1', 'allow', '10.0.0.0/8 192.0.2.7 2001:db8::/32 ::1'],
    ['router.allow=10.0.0.0/8 10.0.0.0/8', 'allow', '10.0.0.0/8'],
    ['router.allow=0.0.0.0/0', 'allow', '0.0.0.0/0'],
    ['router.group=Web', 'group', 'web'],
    ['router.path=/forum', 'path', '/forum'],
    ['router.path=/api/v1.0', 'path', '/api/v1.0'],
    ['router.strip-path', 'strip-path', 'true'],
    ['router.rate-limit=20/10s', 'rate-limit', '20/10s'],
    ['router.rate-limit=600/1M', 'rate-limit', '600/1m'],
    ['router.rate-limit-path=/wp-login.php', 'rate-limit-path', '/wp-login.php'],
  ];
  for (const [tag, key, value] of cases) t.strictSame(parseRouterTag(tag, settings), { ok: true, key, value }, tag);
});

t.test('tag syntax: bad feature values are rejected with a reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['router.rate-limit=20', /router\.rate-limit: bad value "20"; allowed: <requests>\/<period>/],
    ['router.rate-limit=0/10s', /allowed: <requests>\/<period>/],
    ['router.rate-limit=20/500ms', /the period must be 1s\.\.24h/],
    ['router.rate-limit=20/2d', /allowed: <requests>\/<period>/],
    ['router.rate-limit-path=wp-login.php', /router\.rate-limit-path: bad value/],
    ['router.redirect=https://example.org', /router\.redirect: bad value .*looks like a URL/],
    ['router.redirect=example', /needs at least two labels/],
    ['router.redirect=', /empty value/],
    ['router.allow=10.0.0.0/33', /"10\.0\.0\.0\/33": the prefix length must be 0-32/],
    ['router.allow=10.0.0.0/8  10.1.0.0/16', /whitespace other than single spaces/],
    ['router.allow=10.0.0.0/8\t10.1.0.0/16', /whitespace other than single spaces/],
    ['router.allow= 10.0.0.0/8', /whitespace other than single spaces/],
    ['router.allow=example.org', /"example\.org" is not an IP address or CIDR block/],
    ['router.allow=fe80::1%eth0', /zone indexes \(%\) are not allowed/],
    [`router.allow=${Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`).join(' ')}`, /33 networks \(max 32\)/],
    ['router.group=web_blue', /character "_" is not allowed/],
    ['router.group=-web', /starts or ends with a hyphen/],
    ['router.path=/', /allowed: a path prefix/],
    ['router.path=forum', /allowed: a path prefix/],
    ['router.path=/forum/', /allowed: a path prefix/],
    ['router.path=/a/../b', /"\." and "\.\." segments/],
    ['router.path=/a b', /whitespace/],
    ['router.path=/a%20b', /allowed: a path prefix/],
    ['router.strip-path=yes', /allowed: true, false/],
  ];
  for (const [tag, reason] of cases) {
    const p = parseRouterTag(tag, settings);
    t.equal(p?.ok, false, `${tag} rejected`);
    if (p && !p.ok) t.match(p.reason, reason, tag);
  }
  t.same(parseCidr('::ffff:10.0.0.1/128'), { ok: true, cidr: '::ffff:10.0.0.1/128' });
});

interface Case {
  name: string;
  services: Record<string, ServiceInstance[]>;
  claims?: DomainClaim[];
  weights?: KvEntry[];
  maintenance?: KvEntry[];
  delegations?: KvEntry[];
  /** Expected fields of some apps (matched), and apps that must not be routed. */
  apps?: Record<string, Partial<AppRoute>>;
  absent?: string[];
  rejections?: Rej[];
}

const web = (n: number, tags: string[] = []) => mc('web', n, { tags });
const blue = (n: number, tags: string[] = ['router.group=shop']) => mc('shop-blue', n, { tags });
const green = (n: number, tags: string[] = ['router.group=shop']) => mc('shop-green', n, { tags });

const cases: Case[] = [
  {
    name: 'redirect to a custom domain of the app',
    services: { web: [web(1, ['router.redirect=www.example.org'])] },
    claims: [claim('web', 'www.example.org example.org')],
    apps: { web: { redirect: 'www.example.org', hosts: [`web.${CLUSTER}`, 'example.org', 'www.example.org'] } },
  },
  {
    name: 'redirect to the default host',
    services: { web: [web(1, [`router.redirect=web.${CLUSTER}`])] },
    apps: { web: { redirect: `web.${CLUSTER}` } },
  },
  {
    name: "redirect to a host that is not the app's: dropped with the reason, the app is still served",
    services: { web: [web(1, ['router.redirect=evil.example.net'])], other: [mc('other', 2)] },
    apps: { web: { hosts: [`web.${CLUSTER}`] }, other: {} },
    rejections: [
      [
        'tag',
        'web',
        'router.redirect=evil.example.net',
        /evil\.example\.net is not a host of app web \(its hosts: web\.production\.mozilla\.community\); no redirect/,
      ],
    ],
  },
  {
    name: "redirect to a host another app won: not the app's own",
    services: { web: [web(1, ['router.redirect=www.example.org'])], blog: [mc('blog', 2)] },
    claims: [claim('blog', 'www.example.org', 5), claim('web', 'www.example.org', 9)],
    apps: { web: { hosts: [`web.${CLUSTER}`] } },
    rejections: [
      ['tag', 'web', 'router.redirect=www.example.org', /not a host of app web/],
      ['conflict', 'web', 'www.example.org', /already claimed by service blog/, 'paas-router/domains/web'],
    ],
  },
  {
    name: 'allow on http and tcp apps',
    services: {
      web: [web(1, ['router.allow=10.0.0.0/8 2001:db8::/32'])],
      irc: [mc('irc', 2, { tags: ['router.mode=tcp', 'router.port=6667', 'router.allow=192.0.2.0/24'] })],
    },
    apps: { web: { allow: ['10.0.0.0/8', '2001:db8::/32'] }, irc: { allow: ['192.0.2.0/24'], port: 6667 } },
  },
  {
    name: 'a bad allow tag is rejected; the app is served without it and the other app keeps its own',
    services: { web: [web(1, ['router.allow=10.0.0.0/99'])], lan: [mc('lan', 2, { tags: ['router.allow=10.0.0.0/8'] })] },
    apps: { web: { name: 'web' }, lan: { allow: ['10.0.0.0/8'] } },
    rejections: [['tag', 'web', 'router.allow=10.0.0.0/99', /the prefix length must be 0-32/]],
  },
  {
    name: 'paths: two apps share a custom host under different prefixes when its owner delegates the prefix',
    services: { site: [mc('site', 1)], forum: [mc('forum', 2, { tags: ['router.path=/forum', 'router.strip-path=true'] })] },
    claims: [claim('site', 'example.org', 5), claim('forum', 'example.org', 9)],
    delegations: [delegate('site', 'example.org/forum=forum')],
    apps: { site: { hosts: [`site.${CLUSTER}`, 'example.org'] }, forum: { path: '/forum', stripPath: true, hosts: [`forum.${CLUSTER}`, 'example.org'] } },
  },
  {
    // A hostile tenant: router.path=/wp-admin plus a claim of another team's host.
    name: "paths: a path app cannot take a path on another app's host without the owner's delegation",
    services: { site: [mc('site', 1)], appb: [mc('appb', 2, { tags: ['router.path=/wp-admin'] })] },
    claims: [claim('site', 'www.example.org', 5), claim('appb', 'www.example.org', 9)],
    delegations: [delegate('appb', 'www.example.org/wp-admin=appb'), delegate('site', 'www.example.org/blog=appb')],
    apps: { site: { hosts: [`site.${CLUSTER}`, 'www.example.org'] }, appb: { hosts: [`appb.${CLUSTER}`] } },
    rejections: [
      [
        'conflict',
        'appb',
        'www.example.org',
        /already claimed by service site .*only the host's owner gives a path on it to another app: paas-router\/paths\/site = "www\.example\.org\/wp-admin=appb"/,
        'paas-router/domains/appb',
      ],
    ],
  },
  {
    name: 'paths: a bad delegation is reported and gives nothing',
    services: { site: [mc('site', 1)] },
    delegations: [delegate('site', 'example.org/x=forum nohost=forum example.org/a/../b=forum'), delegate('Site', 'example.org/y=z')],
    apps: { site: { name: 'site' } },
    rejections: [
      ['claim', 'site', 'example.org/a/../b=forum', /path delegation bad path/, 'paas-router/paths/site'],
      ['claim', 'site', 'nohost=forum', /expected <host>\/<path>=<app>/, 'paas-router/paths/site'],
      ['claim', 'site', 'paas-router/paths/Site', /keys are exact/, 'paas-router/paths/Site'],
    ],
  },
  {
    name: 'paths: the same host and prefix claimed twice: the first claim wins',
    services: { a: [mc('a', 1, { tags: ['router.path=/x'] })], b: [mc('b', 2, { tags: ['router.path=/x'] })] },
    claims: [claim('b', 'example.org', 5), claim('a', 'example.org', 9)],
    apps: { a: { hosts: [`a.${CLUSTER}`] }, b: { hosts: [`b.${CLUSTER}`, 'example.org'] } },
    rejections: [
      [
        'conflict',
        'a',
        'example.org',
        /host and path \/x already claimed by service b \(key paas-router\/domains\/b, CreateIndex 5\)/,
        'paas-router/domains/a',
      ],
    ],
  },
  {
    name: 'rate limit on an app, scoped to a path; a path scope without a limit is reported',
    services: {
      wp: [mc('wp', 1, { tags: ['router.rate-limit=20/10s', 'router.rate-limit-path=/wp-login.php'] })],
      web: [web(2, ['router.rate-limit-path=/x'])],
    },
    apps: { wp: { rateLimit: { requests: 20, period: '10s', periodMs: 10_000, path: '/wp-login.php' } }, web: { name: 'web' } },
    rejections: [['tag', 'web', 'router.rate-limit-path=/x', /router\.rate-limit-path needs router\.rate-limit=<requests>\/<period>; ignored/]],
  },
  {
    name: 'strip-path without a path is reported and ignored',
    services: { web: [web(1, ['router.strip-path=true'])] },
    apps: { web: { name: 'web' } },
    rejections: [['tag', 'web', 'router.strip-path=true', /needs router\.path=\/prefix; ignored/]],
  },
  {
    name: 'group: one route for its apps, equal weights by default, members not routed alone',
    services: { 'shop-blue': [blue(1), blue(2)], 'shop-green': [green(3)] },
    claims: [claim('shop', 'shop.example.org')],
    apps: {
      shop: {
        backend: 'app_shop',
        defaultHost: `shop.${CLUSTER}`,
        hosts: [`shop.${CLUSTER}`, 'shop.example.org'],
        members: [
          { app: 'shop-blue', weight: 1, weightFrom: 'default', servers: 2 },
          { app: 'shop-green', weight: 1, weightFrom: 'default', servers: 1 },
        ],
        servers: [
          { ...server('shop-blue', 1), name: 'shop-blue_10.0.0.1:31001', app: 'shop-blue', weight: 1 },
          { ...server('shop-blue', 2), name: 'shop-blue_10.0.0.2:31002', app: 'shop-blue', weight: 1 },
          { ...server('shop-green', 3), name: 'shop-green_10.0.0.3:31003', app: 'shop-green', weight: 1 },
        ],
      },
    },
    absent: ['shop-blue', 'shop-green'],
  },
  {
    name: 'group weights from K/V; 0 drains; an app missing from the key gets 0 and is reported',
    services: { 'shop-blue': [blue(1)], 'shop-green': [green(2)], 'shop-canary': [mc('shop-canary', 3, { tags: ['router.group=shop'] })] },
    weights: [weights('shop', 'shop-blue=90, shop-green=10')],
    apps: {
      shop: {
        weightsKey: 'paas-router/weights/shop',
        members: [
          { app: 'shop-blue', weight: 90, weightFrom: 'kv', servers: 1 },
          { app: 'shop-canary', weight: 0, weightFrom: 'missing', servers: 1 },
          { app: 'shop-green', weight: 10, weightFrom: 'kv', servers: 1 },
        ],
      },
    },
    rejections: [['weight', 'shop-canary', 'paas-router/weights/shop', /has no weight in paas-router\/weights\/shop: weight 0/, 'paas-router/weights/shop']],
  },
  {
    name: 'bad weights: the whole value is refused with the reason; equal weights',
    services: { 'shop-blue': [blue(1)], 'shop-green': [green(2)] },
    weights: [weights('shop', 'shop-blue=90 shop-green=300')],
    apps: {
      shop: {
        members: [
          { app: 'shop-blue', weight: 1, weightFrom: 'default', servers: 1 },
          { app: 'shop-green', weight: 1, weightFrom: 'default', servers: 1 },
        ],
      },
    },
    rejections: [
      [
        'weight',
        'shop',
        'paas-router/weights/shop',
        /bad token "shop-green=300": expected <app>=<weight> with weight 0\.\.256; every app of the group gets the default weight 1/,
        'paas-router/weights/shop',
      ],
    ],
  },
  {
    name: 'weights naming an app outside the group, and weights of no group',
    services: { 'shop-blue': [blue(1)], web: [web(2)] },
    weights: [weights('shop', 'shop-blue=5 web=7'), weights('nothing', 'a=1')],
    apps: { shop: { members: [{ app: 'shop-blue', weight: 5, weightFrom: 'kv', servers: 1 }] }, web: { name: 'web' } },
    rejections: [
      ['weight', 'nothing', 'paas-router/weights/nothing', /no app has router\.group=nothing/, 'paas-router/weights/nothing'],
      ['weight', 'shop', 'web=7', /app web is not in group shop \(members: shop-blue\); ignored/, 'paas-router/weights/shop'],
    ],
  },
  {
    // A hostile tenant joins a group with one disagreeing tag: it is rejected alone, the group stays.
    name: "a member disagreeing with the group's owner is rejected on its own; the group is served without it",
    services: { 'shop-blue': [blue(1)], 'shop-green': [green(2, ['router.group=shop', 'router.balance=leastconn'])], web: [web(3)] },
    weights: [weights('shop', 'shop-blue=1 shop-green=1')],
    apps: { web: { name: 'web' }, shop: { members: [{ app: 'shop-blue', weight: 1, weightFrom: 'kv', servers: 1 }] } },
    absent: ['shop-blue', 'shop-green'],
    rejections: [
      ['weight', 'shop', 'shop-green=1', /not in group shop/, 'paas-router/weights/shop'],
      [
        'group',
        'shop-green',
        'shop',
        /app shop-green disagrees with app shop-blue on balance \(leastconn vs roundrobin\).*app not routed, the group is served without it/,
      ],
    ],
  },
  {
    name: 'members disagree on an edge setting (router.hsts) too',
    services: { 'shop-blue': [blue(1)], 'shop-green': [green(2, ['router.group=shop', 'router.hsts=600'])] },
    apps: { shop: { members: [{ app: 'shop-blue', weight: 1, weightFrom: 'default', servers: 1 }] } },
    rejections: [['group', 'shop-green', 'shop', /disagrees with app shop-blue on hsts \(600 vs \(unset\)\)/]],
  },
  {
    // fuzz (feature pass): a case variant that lost its own name still joined a group, so "kafka"
    // was both a member and routed on its own.
    name: 'a service that does not hold its own name joins no group',
    services: { kafka: [mc('kafka', 1, { createIndex: 5 })], Kafka: [mc('Kafka', 2, { tags: ['router.group=grp'], createIndex: 9 })] },
    apps: { kafka: { servers: [server('kafka', 1, true, { createIndex: 5 })] } },
    absent: ['grp'],
    rejections: [['service', 'Kafka', 'Kafka', /"Kafka" is the same as "kafka" to Consul/]],
  },
  {
    name: 'a group named like an app outside it is rejected',
    services: { 'shop-blue': [blue(1)], shop: [mc('shop', 2)] },
    apps: { shop: { servers: [server('shop', 2)] } },
    absent: ['shop-blue'],
    rejections: [['group', 'shop-blue', 'shop', /name shop belongs to app shop \(first claim\); app not routed/]],
  },
  {
    name: "a member's own domain key is refused: domains of a group go under the group's key",
    services: { 'shop-blue': [blue(1)] },
    claims: [claim('shop-blue', 'blue.example.org')],
    apps: { shop: { hosts: [`shop.${CLUSTER}`] } },
    rejections: [
      [
        'domain',
        'shop-blue',
        'paas-router/domains/shop-blue',
        /served as part of group shop: claim its domains under paas-router\/domains\/shop/,
        'paas-router/domains/shop-blue',
      ],
    ],
  },
  {
    name: 'tcp group: one listen on the shared port',
    services: {
      'db-a': [mc('db-a', 1, { tags: ['router.mode=tcp', 'router.port=10001', 'router.group=db'] })],
      'db-b': [mc('db-b', 2, { tags: ['router.mode=tcp', 'router.port=10001', 'router.group=db'] })],
    },
    apps: { db: { mode: 'tcp', port: 10001, hosts: [] } },
    absent: ['db-a', 'db-b'],
  },
  {
    name: 'maintenance of an app and of a group, with the time first seen',
    services: { web: [web(1)], 'shop-blue': [blue(2)] },
    maintenance: [maint('web', 'Back at 10:00\r\nUTC', 1234), maint('shop', '')],
    apps: {
      web: { maintenance: { key: 'paas-router/maintenance/web', message: 'Back at 10:00 UTC', since: 1234 } },
      shop: { maintenance: { key: 'paas-router/maintenance/shop', message: 'This site is down for maintenance. Please try again later.' } },
    },
  },
  {
    name: 'bad maintenance entries are refused, each with its reason; the apps keep serving',
    services: { web: [web(1)], 'shop-blue': [blue(2)], irc: [mc('irc', 3, { tags: ['router.mode=tcp', 'router.port=6667'] })] },
    maintenance: [
      maint('web', 'x'.repeat(1025)),
      maint('shop-blue', 'down'),
      maint('irc', 'down'),
      maint('ghost', 'down'),
      maint('a/b', 'x'),
      maint('shop', 'ding\u0007'),
    ],
    apps: { web: { name: 'web' }, shop: { name: 'shop' } },
    rejections: [
      ['maintenance', 'a', 'paas-router/maintenance/a/b', /no further "\/"; ignored/, 'paas-router/maintenance/a/b'],
      ['maintenance', 'ghost', 'paas-router/maintenance/ghost', /no app or group named ghost is routed/, 'paas-router/maintenance/ghost'],
      ['maintenance', 'irc', 'paas-router/maintenance/irc', /tcp app/, 'paas-router/maintenance/irc'],
      ['maintenance', 'shop', 'paas-router/maintenance/shop', /control characters \(only tabs and newlines are allowed\)/, 'paas-router/maintenance/shop'],
      [
        'maintenance',
        'shop-blue',
        'paas-router/maintenance/shop-blue',
        /part of group shop: put paas-router\/maintenance\/shop instead/,
        'paas-router/maintenance/shop-blue',
      ],
      [
        'maintenance',
        'web',
        'paas-router/maintenance/web',
        /message is 1025 bytes long \(max 1024\); the app is not put in maintenance/,
        'paas-router/maintenance/web',
      ],
    ],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const m = build(c.services, { claims: c.claims, weights: c.weights, maintenance: c.maintenance, delegations: c.delegations });
    for (const [name, expected] of Object.entries(c.apps ?? {})) {
      const app = appOf(m, name);
      t.ok(app, `${name} is routed`);
      if (app) t.match(app, expected, name);
      if (app && expected.maintenance === undefined) t.equal(app.maintenance, undefined, `${name} not in maintenance`);
    }
    for (const name of c.absent ?? []) t.notOk(appOf(m, name), `${name} is not routed on its own`);
    checkRejections(t, m.rejections, c.rejections ?? []);
  });
}

t.test('parseWeights', async (t) => {
  t.same(parseWeights('a=0 b=256\nc=7,d=1'), {
    ok: true,
    weights: new Map([
      ['a', 0],
      ['b', 256],
      ['c', 7],
      ['d', 1],
    ]),
  });
  for (const [value, reason] of [
    ['', /empty value/],
    ['a=', /bad token "a="/],
    ['a=01', /bad token "a=01"/],
    ['a=257', /bad token "a=257"/],
    ['a=-1', /bad token "a=-1"/],
    ['=5', /bad token "=5"/],
    ['a=1 a=2', /app a is given twice/],
  ] as const) {
    const p = parseWeights(value);
    t.equal(p.ok, false, JSON.stringify(value));
    if (!p.ok) t.match(p.reason, reason);
  }
});

t.test('path routes: one HostRoute per (host, prefix), sorted by host then path', async (t) => {
  const m = build(
    { site: [mc('site', 1)], forum: [mc('forum', 2, { tags: ['router.path=/forum'] })] },
    { claims: [claim('site', 'example.org', 1), claim('forum', 'example.org', 2)], delegations: [delegate('site', 'example.org/forum=forum')] },
  );
  t.same(
    m.hosts.filter((h) => h.host === 'example.org').map((h) => [h.app, h.path]),
    [
      ['site', undefined],
      ['forum', '/forum'],
    ],
  );
});
