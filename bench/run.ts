// `npm run bench`: the figures behind "hitless" — change latency, reloads during bursts, failed
// requests under churn and forced reloads, cold start and memory at scale — with the targets beside
// them. Options: --trials N (default 100), --apps N (background apps, default 1000),
// --sizes 100,1000,10000, --churn N (default 1000), --reloads N (default 50), --parts latency,scale,
// --consul-https (the daemon reaches the agent over HTTPS: HTTP/2, a watch per service).
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { TUNED, backends, benchConsulHttps, benchTuned, hit, startBench, until } from './harness.js';
import { fillWithMeasuredApp, measureLatency } from './latency.js';
import { burstReloads, loadWithChurn } from './churn.js';
import { incrementalRows, measureSize, type SizeResult } from './incremental.js';
import { measureScale } from './scale.js';
import { ms, printTable, summarize, type Row } from './stats.js';
import { defaultMaxConnections } from '../src/sources/consul/budget.js';

const USAGE =
  'usage: npm run bench -- [--trials N] [--apps N] [--sizes A,B,...] [--churn N] [--reloads N] [--parts latency,scale]\n' +
  '                        [--incremental] [--inc-sizes A,B,...] [--inc-trials N] [--new-trials N] [--spares N] [--burst N] [--tuned] [--consul-https]';

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      trials: { type: 'string', default: '100' },
      apps: { type: 'string', default: '1000' },
      sizes: { type: 'string', default: '100,1000,10000' },
      churn: { type: 'string', default: '1000' },
      reloads: { type: 'string', default: '50' },
      parts: { type: 'string', default: 'latency,scale' },
      // A change costs what changed (bench/incremental.ts): --incremental runs only that part.
      incremental: { type: 'boolean', default: false },
      'inc-sizes': { type: 'string', default: '20,1000,10000' },
      'inc-trials': { type: 'string', default: '30' },
      'new-trials': { type: 'string', default: '5' },
      // haproxy.spare_backends for the incremental part: a brand-new app takes a spare (0: a reload).
      spares: { type: 'string', default: '16' },
      burst: { type: 'string', default: '1000' },
      // The shorter timings of earlier runs (bench/harness.ts TUNED) instead of the defaults.
      tuned: { type: 'boolean', default: false },
      // The daemon reaches the agent over HTTPS: HTTP/2, a blocking watch per service (docs/consul.md).
      'consul-https': { type: 'boolean', default: false },
    },
  });
}
try {
  parsed = parseOptions();
} catch (err) {
  usage((err as Error).message);
}
const { values } = parsed;
if (values.tuned) process.env.PAAS_ROUTER_BENCH_TUNED = '1';
if (values['consul-https']) process.env.PAAS_ROUTER_BENCH_CONSUL_HTTPS = '1';
// Every count a whole number (0 allowed where it turns a part off); lists of them too.
for (const key of ['trials', 'apps', 'churn', 'reloads', 'inc-trials', 'new-trials', 'spares', 'burst'] as const) {
  if (!/^\d+$/.test(values[key]!)) usage(`--${key} must be a whole number, got "${values[key]}"`);
}
for (const key of ['sizes', 'inc-sizes'] as const) {
  if (!/^(\d+(,\d+)*)?$/.test(values[key]!)) usage(`--${key} must be a comma-separated list of whole numbers, got "${values[key]}"`);
}
for (const part of values.parts!.split(',')) if (part !== 'latency' && part !== 'scale') usage(`--parts takes latency and/or scale, got "${part}"`);
const trials = Number(values.trials);
const apps = Number(values.apps);
const sizes = values.sizes!.split(',').filter(Boolean).map(Number);
const churn = Number(values.churn);
const forced = Number(values.reloads);
const log = (s: string) => process.stderr.write(`${s}\n`);
const verdict = (ok: boolean): Row['verdict'] => (ok ? 'met' : 'MISSED');

const haproxyVersion = execFileSync('haproxy', ['-v']).toString().split('\n')[0];
log(`machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${haproxyVersion}`);
log(benchTuned() ? `timings: TUNED (${JSON.stringify(TUNED)}), not the defaults a user gets` : 'timings: the defaults a user gets');
log(benchConsulHttps() ? 'consul: the agent over HTTPS (HTTP/2, a watch per service)' : 'consul: the agent over plain HTTP (change detectors)');

