// HAProxy faults under load: a reload HAProxy refuses after `haproxy -c` accepted the candidate (a
// tcp app's router.port is already taken on the host), and the HAProxy master SIGKILLed, then
// started again on the files on disk (as systemd would restart haproxy.service).
import t from 'tap';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startHaproxy } from '../../dev/haproxy-process.js';
import { pausedFrontends } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { tcpBanner } from '../../dev/probe.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually, freePort, freePortInRange } from '../helpers/net.js';
import {
  LoadLoop,
  applyStatusIn,
  faultLog,
  get,
  healthy,
  healthz,
  haproxyCheck,
  hostOf,
  recordFigure,
  reloads,
  servedAt,
  sleep,
  sourceOf,
  statusOf,
} from './helpers.js';

const apps: MarathonApp[] = ['alpha', 'beta'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));

t.test('HAProxy faults under load', async (t) => {
  const parent = t;
  const cluster = await startTestCluster(t, { apps, domains: { beta: 'www.beta.example' }, log: faultLog() });
  const { consul, httpPort, config } = cluster;
  const { configDir, masterSocket } = config.haproxy;
  const statusUrl = cluster.daemon.server.url;
  const state = cluster.daemon.runner.state;
  const existing = [hostOf('alpha'), hostOf('beta'), 'www.beta.example'];
  for (const host of existing) await servedAt(httpPort, host);
  await healthy(statusUrl);
  const load = new LoadLoop(httpPort, existing).start();
  t.teardown(() => load.stop());
  await load.warmUp();
  const putDomain = async (service: string, value: string) => {
    const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/${service}`, { method: 'PUT', body: value });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}`);
  };

  await t.test('a tcp app on a port another process holds', async (t) => {
    // Inside haproxy.tcp_ports (default 10000-10999): a port outside it is a tag rejection instead.
    const port = await freePortInRange(10000, 10999);
    const blocker: Server = createServer((s) => s.on('error', () => undefined).end('not haproxy\r\n'));
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const from = Date.now();
    const procBefore = await reloads(masterSocket);
    const db: MarathonApp = { id: '/db', instances: 1, tags: ['router.mode=tcp', `router.port=${port}`], mode: 'tcp' };
    await cluster.addTask(db);

    // `haproxy -c` does not bind: without a probe the reload would fail, and HAProxy 2.6 retries
    // the bind for ~2 s with every listener paused (all apps refuse connections), on every change.
    const doc = await eventually(
      'the conflict in /status',
      async () => {
        const d = await statusOf(statusUrl);
        return d.conflicts.find((r) => r.service === 'db') ? d : undefined;
      },
      20_000,
    );
    const conflict = doc.conflicts.find((r) => r.service === 'db')!;
    t.match(conflict.reason, new RegExp(`port ${port} is in use by another process`), `the reason: ${conflict.reason}`);
    t.notOk(
      doc.apps.some((a) => a.name === 'db'),
      'the app is not routed',
    );
    t.equal(await tcpBanner(port), 'not haproxy', 'the port still belongs to the other process');
    // Other changes go on meanwhile.
    await putDomain('alpha', 'during-port-taken.example.org');
    await servedAt(httpPort, 'during-port-taken.example.org', /alpha/);
    const procDuring = await reloads(masterSocket);
    t.equal(procDuring.failed, 0, 'HAProxy never attempted a reload onto the taken port');
    t.equal(cluster.daemon.runner.state.counters.reloadFailures, 0);
    await sleep(1_000);

    await new Promise((resolve) => blocker.close(resolve));
    const end = Date.now();
    const served = await eventually(
      'the tcp app served once its port is free',
      async () => ((await tcpBanner(port).catch(() => '')) === '/db #1' ? Date.now() : undefined),
      30_000,
    );
    const after = await eventually('db in /status', async () => {
      const d = await statusOf(statusUrl);
      return d.apps.some((a) => a.name === 'db' && a.port === port) ? d : undefined;
    });
    t.notOk(
      after.conflicts.some((r) => r.service === 'db'),
      'the conflict is gone',
    );
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'haproxy-tcp-port-taken',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `conflict rejection for db: ${conflict.reason}`,
      notes: `no reload attempted (reloads ${procBefore.reloads} → ${procDuring.reloads}, none failed); other changes applied during the fault; the app is routed by the next probe (every 2 s) once the port is free`,
    });
  });

  await t.test('a reload HAProxy refuses after haproxy -c passed (operator template: stats socket in a missing directory)', async (t) => {
    const from = Date.now();
    const missing = join(cluster.workDir, 'admin-sockets');
    const globalPartial = join(cluster.templatesDir, 'partials', 'global.hbs');
    const original = await readFile(globalPartial, 'utf8');
    await writeFile(globalPartial, original.replace(/^(\s*stats timeout .*)$/m, `$1\n    stats socket ${missing}/admin.sock mode 600 level admin`));
    const doc = await applyStatusIn(statusUrl, 'reload-failed');
    // HAProxy 3.1+ resets connections queued on the sockets of a reload refused after a refused one
    // unless the kernel moves them (the daemon warns at start): a precondition of the count below.
    const resets = doc.health.warnings.find((w) => w.includes('tcp_migrate_req'));
    t.notOk(resets, `the host moves queued connections (scripts/setup.sh sets it): ${resets}`);
    t.equal(doc.haproxy.lastApply?.error?.code, 'RELOAD_FAILED', `the reason: ${doc.haproxy.lastApply?.error?.message}`);
    t.notOk(doc.health.ok, `/healthz is not ok: ${doc.health.reasons.join('; ')}`);
    t.ok((doc.haproxy.counters.reloadFailures ?? 0) >= 1);
    t.match(cluster.haproxy.output(), /cannot bind UNIX socket/, 'HAProxy says why');
    t.notMatch(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /admin-sockets/, 'the refused config was taken off the disk again');
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the files on disk: ${check.output}`);
    // A change meanwhile carries the same template: HAProxy refuses it too (quickly: a UNIX socket
    // bind fails at once, with no retry loop), and the running workers keep serving.
    const failures = state.counters.reloadFailures;
    await putDomain('beta', 'www.beta.example during-reload-failed.example.org');
    await eventually('the second attempt refused too', () => state.counters.reloadFailures > failures, 20_000);
    t.equal((await get(httpPort, 'during-reload-failed.example.org')).status, 404, 'not applied while HAProxy refuses the template');

    await mkdir(missing); // the operator creates the directory: the fault ends
    const end = Date.now();
    await putDomain('beta', 'www.beta.example during-reload-failed.example.org after-reload-failed.example.org');
    const served = await servedAt(httpPort, 'after-reload-failed.example.org', /beta/);
    t.equal((await get(httpPort, 'during-reload-failed.example.org')).status, 200, 'the change made during the fault is served too');
    // HAProxy serves the new worker a moment before the daemon has confirmed the reload. A build
    // after it (the new domain's ownership record read back) may be 'unchanged': any apply that is
    // not a failure says the reload went through.
    await eventually('the reload confirmed in /status', async () =>
      ['reloaded', 'runtime', 'unchanged'].includes((await statusOf(statusUrl)).haproxy.lastApply?.status ?? ''),
    );
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    const reloads = state.counters.reloads;
    await writeFile(globalPartial, original);
    await eventually(
      'the shipped template back',
      async () => {
        await cluster.daemon.runner.settled();
        return state.counters.reloads > reloads && !(await readFile(join(configDir, 'haproxy.cfg'), 'utf8')).includes('admin-sockets');
      },
      20_000,
    );
    await recordFigure(t, {
      fault: 'haproxy-reload-failed',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `lastApply reload-failed (${doc.haproxy.lastApply?.error?.message}); counters.reloadFailures; /healthz 503`,
      notes: 'files rolled back on disk after each refused reload; a refused candidate is not retried: the next change after the fix applies',
    });
  });

  await t.test('an operator template binds a port another process holds, freed during the reload', async (t) => {
    // Not a tcp app, so not probed: HAProxy's reload retries the bind for ~2 s with the running
    // worker's listeners paused (new connections refused), and when the port comes free in the
    // middle of that, HAProxy (2.6 to 3.2) starts the new worker with its frontends paused: nothing
    // is served while `show proc` looks healthy. The daemon checks the new worker and resumes them.
    const port = await freePort();
    const blocker: Server = createServer((s) => s.on('error', () => undefined).end('not haproxy\r\n'));
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const main = join(cluster.templatesDir, 'haproxy.cfg.hbs');
    const original = await readFile(main, 'utf8');
    const pauses = () => (cluster.haproxy.output().match(/Paused frontend http_in/g) ?? []).length;
    const pausesBefore = pauses();
    const reloadsBefore = state.counters.reloads;
    const outageFrom = Date.now();
    await writeFile(main, `${original.trimEnd()}\n\nlisten operator_extra\n    mode tcp\n    bind 127.0.0.1:${port}\n    server local 127.0.0.1:1\n`);
    await eventually('HAProxy retrying its binds', () => pauses() > pausesBefore, 20_000);
    await new Promise((resolve) => blocker.close(resolve));
    await eventually('the reload confirmed', () => state.counters.reloads > reloadsBefore, 20_000);
    const outageTo = Date.now();
    load.exclude(outageFrom, outageTo);
    const paused = await sendSocketCommand(config.haproxy.runtimeSocket, 'show stat -1 1 -1');
    t.same(pausedFrontends(paused), [], 'no frontend of the new worker is left paused');
    // The new worker itself logged the pause (its pid in the line). The master names it "New worker
    // (<pid>) forked" up to 3.0 and "Initializing new worker (<pid>)" from 3.1, which forks it first.
    const output = cluster.haproxy.output();
    const newWorker = [...output.matchAll(/(?:New worker \((\d+)\) forked|Initializing new worker \((\d+)\))/g)].map((m) => m[1] ?? m[2]).at(-1);
    t.match(output, new RegExp(`\\(${newWorker}\\) : Paused frontend http_in`), `HAProxy did pause the new worker (${newWorker})`);
    for (const host of existing) await servedAt(httpPort, host, undefined, 5_000);
    const afterFrom = Date.now();
    await sleep(1_000);
    const w = load.window(outageFrom);
    t.equal(load.window(afterFrom).failed, 0, 'existing routes served after the reload');
    t.comment(`refused while HAProxy retried its binds: ${w.failedExcluded} requests over ${outageTo - outageFrom} ms`);
    const reloadsAfterFault = state.counters.reloads;
    await writeFile(main, original);
    await eventually(
      'the shipped template back',
      async () => {
        await cluster.daemon.runner.settled();
        return state.counters.reloads > reloadsAfterFault && !(await readFile(join(configDir, 'haproxy.cfg'), 'utf8')).includes('operator_extra');
      },
      20_000,
    );
    await recordFigure(t, {
      fault: 'haproxy-bind-retry-paused-worker',
      requests: w.requests,
      failedExisting: w.failed,
      failedDuringOutage: w.failedExcluded,
      outageMs: outageTo - outageFrom,
      recoveryMs: null,
      reported: 'warning "HAProxy started the new worker with paused frontends ...; resumed them"',
      notes:
        'HAProxy 2.6 refuses new connections while it retries a bind a foreign process holds (its bind retry loop); a template binding a taken port is not probed (only tcp apps are)',
    });
  });

  await t.test('HAProxy master SIGKILLed, then started again on the files on disk', async (t) => {
    const from = Date.now();
    const before = await reloads(masterSocket);
    const master = cluster.haproxy.proc;
    const outageFrom = Date.now();
    master.kill('SIGKILL');
    await new Promise((r) => (master.exitCode !== null || master.signalCode !== null ? r(null) : master.once('exit', r)));
    // The workers notice their master is gone and leave; systemd would kill any straggler with the
    // unit's cgroup before restarting it, so do the same.
    await sleep(500);
    const stragglers = before.workers.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    for (const pid of stragglers) process.kill(pid, 'SIGKILL');
    t.comment(`workers still alive 500 ms after the master was killed: ${stragglers.length}`);
    await eventually('HAProxy down', async () => (await get(httpPort, existing[0]!)).status === 0);
    // Nothing changed: the daemon's periodic check of the master CLI notices (every 2 s).
    const idle = await eventually(
      '/healthz 503 while HAProxy is down',
      async () => {
        const h = await healthz(statusUrl);
        return h.status === 503 ? h : undefined;
      },
      10_000,
    );
    const noticedMs = Date.now() - outageFrom;
    t.match(idle.body, /HAProxy has not loaded it \(HAProxy not reachable\)/, 'the reason says HAProxy is not reachable');

    // A change while HAProxy is down: validated and written, the reload is pending.
    const checksumBefore = (await statusOf(statusUrl)).haproxy.lastApply?.checksum;
    await putDomain('beta', 'www.beta.example during-outage.example.org');
    const doc = await applyStatusIn(statusUrl, 'haproxy-unreachable', (d) => d.haproxy.lastApply?.checksum !== checksumBefore, 15_000);
    t.equal(doc.haproxy.lastApply?.error?.code, 'HAPROXY_UNREACHABLE', `the reason: ${doc.haproxy.lastApply?.error?.message}`);
    t.match(doc.health.reasons.join('\n'), /HAProxy has not loaded it/, 'the health check says HAProxy has not loaded the configuration');
    t.match(await readFile(join(configDir, 'hosts.map'), 'utf8'), /during-outage\.example\.org/, 'the pending change is on disk');
    await sleep(1_000);

    const reloadsBefore = state.counters.reloads;
    const restarted = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
    // The cluster's own teardown stops the HAProxy it started (gone): stop this one at the end.
    parent.teardown(() => restarted.stop());
    const outageTo = Date.now();
    load.exclude(outageFrom, outageTo);
    const end = outageTo;
    for (const host of existing) await servedAt(httpPort, host);
    await servedAt(httpPort, 'during-outage.example.org', /beta/);
    // The daemon notices the master socket answering again and does its pending reload.
    // Counted, not read from lastApply: a build after it (a record read back) may be 'unchanged'.
    await eventually('the pending reload done', () => state.counters.reloads > reloadsBefore && !state.lastApply?.error, 15_000);
    const after = await reloads(masterSocket);
    t.ok(after.reloads >= 1, `the daemon reloaded the new master once it answered (reloads: ${after.reloads})`);
    await putDomain('alpha', 'after-restart.example.org');
    const served = await servedAt(httpPort, 'after-restart.example.org', /alpha/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes outside the outage (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    t.ok(w.failedExcluded > 0, `requests failed while HAProxy was down (${w.failedExcluded}, expected)`);
    await recordFigure(t, {
      fault: 'haproxy-master-killed',
      requests: w.requests,
      failedExisting: w.failed,
      failedDuringOutage: w.failedExcluded,
      outageMs: outageTo - outageFrom,
      recoveryMs: served - end,
      reported: `lastApply written (${doc.haproxy.lastApply?.error?.message}); /healthz 503 until HAProxy is back and reloaded`,
      notes: `workers alive 500 ms after the master died: ${stragglers.length} (not accepting); /healthz 503 ${noticedMs} ms after the kill with nothing changed (master CLI checked every 2 s); a change then gave "haproxy-unreachable", and the daemon reloaded the restarted master (its pending reload)`,
    });
  });

  await t.test('the files on disk are valid and HAProxy still serves', async (t) => {
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the live files: ${check.output}`);
    for (const host of existing) t.equal((await get(httpPort, host)).status, 200, `${host} still served`);
    const doc = await statusOf(statusUrl);
    t.ok(doc.health.ok, `healthy again: ${doc.health.reasons.join('; ')}`);
    t.equal(sourceOf(doc, 'consul-catalog')?.state, 'ok');
  });
});
