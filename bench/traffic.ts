// `npm run bench:traffic`: what traffic sampling costs and how fast the status page renders.
//  1. ring: the ring at --ring-apps apps (default 10 000, 3 servers each) over a full default
//     window (15 min / 5 s = 180 samples): heap and array buffers held, the time of one sample.
//  2. loop: the longest event-loop block (perf_hooks monitorEventLoopDelay) during one sample at
//     --ring-apps apps over a real UNIX socket: the answer parsed whole (before) beside parsed as
//     it arrives and recorded in steps (now), alternating, in one run.
//  3. page: the status page at --page-apps apps (default 1 000) of a real dev cluster (dev
//     Consul, real HAProxy, the daemon, traffic sent through HAProxy) in headless Chromium.
//  4. built: the page at --built-apps apps (default 1000,10000) on built state (the real status
//     server on a built model and a ring of known samples: 10 000 apps without a cluster).
//  Page figures: navigation start → first render done in the page's own clock (target < 1 s),
//  render() itself, a refresh, and goto → rendered as the driver sees it. --verbose prints
//  Chromium's timing per run (resources, long tasks), --profile the page's hottest functions.
// --only ring|loop|page|built runs one part. Run with --expose-gc (the npm script does) so the
// heap figures are after a full collection. The first line names the machine and its load.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../dev/chromium.js';
import { startHttpBackend } from '../dev/backends.js';
import { startDevCluster } from '../dev/cluster.js';
import { startTrafficGenerator } from '../dev/traffic.js';
import { createLogger } from '../src/log.js';
import { buildModel } from '../src/model/build.js';
import { startStatusServerOn } from './status-server.js';
import { initialState } from '../src/state.js';
import { deploymentOf } from '../test/helpers/deployment.js';
import type { SamplerStatus } from '../src/traffic/sampler.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { TrafficRing } from '../src/traffic/ring.js';
import { sendSocketCommand } from '../src/apply/socket.js';
import { TrafficSampler } from '../src/traffic/sampler.js';
import { parseShowStat } from '../src/traffic/stat.js';
import { freeListenerPorts } from '../dev/net.js';
import { appTasks, registerMany, until } from './harness.js';

const { values } = parseArgs({
  options: {
    'ring-apps': { type: 'string', default: '10000' },
    'page-apps': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
    verbose: { type: 'boolean' },
    settle: { type: 'string', default: '30' },
    'built-apps': { type: 'string', default: '1000,10000' },
    profile: { type: 'boolean' },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' ',
    )}; machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}${gc ? '' : ' (no --expose-gc: heap figures are rough)'}`,
);

/** A `show stat -1 6 -1` answer in HAProxy 2.6's own columns, for `apps` backends of 3 servers. */
function syntheticShowStat(apps: number, tick: number): string {
  const real = readFileSync(join(PACKAGE_ROOT, 'test', 'traffic', 'fixtures', 'show-stat-2.6.csv'), 'utf8').split('\n');
  const header = real[0]!;
  const columns = header.slice(2).split(',');
  const backendLine = real.find((l) => l.startsWith('app_wordpress-community,BACKEND'))!.split(',');
  const serverLine = real.find((l) => l.startsWith('app_wordpress-community,127.'))!.split(',');
  const idx = (n: string) => columns.indexOf(n);
  const out = [header];
  for (let a = 0; a < apps; a++) {
    const px = `app_app${a}-bench`;
    const req = String(tick * (a % 50));
    const b = backendLine.slice();
    b[idx('pxname')] = px;
    b[idx('req_tot')] = req;
    b[idx('stot')] = req;
    b[idx('hrsp_2xx')] = req;
    b[idx('hrsp_5xx')] = String(tick * (a % 3));
    out.push(b.join(','));
    for (let s = 0; s < 3; s++) {
      const v = serverLine.slice();
      v[idx('pxname')] = px;
      v[idx('svname')] = `10.0.${s}.${a % 250}:${31000 + a}`;
      out.push(v.join(','));
    }
  }
  // HAProxy ends every answer with an empty line.
  return `${out.join('\n')}\n\n`;
}

function heap(): { heap: number; buffers: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

async function ringFigures(apps: number): Promise<void> {
  const capacity = 180;
  const texts = [syntheticShowStat(apps, 1), syntheticShowStat(apps, 2)];
  log(`ring: ${apps} apps × 3 servers, ${capacity} samples (15m / 5s); show stat answer ${mb(texts[0]!.length)}`);
  const before = heap();
  const ring = new TrafficRing(capacity);
  const times: number[] = [];
  for (let i = 0; i < capacity + 20; i++) {
    const started = performance.now();
    ring.record(i * 5000, parseShowStat(texts[i % 2]!));
    times.push(performance.now() - started);
  }
  const after = heap();
  times.sort((a, b) => a - b);
  const held = after.heap - before.heap + (after.buffers - before.buffers);
  log(
    `  ring memory at ${apps} apps: ${mb(held)} (heap ${mb(after.heap - before.heap)} + array buffers ${mb(after.buffers - before.buffers)}), ${(held / apps / 1024).toFixed(2)} KB per app`,
  );
  log(`  one sample (parse + record): median ${times[times.length >> 1]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
  if (ring.size !== apps) throw new Error(`ring holds ${ring.size} backends, expected ${apps}`);
}

