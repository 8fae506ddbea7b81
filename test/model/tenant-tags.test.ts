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
