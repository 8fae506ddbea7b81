// The third-wave tags (issue 22; src/model/tenant-tags.ts): valid values normalised, bad values
// rejected with a reason naming the app, mode scope, group agreement, the AppRoute fields.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { parseRouterTag, resolveTags } from '../../src/model/tags.js';
import { mc, settings } from './helpers.js';

t.test('tenant tags: valid values, normalised', async (t) => {
  const cases: [string, string, string][] = [
    ['router.compress', 'compress', 'true'],
    ['router.compress=TRUE', 'compress', 'true'],
    ['router.compress=false', 'compress', 'false'],
    ['router.timeout-tunnel=1h', 'timeout-tunnel', '1h'],
    ['router.timeout-tunnel=90S', 'timeout-tunnel', '90s'],
    ['router.timeout-tunnel=24h', 'timeout-tunnel', '24h'],
    ['router.proto=h2', 'proto', 'h2'],
    ['router.proto=H2', 'proto', 'h2'],
    ['router.proto=h1', 'proto', 'h1'],
    ['router.canary=header:X-Canary=green', 'canary', 'header:x-canary=green'],
    ['router.canary=cookie:Shop_Track=v1.2~b', 'canary', 'cookie:Shop_Track=v1.2~b'],
    ['router.cache=64m', 'cache', '64m'],
    ['router.cache=64M', 'cache', '64m'],
    ['router.cache=1g', 'cache', '1024m'],
    ['router.cache=1m', 'cache', '1m'],
    ['router.cache=4095m', 'cache', '4095m'],
  ];
  for (const [tag, key, value] of cases) t.strictSame(parseRouterTag(tag, settings), { ok: true, key, value }, tag);
});

t.test('tenant tags: bad values are rejected with the allowed values', async (t) => {
  const cases: [string, RegExp][] = [
    ['router.compress=yes', /^router\.compress: bad value "yes"; allowed: true, false$/],
    ['router.compress=gzip', /bad value "gzip"/],
    ['router.compress=', /empty value/],
    ['router.timeout-tunnel=25h', /^router\.timeout-tunnel: bad value "25h"; allowed: a duration <integer><ms\|s\|m\|h> greater than 0 and at most 24h/],
    ['router.timeout-tunnel=0s', /bad value "0s"/],
    ['router.timeout-tunnel=1d', /bad value "1d"/],
    ['router.timeout-tunnel', /needs a value/],
    ['router.proto=h3', /^router\.proto: bad value "h3"; allowed: h2 \(the servers speak cleartext HTTP\/2, e\.g\. gRPC\), h1/],
    ['router.proto=grpc', /bad value "grpc"/],
    ['router.proto', /needs a value/],
    ['router.canary=header:X_Canary=1', /^router\.canary: bad value "header:X_Canary=1"; allowed: header:<Name>=<value> or cookie:<name>=<value>/],
    ['router.canary=query:x=1', /bad value/],
    ['router.canary=cookie:c=', /bad value/],
    ['router.canary=cookie:c=a;b', /bad value/],
    ['router.canary=header:X-Canary', /bad value/],
    [`router.canary=cookie:c=${'v'.repeat(65)}`, /bad value/],
    ['router.cache=64', /^router\.cache: bad value "64"; allowed: a size <integer>m or <integer>g \(MiB, GiB\) of at least 1m and at most 4095m, e\.g\. 64m$/],
    ['router.cache=0m', /^router\.cache: bad value "0m"; a cache of size 0 is no cache \(leave the tag out\); allowed:/],
    ['router.cache=0', /a cache of size 0 is no cache/],
    ['router.cache=4096m', /^router\.cache: bad value "4096m"; HAProxy caches are at most 4095m; allowed:/],
    ['router.cache=4g', /HAProxy caches are at most 4095m/],
    ['router.cache=999999999999g', /HAProxy caches are at most 4095m/],
    ['router.cache=512k', /bad value "512k"/],
    ['router.cache=064m', /bad value "064m"/],
    ['router.cache=1.5g', /bad value "1\.5g"/],
    ['router.cache=64mb', /bad value "64mb"/],
    ['router.cache=true', /bad value "true"/],
    ['router.cache=-1m', /bad value "-1m"/],
    ['router.cache', /^router\.cache needs a value \(router\.cache=<value>\)/],
  ];
  for (const [tag, reason] of cases) t.match(parseRouterTag(tag, settings), { ok: false, reason }, tag);
  const r = resolveTags('blog', [mc('blog', 1, { tags: ['router.compress=yes'] })], settings);
  t.match(r.rejections, [{ kind: 'tag', service: 'blog', subject: 'router.compress=yes' }], 'the rejection names the app');
  t.equal(r.settings.compress, undefined, 'the app keeps the default');
});

