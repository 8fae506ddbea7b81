// Brand-new apps on spare backends (issue 12): which new apps the model plan serves from a spare
// (by their Consul tags, through the real model and the shipped templates), the ops it gives, and
// the renaming the applier does before the runtime API sees them.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { planFromData, type ModelPlan, type SpareUse } from '../../src/apply/runtime/model-plan.js';
import { SpareAssignments, desiredOnSpares, onSpares, sparesFromRuntime } from '../../src/apply/runtime/spares.js';
import { buildModel } from '../../src/model/build.js';
import type { ServiceInstance } from '../../src/sources/types.js';
import { RenderCache } from '../../src/render/incremental.js';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import type { TemplateData } from '../../src/render/views.js';
import { readTemplateSource } from '../../src/sources/files/templates-source.js';
import { HASHES } from '../helpers/auth-hashes.js';
import { mc, settings as modelSettings } from '../model/helpers.js';
import { settings as renderSettings } from '../render/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const templates = compileTemplates(await readTemplateSource(join(here, '..', '..', 'templates')));

/** Template data of one build through one cache (as the runner renders the live directory). */
function builder(spareBackends: number) {
  const cache = new RenderCache();
  return (
    services: Record<string, ServiceInstance[]>,
    claims: { key: string; value: string; createIndex: number; modifyIndex: number }[] = [],
  ): TemplateData => {
    const model = buildModel({ services, claims, settings: modelSettings });
    renderFiles(templates, model, { ...renderSettings, spareBackends }, cache);
    return cache.lastData!;
  };
}

const existing = { web: [mc('web', 1)] };
const none: SpareUse = { inUse: new Set<string>() };

function planNew(tags: string[], use: SpareUse = none, spares = 2): ModelPlan {
  const build = builder(spares);
  const before = build(existing);
  const after = build({ ...existing, blog: [mc('blog', 2, { tags }), mc('blog', 3, { tags, passing: false })] });
  return planFromData(templates, before, after, use);
}

t.test('which brand-new apps a spare serves, by their tags', async (t) => {
  const table: [string[], true | RegExp][] = [
    [[], true],
    [['router.maxconn=50'], true], // a server keyword: `add server` takes it
    [['router.https-only=true'], true], // without a certificate nothing else changes
    [['router.balance=leastconn'], /backend settings a spare backend lacks/],
    [['router.balance=source'], /backend settings a spare backend lacks/],
    [['router.healthcheck=/health'], /backend settings a spare backend lacks/],
    [['router.sticky=true'], /backend settings a spare backend lacks/],
    [['router.timeout-server=120s'], /backend settings a spare backend lacks/],
    [['router.timeout-connect=2s'], /backend settings a spare backend lacks/],
    [['router.max-body=1000'], /backend settings a spare backend lacks/],
    [['router.hsts=31536000'], /backend settings a spare backend lacks/],
    [['router.allow=10.0.0.0/8'], /backend settings a spare backend lacks/],
    // No users in Vault: the app answers 503, never served unprotected from a spare.
    [['router.auth=staff'], /backend settings a spare backend lacks/],
    [['router.path=/blog'], /pathRoutes changed/],
    // Third wave: backend lines a spare does not have.
    [['router.compress'], /backend settings a spare backend lacks/],
    [['router.timeout-tunnel=2h'], /backend settings a spare backend lacks/],
    [['router.proto=h2'], /with servers speaking h2, and spare backends are rendered for HTTP\/1\.1/],
    [['router.proto=h1'], true], // the default, spelt out
    [['router.canary=header:X-Canary=1'], true], // not a group member: the tag is rejected and changes nothing
    // router.cache: a cache section and cache rules a spare lacks; one past haproxy.cache_max_size
    // (256m by default) leaves the app a plain one, which a spare serves.
    [['router.cache=64m'], /backend settings a spare backend lacks/],
    [['router.cache=1g'], true],
    [['router.mode=tcp', 'router.port=10001'], /a tcp app needs its own listener/],
  ];
  for (const [tags, expected] of table) {
    const plan = planNew(tags);
    if (expected === true)
      t.match(plan, { kind: 'runtime', spares: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] }, `${tags.join(' ') || 'no tags'}: on a spare`);
    else t.match(plan, { kind: 'reload', reason: expected }, `${tags.join(' ')}: reload`);
  }
});

