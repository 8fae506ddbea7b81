// Structural sharing between builds: an app whose inputs did not change keeps its AppRoute object,
// and so its view (the render cache keys on the object). A maintenance key, a group's weights and
// an auth entry touch only the apps they name (issue 20: one maintenance key used to copy every
// app, and every app's view was rebuilt).
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { ModelMemo } from '../../src/model/incremental.js';
import type { AppRoute, KvEntry, ModelInput, RoutingModel } from '../../src/model/types.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { RenderCache } from '../../src/render/incremental.js';
import { renderFiles } from '../../src/render/render.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { HASHES } from '../helpers/auth-hashes.js';
import { settings as renderSettings } from '../render/fixtures.js';
import { mc, settings } from './helpers.js';

const kv = (key: string, value: string, createIndex = 50): KvEntry => ({ key, value, createIndex, modifyIndex: createIndex });
const HASH = HASHES.bcrypt2b;

/** Plain apps, a group with weights, a router.auth app, a canonical-host app and a cache: every feature pass has work. */
function baseInput(): ModelInput {
  const services: ModelInput['services'] = {};
  for (let i = 0; i < 20; i++) services[`app${String(i).padStart(2, '0')}`] = [mc(`app${i}`, 1 + (i % 9))];
  services['shop-blue'] = [mc('shop-blue', 1, { tags: ['router.group=shop'], createIndex: 1 })];
  services['shop-green'] = [mc('shop-green', 2, { tags: ['router.group=shop'], createIndex: 2 })];
  services.admin = [mc('admin', 3, { tags: ['router.auth=staff'] })];
  services.www = [mc('www', 4, { tags: ['router.redirect=www.production.mozilla.community', 'router.cache=16m'] })];
  return {
    services,
    claims: [],
    settings: { ...settings, authPrefix: 'secret/data/paas-router/auth/' },
    weights: [kv('paas-router/weights/shop', 'shop-blue=90 shop-green=10')],
    maintenance: [],
    auth: { admin: `alice:${HASH}` },
  };
}

/** The apps whose object changed from `before` to `after`, by name. */
function changedApps(before: RoutingModel, after: RoutingModel): string[] {
  const was = new Map(before.apps.map((a) => [a.name, a]));
  return after.apps.filter((a) => was.get(a.name) !== a).map((a) => a.name);
}

const app = (model: RoutingModel, name: string): AppRoute => model.apps.find((a) => a.name === name)!;

t.test('a build with nothing changed keeps every app object', async (t) => {
  const memo = new ModelMemo();
  const input = baseInput();
  const first = buildModel(input, memo);
  const second = buildModel({ ...input }, memo);
  t.strictSame(changedApps(first, second), []);
});

t.test('a maintenance key copies only the app it names, and only its view is built again', async (t) => {
  const memo = new ModelMemo();
  const input = baseInput();
  const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
  const cache = new RenderCache();
  const first = buildModel(input, memo);
  renderFiles(templates, first, renderSettings, cache);

  const on = buildModel({ ...input, maintenance: [kv('paas-router/maintenance/app03', 'Back soon')] }, memo);
  t.strictSame(changedApps(first, on), ['app03'], 'only app03 is a new object');
  t.equal(app(on, 'app03').maintenance?.message, 'Back soon');
  renderFiles(templates, on, renderSettings, cache);
  t.equal(cache.stats.views, 1, 'one app view built');

  const other = buildModel({ ...input, maintenance: [kv('paas-router/maintenance/app03', 'Back soon'), kv('paas-router/maintenance/shop', 'Later')] }, memo);
  t.strictSame(changedApps(on, other), ['shop'], 'a second key copies only the group it names');

  const off = buildModel({ ...input, maintenance: [] }, memo);
  t.strictSame(changedApps(other, off).sort(), ['app03', 'shop']);
  t.equal(app(off, 'app03'), app(first, 'app03'), 'without its key, app03 is the object it was before the key');
});

t.test('new weights copy only their group; a new auth entry only its app', async (t) => {
  const memo = new ModelMemo();
  const input = baseInput();
  const first = buildModel(input, memo);
  const weights = buildModel({ ...input, weights: [kv('paas-router/weights/shop', 'shop-blue=50 shop-green=50')] }, memo);
  t.strictSame(changedApps(first, weights), ['shop']);
  t.strictSame(
    app(weights, 'shop').members?.map((m) => m.weight),
    [50, 50],
  );
  const auth = buildModel({ ...input, weights: [kv('paas-router/weights/shop', 'shop-blue=50 shop-green=50')], auth: { admin: `bob:${HASH}` } }, memo);
  t.strictSame(changedApps(weights, auth), ['admin']);
  t.strictSame(
    app(auth, 'admin').auth?.users.map((u) => u.name),
    ['bob'],
  );
});

t.test('the shared objects are the objects a fresh build makes, field for field', async (t) => {
  const memo = new ModelMemo();
  const input = baseInput();
  buildModel(input, memo);
  const changed = { ...input, maintenance: [kv('paas-router/maintenance/app03', 'Back soon')] };
  t.strictSame(buildModel(changed, memo), buildModel(changed));
});
