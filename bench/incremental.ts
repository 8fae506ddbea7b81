// `npm run bench -- --incremental`: does a change cost what changed? Per cluster size (apps × 3
// instances), change → served latency for each kind of change, its ratio to the same kind at the
// smallest size in the same run, a brand-new app (latency and reloads), a burst of instance
// changes (time to apply all, reloads), and where the daemon's time went per stage at the largest
// size (from its own log: model, render, plan, runtime commands, write).
// Options: --inc-sizes 20,1000,10000  --inc-trials 30 (per kind)  --new-trials 5  --burst 1000
// --spares 16 (haproxy.spare_backends; 0: every brand-new app takes the validated reload).
import { readFile } from 'node:fs/promises';
import { registerMesosTask, type MesosTask } from '../dev/consul/mesos.js';
import type { Backend } from '../dev/backends.js';
import { burstReloads } from './churn.js';
import { hit, reloadCount, startBench, until, type Bench } from './harness.js';
import { MEASURED_HOST, existingAppTrial, fillWithMeasuredApp, type TimedChange } from './latency.js';
import { ms, summarize, type Row } from './stats.js';

const KINDS = ['new instance', 'instance removed', 'instance failing its check', 'custom domain added', 'custom domain removed'] as const;

export interface SizeResult {
  apps: number;
  samples: Record<string, number[]>;
  reloads: Record<string, number>;
  burst: { changes: number; appliedMs: number; reloads: number };
  profile: Record<string, { p50: number; p99: number; n: number }>;
  /** The same stages for the brand-new apps served through the runtime API (a spare). */
  newProfile: Record<string, { p50: number; p99: number; n: number }>;
  readyMs: number;
  /** haproxy.spare_backends of the run. */
  spares: number;
}

/** The per-stage timings the daemon logged for runtime changes since `from` (line offset). */
async function profileOf(bench: Bench, fromLine: number, toLine?: number): Promise<Record<string, { p50: number; p99: number; n: number }>> {
  const lines = (await readFile(bench.logFile, 'utf8')).split('\n').slice(fromLine, toLine);
  const stages: Record<string, number[]> = { model: [], render: [], plan: [], 'runtime commands': [], write: [] };
  for (const line of lines) {
    if (!line.includes('through the runtime API, no reload')) continue;
    const r = JSON.parse(line) as { runtimeMs?: number; writeMs?: number; profile?: { modelMs: number; renderMs: number; planMs: number } };
    if (!r.profile) continue;
    stages.model!.push(r.profile.modelMs);
    stages.render!.push(r.profile.renderMs);
    stages.plan!.push(r.profile.planMs);
    stages['runtime commands']!.push(r.runtimeMs ?? Number.NaN);
    stages.write!.push(r.writeMs ?? Number.NaN);
  }
  return Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summarize(v)]));
}

async function logLines(bench: Bench): Promise<number> {
  return (await readFile(bench.logFile, 'utf8').catch(() => '')).split('\n').length - 1;
}