t.test('router.auth with its users in Vault: a userlist and an auth rule a spare lacks, so a reload', async (t) => {
  const cache = new RenderCache();
  const settings = { ...modelSettings, authPrefix: 'secret/data/paas-router/auth/' };
  const auth = { blog: `editor:${HASHES.bcrypt2b}` };
  const data = (services: Record<string, ServiceInstance[]>) => {
    renderFiles(templates, buildModel({ services, claims: [], settings, auth }), { ...renderSettings, spareBackends: 2 }, cache);
    return cache.lastData!;
  };
  const before = data(existing);
  const after = data({ ...existing, blog: [mc('blog', 2, { tags: ['router.auth=staff'] })] });
  t.match(planFromData(templates, before, after, none), { kind: 'reload' }, 'never served unprotected from a spare');
});

t.test('router.cache of a running app: turned on, resized or left out by the budget, one reload each', async (t) => {
  const build = builder(2);
  const web = (tags: string[]) => ({ web: [mc('web', 1, { tags })] });
  const plan = (from: string[], to: string[]) => planFromData(templates, build(web(from)), build(web(to)), none);
  t.match(plan([], ['router.cache=64m']), { kind: 'reload', reason: 'the section of app web changed beyond its servers' });
  t.match(plan(['router.cache=64m'], ['router.cache=32m']), { kind: 'reload', reason: 'the section of app web changed beyond its servers' });
  t.match(plan(['router.cache=64m'], []), { kind: 'reload', reason: 'the section of app web changed beyond its servers' });
  t.match(plan(['router.cache=64m'], ['router.cache=64m']), { kind: 'runtime', ops: [] }, 'no change: nothing to do');
  // Another app takes the budget first (by name here: no ownership records): web's cache goes, a reload.
  const before = build({ web: [mc('web', 1, { tags: ['router.cache=200m'] })] });
  const after = build({ web: [mc('web', 1, { tags: ['router.cache=200m'] })], aaa: [mc('aaa', 2, { tags: ['router.cache=100m'] })] });
  t.match(planFromData(templates, before, after, none), { kind: 'reload' });
});

t.test('the ops: servers added (a failing one disabled), then the host mapped', async (t) => {
  const plan = planNew([]);
  if (plan.kind !== 'runtime') throw new Error(`expected a runtime plan, got ${JSON.stringify(plan)}`);
  t.same(
    plan.ops.map((op) => op.op),
    ['add-server', 'add-server', 'map-add'],
  );
  t.match(plan.ops[0], { op: 'add-server', backend: 'app_blog', server: { endpoint: '10.0.0.2:31002', disabled: false } });
  t.match(plan.ops[1], { op: 'add-server', backend: 'app_blog', server: { endpoint: '10.0.0.3:31003', disabled: true } });
  t.same(plan.ops[2], { op: 'map-add', key: 'blog.production.mozilla.community', value: 'app_blog' });
  t.equal(plan.desired?.servers.get('app_blog')?.size, 2, 'what HAProxy must hold: the data plan says it');
});

t.test('the pool: spares in use are skipped; none free, or none at all, is a reload', async (t) => {
  t.match(planNew([], { inUse: new Set(['spare_1']) }), { kind: 'runtime', spares: [{ spare: 'spare_2' }] });
  t.match(planNew([], { inUse: new Set(['spare_1', 'spare_2']) }), { kind: 'reload', reason: /every spare backend is taken \(haproxy.spare_backends: 2\)/ });
  t.match(planNew([], none, 0), { kind: 'reload', reason: /no spare backends/ });
  t.match(planNew([], { inUse: new Set(), unavailable: 'not known after a restart' }), {
    kind: 'reload',
    reason: 'app blog was added (not known after a restart)',
  });
  const build = builder(2);
  const before = build(existing);
  const after = build({ ...existing, blog: [mc('blog', 2)] });
  t.match(planFromData(templates, before, after), { kind: 'reload', reason: /no spare backends/ }, 'no spare use given: the old rule');
});

