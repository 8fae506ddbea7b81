// Property-based tests of the renderer (fast-check, fixed seed): every model buildModel produces
// renders without throwing, nothing from the input reaches the files unescaped, and a sample of
// whole cases (state + hostile input + events + TLS/stats settings) passes a real `haproxy -c`.
import fc from 'fast-check';
import { holds, inst, input as state } from './helpers.js';
import t from 'tap';

import { buildModel } from '../../src/model/build.js';
import type { ModelInput } from '../../src/model/types.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { caseArb, inputArb, renderOptionsArb, type FuzzCase, type RenderOptions } from './fixtures.js';
import { STATIC_PATHS, checkRendered, haproxyCheck, makeWorkDir, nextConfigDir, renderModel, renderSettings, runCase, skeletonLines } from './support.js';

const seed = Number(process.env.PROPERTY_SEED ?? 7031);
const runs = (n: number) => ({ seed, numRuns: Number(process.env.PROPERTY_RUNS ?? n) });
const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);

const plain: RenderOptions = {
  bindAddress: '*',
  tls: 'all',
  stats: null,
  maxOldWorkers: null,
  edge: { acceptProxy: false, trustedProxies: [], statsBindAddress: '127.0.0.1', sslMinVer: 'TLSv1.2', maxconn: null },
};

/** States that once failed: always checked first, whatever the seed. */
const regressions: [ModelInput, RenderOptions][] = [
  // Unusable host-name addresses: the renderer threw, or haproxy -c refused ("a..b").
  [state({ web: [inst({ address: '-a' }), inst({ address: 'a..b' }), inst({ address: 'a:b' }), inst({ address: '10.0.0.1:80' })] }), plain],
  // An https-only app with hundreds of covered hosts: one redirect line of > 64 words.
  [
    state({ web: [inst({ tags: ['router.https-only'] })] }, [
      { key: 'paas-router/domains/web', value: Array.from({ length: 300 }, (_, i) => `h${i}.example.org`).join('\n'), createIndex: 1, modifyIndex: 1 },
    ]),
    plain,
  ],
  // Non-ASCII and control characters in the stats credentials.
  [state({}), { ...plain, stats: { user: 'ünï\u00a0', password: 'p\u2028w\u0085#"\'\\ $x:y\u{1f600}' } }],
];

t.test('(2)(3) every built model renders, and nothing reaches the files unescaped', async (t) => {
  await holds(t, '300 random states x render settings', () =>
    fc.assert(
      fc.property(inputArb, renderOptionsArb, (input, opts) => {
        const model = buildModel(input);
        const settings = renderSettings(model, opts, STATIC_PATHS);
        const files = renderModel(templates, model, settings);
        checkRendered(input, model, files, settings, skeletonLines(templates, settings));
      }),
      { ...runs(300), examples: regressions },
    ),
  );
});

t.test('(2) whole cases pass a real haproxy -c', async (t) => {
  const work = await makeWorkDir();
  t.teardown(work.cleanup);
  const paths = () => ({ configDir: nextConfigDir(work.dir), crtList: work.crtList });
  await holds(t, 'the regression states', async () => {
    for (const [input, opts] of regressions) {
      const model = buildModel(input);
      const settings = renderSettings(model, opts, paths());
      await haproxyCheck(renderModel(templates, model, settings), settings.configDir);
    }
  });
  await holds(t, '40 cases (state, hostile input, events, TLS and stats settings)', () =>
    fc.assert(
      fc.asyncProperty(caseArb, async (c: FuzzCase) => {
        const { files, settings } = runCase(templates, c, paths());
        await haproxyCheck(files, settings.configDir);
      }),
      runs(40),
    ),
  );
});
