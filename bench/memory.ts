// `npm run bench:memory`: the daemon's memory at --apps apps × 3 instances (default 10 000), as its
// own process against the real Consul agent and real HAProxy (bench/harness.ts), with the traffic
// ring on at its defaults (a `show stat` every 5 s, 15 min kept).
//  1. start-up: cold start until every app is routed, then --settle seconds (default 60) of traffic
//     samples; then RSS (/proc, the highest of 5 readings) and the heap as the daemon's /metrics
//     report it (prom-client: heap used, heap total, external).
//  2. churn (--churn-minutes, default 0 = none): one change every --churn-ms (default 250 ms):
//     a new instance of an app (each lives for 40 changes, then is removed), a check failing and
//     passing again, and every 20th change a custom domain added or removed in the K/V store. The same
//     figures every --every minutes (default 5) and at the end.
// --node-args="<flags>" runs the daemon with these Node/V8 flags (e.g. "--max-semi-space-size=4");
// glibc's MALLOC_* variables in the environment reach it too (the first line names them).
// --snapshot <dir> also writes a V8 heap snapshot of the daemon (SIGWINCH, after the figures) after
// start-up, or after churn when there is churn (a snapshot perturbs the figures that follow it); `node dist/bench/heap-summary.js <file>` says where its bytes go.
// The first line names the machine and its load; each figure line carries the load at that moment.
import { mkdir, readdir } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { deregisterMesosTask, registerMesosTask, setMesosTaskStatus, type MesosTask } from '../dev/consul/mesos.js';
import { appTasks, backends, hit, registerMany, rssMb, startBench, until, type Bench } from './harness.js';

const { values } = parseArgs({
  options: {
    apps: { type: 'string', default: '10000' },
    settle: { type: 'string', default: '60' },
    'churn-minutes': { type: 'string', default: '0' },
    'churn-ms': { type: 'string', default: '250' },
    every: { type: 'string', default: '5' },
    snapshot: { type: 'string' },
    'node-args': { type: 'string', default: '' },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
// glibc's malloc tunables (MALLOC_ARENA_MAX=2, ...) reach the daemon from this process's environment.
const mallocEnv = Object.entries(process.env)
  .filter(([k]) => k.startsWith('MALLOC_'))
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
log(
  `load average ${load()}; daemon node flags: ${values['node-args'] || 'none'}; malloc environment: ${mallocEnv || 'none'}; machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);

const apps = Number(values.apps);
const snapshotDir = values.snapshot ? resolve(values.snapshot) : undefined;
if (snapshotDir) await mkdir(snapshotDir, { recursive: true });

/** One gauge of the daemon's /metrics (prom-client's default process metrics), in bytes. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`paas_router_${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

/** The figures now; with --snapshot, a heap snapshot after them when `snapshot` (it perturbs what follows). */
async function figures(bench: Bench, when: string, snapshot = true): Promise<void> {
  let rss = 0;
  for (let i = 0; i < 5; i++) {
    rss = Math.max(rss, await rssMb(bench.daemon.pid!));
    await new Promise((r) => setTimeout(r, 200));
  }
  const parts = await rssParts(bench.daemon.pid!);
  const cpu = await cpuSeconds(bench.daemon.pid!);
  const text = await (await fetch(`${bench.statusUrl}/metrics`)).text();
  const mb = (name: string) => (metric(text, name) / 2 ** 20).toFixed(0);
  const status = (await (await fetch(`${bench.statusUrl}/status?limit=1`)).json()) as { traffic?: { samples: number } };
  log(
    `${when}: RSS ${rss.toFixed(0)} MB (${parts}); heap used ${mb('nodejs_heap_size_used_bytes')} MB of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB; ${status.traffic?.samples ?? 0} traffic samples; daemon CPU ${cpu.toFixed(0)} s; load ${load()}`,
  );
  if (snapshotDir && snapshot) {
    const before = new Set(await readdir(snapshotDir));
    bench.daemon.kill('SIGWINCH');
    const file = await until(
      'heap snapshot written',
      async () => {
        const now = await readdir(snapshotDir);
        const added = now.find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
        // V8 writes the file in one go; its size settles once written.
        return added !== undefined && (await rssMb(bench.daemon.pid!)) > 0 && (await fileSettled(join(snapshotDir, added)));
      },
      300_000,
      500,
    ).then(async () => (await readdir(snapshotDir)).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))!);
    log(`  heap snapshot: ${join(snapshotDir, file)}`);
  }
}

/**
 * Where the resident pages are, from /proc/<pid>/smaps: files (the node binary, libraries), malloc's
 * main arena ([heap]) and anonymous mappings (V8's heap pages, other malloc arenas, large buffers).
 */
async function rssParts(pid: number): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const kb = { file: 0, brk: 0, anon: 0 };
  let kind: keyof typeof kb = 'anon';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      kind = name === '[heap]' ? 'brk' : name.startsWith('/') ? 'file' : 'anon';
    } else if (line.startsWith('Rss:')) kb[kind] += Number(/(\d+)/.exec(line)?.[1] ?? 0);
  }
  const mb = (k: number) => `${(k / 1024).toFixed(0)} MB`;
  return `files ${mb(kb.file)}, malloc main arena ${mb(kb.brk)}, anonymous ${mb(kb.anon)}`;
}

