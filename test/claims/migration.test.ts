// An existing cluster migrates without losing a route: with no record yet, today's winners hold
// every name, the recorder writes exactly those, and the model built on the records routes the same.
import t from 'tap';
import { planClaimWrites } from '../../src/claims/plan.js';
import { buildModel } from '../../src/model/build.js';
import type { KvEntry, ModelInput } from '../../src/model/types.js';
import { claim, mc, settings } from '../model/helpers.js';

t.test("the first start records today's winners and changes no route", async (t) => {
  const input: ModelInput = {
    services: {
      site: [mc('site', 1, { createIndex: 10 })],
      forum: [mc('forum', 2, { createIndex: 11 })],
      'shop-blue': [mc('shop-blue', 3, { tags: ['router.group=shop'], createIndex: 12 })],
      'shop-green': [mc('shop-green', 4, { tags: ['router.group=shop'], createIndex: 13 })],
      db: [mc('db', 5, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 14 })],
      late: [mc('late', 6, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 20 })],
    },
    // Two keys name www.example.org: the older key wins today.
    claims: [claim('site', 'www.example.org', 5), claim('forum', 'www.example.org forum.example.org', 9)],
    settings,
  };
  const before = buildModel(input);
  let index = 100;
  const records: KvEntry[] = planClaimWrites(before.owners ?? [], 0, 3_600_000).map((w) => {
    if (w.op !== 'put' || w.cas !== 0) throw new Error(`expected only creations, got ${JSON.stringify(w)}`);
    index++;
    return { key: w.key, value: JSON.stringify(w.value), createIndex: index, modifyIndex: index };
  });
  const written = Object.fromEntries(records.map((r) => [r.key.replace('paas-router/claims/', ''), JSON.parse(r.value)]));
  t.match(written, {
    'hosts/www.example.org': { owner: 'site' },
    'hosts/forum.example.org': { owner: 'forum' },
    'names/shop': { owner: 'shop-blue', as: 'group', members: ['shop-blue', 'shop-green'] },
    'names/site': { owner: 'site' },
    'ports/10001': { owner: 'db' },
  });
  const after = buildModel({ ...input, claimRecords: records });
  t.same(after.apps, before.apps, 'the same apps, members and servers');
  t.same(after.hosts, before.hosts, 'the same hosts');
  t.same(
    after.rejections.map((r) => [r.kind, r.service, r.subject]),
    before.rejections.map((r) => [r.kind, r.service, r.subject]),
    'the same losers',
  );
  t.same(planClaimWrites(after.owners ?? [], 0, 3_600_000), [], 'nothing more to write');
});
