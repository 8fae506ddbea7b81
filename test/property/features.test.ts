// Properties of the per-app features (groups, paths, redirects, allow-lists, weights, maintenance)
// over random catalogs carrying the valid feature tags: the model stays deterministic, its feature
// invariants hold, every model renders and passes a real haproxy -c, and an invalid feature tag on
// one app changes nothing but the rejections.
import fc from 'fast-check';
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { parseCidr } from '../../src/model/feature-tags.js';
import { MAX_MAINTENANCE_BYTES } from '../../src/model/features.js';
import type { ModelInput, RoutingModel } from '../../src/model/types.js';
import { renderFiles } from '../../src/render/render.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { FEATURE_TAGS, INVALID_TAGS, inputArb } from './fixtures.js';
import { holds } from './helpers.js';
import { STATIC_PATHS, checkDeterminism, haproxyCheck, makeWorkDir, nextConfigDir } from './support.js';

const runs = (n: number) => ({ numRuns: Number(process.env.PROPERTY_RUNS ?? n), seed: Number(process.env.PROPERTY_SEED ?? 7031) });

/** inputArb with valid feature tags sprinkled over the instances (every service may join group "grp"). */
const featureInputArb: fc.Arbitrary<ModelInput> = fc
  .tuple(inputArb, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...FEATURE_TAGS)), { maxLength: 8 }))
  .map(([input, adds]) => {
    const services = structuredClone(input.services);
    const names = Object.keys(services).sort();
    for (const [s, i, tag] of adds) {
      if (names.length === 0) break;
      const list = services[names[s % names.length]!]!;
      if (list.length > 0) list[i % list.length]!.tags.push(tag);
    }
    return { ...input, services };
  });

function checkFeatures(model: RoutingModel): void {
  const fail = (what: string) => {
    throw new Error(what);
  };
  const routed = new Set(model.apps.map((a) => a.name));
  const pairs = new Set<string>();
  for (const h of model.hosts) {
    const id = `${h.host} ${h.path ?? ''}`;
    if (pairs.has(id)) fail(`(host, path) routed twice: ${id}`);
    pairs.add(id);
  }
  for (const app of model.apps) {
    if (app.redirect !== undefined && !app.hosts.includes(app.redirect)) fail(`${app.name}: redirect ${app.redirect} is not one of its hosts`);
    for (const c of app.allow ?? []) if (!parseCidr(c).ok) fail(`${app.name}: allow ${c} is not a network`);
    if (app.path !== undefined && !model.hosts.filter((h) => h.app === app.name).every((h) => h.path === app.path))
      fail(`${app.name}: a host route without its path`);
    if (app.maintenance) {
      if (Buffer.byteLength(app.maintenance.message) > MAX_MAINTENANCE_BYTES || /[\r\n\u0000-\u0008]/.test(app.maintenance.message))
        fail(`${app.name}: bad maintenance text`);
      if (app.mode !== 'http') fail(`${app.name}: tcp app in maintenance`);
    }
    if (app.members) {
      const names = new Set(app.members.map((m) => m.app));
      for (const m of app.members) if (routed.has(m.app)) fail(`member ${m.app} of ${app.name} is also routed on its own`);
      for (const s of app.servers) {
        if (!s.app || !names.has(s.app)) fail(`${app.name}: server ${s.name} of no member`);
        if (!Number.isInteger(s.weight) || s.weight! < 0 || s.weight! > 256) fail(`${app.name}: server ${s.name} weight ${s.weight}`);
      }
    } else if (app.servers.some((s) => s.weight !== undefined)) fail(`${app.name}: weights outside a group`);
  }
}

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
        renderFiles(templates, model, settings);
      }),
      runs(300),
    ),
  );
});

t.test('an invalid feature tag on one app changes nothing but the rejections', async (t) => {
  const invalid = INVALID_TAGS.filter((tag) => /^router\.(redirect|allow|group|path|strip-path)=/.test(tag));
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