t.test('two new apps take two spares; a third one (pool of two) reloads', async (t) => {
  const build = builder(2);
  const before = build(existing);
  const two = build({ ...existing, a: [mc('a', 2)], b: [mc('b', 3)] });
  t.match(planFromData(templates, before, two, none), {
    kind: 'runtime',
    spares: [
      { app: 'a', spare: 'spare_1' },
      { app: 'b', spare: 'spare_2' },
    ],
  });
  const build2 = builder(2);
  const before2 = build2(existing);
  const three = build2({ ...existing, a: [mc('a', 2)], b: [mc('b', 3)], c: [mc('c', 4)] });
  t.match(planFromData(templates, before2, three, none), { kind: 'reload', reason: /app c was added and every spare backend is taken/ });
});

t.test('a removed app, or an app added while another goes, still reloads', async (t) => {
  const build = builder(2);
  const before = build({ ...existing, old: [mc('old', 2)] });
  t.match(planFromData(templates, before, build(existing), none), { kind: 'reload', reason: 'apps were added or removed' });
  const build2 = builder(2);
  const before2 = build2({ ...existing, old: [mc('old', 2)] });
  t.match(planFromData(templates, before2, build2({ ...existing, zzz: [mc('zzz', 3)] }), none), { kind: 'reload', reason: 'apps were added or removed' });
});

t.test('a new app beside a server change of another app: both in one runtime plan', async (t) => {
  const build = builder(2);
  const before = build(existing);
  const after = build({ web: [mc('web', 1), mc('web', 4)], blog: [mc('blog', 2)] });
  const plan = planFromData(templates, before, after, none);
  t.match(plan, { kind: 'runtime', spares: [{ app: 'blog' }] });
  if (plan.kind === 'runtime')
    t.same(plan.ops.map((op) => `${op.op} ${'backend' in op ? op.backend : op.key}`).sort(), [
      'add-server app_blog',
      'add-server app_web',
      'map-add blog.production.mozilla.community',
    ]);
});

t.test('the applier renames what goes to HAProxy: servers, host values, maintenance keys', async (t) => {
  const names = new Map([['app_blog', 'spare_2']]);
  const server = { name: 's', endpoint: '10.0.0.2:80', args: [], disabled: false };
  t.same(
    onSpares(
      [
        { op: 'add-server', backend: 'app_blog', server },
        { op: 'add-server', backend: 'app_web', server },
        { op: 'set-weight', backend: 'app_blog', name: 's', weight: 3 },
        { op: 'map-add', key: 'blog.example.org', value: 'app_blog' },
        { op: 'map-set', key: 'www.example.org', value: 'app_web' },
        { op: 'map-add', key: 'app_blog', value: 'bWFpbnQ=', map: 'maintenance.map' },
        { op: 'map-del', key: 'app_blog', map: 'maintenance.map' },
        { op: 'map-del', key: 'blog.example.org' },
      ],
      names,
    ),
    [
      { op: 'add-server', backend: 'spare_2', server },
      { op: 'add-server', backend: 'app_web', server },
      { op: 'set-weight', backend: 'spare_2', name: 's', weight: 3 },
      { op: 'map-add', key: 'blog.example.org', value: 'spare_2' },
      { op: 'map-set', key: 'www.example.org', value: 'app_web' },
      { op: 'map-add', key: 'spare_2', value: 'bWFpbnQ=', map: 'maintenance.map' },
      { op: 'map-del', key: 'spare_2', map: 'maintenance.map' },
      { op: 'map-del', key: 'blog.example.org' },
    ],
  );
  const desired = desiredOnSpares(
    {
      servers: new Map([['app_blog', new Map([['s', server]])]]),
      hosts: new Map([
        ['blog.example.org', 'app_blog'],
        ['web.example.org', 'app_web'],
      ]),
      maps: new Map([['maintenance.map', new Map([['app_blog', 'x']])]]),
    },
    names,
  );
  t.same([...desired.servers.keys()], ['spare_2']);
  t.same(Object.fromEntries(desired.hosts), { 'blog.example.org': 'spare_2', 'web.example.org': 'app_web' });
  t.same(Object.fromEntries(desired.maps!.get('maintenance.map')!), { spare_2: 'x' });
  const ops = [{ op: 'map-del' as const, key: 'x' }];
  t.equal(onSpares(ops, new Map()), ops, 'no app on a spare: the same ops, no copy');
});

