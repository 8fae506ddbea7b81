// The never-shrink guard with a real HAProxy: a mass disappearance is held (routes keep serving),
// applied once a fresh read confirms it, dropped when the routes come back, and released by the
// operator on request. Also the daemon restarting into an empty Consul answer.
import t from 'tap';
import { startDevCluster, type DevCluster } from '../../dev/cluster.js';
import { deregisterMesosTask, registerMesosTask, type MesosTask } from '../../dev/consul/mesos.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { EventEmitter } from 'node:events';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { runService } from '../../src/systemd/service.js';
import { createNotifier } from '../../src/systemd/notify.js';
import { createLogger } from '../../src/log.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';

const apps: MarathonApp[] = Array.from({ length: 10 }, (_, i) => ({ id: `/g${i}`, instances: 1, tags: [], mode: 'http' as const }));
const host = (i: number) => `g${i}.production.mozilla.community`;

t.test('never-shrink guard', async (t) => {
  const ports = await freeListenerPorts();
  const { httpPort } = ports;
  const cluster: DevCluster = await startDevCluster({
    ...ports,
    apps,
    domains: {},
    log: createLogger(process.env.GUARD_DEBUG ? 'debug' : 'silent'),
    // A long quiet period, so the eight deregistrations below reach the guard as one change.
    configOverrides: { guard: { max_shrink: 0.5, confirm_after: '1s' }, wait: { min: '300ms', max: '3s' } },
  });
  let daemon = cluster.daemon;
  t.teardown(() => cluster.stop());
  const get = (h: string) => requestThrough(httpPort, h);
  await eventually('all routed', async () => (await get(host(9))).status === 200 && (await get(host(0))).status === 200);
  await daemon.runner.settled();
  const tasks = (): MesosTask[] =>
    daemon.runner.state.deployment!.model!.apps.map((a) => ({
      app: `/${a.name}`,
      agent: a.servers[0]!.id.split(':')[1]!,
      ip: '127.0.0.1',
      port: a.servers[0]!.port,
    }));

  await t.test('8 of 10 apps vanishing at once is held, and the routes keep serving', async (t) => {
    const victims = tasks().slice(0, 8);
    await Promise.all(victims.map((task) => deregisterMesosTask(cluster.consul.url, task)));
    await eventually('held', () => daemon.runner.state.held);
    t.match(daemon.runner.state.held!.reason, /8 of 10 routes/);
    t.equal((await get(host(0))).status, 200, 'still served while held');
    await t.test('routes coming back clear the hold and lose nothing', async (t) => {
      await Promise.all(victims.map((task) => registerMesosTask(cluster.consul.url, task)));
      await eventually('hold cleared', () => !daemon.runner.state.held);
      t.equal(daemon.runner.state.lastHold?.resolution, 'routes-back');
      t.equal((await get(host(0))).status, 200);
    });
  });

  await t.test('a disappearance confirmed by a fresh read is applied', async (t) => {
    await daemon.runner.settled();
    const victims = tasks().slice(0, 8);
    await Promise.all(victims.map((task) => deregisterMesosTask(cluster.consul.url, task)));
    await eventually('held', () => daemon.runner.state.held);
    t.equal((await get(host(0))).status, 200, 'held at first');
    await eventually('applied after the confirming read', async () => (await get(host(0))).status === 404, 15_000);
    t.notOk(daemon.runner.state.held);
    t.equal(daemon.runner.state.lastHold?.resolution, 'confirmed', 'applied because the fresh read gave the same candidate');
    t.equal((await get(host(9))).status, 200, 'the remaining apps still serve');
    await Promise.all(victims.map((task) => registerMesosTask(cluster.consul.url, task)));
    await eventually('back', async () => (await get(host(0))).status === 200);
  });

  await t.test('the operator can release a held change at once', async (t) => {
    await daemon.runner.settled();
    const victims = tasks().slice(0, 8);
    await Promise.all(victims.map((task) => deregisterMesosTask(cluster.consul.url, task)));
    await eventually('held', () => daemon.runner.state.held);
    daemon.runner.releaseHold();
    await eventually('applied', async () => (await get(host(0))).status === 404);
    t.notOk(daemon.runner.state.held);
    t.equal(daemon.runner.state.lastHold?.resolution, 'released', 'applied by the release, not by the confirming read');
    await Promise.all(victims.map((task) => registerMesosTask(cluster.consul.url, task)));
    await eventually('back', async () => (await get(host(0))).status === 200);
  });

  await t.test('a daemon restarted into an empty answer does not empty HAProxy', async (t) => {
    await daemon.runner.settled();
    await daemon.stop();
    const all = tasks();
    await Promise.all(all.map((task) => deregisterMesosTask(cluster.consul.url, task)));
    daemon = await startDaemon({ ...cluster.config, guard: { maxShrink: 0.5, confirmAfterMs: 60_000 } }, createLogger('silent'));
    t.teardown(() => daemon.stop());
    await eventually('held after restart', () => daemon.runner.state.held);
    t.match(daemon.runner.state.held!.reason, /10 of 10 routes/);
    t.equal((await get(host(5))).status, 200, 'the adopted configuration keeps serving');
    await Promise.all(all.map((task) => registerMesosTask(cluster.consul.url, task)));
    await eventually('hold cleared', () => !daemon.runner.state.held);
  });

  await t.test('SIGUSR2 to `paas-router run` releases a held change', async (t) => {
    await daemon.runner.settled();
    await daemon.stop();
    const signals = new EventEmitter();
    let started: Daemon | undefined;
    const finished = runService({
      loadConfig: async () => ({ ...cluster.config, guard: { maxShrink: 0.5, confirmAfterMs: 60_000 } }),
      createLogger: () => createLogger('silent'),
      startDaemon: async (config, log, opts) => (started = await startDaemon(config, log, opts)),
      notifier: createNotifier({ env: {} }),
      signals,
    });
    t.teardown(() => void signals.emit('SIGTERM'));
    const running = await eventually('service started', () => started);
    await eventually('serving', () => running.runner.state.deployment?.model);
    daemon = running;
    const victims = tasks().slice(0, 8);
    await Promise.all(victims.map((task) => deregisterMesosTask(cluster.consul.url, task)));
    await eventually('held', () => running.runner.state.held);
    signals.emit('SIGUSR2');
    await eventually('released and applied', async () => (await get(host(0))).status === 404, 10_000);
    t.notOk(running.runner.state.held);
    t.equal(running.runner.state.lastHold?.resolution, 'released', 'by the signal (the confirming read is a minute away)');
    signals.emit('SIGTERM');
    t.equal(await finished, 0);
  });
});