/**
 * The longest event-loop block during one sample at `apps` apps, over a real UNIX socket that
 * answers like HAProxy's runtime API: the answer consumed whole then parsed (how the sampler
 * worked before) beside the sampler as it is (parsed chunk by chunk, a turn of the loop between
 * chunks, then recorded into the ring in steps), alternating, in one run.
 */
async function loopFigures(apps: number, runs: number): Promise<void> {
  const answers = [syntheticShowStat(apps, 1), syntheticShowStat(apps, 2)];
  const dir = await mkdtemp(join(tmpdir(), 'bench-traffic-'));
  const path = join(dir, 'runtime.sock');
  let served = 0;
  const server = createServer((socket) => {
    socket.once('data', () => socket.end(answers[served++ % 2]!));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const silent = createLogger('silent');
  const samplers = {
    whole: new TrafficSampler({
      runtimeSocket: path,
      intervalMs: 5000,
      windowMs: 900_000,
      log: silent,
      send: async (socket, command, onChunk) => onChunk(await sendSocketCommand(socket, command, 30_000)),
    }),
    streamed: new TrafficSampler({ runtimeSocket: path, intervalMs: 5000, windowMs: 900_000, log: silent }),
  };
  const blocks: Record<keyof typeof samplers, number[]> = { whole: [], streamed: [] };
  const took: Record<keyof typeof samplers, number[]> = { whole: [], streamed: [] };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  for (let i = 0; i < runs + 1; i++) {
    for (const mode of ['whole', 'streamed'] as const) {
      const sampler = samplers[mode];
      gc?.();
      delay.reset();
      delay.enable();
      const started = performance.now();
      await sampler.sample();
      const ms = performance.now() - started;
      // A last turn so a block at the very end is seen by the histogram.
      await new Promise((r) => setTimeout(r, 5));
      delay.disable();
      if (sampler.status.lastError) throw new Error(sampler.status.lastError.message);
      if (i === 0) continue; // warm-up
      blocks[mode].push(delay.max / 1e6);
      took[mode].push(ms);
    }
  }
  // Recording into the ring, in one go (before) and the longest of its steps (now).
  const record: number[] = [];
  const step: number[] = [];
  const ring = samplers.streamed.ring;
  const parsed = answers.map((a) => parseShowStat(a));
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    ring.record(Date.now() + i, parsed[i % 2]!);
    record.push(performance.now() - started);
    let longest = 0;
    started = performance.now();
    for (const _ of ring.recordInSteps(Date.now() + i, parsed[(i + 1) % 2]!)) {
      longest = Math.max(longest, performance.now() - started);
      await new Promise((r) => setImmediate(r));
      started = performance.now();
    }
    step.push(Math.max(longest, performance.now() - started));
  }
  server.close();
  await rm(dir, { recursive: true, force: true });
  const f = (xs: number[]) => `median ${med(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
  log(`event loop during one sample at ${apps} apps (answer ${mb(answers[0]!.length)} over a UNIX socket, ${runs} runs each, alternating):`);
  log(`  whole answer, then parsed (before): longest block ${f(blocks.whole)}; sample takes ${f(took.whole)}`);
  log(`  parsed as it arrives (now):         longest block ${f(blocks.streamed)}; sample takes ${f(took.streamed)}`);
  log(
    `  ratio of longest blocks (median): ${(med(blocks.whole) / med(blocks.streamed)).toFixed(1)}×; ring.record() in one go ${f(record)}, its longest step now ${f(step)}`,
  );
}

/** In the page: where navigation → rendered goes (Chromium's navigation, resource and measure entries). */
function timing() {
  const r = (x: number) => Math.round(x);
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
  const res = Object.fromEntries(
    (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((e) => [
      new URL(e.name).pathname.split('/').pop() || '/',
      { start: r(e.startTime), wait: r(e.responseStart - e.requestStart), body: r(e.responseEnd - e.responseStart), end: r(e.responseEnd) },
    ]),
  );
  const render = performance.getEntriesByName('render')[0];
  const long = ((window as unknown as { __long?: { start: number; ms: number }[] }).__long ?? []).map((x) => `${r(x.start)}+${r(x.ms)}`);
  return {
    html: r(nav.responseEnd),
    dcl: r(nav.domContentLoadedEventEnd),
    res,
    render: { start: r(render?.startTime ?? 0), ms: r(render?.duration ?? 0) },
    long,
  };
}

/** The 8 functions with the most self time in a CPU profile of the page (--profile). */
function topFunctions(profile: {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  (profile.samples ?? []).forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas?.[i] ?? 0) / 1000);
  });
  return [...self]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, ms]) => `${k} ${Math.round(ms)} ms`)
    .join('; ');
}

/** The served documents' sizes and times, then `runs` loads of the page sorted by rate. */
async function measurePage(browser: Browser, base: string, apps: number, runs: number): Promise<void> {
  for (const path of ['/status', '/traffic']) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      bytes = (await (await fetch(`${base}${path}`)).text()).length;
      times.push(performance.now() - started);
    }
    log(`  ${path}: ${mb(bytes)}, served in ${Math.round(med(times))} ms (median of 5, fetched from the same process)`);
  }
  const first: number[] = [];
  const inPage: number[] = [];
  const loaded: number[] = [];
  const refresh: number[] = [];
  for (let i = 0; i < runs; i++) {
    const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { __long: { start: number; ms: number }[] };
      w.__long = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) w.__long.push({ start: e.startTime, ms: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    page.on('pageerror', (e) => log(`  page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && log(`  console: ${m.text()}`));
    const cdp = values.profile && i === runs - 1 ? await page.context().newCDPSession(page) : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    const started = Date.now();
    await page.goto(`${base}/?sort=rate`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
    loaded.push(Date.now() - started);
    if (cdp) log(`  where the page's main thread went (last run, self time): ${topFunctions((await cdp.send('Profiler.stop')).profile)}`);
    const seen = await page.evaluate(timing);
    if (values.verbose) log(`  run ${i + 1}: ${JSON.stringify(seen)}`);
    inPage.push(seen.render.start + seen.render.ms);
    first.push(seen.render.ms);
    // The page shows cards 200 at a time (sorted by rate here): the rest are one click away.
    const cards = await page.locator('#routes article.app').count();
    if (cards !== Math.min(apps, 200)) throw new Error(`${cards} cards rendered, expected ${Math.min(apps, 200)}`);
    if (apps > 200 && !(await page.locator('#routes-more').isVisible())) throw new Error('no "show more" button');
    // The periodic refresh (every 5 s) renders everything again with the newer samples.
    await page.evaluate(() => document.body.removeAttribute('data-render-ms'));
    await page.waitForSelector('body[data-render-ms]', { state: 'attached', timeout: 30_000 });
    refresh.push(Number(await page.getAttribute('body', 'data-render-ms')));
    await page.context().close();
  }
  const f = (xs: number[]) => `median ${med(xs)} ms, max ${Math.max(...xs)} ms`;
  const target = (xs: number[]) => `(target < 1000 ms: ${Math.max(...xs) < 1000 ? 'met' : 'MISSED'})`;
  log(`  navigation start → first render done, page's own clock, at ${apps} apps: ${f(inPage)} ${target(inPage)}`);
  log(`    of which render() itself: ${f(first)}; render() on a refresh: ${f(refresh)}`);
  log(`  goto → rendered, as the driver sees it (CDP round trips included): ${f(loaded)}`);
}