export async function measureSize(
  apps: number,
  opts: { trials: number; newTrials: number; burst: number; spares: number },
  main: Backend[],
  extra: Backend[],
  log: (s: string) => void,
): Promise<SizeResult> {
  const started = performance.now();
  const bench = await startBench({
    spareBackends: opts.spares,
    fill: fillWithMeasuredApp(apps, 3, main),
  });
  try {
    const { consul, httpPort, masterSocket } = bench;
    await until(
      'routed',
      async () =>
        (await hit(httpPort, MEASURED_HOST)).status === 200 && (await hit(httpPort, `app${apps - 1}-bench.production.mozilla.community`)).status === 200,
      900_000,
      100,
    );
    const readyMs = performance.now() - started;
    log(`  ${apps} apps × 3 routed ${(readyMs / 1000).toFixed(1)} s after start`);
    // Let the cold start's reload and the first runtime changes settle.
    await new Promise((r) => setTimeout(r, 2000));
    const fromLine = await logLines(bench);
    const samples: Record<string, number[]> = Object.fromEntries([...KINDS, 'brand-new app'].map((k) => [k, []]));
    const reloads: Record<string, number> = {};
    const timed: TimedChange = async (what, write, check) => {
      const before = await reloadCount(masterSocket);
      const t0 = performance.now();
      // Consul may be slow to accept on a loaded machine: retry the write.
      for (let attempt = 1; ; attempt++) {
        try {
          await write();
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
      await until(what, check, 60_000, 0);
      samples[what]!.push(performance.now() - t0);
      reloads[what] = (reloads[what] ?? 0) + (await reloadCount(masterSocket)) - before;
      // A quiet gap between changes: each is a lone change (the leading edge), not a burst.
      await new Promise((r) => setTimeout(r, 30));
    };
    for (let i = 0; i < opts.trials; i++) await existingAppTrial(bench, timed, extra[i % extra.length]!, i, 60_000, 30);
    const profile = await profileOf(bench, fromLine);
    const newFrom = await logLines(bench);
    for (let i = 0; i < opts.newTrials; i++) {
      const fresh: MesosTask = { app: `/bench/new${i}`, agent: 'agent-n', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: extra[0]!.port };
      await timed(
        'brand-new app',
        () => registerMesosTask(consul.url, fresh),
        async () => (await hit(httpPort, `new${i}-bench.production.mozilla.community`)).status === 200,
      );
    }
    const newProfile = await profileOf(bench, newFrom);
    log(`  ${apps} apps: brand-new app, each trial: ${samples['brand-new app']!.map((v) => ms(v)).join(', ')}`);
    const changes = Math.min(opts.burst, apps);
    const burst = await burstReloads(bench, changes, extra[1]!);
    log(`  ${apps} apps: burst of ${changes} applied in ${ms(burst.appliedMs)}, ${burst.reloads} reloads`);
    return { apps, samples, reloads, burst: { changes, ...burst }, profile, newProfile, readyMs, spares: opts.spares };
  } finally {
    await bench.stop();
  }
}

/** The table rows: each kind at each size, with the ratio to the smallest size and the targets. */
export function incrementalRows(results: SizeResult[]): Row[] {
  const rows: Row[] = [];
  const base = results[0]!;
  const verdict = (ok: boolean): Row['verdict'] => (ok ? 'met' : 'MISSED');
  for (const r of results) {
    for (const kind of KINDS) {
      const s = summarize(r.samples[kind]!);
      const b = summarize(base.samples[kind]!);
      const ratio = s.p99 / b.p99;
      const targeted = r.apps >= 10000 && (kind.startsWith('new instance') || kind.startsWith('instance') || kind.startsWith('custom domain'));
      rows.push({
        measure: `${r.apps} apps, ${kind}: p50 / p99 (n=${s.n})`,
        value: `${ms(s.p50)} / ${ms(s.p99)} (p50 ×${(s.p50 / b.p50).toFixed(2)}, p99 ×${ratio.toFixed(2)} vs ${base.apps} apps), ${r.reloads[kind] ?? 0} reloads`,
        target: targeted ? `p99 ≤ 1.5× ${base.apps}-app p99 and ≤ 50 ms, 0 reloads` : '',
        verdict: targeted ? verdict(ratio <= 1.5 && s.p99 <= 50 && (r.reloads[kind] ?? 0) === 0) : '',
      });
    }
    const n = summarize(r.samples['brand-new app']!);
    const newTargeted = r.apps >= 1000;
    // Trials past the pool take the reload path (the pool refills at that reload).
    const pool = r.spares === 0 ? 'spares off' : `${r.spares} spares`;
    rows.push({
      measure: `${r.apps} apps, brand-new app (${pool}): p50 / p99 (n=${n.n})`,
      value: `${ms(n.p50)} / ${ms(n.p99)}, ${r.reloads['brand-new app'] ?? 0} reloads`,
      target: newTargeted ? 'p99 ≤ 100 ms, 0 reloads' : '',
      verdict: newTargeted ? verdict(n.p99 <= 100 && (r.reloads['brand-new app'] ?? 0) === 0) : '',
    });
    rows.push({
      measure: `${r.apps} apps, burst of ${r.burst.changes} instance changes`,
      value: `applied in ${ms(r.burst.appliedMs)}, ${r.burst.reloads} reloads`,
      target: r.burst.changes >= 1000 ? '≤ 1 s, 0 reloads' : '',
      verdict: r.burst.changes >= 1000 ? verdict(r.burst.appliedMs <= 1000 && r.burst.reloads === 0) : '',
    });
  }
  const largest = results.at(-1)!;
  for (const [stage, s] of Object.entries(largest.profile)) {
    rows.push({
      measure: `  profile at ${largest.apps} apps, ${stage} (per runtime change, n=${s.n})`,
      value: `p50 ${ms(s.p50)} / p99 ${ms(s.p99)}`,
      target: '',
      verdict: '',
    });
  }
  for (const [stage, s] of Object.entries(largest.newProfile)) {
    if (s.n === 0) continue;
    rows.push({
      measure: `  profile at ${largest.apps} apps, ${stage} (per brand-new app on a spare, n=${s.n})`,
      value: `p50 ${ms(s.p50)} / p99 ${ms(s.p99)}`,
      target: '',
      verdict: '',
    });
  }
  return rows;
}
