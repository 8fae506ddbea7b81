// `node dist/bench/stages.js [apps]`: where one change's time goes inside the build, in process
// (no Consul, no HAProxy): the model, the template data, the runtime plan, then what follows the
// runtime commands (the text and its checksum), for one new instance, one failing check and one
// custom domain at N apps × 3 with a maintenance key and a group present, incremental against
// from scratch.
import { planFromData } from '../src/apply/runtime/model-plan.js';
import { planRuntime } from '../src/apply/runtime/plan.js';
import { checksumOf } from '../src/apply/applier.js';
import { buildModel } from '../src/model/build.js';
import { ModelMemo } from '../src/model/incremental.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { RenderCache } from '../src/render/incremental.js';
import { renderData, renderFiles, renderText } from '../src/render/render.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { settings } from '../test/model/helpers.js';
import { settings as fixtureSettings } from '../test/render/fixtures.js';
import { benchServices, instance } from './apps.js';
import { ms, summarize } from './stats.js';

// The daemon's default pool of spare backends: a brand-new app's plan takes one (all free here).
const render = { ...fixtureSettings, spareBackends: 16 };
const spares = { inUse: new Set<string>() };
const apps = Number(process.argv[2] ?? 10000);
const rounds = Number(process.argv[3] ?? 10);
let services = benchServices(apps);
// Issue 20's case: a maintenance key and a group present (each once made every build copy every app).
for (const name of ['app1-bench', 'app2-bench']) services[name] = services[name]!.map((x) => ({ ...x, tags: ['router.group=shop'] }));
const maintenance = [{ key: 'paas-router/maintenance/app3-bench', value: 'Back soon', createIndex: 7, modifyIndex: 7 }];
let claims: { key: string; value: string; createIndex: number; modifyIndex: number }[] = [];

const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const memo = new ModelMemo();
const cache = new RenderCache();
let files = renderFiles(templates, buildModel({ services, claims, settings, maintenance }, memo), render, cache);
let data = cache.lastData!;
const samples: Record<string, number[]> = {};
const add = (k: string, v: number) => (samples[k] ??= []).push(v);

for (let r = 0; r < rounds; r++) {
  const changes: [string, () => void][] = [
    ['new instance', () => (services = { ...services, 'app5-bench': [...services['app5-bench']!, { ...instance(5, 9), id: `x${r}`, port: 40000 + r }] })],
    ['failing check', () => (services = { ...services, 'app6-bench': services['app6-bench']!.map((x, i) => (i === 0 ? { ...x, passing: r % 2 === 1 } : x)) })],
    ['custom domain', () => (claims = [{ key: 'paas-router/domains/app7-bench', value: `d${r}.example.org`, createIndex: 5, modifyIndex: 5 + r }])],
    [
      'brand-new app',
      () =>
        (services = {
          ...services,
          [`new${r}-bench`]: [0, 1, 2].map((i) => ({
            ...instance(apps + r, i),
            id: `mesos-consul:agent-${i}:new${r}:${50000 + r * 3 + i}`,
            port: 50000 + r * 3 + i,
          })),
        }),
    ],
  ];
  for (const [kind, change] of changes) {
    change();
    let t = performance.now();
    const model = buildModel({ services, claims, settings, maintenance }, memo);
    add(`${kind}: model`, performance.now() - t);
    // In the daemon's order: the data, the plan, (the runtime commands,) then the text and its checksum.
    t = performance.now();
    const nextData = renderData(templates, model, render, cache);
    add(`${kind}: template data`, performance.now() - t);
    t = performance.now();
    planFromData(templates, data, nextData, spares);
    add(`${kind}: plan (from the builds)`, performance.now() - t);
    t = performance.now();
    const next = renderText(templates, nextData, cache);
    add(`${kind}: text, after the commands`, performance.now() - t);
    t = performance.now();
    checksumOf(next);
    add(`${kind}: checksum, after the commands`, performance.now() - t);
    if (r < 2) {
      t = performance.now();
      buildModel({ services, claims, settings, maintenance });
      add(`${kind}: model from scratch`, performance.now() - t);
      t = performance.now();
      planRuntime(files, next);
      add(`${kind}: plan from the files (before)`, performance.now() - t);
    }
    files = next;
    data = nextData;
  }
}
console.log(`in-process stages at ${apps} apps × 3, ${rounds} rounds (2 shared cores, load ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
for (const [k, v] of Object.entries(samples)) {
  const s = summarize(v);
  console.log(`  ${k.padEnd(44)} p50 ${ms(s.p50).padStart(9)}  p99 ${ms(s.p99).padStart(9)}  (n=${s.n})`);
}