t.test('router.compress, router.timeout-tunnel, router.proto: http apps only; the AppRoute fields', async (t) => {
  const m = buildModel({
    services: {
      site: [mc('site', 1, { tags: ['router.compress', 'router.timeout-tunnel=2h', 'router.proto=h2'] })],
      off: [mc('off', 2, { tags: ['router.compress=false', 'router.proto=h1'] })],
      irc: [mc('irc', 3, { tags: ['router.mode=tcp', 'router.port=10001', 'router.compress', 'router.timeout-tunnel=1h'] })],
    },
    claims: [],
    settings,
  });
  t.equal(m.apps.find((a) => a.name === 'site')?.compress, true);
  t.equal(m.apps.find((a) => a.name === 'site')?.timeoutTunnel, '2h');
  t.equal(m.apps.find((a) => a.name === 'site')?.proto, 'h2');
  t.notOk('compress' in m.apps.find((a) => a.name === 'off')!, 'false leaves the field absent (the default)');
  t.notOk('proto' in m.apps.find((a) => a.name === 'off')!, 'h1 leaves the field absent (the default)');
  t.notOk('compress' in m.apps.find((a) => a.name === 'irc')!);
  t.match(m.rejections, [
    { service: 'irc', subject: 'router.compress', reason: 'router.compress is only valid with router.mode=http; ignored' },
    { service: 'irc', subject: 'router.timeout-tunnel=1h', reason: 'router.timeout-tunnel is only valid with router.mode=http; ignored' },
  ]);
  t.notOk('timeoutTunnel' in m.apps.find((a) => a.name === 'irc')!);
});

t.test('group members must agree on the third-wave settings', async (t) => {
  const m = buildModel({
    services: {
      'shop-blue': [mc('shop-blue', 1, { tags: ['router.group=shop', 'router.compress'], createIndex: 1 })],
      'shop-green': [mc('shop-green', 2, { tags: ['router.group=shop'], createIndex: 2 })],
    },
    claims: [],
    settings,
    weights: [{ key: 'paas-router/weights/shop', value: 'shop-blue=1 shop-green=1', createIndex: 3, modifyIndex: 3 }],
  });
  t.match(
    m.rejections.filter((r) => r.kind === 'group'),
    [{ kind: 'group', service: 'shop-green', reason: /disagrees with app shop-blue on compress \(\(unset\) vs true\)/ }],
  );
  t.equal(m.apps.find((a) => a.name === 'shop')?.compress, true);
});