/**
 * The page at `apps` apps on built state: the real status server on a built model and a ring fed
 * 3 known samples (no Consul, no HAProxy), so 10 000 apps take seconds to set up.
 */
async function builtPageFigures(browser: Browser, apps: number, runs: number): Promise<void> {
  log(`page: ${apps} apps (2 servers each) on built state (the status server on a built model, 3 samples in the ring)`);
  const inst = (app: string, n: number, i: number) => {
    const address = `10.${n}.${i >> 8}.${i & 255}`;
    return { id: `mesos-consul:a:${app}:${address}:31000`, node: 'n1', address, port: 31000, tags: [] as string[], passing: true, checks: [], createIndex: 1 };
  };
  const names = Array.from({ length: apps }, (_, i) => `app${i}-bench`);
  const model = buildModel({
    services: Object.fromEntries(names.map((n, i) => [n, [inst(n, 1, i), inst(n, 2, i)]])),
    claims: [],
    settings: {
      cluster: 'production',
      baseDomain: 'mozilla.community',
      serviceIdPrefixes: ['mesos-consul:'],
      domainsPrefix: 'paas-router/domains/',
      reservedPorts: [80, 443],
    },
  });
  const deployment = deploymentOf(model);
  const state = initialState(Date.now(), () => deployment);
  state.builtModel = model;
  const ring = new TrafficRing(180);
  const now = Date.now();
  for (let k = 0; k < 3; k++) {
    const text = syntheticShowStat(apps, k + 1);
    ring.record(now - (2 - k) * 5000, parseShowStat(text));
  }
  const status: SamplerStatus = { intervalMs: 5000, windowMs: 900_000, lastSampleAt: now, samples: 3, failures: 0, lastError: undefined, lastSampleMs: 0 };
  const server = await startStatusServerOn(state, { ring, status });
  try {
    await measurePage(browser, server.url, apps, runs);
  } finally {
    await server.stop();
  }
}

