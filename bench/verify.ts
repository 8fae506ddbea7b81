// `node dist/bench/verify.js [apps] [rounds]`: what the runtime path costs HAProxy-side at N apps × 3,
// in process, against a real HAProxy (the one on PATH) loaded with the shipped templates' files:
// the runtime commands of one new instance and of one new custom domain, each followed by the
// check that reads HAProxy's state back (RuntimeExecutor.apply, the daemon's "runtime commands"
// stage), and the two ways of reading a hosts map entry back (`show map` of the whole map, `get map`
// of one key). No Consul: the builds are made here as in bench/stages.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHaproxy } from '../dev/haproxy-process.js';
import { freeListenerPorts } from '../dev/net.js';
import { writeFilesAtomically } from '../src/apply/files.js';
import { RuntimeExecutor, parseShowMap } from '../src/apply/runtime/execute.js';
import { parseGetMap } from '../src/apply/runtime/map-lookup.js';
import { planFromData } from '../src/apply/runtime/model-plan.js';
import { RuntimeSession } from '../src/apply/socket.js';
import { buildModel } from '../src/model/build.js';
import { ModelMemo } from '../src/model/incremental.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { RenderCache } from '../src/render/incremental.js';
import { renderFiles } from '../src/render/render.js';
import { loadTemplates } from '../src/sources/files/templates-source.js';
import { settings } from '../test/model/helpers.js';
import { settings as renderDefaults } from '../test/render/fixtures.js';
import { benchServices, instance } from './apps.js';
import { ms, summarize } from './stats.js';

const apps = Number(process.argv[2] ?? 10000);
const rounds = Number(process.argv[3] ?? 20);
let services = benchServices(apps);
let claims: { key: string; value: string; createIndex: number; modifyIndex: number }[] = [];

const work = await mkdtemp(join(tmpdir(), 'paas-router-bench-verify-'));
const configDir = join(work, 'haproxy');
const runtimeSocket = join(work, 'runtime.sock');
const render = {
  ...renderDefaults,
  configDir,
  runtimeSocket,
  bindAddress: '127.0.0.1',
  ...(await freeListenerPorts()),
};
const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const memo = new ModelMemo();
const cache = new RenderCache();
const files = renderFiles(templates, buildModel({ services, claims, settings }, memo), render, cache);
let data = cache.lastData!;
await writeFilesAtomically(configDir, files);
const haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket: join(work, 'master.sock'), timeoutMs: 120_000 });
const loadAtStart = loadavg()[0]!.toFixed(1);
const executor = new RuntimeExecutor(runtimeSocket, join(configDir, 'hosts.map'));
const samples: Record<string, number[]> = {};
const add = (k: string, v: number) => (samples[k] ??= []).push(v);

try {
  for (let r = 0; r < rounds; r++) {
    const changes: [string, () => void][] = [
      ['new instance', () => (services = { ...services, 'app5-bench': [...services['app5-bench']!, { ...instance(5, 9), id: `x${r}`, port: 40000 + r }] })],
      ['new custom domain', () => (claims = [{ key: 'paas-router/domains/app7-bench', value: `d${r}.example.org`, createIndex: 5, modifyIndex: 5 + r }])],
    ];
    for (const [kind, change] of changes) {
      change();
      renderFiles(templates, buildModel({ services, claims, settings }, memo), render, cache);
      const plan = planFromData(templates, data, cache.lastData!);
      if (plan.kind !== 'runtime' || !plan.desired) throw new Error(`${kind}: the plan is not a runtime change: ${JSON.stringify(plan)}`);
      const t = performance.now();
      await executor.apply(plan.ops, plan.desired);
      add(`${kind}: runtime commands + check`, performance.now() - t);
      data = cache.lastData!;
    }
    const hostsMap = join(configDir, 'hosts.map');
    const session = await RuntimeSession.open(runtimeSocket);
    try {
      let t = performance.now();
      const entries = parseShowMap(await session.send(`show map ${hostsMap}`));
      add(`read back the hosts map whole (show map, ${entries.size} entries)`, performance.now() - t);
      t = performance.now();
      parseGetMap(await session.send(`get map ${hostsMap} d${r}.example.org`));
      add('read back one hosts map key (get map)', performance.now() - t);
    } finally {
      session.close();
    }
  }
} finally {
  await haproxy.stop();
  await rm(work, { recursive: true, force: true });
}
const version = (await import('node:child_process')).execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0];
console.log(
  `runtime path at ${apps} apps × 3, ${rounds} rounds, ${version} (2 shared cores, load ${loadAtStart} at start, ${loadavg()[0]!.toFixed(1)} at the end)`,
);
for (const [k, v] of Object.entries(samples)) {
  const s = summarize(v);
  console.log(`  ${k.padEnd(72)} p50 ${ms(s.p50).padStart(9)}  p99 ${ms(s.p99).padStart(9)}  (n=${s.n})`);
}
