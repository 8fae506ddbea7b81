// `node dist/bench/write-cost.js [apps] [certificates] [rounds]`: the write after one runtime change
// (a new instance) at N apps × 3 with C certificate files beside the config, through the atomic
// writer (temp file, fsync, rename): every file of the build, as the applier wrote before, against
// the files whose text changed, as it writes now (Applier.writeLive). Run alternately, same disk.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesAtomically } from '../src/apply/files.js';
import { buildModel } from '../src/model/build.js';
import { ModelMemo } from '../src/model/incremental.js';
import { isCertificateFile } from '../src/render/certificates.js';
import { RenderCache } from '../src/render/incremental.js';
import { renderFiles } from '../src/render/render.js';
import type { RenderedFiles } from '../src/render/types.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { settings } from '../test/model/helpers.js';
import { settings as render } from '../test/render/fixtures.js';
import { benchServices, instance } from './apps.js';
import { ms, summarize } from './stats.js';

const apps = Number(process.argv[2] ?? 10000);
const certificates = Number(process.argv[3] ?? 300);
const rounds = Number(process.argv[4] ?? 20);
const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const memo = new ModelMemo();
const cache = new RenderCache();
let services = benchServices(apps);
// A certificate file per custom domain (ACME), about the size of a key and its chain.
const pems: RenderedFiles = {};
for (let i = 0; i < certificates; i++) pems[`certs/d${i}.example.org.pem`] = `${'x'.repeat(5_500)}\n`;
const build = (): RenderedFiles => ({ ...renderFiles(templates, buildModel({ services, claims: [], settings }, memo), render, cache), ...pems });
const order = { first: ['hosts.map'], last: ['haproxy.cfg'], secret: isCertificateFile };

const dir = await mkdtemp(join(tmpdir(), 'paas-router-write-cost-'));
let files = build();
await writeFilesAtomically(dir, files, order);
const samples: Record<'every file' | 'changed files', number[]> = { 'every file': [], 'changed files': [] };
let written = 0;
for (let r = 0; r < rounds; r++) {
  for (const kind of ['every file', 'changed files'] as const) {
    services = {
      ...services,
      'app5-bench': [...services['app5-bench']!, { ...instance(5, 9), id: `x${r}-${kind}`, port: 40000 + services['app5-bench']!.length }],
    };
    const previous = files;
    files = build();
    const changed = Object.fromEntries(Object.entries(files).filter(([name, text]) => previous[name] !== text));
    written = Object.keys(changed).length;
    const started = performance.now();
    await writeFilesAtomically(dir, kind === 'every file' ? files : changed, order);
    samples[kind].push(performance.now() - started);
  }
}
await rm(dir, { recursive: true, force: true });
console.log(
  `write after a new instance at ${apps} apps × 3 with ${certificates} certificates, ${rounds} rounds each, alternately (load ${loadavg()[0]!.toFixed(1)})`,
);
for (const [kind, values] of Object.entries(samples)) {
  const s = summarize(values);
  const count = kind === 'every file' ? Object.keys(files).length : written;
  console.log(`  ${`${kind} (${count})`.padEnd(24)} p50 ${ms(s.p50).padStart(9)}  p99 ${ms(s.p99).padStart(9)}  (n=${s.n})`);
}
