// `node dist/bench/stages.js [apps]`: where one change's time goes inside the build, in process
// (no Consul, no HAProxy): the model, the render and the runtime plan for one new instance, one
// failing check and one custom domain at N apps × 3, incremental against from scratch.
import { planFromData } from '../src/apply/runtime/model-plan.js';
import { planRuntime } from '../src/apply/runtime/plan.js';
import { buildModel } from '../src/model/build.js';
import { ModelMemo } from '../src/model/incremental.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { RenderCache } from '../src/render/incremental.js';
import { renderFiles } from '../src/render/render.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { settings } from '../test/model/helpers.js';
import { settings as render } from '../test/render/fixtures.js';
import { benchServices, instance } from './apps.js';
import { ms, summarize } from './stats.js';

const apps = Number(process.argv[2] ?? 10000);
const rounds = Number(process.argv[3] ?? 10);
let services = benchServices(apps);
let claims: { key: string; value: string; createIndex: number; modifyIndex: number }[] = [];

const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const memo = new ModelMemo();
const cache = new RenderCache();
let files = renderFiles(templates, buildModel({ services, claims, settings }, memo), render, cache);
let data = cache.lastData!;
const samples: Record<string, number[]> = {};
const add = (k: string, v: number) => (samples[k] ??= []).push(v);

for (let r = 0; r < rounds; r++) {
  const changes: [string, () => void][] = [
    ['new instance', () => (services = { ...services, 'app5-bench': [...services['app5-bench']!, { ...instance(5, 9), id: `x${r}`, port: 40000 + r }] })],
    ['failing check', () => (services = { ...services, 'app6-bench': services['app6-bench']!.map((x, i) => (i === 0 ? { ...x, passing: r % 2 === 1 } : x)) })],
    ['custom domain', () => (claims = [{ key: 'paas-router/domains/app7-bench', value: `d${r}.example.org`, createIndex: 5, modifyIndex: 5 + r }])],
  ];
  for (const [kind, change] of changes) {
    change();
    let t = performance.now();
    const model = buildModel({ services, claims, settings }, memo);
    add(`${kind}: model`, performance.now() - t);
    t = performance.now();
    const next = renderFiles(templates, model, render, cache);
    add(`${kind}: render`, performance.now() - t);
    const nextData = cache.lastData!;
    t = performance.now();
    planFromData(templates, data, nextData);
    add(`${kind}: plan (from the builds)`, performance.now() - t);
    if (r < 2) {
      t = performance.now();
      buildModel({ services, claims, settings });
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
