// `npm run bench:traffic`: what traffic sampling costs and how fast the status page renders.
//  1. The ring at --ring-apps apps (default 10 000, 3 servers each) over a full default window
//     (15 min / 5 s = 180 samples): heap and array buffers held, and the time of one sample
//     (parsing a `show stat` answer of that size and recording it).
//  2. The status page at --page-apps apps (default 1 000) of a real dev cluster (dev Consul,
//     real HAProxy, the daemon, traffic sent through HAProxy) in headless Chromium: the page's own
//     render time (performance.measure around render()) and navigation → rendered, first load and
//     refreshes. Target: under 1 s.
// Run with --expose-gc (the npm script does) so the heap figures are after a full collection.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../dev/chromium.js';
import { startHttpBackend } from '../dev/backends.js';
import { startDevCluster } from '../dev/cluster.js';
import { startTrafficGenerator } from '../dev/traffic.js';
import { createLogger } from '../src/log.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { TrafficRing } from '../src/traffic/ring.js';
import { parseShowStat } from '../src/traffic/stat.js';
import { appTasks, freePort, registerMany, until } from './harness.js';

const { values } = parseArgs({
  options: { 'ring-apps': { type: 'string', default: '10000' }, 'page-apps': { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } },
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
  return `${out.join('\n')}\n`;
}

function heap(): { heap: number; buffers: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

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

async function pageFigures(apps: number, runs: number): Promise<void> {
  log(`page: ${apps} apps (2 servers each) on a dev cluster, traffic to 100 of them`);
  const servers = [await startHttpBackend('bench a'), await startHttpBackend('bench b')];
  const httpPort = await freePort();
  const cluster = await startDevCluster({
    httpPort,
    statsPort: await freePort(),
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
      () => cluster.daemon.runner.state.liveModel?.apps.length === apps && cluster.daemon.runner.state.lastApply?.status !== 'haproxy-unreachable',
      300_000,
      100,
    );
    const hosts = Array.from({ length: 100 }, (_, i) => `app${i * Math.floor(apps / 100)}-bench.production.mozilla.community`);
    const generator = startTrafficGenerator(
      httpPort,
      hosts.map((host, i) => ({ host, rate: 1 + (i % 5), errorRatio: i % 10 === 0 ? 0.3 : 0 })),
    );
    await new Promise((r) => setTimeout(r, 30_000));
    const statusBytes = (await (await fetch(`${cluster.daemon.server.url}/status`)).text()).length;
    const trafficBytes = (await (await fetch(`${cluster.daemon.server.url}/traffic`)).text()).length;
    log(`  /status ${mb(statusBytes)}, /traffic (whole window so far, ${cluster.daemon.traffic.ring.times().length} samples) ${mb(trafficBytes)}`);
    const first: number[] = [];
    const loaded: number[] = [];
    const refresh: number[] = [];
    for (let i = 0; i < runs; i++) {
      const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
      page.on('pageerror', (e) => log(`  page error: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && log(`  console: ${m.text()}`));
      const started = Date.now();
      await page.goto(`${cluster.daemon.server.url}/?sort=rate`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
      loaded.push(Date.now() - started);
      first.push(Number(await page.getAttribute('body', 'data-render-ms')));
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
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    log(
      `  render() at ${apps} apps, first load: median ${med(first)} ms, max ${Math.max(...first)} ms (target < 1000 ms: ${Math.max(...first) < 1000 ? 'met' : 'MISSED'})`,
    );
    log(`  render() on refresh: median ${med(refresh)} ms, max ${Math.max(...refresh)} ms`);
    log(
      `  navigation → rendered (fetches included): median ${med(loaded)} ms, max ${Math.max(...loaded)} ms (target < 1000 ms: ${Math.max(...loaded) < 1000 ? 'met' : 'MISSED'})`,
    );
    await generator.stop();
  } finally {
    await browser.close();
    await cluster.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}

await ringFigures(Number(values['ring-apps']));
await pageFigures(Number(values['page-apps']), Number(values.runs));