const main = await backends(3, 'main');
const pool = await backends(10, 'extra');
const rows: Row[] = [];

// --inc-sizes '' skips this part (e.g. with --parts scale for the Consul figures alone).
if (values['inc-sizes']!.split(',').filter(Boolean).length > 0) {
  const results: SizeResult[] = [];
  for (const size of values['inc-sizes']!.split(',').filter(Boolean).map(Number)) {
    log(`incremental: ${size} apps × 3 (the real Consul agent when installed)`);
    results.push(
      await measureSize(
        size,
        { trials: Number(values['inc-trials']), newTrials: Number(values['new-trials']), burst: Number(values.burst), spares: Number(values.spares) },
        main,
        pool,
        log,
      ),
    );
    // Each size's rows as soon as measured: a later failure loses nothing.
    for (const row of incrementalRows(results).filter((r) => r.measure.startsWith(`${size} apps`))) log(`  = ${row.measure}: ${row.value}`);
  }
  const incRows = incrementalRows(results);
  for (const row of incRows) log(`  ${row.measure}: ${row.value}${row.target ? ` (target ${row.target}: ${row.verdict})` : ''}`);
  rows.push(...incRows);
  if (values.incremental) {
    await Promise.all([...main, ...pool].map((b) => b.close()));
    process.stdout.write(
      `\npaas-router benchmark (incremental) — ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ${haproxyVersion}\n\n`,
    );
    printTable(rows);
    process.exit(0);
  }
}
// Each figure is also logged as soon as it is known, so a late failure loses nothing.
const push = (row: Row) => {
  rows.push(row);
  log(`  ${row.measure}: ${row.value}${row.target ? ` (target ${row.target}: ${row.verdict})` : ''}`);
};

const parts = values.parts!.split(',');
if (parts.includes('latency')) {
  log(`latency, burst and load: ${apps} background apps + the measured app`);
  const bench = await startBench({
    fill: fillWithMeasuredApp(apps, 1, main),
  });
  try {
    await until(
      'routed',
      async () =>
        (await hit(bench.httpPort, 'lat-bench.production.mozilla.community')).status === 200 &&
        (await hit(bench.httpPort, `app${apps - 1}-bench.production.mozilla.community`)).status === 200,
      300_000,
      50,
    );
    const latency = await measureLatency(bench, trials, pool, log);
    for (const [what, samples] of Object.entries(latency.samples)) {
      const s = summarize(samples);
      const isNewApp = what === 'brand-new app';
      const target = isNewApp ? 500 : 100;
      const reloads = latency.reloads[what] ?? 0;
      const reloadsOk = isNewApp || reloads === 0;
      push({
        measure: `${what}: p50 / p99 (n=${s.n})`,
        value: `${ms(s.p50)} / ${ms(s.p99)}, ${reloads} reloads`,
        target: isNewApp ? `p99 ≤ 500 ms at ${apps} apps` : 'p99 ≤ 100 ms, 0 reloads',
        verdict: verdict(s.p99 <= target && reloadsOk),
      });
    }
    log(`burst: ${Math.min(churn, apps)} instance changes at once`);
    const burst = await burstReloads(bench, Math.min(churn, apps), pool[0]!);
    push({
      measure: `reloads during a burst of ${Math.min(churn, apps)} instance changes`,
      value: `${burst.reloads} (applied in ${ms(burst.appliedMs)})`,
      target: '0',
      verdict: verdict(burst.reloads === 0),
    });
    log(`load: ${churn} churn events and ${forced} forced reloads under sustained load`);
    const load = await loadWithChurn(bench, 'lat-bench.production.mozilla.community', '/bench/lat', pool, churn, forced);
    push({
      measure: `failed requests during ${load.churnEvents} churn events + ${load.forcedReloads} reloads`,
      value: `${load.failed} of ${load.requests} (non-2xx ${load.non2xx}, errors ${load.errors})`,
      target: '0',
      verdict: verdict(load.failed === 0),
    });
  } finally {
    await bench.stop();
  }
}