t.test('SpareAssignments: take, refuse a taken spare; never changed once made', async (t) => {
  const none = SpareAssignments.NONE;
  t.ok(none.canTake([{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }]));
  const a = none.with([{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }], 1000);
  t.equal(none.size, 0, 'taking makes a new set');
  t.same([...none.inUse], []);
  t.same([...a.inUse], ['spare_1']);
  t.notOk(a.canTake([{ app: 'shop', backend: 'app_shop', spare: 'spare_1' }]), 'spare_1 is taken');
  t.notOk(a.canTake([{ app: 'blog', backend: 'app_blog', spare: 'spare_2' }]), 'blog is on a spare already');
  t.same(a.list(), [{ app: 'blog', backend: 'app_blog', spare: 'spare_1', since: 1000 }]);
  t.same(Object.fromEntries(a.names([{ app: 'shop', backend: 'app_shop', spare: 'spare_2' }])), { app_blog: 'spare_1', app_shop: 'spare_2' });
  t.equal(a.with([], 2000), a, 'no claim: the same set');
});

t.test('which spares hold which app, rebuilt from HAProxy after a daemon restart (issue 20)', async (t) => {
  const files = new Map([
    ['blog.example.org', 'app_blog'],
    ['www.blog.org', 'app_blog'],
    ['shop.example.org', 'app_shop'],
  ]);
  const servers = (...counts: number[]) => new Map(counts.map((n, i) => [`spare_${i + 1}`, n]));
  t.same(sparesFromRuntime(files, { hosts: new Map(files), servers: servers(0, 0) }), { claims: [] }, 'every spare free');
  const runtime = new Map([...files, ['blog.example.org', 'spare_2'], ['www.blog.org', 'spare_2']]);
  t.same(sparesFromRuntime(files, { hosts: runtime, servers: servers(0, 1) }), { claims: [{ app: 'blog', backend: 'app_blog', spare: 'spare_2' }] });
  t.same(
    sparesFromRuntime(files, { hosts: runtime, servers: servers(0, 0) }),
    { claims: [{ app: 'blog', backend: 'app_blog', spare: 'spare_2' }] },
    'an app whose instances are all gone still holds its spare',
  );
  t.match(sparesFromRuntime(files, { hosts: new Map(files), servers: servers(1, 0) }), {
    reason: 'spare backend spare_1 has servers but no host points at it',
  });
  t.match(sparesFromRuntime(files, { hosts: new Map([...runtime, ['shop.example.org', 'spare_2']]), servers: servers(0, 1) }), {
    reason: 'HAProxy serves both app_blog and app_shop from spare backend spare_2',
  });
  t.match(sparesFromRuntime(files, { hosts: new Map([...runtime, ['www.blog.org', 'spare_1']]), servers: servers(0, 1) }), {
    reason: 'HAProxy serves app_blog from more than one spare backend',
  });
  t.match(sparesFromRuntime(files, { hosts: new Map([['gone.example.org', 'spare_1']]), servers: servers(1) }), {
    reason: /gone\.example\.org to spare backend spare_1, which hosts.map does not route to an app/,
  });
});