async function pageFigures(apps: number, runs: number): Promise<void> {
  log(`page: ${apps} apps (2 servers each) on a dev cluster, traffic to 100 of them`);
  const servers = [await startHttpBackend('bench a'), await startHttpBackend('bench b')];
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster = await startDevCluster({
    ...ports,
    apps: [],
    domains: {},
    log: createLogger('warn'),
    configOverrides: { traffic: { interval: '1s', window: '15m' } },
  });
  const browser = await launchChromium();
  try {
    await registerMany(
      cluster.consul.url,
      appTasks(
        apps,
        2,
        servers.map((s) => s.port),
      ),
    );
    await until(
      'routed',
      () => cluster.daemon.runner.state.deployment?.model?.apps.length === apps && cluster.daemon.runner.state.lastApply?.status !== 'haproxy-unreachable',
      300_000,
      100,
    );
    const hosts = Array.from({ length: 100 }, (_, i) => `app${i * Math.floor(apps / 100)}-bench.production.mozilla.community`);
    const generator = startTrafficGenerator(
      httpPort,
      hosts.map((host, i) => ({ host, rate: 1 + (i % 5), errorRatio: i % 10 === 0 ? 0.3 : 0 })),
    );
    await new Promise((r) => setTimeout(r, Number(values.settle) * 1000));
    log(`  the ring holds ${cluster.daemon.traffic.ring.times().length} samples (1 s interval)`);
    await measurePage(browser, cluster.daemon.server.url, apps, runs);
    await generator.stop();
  } finally {
    await browser.close();
    await cluster.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}

if (!values.only || values.only === 'ring') await ringFigures(Number(values['ring-apps']));
if (!values.only || values.only === 'loop') await loopFigures(Number(values['ring-apps']), Number(values.runs));
if (!values.only || values.only === 'page') await pageFigures(Number(values['page-apps']), Number(values.runs));
if (!values.only || values.only === 'built') {
  const browser = await launchChromium();
  try {
    for (const apps of values['built-apps'].split(',').map(Number)) await builtPageFigures(browser, apps, Number(values.runs));
  } finally {
    await browser.close();
  }
}
