// The blue-green example of docs/features.md: the two Marathon app JSONs in
// examples/marathon/blue-green/ make one route `shop`, and the weights steps of the guide do what
// it says (checked on the model; test/integration/features.test.ts does the same through HAProxy).
import t from 'tap';
import { join } from 'node:path';
import { readMarathonApps } from '../../dev/marathon.js';
import { buildModel } from '../../src/model/build.js';
import { EXAMPLES_DIR } from '../../src/paths.js';
import { mc, settings } from '../model/helpers.js';

t.test('examples/marathon/blue-green: two apps, one route, weights shift the traffic', async (t) => {
  const apps = await readMarathonApps(join(EXAMPLES_DIR, 'marathon', 'blue-green'));
  t.same(
    apps.map((a) => a.id),
    ['/shop-blue', '/shop-green'],
  );
  // mesos-consul names /shop-blue "shop-blue"; every instance carries the `tags` label.
  const services = Object.fromEntries(apps.map((a, n) => [a.id.slice(1), [mc(a.id.slice(1), n + 1, { tags: a.tags })]]));
  const at = (value?: string) =>
    buildModel({
      services,
      claims: [],
      settings,
      weights: value === undefined ? [] : [{ key: 'paas-router/weights/shop', value, createIndex: 1, modifyIndex: 1 }],
    });
  const shop = (value?: string) => at(value).apps.find((a) => a.name === 'shop');
  t.same(
    at().apps.map((a) => a.name),
    ['shop'],
    'one route, the members are not routed alone',
  );
  t.same(at().rejections, [], 'the two JSONs agree on every setting (router.canary is per member)');
  t.same(
    shop()!.members!.map((m) => m.canary ?? null),
    [null, { kind: 'header', name: 'x-canary', value: 'green' }],
    'green takes the requests with X-Canary: green, whatever its weight',
  );
  t.same(
    shop()!.members!.map((m) => [m.app, m.weight]),
    [
      ['shop-blue', 1],
      ['shop-green', 1],
    ],
    'step 2 (both deployed, no key): equal',
  );
  t.same(
    shop('shop-blue=100 shop-green=0')!.members!.map((m) => m.weight),
    [100, 0],
    'step 1/2: all traffic on blue',
  );
  t.same(
    shop('shop-blue=90 shop-green=10')!.members!.map((m) => m.weight),
    [90, 10],
    'step 3: canary',
  );
  t.same(
    shop('shop-blue=0 shop-green=100')!.members!.map((m) => m.weight),
    [0, 100],
    'step 4: switched',
  );
});
