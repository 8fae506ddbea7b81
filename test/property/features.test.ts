// Properties of the per-app features (groups, paths, redirects, allow-lists, router.auth, weights,
// maintenance) over random catalogs carrying the valid feature tags and random Vault router.auth
// entries: the model stays deterministic, its feature invariants hold, every model renders (a
// router.auth app always asks for credentials or answers 503) and passes a real haproxy -c, and an
// invalid feature tag or auth entry of one app changes nothing but that app's auth and the rejections.
import fc from 'fast-check';
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import type { ModelInput } from '../../src/model/types.js';
import { renderFiles } from '../../src/render/render.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { INVALID_TAGS } from './fixtures.js';
import { TAGS, TAG_KEYS, type TagKey } from '../../src/model/tag-table.js';
import { AUTH_PREFIX, checkAuthRendered, checkFeatures, checkTenantRendered, featureInputArb, usersValueArb } from './features-support.js';
import { holds } from './helpers.js';
import { STATIC_PATHS, checkDeterminism, haproxyCheck, makeWorkDir, nextConfigDir } from './support.js';

const runs = (n: number) => ({ numRuns: Number(process.env.PROPERTY_RUNS ?? n), seed: Number(process.env.PROPERTY_SEED ?? 7031) });

const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const settings = {
  configDir: STATIC_PATHS.configDir,
  runtimeSocket: `${STATIC_PATHS.configDir}/rt.sock`,
  bindAddress: '127.0.0.1',
  httpPort: 80,
  httpsPort: 443,
  statsPort: 8404,
  hardStopAfter: '5s',
};

t.test('feature tags: deterministic, order-independent, feature invariants, renders', async (t) => {
  holds(t, '300 random states with feature tags', () =>
    fc.assert(
      fc.property(featureInputArb, fc.integer(), (input, seed) => {
        const model = checkDeterminism(input, seed);
        checkFeatures(model);
        const cfg = renderFiles(templates, model, settings)['haproxy.cfg']!;
        checkAuthRendered(model, cfg);
        checkTenantRendered(model, cfg, input.settings.cacheMaxSize);
      }),
      runs(300),
    ),
  );
});

t.test('an invalid feature tag on one app changes nothing but the rejections', async (t) => {
  const featureKeys = new Set(TAG_KEYS.filter((key) => TAGS[key].doc.page === 'features.md'));
  const invalid = INVALID_TAGS.filter((tag) => featureKeys.has(/^router\.([^=]*)=/.exec(tag)?.[1] as TagKey));
  holds(t, '300 random states + one invalid feature tag', () =>
    fc.assert(
      fc.property(featureInputArb, fc.nat(), fc.nat(), fc.constantFrom(...invalid), (input, s, i, tag) => {
        const names = Object.keys(input.services).sort();
        if (names.length === 0) return;
        const list = input.services[names[s % names.length]!]!;
        if (list.length === 0) return;
        const before = buildModel(input);
        const changed = structuredClone(input);
        changed.services[names[s % names.length]!]![i % list.length]!.tags.push(tag);
        const after = buildModel(changed);
        if (JSON.stringify(after.apps) !== JSON.stringify(before.apps) || JSON.stringify(after.hosts) !== JSON.stringify(before.hosts)) {
          throw new Error(`${tag} changed the routes`);
        }
      }),
      runs(300),
    ),
  );
});

t.test("a router.auth entry of one app changes nothing but that app's auth and the rejections", async (t) => {
  holds(t, '300 random states + one changed Vault entry', () =>
    fc.assert(
      fc.property(featureInputArb, fc.nat(), usersValueArb, (input, s, users) => {
        const withAuth = input.settings.authPrefix !== undefined ? input : { ...input, settings: { ...input.settings, authPrefix: AUTH_PREFIX }, auth: {} };
        const before = buildModel(withAuth);
        const names = before.apps.map((a) => a.name);
        if (names.length === 0) return;
        const target = names[s % names.length]!;
        const changed: ModelInput = { ...withAuth, auth: { ...withAuth.auth, [target]: users } };
        const after = buildModel(changed);
        const strip = (m: typeof before) => JSON.stringify(m.apps.map((a) => (a.name === target ? { ...a, auth: undefined } : a)));
        if (strip(after) !== strip(before) || JSON.stringify(after.hosts) !== JSON.stringify(before.hosts))
          throw new Error(`auth/${target} changed another app or the routes`);
        const other = (m: typeof before) => JSON.stringify(m.rejections.filter((r) => !(r.kind === 'auth' && r.service === target)));
        if (other(after) !== other(before)) throw new Error(`auth/${target} changed another app's rejections`);
      }),
      runs(300),
    ),
  );
});

t.test('models with feature tags pass a real haproxy -c', async (t) => {
  const work = await makeWorkDir();
  t.teardown(() => work.cleanup());
  await holds(t, '25 random states with feature tags', () =>
    fc.assert(
      fc.asyncProperty(featureInputArb, async (input) => {
        const dir = nextConfigDir(work.dir);
        const model = buildModel(input);
        await haproxyCheck(renderFiles(templates, model, { ...settings, configDir: dir, runtimeSocket: `${dir}/rt.sock` }), dir);
      }),
      runs(25),
    ),
  );
});