/** CPU time the process has used (user + system), seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The daemon's own stages per runtime change during churn (model, render, plan), p50 / p99 ms, from its log. */
async function stageFigures(logFile: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const rows: { modelMs: number; renderMs: number; runtimeMs: number }[] = [];
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.includes('through the runtime API')) continue;
    const r = JSON.parse(line) as { profile?: { modelMs: number; renderMs: number }; runtimeMs?: number };
    if (r.profile) rows.push({ modelMs: r.profile.modelMs, renderMs: r.profile.renderMs, runtimeMs: r.runtimeMs ?? 0 });
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;
  const f = (k: keyof (typeof rows)[number]) => {
    const xs = rows.map((r) => r[k]);
    return `${q(xs, 0.5).toFixed(0)} / ${q(xs, 0.99).toFixed(0)} ms`;
  };
  return `${rows.length} runtime changes: model ${f('modelMs')}, render ${f('renderMs')}, runtime commands ${f('runtimeMs')} (p50 / p99)`;
}

async function fileSettled(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const a = (await stat(path)).size;
  await new Promise((r) => setTimeout(r, 1000));
  const b = (await stat(path)).size;
  return a > 0 && a === b;
}

const pool = await backends(3, 'memory');
const ports = pool.map((b) => b.port);
const bench = await startBench({
  nodeArgs: [...values['node-args'].split(' ').filter(Boolean), ...(snapshotDir ? [`--heapsnapshot-signal=SIGWINCH`, `--diagnostic-dir=${snapshotDir}`] : [])],
  fill: async (consul) => {
    const started = performance.now();
    await registerMany(consul.url, appTasks(apps, 3, ports));
    log(`${apps} apps × 3 registered (${consul.kind}) in ${((performance.now() - started) / 1000).toFixed(0)} s; load ${load()}`);
  },
});
try {
  const started = performance.now();
  const last = `app${apps - 1}-bench.production.mozilla.community`;
  await until('every app routed', async () => (await hit(bench.httpPort, last)).status === 200, 900_000, 200);
  log(`routed in ${((performance.now() - started) / 1000).toFixed(1)} s; load ${load()}`);
  await new Promise((r) => setTimeout(r, Number(values.settle) * 1000));
  const minutes = Number(values['churn-minutes']);
  await figures(bench, `after start-up (+${values.settle} s)`, minutes === 0);

  if (minutes > 0) {
    const churnStarted = Date.now();
    const end = churnStarted + minutes * 60_000;
    let nextReport = Date.now() + Number(values.every) * 60_000;
    let changes = 0;
    let domains = 0;
    // Instances live for 40 changes (10 s at the default pace), so the daemon sees each come and
    // go; one of the live ones fails its check and passes again meanwhile.
    const live: MesosTask[] = [];
    let failing: MesosTask | undefined;
    for (let i = 0; Date.now() < end; i++) {
      const step = i % 4;
      if (step === 0 || step === 2) {
        const a = (i * 7919) % apps;
        const task: MesosTask = { app: `/bench/app${a}`, agent: `churn-${i % 64}`, agentAddress: '127.0.0.1', ip: '127.0.0.2', port: 40000 + (i % 20000) };
        await registerMesosTask(bench.consul.url, task);
        live.push(task);
        if (live.length > 20) await deregisterMesosTask(bench.consul.url, live.shift()!);
      } else if (step === 1 && live.length > 10) {
        failing = live[10];
        await setMesosTaskStatus(bench.consul.url, { ...failing!, status: 'critical' });
      } else if (step === 3 && failing) {
        await setMesosTaskStatus(bench.consul.url, { ...failing, status: 'passing' }).catch(() => undefined);
        failing = undefined;
      }
      changes++;
      if (i % 20 === 19) {
        const key = `${bench.consul.url}/v1/kv/paas-router/domains/app${domains % 50}-bench`;
        if (Math.floor(domains / 50) % 2 === 0) await fetch(key, { method: 'PUT', body: `churn-${domains % 50}.example.org` });
        else await fetch(key, { method: 'DELETE' });
        domains++;
        changes++;
      }
      if (Date.now() >= nextReport) {
        await figures(bench, `after ${Math.round((Date.now() - churnStarted) / 60_000)} min of churn, ${changes} changes`, false);
        nextReport = Date.now() + Number(values.every) * 60_000;
      }
      await new Promise((r) => setTimeout(r, Number(values['churn-ms'])));
    }
    // The last changes applied, then the figures.
    await new Promise((r) => setTimeout(r, 10_000));
    await figures(bench, `after ${minutes} min of churn (${changes} changes)`);
    log(`  the daemon's stages during churn: ${await stageFigures(bench.logFile)}`);
  }
} finally {
  await bench.stop();
  await Promise.all(pool.map((b) => b.close()));
}
