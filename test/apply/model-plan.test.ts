// The runtime plan's hosts map from two builds (apply/runtime/model-plan.ts): one merge walk over
// the sorted host views gives the same ops as comparing the hosts.map files, and what the check
// after the commands reads (each changed key) is the candidate file's entry, found without a copy.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { planFromData } from '../../src/apply/runtime/model-plan.js';
import { parseFiles } from '../../src/apply/runtime/parse.js';
import { planRuntime } from '../../src/apply/runtime/plan.js';
import { buildModel } from '../../src/model/build.js';
import { RenderCache } from '../../src/render/incremental.js';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import { readTemplateSource } from '../../src/sources/files/templates-source.js';
import { mc, settings as modelSettings } from '../model/helpers.js';
import { settings as renderSettings } from '../render/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const templates = compileTemplates(await readTemplateSource(join(here, '..', '..', 'templates')));
const services = { web: [mc('web', 1)], blog: [mc('blog', 2)], shop: [mc('shop', 3)] };
const claim = (service: string, value: string, index: number) => ({ key: `paas-router/domains/${service}`, value, createIndex: index, modifyIndex: index });

t.test('a host moved, one gone, one new: deletions first, then sets and adds, as the files say', async (t) => {
  const cache = new RenderCache();
  const build = (claims: ReturnType<typeof claim>[]) => {
    const files = renderFiles(templates, buildModel({ services, claims, settings: modelSettings }), renderSettings, cache);
    return { files, data: cache.lastData! };
  };
  const before = build([claim('web', 'a.example.org', 5), claim('shop', 'z.example.org', 6)]);
  const after = build([claim('blog', 'a.example.org', 7), claim('web', 'm.example.org', 8)]);

  const plan = planFromData(templates, before.data, after.data);
  if (plan.kind !== 'runtime') throw new Error(`expected a runtime plan, got ${plan.kind}`);
  t.same(plan.ops, [
    { op: 'map-del', key: 'z.example.org' },
    { op: 'map-set', key: 'a.example.org', value: 'app_blog' },
    { op: 'map-add', key: 'm.example.org', value: 'app_web' },
  ]);
  const byFiles = planRuntime(before.files, after.files);
  t.same(byFiles.kind === 'runtime' ? byFiles.ops : byFiles, plan.ops, 'the same ops as from the hosts.map files');

  const hosts = plan.desired!.hosts;
  const file = parseFiles(after.files).hosts;
  t.equal(hosts.size, file.size);
  t.same([...hosts], [...file], 'listed in the order of the file');
  for (const [host, backend] of file) t.equal(hosts.get(host), backend, `${host} found`);
  for (const missing of ['z.example.org', 'aa.example.org', '', 'zz.example.org']) t.equal(hosts.get(missing), undefined, `"${missing}" not found`);
});