t.test('router.canary: a member of a group only, its own, never on a path group, never twice', async (t) => {
  const weights = (value: string) => [{ key: 'paas-router/weights/shop', value, createIndex: 9, modifyIndex: 9 }];
  const m = buildModel({
    services: {
      'shop-blue': [mc('shop-blue', 1, { tags: ['router.group=shop'], createIndex: 1 })],
      'shop-green': [mc('shop-green', 2, { tags: ['router.group=shop', 'router.canary=header:X-Canary=1'], createIndex: 2 })],
      'shop-red': [mc('shop-red', 3, { tags: ['router.group=shop', 'router.canary=header:x-canary=1'], createIndex: 3 })],
      alone: [mc('alone', 4, { tags: ['router.canary=cookie:c=1'] })],
    },
    claims: [],
    settings,
    weights: weights('shop-blue=1 shop-green=0 shop-red=0'),
  });
  const shop = m.apps.find((a) => a.name === 'shop')!;
  t.same(
    shop.members!.map((x) => [x.app, x.canary ?? null]),
    [
      ['shop-blue', null],
      ['shop-green', { kind: 'header', name: 'x-canary', value: '1' }],
      ['shop-red', null],
    ],
    'members differ on router.canary without disagreeing; the same rule twice: the first member by name keeps it',
  );
  t.match(
    m.rejections.filter((r) => r.subject.startsWith('router.canary')),
    [
      { service: 'alone', subject: 'router.canary=cookie:c=1', reason: /router\.canary is for a member of a router\.group/ },
      { service: 'shop-red', subject: 'router.canary=header:x-canary=1', reason: 'app shop-green of group shop has the same canary; ignored' },
    ],
  );
  t.notOk('canary' in m.apps.find((a) => a.name === 'alone')!, 'no canary field on a route');

  const paths = buildModel({
    services: {
      'docs-a': [mc('docs-a', 1, { tags: ['router.group=docs', 'router.path=/docs'], createIndex: 1 })],
      'docs-b': [mc('docs-b', 2, { tags: ['router.group=docs', 'router.path=/docs', 'router.canary=header:X-B=1'], createIndex: 2 })],
    },
    claims: [],
    settings,
    weights: [{ key: 'paas-router/weights/docs', value: 'docs-a=1 docs-b=0', createIndex: 9, modifyIndex: 9 }],
  });
  t.notOk(
    paths.apps.find((a) => a.name === 'docs')!.members!.some((x) => x.canary),
    'no canary on a path group',
  );
  t.match(paths.rejections, [
    { service: 'docs-b', subject: 'router.canary=header:x-b=1', reason: /served under router\.path \/docs: canaries are routed on whole hosts only/ },
  ]);
});

t.test('router.cache: http apps only; the AppRoute field in MiB; group members agree on it', async (t) => {
  const m = buildModel({
    services: {
      site: [mc('site', 1, { tags: ['router.cache=1g'] })],
      irc: [mc('irc', 3, { tags: ['router.mode=tcp', 'router.port=10001', 'router.cache=64m'] })],
      bad: [mc('bad', 4, { tags: ['router.cache=0m'] })],
      'shop-blue': [mc('shop-blue', 5, { tags: ['router.group=shop', 'router.cache=64m'], createIndex: 1 })],
      'shop-green': [mc('shop-green', 6, { tags: ['router.group=shop', 'router.cache=32m'], createIndex: 2 })],
    },
    claims: [],
    settings: { ...settings, cacheMaxSize: 2048 },
    weights: [{ key: 'paas-router/weights/shop', value: 'shop-blue=1 shop-green=1', createIndex: 3, modifyIndex: 3 }],
  });
  const app = (name: string) => m.apps.find((a) => a.name === name)!;
  t.equal(app('site').cache, 1024, '1g is 1024 MiB');
  t.notOk('cache' in app('irc'));
  t.notOk('cache' in app('bad'), 'a rejected value leaves the app without a cache');
  t.equal(app('shop').cache, 64, "the group takes its owner's cache");
  t.match(
    m.rejections.filter((r) => r.subject.startsWith('router.cache') || r.kind === 'group'),
    [
      { service: 'bad', subject: 'router.cache=0m', reason: /^router\.cache: bad value "0m"; a cache of size 0 is no cache/ },
      { service: 'irc', subject: 'router.cache=64m', reason: 'router.cache is only valid with router.mode=http; ignored' },
      { kind: 'group', service: 'shop-green', reason: /disagrees with app shop-blue on cache \(32 vs 64\)/ },
    ],
  );
});

