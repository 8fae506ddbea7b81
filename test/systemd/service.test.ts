// `paas-router run` as systemd runs it (Type=notify): a real daemon process with NOTIFY_SOCKET and
// WATCHDOG_USEC, a real HAProxy, a dev Consul. READY after the first apply, WATCHDOG pings,
// STATUS lines, SIGHUP re-reads the config file (and survives a broken one), SIGTERM stops the
// daemon without touching HAProxy.
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpBackend } from '../../dev/backends.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { startDevConsul } from '../../dev/consul/server.js';
import { startHaproxy, type HaproxyProcess } from '../../dev/haproxy-process.js';
import { requestThrough } from '../../dev/probe.js';
import { parseShowProc } from '../../src/apply/show-proc.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnDaemon, startNotifyReceiver } from './helpers.js';

t.test('paas-router run under a systemd-like supervisor', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-systemd-'));
  const consul = await startDevConsul({ port: 0 });
  const backend = await startHttpBackend('foo #1');
  await registerMesosTask(consul.url, { app: '/foo', agent: 'a1', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
  const receiver = await startNotifyReceiver(join(work, 'notify.sock'));
  let haproxy: HaproxyProcess | undefined;
  let child: ChildProcess | undefined;
  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await haproxy?.stop();
    await receiver.close();
    await backend.close();
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });

  const httpPort = await freePort();
  const listen = await freePort();
  const httpsPort = await freePort();
  const statsPort = await freePort();
  const configFile = join(work, 'config.yaml');
  const configText = (cluster: string) =>
    [
      `cluster: ${cluster}`,
      'consul:',
      `  address: ${consul.url}`,
      '  wait: 30s',
      '  min_interval: 20ms',
      '  retry_max: 1s',
      'haproxy:',
      `  config_dir: ${join(work, 'haproxy')}`,
      `  master_socket: ${join(work, 'master.sock')}`,
      `  runtime_socket: ${join(work, 'runtime.sock')}`,
      '  bind_address: 127.0.0.1',
      `  http_port: ${httpPort}`,
      `  https_port: ${httpsPort}`,
      `  stats_port: ${statsPort}`,
      '  hard_stop_after: 5s',
      'wait: { min: 20ms, max: 200ms }',
      `listen: 127.0.0.1:${listen}`,
      'log_level: info',
      '',
    ].join('\n');
  await writeFile(configFile, configText('production'));

  const daemon = spawnDaemon(configFile, join(work, 'notify.sock'), 300000);
  child = daemon.child;
  const { pid, exited } = daemon;
  const fromDaemon = (m: { pid: number | null }) => m.pid === pid;
  t.comment(`daemon pid ${pid}`);

  const cfg = join(work, 'haproxy', 'haproxy.cfg');
  await eventually('the daemon writes haproxy.cfg', () => existsSync(cfg), 20_000).catch((e) => {
    throw new Error(`${e.message}\n${daemon.output()}`);
  });
  haproxy = await startHaproxy({ configFile: cfg, masterSocket: join(work, 'master.sock') });

  await t.test('READY=1 after the first apply, from the main PID, with a STATUS line', async (t) => {
    const ready = await receiver.waitFor('READY=1', (m) => fromDaemon(m) && m.fields.READY === '1', 20_000);
    t.match(ready.fields.STATUS, /^(serving 1 apps, 1 hosts|no configuration applied yet)/);
    const starting = receiver.messages.findIndex((m) => /^starting/.test(m.fields.STATUS ?? ''));
    t.ok(starting >= 0 && starting < receiver.messages.indexOf(ready), 'a "starting" STATUS came first');
    const healthy = await receiver.waitFor(
      'a healthy STATUS',
      (m) => fromDaemon(m) && /^serving 1 apps, 1 hosts; healthy$/.test(m.fields.STATUS ?? ''),
      20_000,
    );
    t.ok(healthy, 'STATUS follows the state');
    t.equal((await requestThrough(httpPort, 'foo.production.mozilla.community')).status, 200);
  });

  await t.test('WATCHDOG=1 at half of WATCHDOG_USEC', async (t) => {
    const since = receiver.messages.length;
    await receiver.waitFor('a watchdog ping', (m) => fromDaemon(m) && m.fields.WATCHDOG === '1', 5_000, since);
    await eventually('three pings', () => receiver.messages.slice(since).filter((m) => m.fields.WATCHDOG === '1').length >= 3, 5_000);
    t.pass('pings keep coming');
  });

  await t.test('SIGHUP re-reads the config file', async (t) => {
    await writeFile(configFile, configText('staging'));
    const since = receiver.messages.length;
    child!.kill('SIGHUP');
    const reloading = await receiver.waitFor('RELOADING=1', (m) => fromDaemon(m) && m.fields.RELOADING === '1', 10_000, since);
    t.match(reloading.fields.MONOTONIC_USEC, /^\d+$/);
    // READY=1 comes once the restarted daemon has applied the new configuration.
    const ready = await receiver.waitFor('READY=1 after the reload', (m) => fromDaemon(m) && m.fields.READY === '1', 20_000, since + 1);
    t.match(ready.fields.STATUS, /^serving 1 apps, 1 hosts; healthy$/);
    const health = await fetch(`http://127.0.0.1:${listen}/healthz`);
    t.equal(health.status, 200, `the status listener is back: ${await health.text()}`);
    t.equal((await requestThrough(httpPort, 'foo.staging.mozilla.community')).status, 200, 'the new cluster name is served');
    t.equal((await requestThrough(httpPort, 'foo.production.mozilla.community')).status, 404, 'the old default host is gone');
  });

  await t.test('SIGHUP with a broken config file keeps the daemon running', async (t) => {
    await writeFile(configFile, 'cluster: staging\nno_such_key: 1\n');
    const since = receiver.messages.length;
    child!.kill('SIGHUP');
    const ready = await receiver.waitFor('READY=1 with the failure', (m) => fromDaemon(m) && m.fields.READY === '1', 10_000, since);
    t.match(ready.fields.STATUS, /configuration reload failed, running with the previous one: .*no_such_key: unknown key/);
    t.equal(child!.exitCode, null, 'still running');
    t.equal((await requestThrough(httpPort, 'foo.staging.mozilla.community')).status, 200);
    t.equal((await fetch(`http://127.0.0.1:${listen}/healthz`)).status, 200);
  });

  await t.test('SIGTERM: STOPPING=1, exit 0, HAProxy untouched and still serving', async (t) => {
    const before = parseShowProc(await sendSocketCommand(join(work, 'master.sock'), 'show proc'));
    const cfgBefore = (await stat(cfg)).mtimeMs;
    const since = receiver.messages.length;
    child!.kill('SIGTERM');
    await receiver.waitFor('STOPPING=1', (m) => fromDaemon(m) && m.fields.STOPPING === '1', 10_000, since);
    t.equal(await exited, 0, 'exit code 0');
    const after = parseShowProc(await sendSocketCommand(join(work, 'master.sock'), 'show proc'));
    t.same(
      after.workers.map((w) => w.pid),
      before.workers.map((w) => w.pid),
      'same HAProxy worker: no reload',
    );
    t.equal(after.master.reloads, before.master.reloads, 'no reload counted by the master');
    t.equal((await stat(cfg)).mtimeMs, cfgBefore, 'haproxy.cfg not rewritten');
    t.equal((await requestThrough(httpPort, 'foo.staging.mozilla.community')).status, 200, 'HAProxy keeps serving');
    await t.rejects(fetch(`http://127.0.0.1:${listen}/healthz`), 'the status listener is closed');
  });
});
