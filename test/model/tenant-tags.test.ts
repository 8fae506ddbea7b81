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
  ];
  for (const [tag, key, value] of cases) t.strictSame(parseRouterTag(tag, settings), { ok: true, key, value }, tag);
});

t.test('tenant tags: bad values are rejected with the allowed values', async (t) => {
  const cases: [string, RegExp][] = [
    ['router.compress=yes', /^router\.compress: bad value "yes"; allowed: true, false$/],
    ['router.compress=gzip', /bad value "gzip"/],
    ['router.compress=', /empty value/],
  ];
  for (const [tag, reason] of cases) t.match(parseRouterTag(tag, settings), { ok: false, reason }, tag);
  const r = resolveTags('blog', [mc('blog', 1, { tags: ['router.compress=yes'] })], settings);
  t.match(r.rejections, [{ kind: 'tag', service: 'blog', subject: 'router.compress=yes' }], 'the rejection names the app');
  t.equal(r.settings.compress, undefined, 'the app keeps the default');
});

t.test('router.compress: http apps only; the AppRoute field', async (t) => {
  const m = buildModel({
    services: {
      site: [mc('site', 1, { tags: ['router.compress'] })],
      off: [mc('off', 2, { tags: ['router.compress=false'] })],
      irc: [mc('irc', 3, { tags: ['router.mode=tcp', 'router.port=10001', 'router.compress'] })],
    },
    claims: [],
    settings,
  });
  t.equal(m.apps.find((a) => a.name === 'site')?.compress, true);
  t.notOk('compress' in m.apps.find((a) => a.name === 'off')!, 'false leaves the field absent (the default)');
  t.notOk('compress' in m.apps.find((a) => a.name === 'irc')!);
  t.match(m.rejections, [{ service: 'irc', subject: 'router.compress', reason: 'router.compress is only valid with router.mode=http; ignored' }]);
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