t.test('router.cache: the sizes of all apps within haproxy.cache_max_size, oldest name first', async (t) => {
  // Four apps ask for 100m each (one for 30m) of a 256m budget: who keeps a cache is decided by the
  // age of the ownership record of each app's name (a redeploy keeps it), not by the app's name.
  const record = (name: string, index: number) => ({
    key: `paas-router/claims/names/${name}`,
    value: JSON.stringify({ owner: name }),
    createIndex: index,
    modifyIndex: index,
  });
  const input = {
    services: {
      aaa: [mc('aaa', 1, { tags: ['router.cache=100m'], createIndex: 50 })],
      blog: [mc('blog', 2, { tags: ['router.cache=100m'], createIndex: 40 })],
      docs: [mc('docs', 3, { tags: ['router.cache=100m'], createIndex: 30 })],
      small: [mc('small', 4, { tags: ['router.cache=30m'], createIndex: 60 })],
      plain: [mc('plain', 5, { createIndex: 1 })],
    },
    claims: [],
    settings: { ...settings, cacheMaxSize: 256 },
    claimRecords: [record('docs', 10), record('blog', 11), record('aaa', 12), record('small', 13), record('plain', 1)],
  };
  const m = buildModel(input);
  const sizes = Object.fromEntries(m.apps.map((a) => [a.name, a.cache ?? null]));
  t.same(sizes, { aaa: null, blog: 100, docs: 100, plain: null, small: 30 }, 'docs and blog first, aaa does not fit, small still does');
  t.same(
    m.rejections.filter((r) => r.subject.startsWith('router.cache')),
    [
      {
        kind: 'tag',
        service: 'aaa',
        subject: 'router.cache=100m',
        reason:
          'router.cache=100m of app aaa does not fit in haproxy.cache_max_size 256m: 200m are taken by the caches of 2 apps ahead of it (docs, blog), the oldest names first; served without a cache',
      },
    ],
  );
  t.same(buildModel(input).apps, m.apps, 'deterministic');
  const reversed = { ...input, claimRecords: [...input.claimRecords].reverse(), services: Object.fromEntries(Object.entries(input.services).reverse()) };
  t.same(buildModel(reversed).apps, m.apps, 'whatever the order of the input');

  // A new app named to sort first, with the whole budget, takes nobody's cache.
  const intruder = buildModel({ ...input, services: { ...input.services, '0000': [mc('0000', 9, { tags: ['router.cache=256m'], createIndex: 99 })] } });
  t.same(
    intruder.apps.filter((a) => a.cache !== undefined).map((a) => a.name),
    ['blog', 'docs', 'small'],
    'the newcomer (no record yet) comes after every recorded app',
  );
  t.match(intruder.rejections, [{ service: '0000', subject: 'router.cache=256m', reason: /does not fit in haproxy\.cache_max_size 256m: 230m are taken/ }]);

  // Without records (a model of its own, the CLI's explain --marathon): by name.
  const unrecorded = buildModel({ ...input, claimRecords: [] });
  t.same(
    unrecorded.apps.filter((a) => a.cache !== undefined).map((a) => a.name),
    ['aaa', 'blog', 'small'],
    'by name while no name is recorded',
  );

  const off = buildModel({ ...input, settings: { ...settings, cacheMaxSize: 0 } });
  t.same(
    off.apps.filter((a) => a.cache !== undefined),
    [],
    'haproxy.cache_max_size 0: no app has a cache',
  );
  t.match(off.rejections, [
    { service: 'aaa', subject: 'router.cache=100m', reason: 'haproxy.cache_max_size is 0 on this router: no app has a cache; app aaa is served without one' },
  ]);

  const fits = buildModel({ ...input, settings: { ...settings, cacheMaxSize: 330 } });
  t.equal(fits.apps.filter((a) => a.cache !== undefined).length, 4, 'all fit in 330m');
  t.same(buildModel({ ...input, settings }).apps.filter((a) => a.cache !== undefined).length, 3, 'the default budget is 256m');
});
