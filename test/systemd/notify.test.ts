// sd_notify against a real unix datagram socket: the native path sends from this very process
// (so NotifyAccess=main accepts it), the systemd-notify fallback reaches abstract sockets, and
// without NOTIFY_SOCKET nothing is sent at all.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNotifier, formatNotification, watchdogIntervalFrom } from '../../src/systemd/notify.js';
import { createLogger } from '../../src/log.js';
import { startNotifyReceiver } from './helpers.js';

const log = createLogger('silent');

t.test('formatNotification', async (t) => {
  t.equal(formatNotification({ READY: 1, STATUS: 'two\nlines' }), 'READY=1\nSTATUS=two lines');
  t.throws(() => formatNotification({ 'bad key': 1 }), /bad field name/);
});

t.test('watchdog interval is half of WATCHDOG_USEC, for this PID only', async (t) => {
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000' }), 15_000);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15_000);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined);
  t.equal(watchdogIntervalFrom({}), undefined);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: '0' }), undefined);
  t.equal(watchdogIntervalFrom({ WATCHDOG_USEC: 'abc' }), undefined);
});

t.test('no NOTIFY_SOCKET: a no-op', async (t) => {
  const n = createNotifier({ env: { WATCHDOG_USEC: '1000000' }, log });
  t.equal(n.mode, 'none');
  t.equal(n.watchdogIntervalMs, undefined, 'no watchdog without a socket');
  await n.ready('x');
  await n.watchdog();
  t.pass('calls resolve without a socket');
});

t.test('native datagram socket: messages arrive from this PID', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-notify-'));
  const path = join(dir, 'notify.sock');
  const receiver = await startNotifyReceiver(path);
  t.teardown(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });
  const n = createNotifier({ env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: '2000000' }, log, transport: 'socket' });
  t.equal(n.mode, 'socket');
  t.equal(n.watchdogIntervalMs, 1000);
  await n.ready('serving 2 apps');
  await n.watchdog();
  await n.reloading('re-reading');
  await n.stopping();
  const ready = await receiver.waitFor('READY', (m) => m.fields.READY === '1');
  t.equal(ready.pid, process.pid, 'sent by the main process itself (NotifyAccess=main)');
  t.equal(ready.fields.STATUS, 'serving 2 apps');
  await receiver.waitFor('WATCHDOG', (m) => m.fields.WATCHDOG === '1');
  const reloading = await receiver.waitFor('RELOADING', (m) => m.fields.RELOADING === '1');
  t.match(reloading.fields.MONOTONIC_USEC, /^\d+$/, 'RELOADING carries MONOTONIC_USEC');
  await receiver.waitFor('STOPPING', (m) => m.fields.STOPPING === '1');
  t.same(
    receiver.messages.map((m) => Object.keys(m.fields)[0]),
    ['READY', 'WATCHDOG', 'RELOADING', 'STOPPING'],
    'in order',
  );
});

t.test('a missing socket is logged, never thrown', async (t) => {
  const n = createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, log, transport: 'socket' });
  await n.ready();
  t.pass('resolved');
});

t.test('abstract socket: the systemd-notify fallback delivers', async (t) => {
  if (spawnSync('systemd-notify', ['--version']).error) {
    t.fail('systemd-notify (Debian package systemd) is not installed');
    return;
  }
  const name = `@paas-router-test-${process.pid}-${Date.now()}`;
  const receiver = await startNotifyReceiver(name);
  t.teardown(() => receiver.close());
  const n = createNotifier({ env: { ...process.env, NOTIFY_SOCKET: name }, log });
  t.equal(n.mode, 'systemd-notify', 'the addon cannot address abstract sockets');
  await n.status('hello from the fallback');
  // systemd-notify sends on behalf of its parent when it may (root); an unprivileged child's own
  // PID is used otherwise, which is why this path needs NotifyAccess=all (documented).
  const m = await receiver.waitFor('STATUS', (x) => x.fields.STATUS === 'hello from the fallback');
  t.ok(m.pid, 'the kernel attached sender credentials');
});
