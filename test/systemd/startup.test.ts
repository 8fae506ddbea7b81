// A start that takes a while, as `paas-router run` under systemd shows it: a real daemon process
// with NOTIFY_SOCKET and WATCHDOG_USEC against a dev Consul whose read of one service is held (the
// 'hold' fault) while the other 29 are read. Meanwhile STATUS= says `starting: 29 of 30 services
// read`, the log says it once, /healthz and /status say it, the watchdog keeps pinging, and no
// READY=1 is sent; once the read is released, the first configuration is applied and READY=1 follows.
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { startDevConsul } from '../../dev/consul/server.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnDaemon, startNotifyReceiver } from './helpers.js';

const SERVICES = 30;
const HELD = 'svc-29';

t.test('start-up progress through the notify socket, /healthz, /status and the log', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-startup-'));
  const consul = await startDevConsul({ port: 0 });
  for (let i = 0; i < SERVICES; i++) {
    await registerMesosTask(consul.url, {
      app: `/svc-${String(i).padStart(2, '0')}`,
      agent: 'a1',
      agentAddress: '127.0.0.1',
      ip: '127.0.0.1',
      port: 20_000 + i,
    });
  }
  consul.setServiceFault(HELD, 'hold');
  const receiver = await startNotifyReceiver(join(work, 'notify.sock'));
  let child: ChildProcess | undefined;
  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await receiver.close();
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });

  const listen = await freePort();
  const configFile = join(work, 'config.yaml');
  await writeFile(
    configFile,
    [
      'consul:',
      `  address: ${consul.url}`,
      '  wait: 30s',
      '  min_interval: 20ms',
      'haproxy:',
      `  config_dir: ${join(work, 'haproxy')}`,
      `  master_socket: ${join(work, 'master.sock')}`,
      `  runtime_socket: ${join(work, 'runtime.sock')}`,
      '  bind_address: 127.0.0.1',
      `  http_port: ${await freePort()}`,
      `  https_port: ${await freePort()}`,
      `  stats_port: ${await freePort()}`,
      'wait: { min: 20ms, max: 200ms }',
      `listen: 127.0.0.1:${listen}`,
      'log_level: info',
      '',
    ].join('\n'),
  );
  const daemon = spawnDaemon(configFile, join(work, 'notify.sock'), 1000000);
  child = daemon.child;
  const { pid, exited } = daemon;
  const fromDaemon = (m: { pid: number | null }) => m.pid === pid;
  const halfway = `starting: ${SERVICES - 1} of ${SERVICES} services read`;

  await t.test('while one read is held: STATUS=, the log, /healthz, /status, the watchdog, no READY', async (t) => {
    const status = await receiver
      .waitFor(halfway, (m) => fromDaemon(m) && m.fields.STATUS === halfway, 30_000)
      .catch((e) => {
        throw new Error(`${e.message}\n${daemon.output()}`);
      });
    t.match(status.fields.EXTEND_TIMEOUT_USEC, /^\d+$/, 'the start timeout is extended while the start moves');
    const health = await fetch(`http://127.0.0.1:${listen}/healthz`);
    t.equal(health.status, 503);
    t.equal(((await health.json()) as { reasons: string[] }).reasons[0], halfway);
    const doc = (await (await fetch(`http://127.0.0.1:${listen}/status`)).json()) as { startup: unknown };
    t.same(doc.startup, { read: SERVICES - 1, total: SERVICES, done: false, line: halfway });
    await eventually('the progress in the log', () => daemon.output().includes(`"msg":"${halfway}"`), 10_000);
    t.equal(daemon.output().split(`"msg":"${halfway}"`).length - 1, 1, 'logged once while it does not move');
    const since = receiver.messages.indexOf(status);
    await receiver.waitFor('a watchdog ping during the start', (m) => fromDaemon(m) && m.fields.WATCHDOG === '1', 10_000, since + 1);
    t.equal(receiver.messages.filter((m) => m.fields.READY === '1').length, 0, 'no READY=1 before the first configuration is applied');
  });

  await t.test('released: the first configuration is applied, then READY=1', async (t) => {
    const since = receiver.messages.length;
    consul.setServiceFault(HELD, 'none');
    const ready = await receiver.waitFor('READY=1', (m) => fromDaemon(m) && m.fields.READY === '1', 30_000, since);
    t.match(ready.fields.STATUS, new RegExp(`^serving ${SERVICES} apps, ${SERVICES} hosts`));
    const doc = (await (await fetch(`http://127.0.0.1:${listen}/status`)).json()) as { startup: { done: boolean; line: string | null } };
    t.match(doc.startup, { done: true, line: null });
    child!.kill('SIGTERM');
    t.equal(await exited, 0);
  });
});