// consul.max_connections by default (src/sources/consul/budget.ts).
const connectionBudget = defaultMaxConnections(benchConsulHttps() ? 'https:' : 'http:');
for (const size of parts.includes('scale') ? sizes : []) {
  log(`scale: ${size} apps × 3 instances`);
  const s = await measureScale(size, main, pool[1]!, 20, log);
  const floor = s.validateMs + s.reloadMs;
  push({
    measure: `cold start to fully routed, ${s.apps} apps × 3`,
    value: `${ms(s.coldStartMs)} (${(s.coldStartMs / floor).toFixed(2)}× the floor)`,
    target: s.apps === 10000 ? '≤ 1.5× floor (+ catalog read)' : '',
    verdict: s.apps === 10000 ? verdict(s.coldStartMs <= 1.5 * floor) : '',
  });
  push({ measure: `  floor: haproxy -c + reload, ${s.apps} apps`, value: `${ms(s.validateMs)} + ${ms(s.reloadMs)}`, target: '', verdict: '' });
  push({ measure: `  render (model + templates), ${s.apps} apps`, value: ms(s.renderMs), target: '', verdict: '' });
  push({ measure: `  Consul: ${s.consulKind}, registering ${s.apps} × 3`, value: `${(s.registerMs / 1000).toFixed(1)} s`, target: '', verdict: '' });
  push({
    measure: `  most connections held to Consul, ${s.apps} apps (ss / gauge)`,
    value: `${s.socketsMax} / ${s.connectionsMaxGauge}`,
    target: `≤ ${connectionBudget} (consul.max_connections)`,
    verdict: verdict(s.socketsMax <= connectionBudget && s.connectionsMaxGauge <= connectionBudget),
  });
  push({
    measure: `  connections refused by the agent, ${s.apps} apps`,
    value: String(s.refused),
    target: s.apps === 10000 ? '0' : '',
    verdict: s.apps === 10000 ? verdict(s.refused === 0) : '',
  });
  push({ measure: `  cold start reads, ${s.apps} apps`, value: `${s.coldRequests} requests, ${(s.coldBytes / 1e6).toFixed(1)} MB`, target: '', verdict: '' });
  for (const [kind, c] of Object.entries(s.changes)) {
    const l = summarize(c.latencyMs);
    const r = summarize(c.requests);
    const b = summarize(c.bytes);
    push({
      measure: `  ${kind} → served, ${s.apps} apps: p50 / p99 (n=${l.n})`,
      value: `${ms(l.p50)} / ${ms(l.p99)}`,
      target: s.apps === 10000 ? 'p99 ≤ 100 ms' : '',
      verdict: s.apps === 10000 ? verdict(l.p99 <= 100) : '',
    });
    // Over HTTP/1.1 the first change of app0 goes through the detectors; it then has its own watch (docs/consul.md).
    if (kind === 'new instance' && !benchConsulHttps()) {
      push({ measure: `    the first, found by the detectors (app0 has no watch yet)`, value: ms(c.latencyMs[0] ?? Number.NaN), target: '', verdict: '' });
    }
    push({
      measure: `    Consul cost per ${kind}, ${s.apps} apps (p50, max)`,
      value: `${r.p50} / ${r.max} requests, ${(b.p50 / 1024).toFixed(1)} / ${(b.max / 1024).toFixed(1)} KB`,
      target: '',
      verdict: '',
    });
  }
  push({
    measure: `  event loop blocked while the changes were served, ${s.apps} apps (max)`,
    value: ms(s.eventLoopMaxMs),
    target: s.apps === 10000 ? '≤ 50 ms' : '',
    verdict: s.apps === 10000 ? verdict(s.eventLoopMaxMs <= 50) : '',
  });
  push({
    measure: `  daemon RSS, ${s.apps} apps`,
    value: `${s.rssMb.toFixed(0)} MB`,
    target: s.apps === 10000 ? '≤ 200 MB' : '',
    verdict: s.apps === 10000 ? verdict(s.rssMb <= 200) : '',
  });
}
await Promise.all([...main, ...pool].map((b) => b.close()));
process.stdout.write(`\npaas-router benchmark — ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ${haproxyVersion}\n\n`);
printTable(rows);
process.exit(0);
