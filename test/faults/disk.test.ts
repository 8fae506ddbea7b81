// The config directory cannot take the new files, under load. Root ignores permissions, so the
// faults are made real in other ways:
// - the daemon runs under a file-size limit (`prlimit --fsize`): a big change makes haproxy.cfg grow
//   past it and every write fails with EFBIG, while small files still fit;
// - the config directory is a tiny tmpfs (when `mount` is permitted): filled up (ENOSPC), then
//   remounted read-only (EROFS).
// Each write must fail cleanly (write-failed reported, the running files untouched and valid, no
// temporary files left), HAProxy keeps serving, and the daemon recovers by itself once there is room.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deregisterMesosTask, registerMesosTask, type MesosTask } from '../../dev/consul/mesos.js';
import { checksumOf } from '../../src/apply/applier.js';
import { MAINTENANCE_MAP_FILE } from '../../src/render/views.js';
import { eventually } from '../helpers/net.js';
import {
  applyStatusIn,
  LoadLoop,
  get,
  haproxyCheck,
  healthy,
  hostOf,
  recordFigure,
  reloads,
  servedAt,
  sleep,
  startChildCluster,
  type ChildCluster,
} from './helpers.js';

const run = (cmd: string, args: string[]) =>
  new Promise<{ ok: boolean; output: string }>((resolve) =>
    execFile(cmd, args, (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}`.trim() })),
  );

/** checksumOf the files the daemon renders (haproxy.cfg and hosts.map) as they are on disk. */
async function diskChecksum(dir: string): Promise<string> {
  // Every file the daemon renders (the running checksum covers the same set).
  const files: Record<string, string> = {};
  for (const name of ['haproxy.cfg', 'hosts.map', MAINTENANCE_MAP_FILE]) files[name] = await readFile(join(dir, name), 'utf8');
  return checksumOf(files);
}

/**
 * Leftovers of a failed write: temporary files or the staging directory. The daemon retries the
 * write every 2 s, and a retry in progress has its staging directory for a moment: what counts is
 * what stays, so this waits (up to 5 s) for a moment with none and returns what is still there.
 */
async function leftovers(dir: string): Promise<string[]> {
  const now = async () => (await readdir(dir)).filter((name) => name.endsWith('.tmp') || name === '.staging');
  return eventually('no leftovers', async () => ((await now()).length === 0 ? [] : undefined), 5_000).catch(() => now());
}

async function loaded(t: Test, cluster: ChildCluster): Promise<LoadLoop> {
  await healthy(cluster.statusUrl);
  const existing = [hostOf('alpha'), hostOf('beta')];
  for (const host of existing) await servedAt(cluster.httpPort, host);
  const load = new LoadLoop(cluster.httpPort, existing).start();
  t.teardown(() => load.stop());
  await load.warmUp();
  return load;
}

t.test('a file-size limit: a big change cannot be written, removing it recovers', async (t) => {
  const cluster = await startChildCluster(t, { apps: { alpha: 2, beta: 2 } });
  const { consul, httpPort, statusUrl, configDir } = cluster;
  const load = await loaded(t, cluster);
  // The limit is set on the running daemon (the same RLIMIT_FSIZE as `prlimit --fsize=N node ...`):
  // 4 KiB above the largest file it writes, so small changes still fit.
  const sizes = await Promise.all(
    ['haproxy.cfg', 'hosts.map', 'server-state'].map(async (f) => (await stat(join(configDir, f)).catch(() => ({ size: 0 }))).size),
  );
  const limit = Math.max(...sizes) + 4096;
  const limited = await run('prlimit', ['--pid', String(cluster.daemon.pid), `--fsize=${limit}`]);
  t.ok(limited.ok, `prlimit --pid ${cluster.daemon.pid} --fsize=${limit} ${limited.output}`);
  const from = Date.now();
  const reloadsBefore = (await reloads(cluster.masterSocket)).reloads;
  // The big change: a new app with 200 instances (about 8 KB of server lines).
  const big: MesosTask[] = Array.from({ length: 200 }, (_, i) => ({
    app: '/big',
    agent: 'agent-big',
    agentAddress: '127.0.0.1',
    ip: '127.0.0.1',
    port: 30_000 + i,
  }));
  for (const task of big) await registerMesosTask(consul.url, task);
  const doc = await applyStatusIn(statusUrl, 'write-failed').catch((err: Error) => {
    throw new Error(`${err.message}\nexit ${cluster.daemon.exitCode} ${cluster.daemon.signalCode}\n${cluster.output().slice(-3000)}`);
  });
  const error = doc.haproxy.lastApply!.error!;
  t.equal(error.code, 'WRITE_FAILED');
  t.match(error.message, /EFBIG|too large/i, `the reason: ${error.message}`);
  t.notOk(doc.health.ok, `/healthz is not ok: ${doc.health.reasons.join('; ')}`);
  t.equal(cluster.daemon.exitCode, null, 'the daemon is still running (SIGXFSZ does not kill it)');
  t.equal(await diskChecksum(configDir), doc.haproxy.runningChecksum, 'the files on disk are the ones HAProxy runs');
  t.notMatch(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /127\.0\.0\.1:30199/, 'the last instances never reached the disk');
  t.same(await leftovers(configDir), [], 'no temporary file or staging directory is left behind');
  const check = await haproxyCheck(configDir);
  t.ok(check.ok, `haproxy -c passes on the files on disk: ${check.output}`);
  // A small change meanwhile: every candidate carries the big app, so it cannot be written either.
  await fetch(`${consul.url}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: 'during-fsize.example.org' });
  await sleep(4_500); // two more retries of the write
  t.equal((await get(httpPort, 'during-fsize.example.org')).status, 404, 'not applied while the big app is in every candidate');
  const reloadsDuring = (await reloads(cluster.masterSocket)).reloads - reloadsBefore;
  t.comment(`HAProxy reloads during the fault: ${reloadsDuring} (the big app's first instances, then at most one to undo a runtime change)`);

  const logFrom = cluster.output().length;
  for (const task of big) await deregisterMesosTask(consul.url, task);
  const end = Date.now();
  const served = await servedAt(httpPort, 'during-fsize.example.org', /alpha/);
  await healthy(statusUrl);
  // After a failed write the next change is written first, then reloaded (no runtime change the disk
  // cannot follow). The 200 deregistrations may give several builds, and those after the first
  // successful write rightly go through the runtime API: the first successful apply is the one to check.
  // The daemon is another process: its log line may come after HAProxy serves the change.
  const appliedLines = () =>
    cluster
      .output()
      .slice(logFrom)
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { msg?: string; reason?: string }];
        } catch {
          return [];
        }
      })
      .filter((l) => l.msg === 'configuration applied, HAProxy reloaded' || l.msg === 'configuration applied through the runtime API, no reload');
  await eventually('the apply logged', () => appliedLines().length > 0);
  const applied = appliedLines();
  t.match(
    applied[0],
    { msg: 'configuration applied, HAProxy reloaded', reason: /the last write had failed/ },
    'the first change after the fault is written, then HAProxy reloaded',
  );
  const w = load.window(from);
  t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
  await recordFigure(t, {
    fault: 'disk-file-size-limit',
    requests: w.requests,
    failedExisting: w.failed,
    recoveryMs: served - end,
    reported: `lastApply write-failed (${error.message}); /healthz 503`,
    notes: `daemon under prlimit --fsize=${limit}; a 200-instance app makes haproxy.cfg too large; removing it lets the change made meanwhile apply; ${reloadsDuring} HAProxy reloads during the fault`,
  });
});

t.test('a tiny tmpfs as the config directory: full, then read-only', async (t) => {
  const mountPoint = await mkdtemp(join(tmpdir(), 'paas-router-tmpfs-'));
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0750', 'tmpfs', mountPoint]);
  if (!mounted.ok) {
    await rm(mountPoint, { recursive: true, force: true });
    t.comment(`mount -t tmpfs is not permitted here (${mounted.output}): ENOSPC and EROFS not tested`);
    return;
  }
  let cluster: ChildCluster;
  try {
    cluster = await startChildCluster(t, { apps: { alpha: 2, beta: 2 }, configDir: mountPoint });
  } catch (err) {
    await run('umount', ['-l', mountPoint]);
    throw err;
  }
  t.teardown(async () => {
    await run('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  const { consul, httpPort, statusUrl, configDir, masterSocket } = cluster;
  const load = await loaded(t, cluster);

  await t.test('full (ENOSPC)', async (t) => {
    const from = Date.now();
    const filler = join(configDir, 'filler');
    await writeFile(filler, Buffer.alloc(1024 * 1024)).catch((err: NodeJS.ErrnoException) => t.equal(err.code, 'ENOSPC', 'the tmpfs is full'));
    const before = await readFile(join(configDir, 'haproxy.cfg'), 'utf8');
    const reloadsBefore = (await reloads(masterSocket)).reloads;
    const added = await cluster.addInstance('alpha');
    const doc = await applyStatusIn(statusUrl, 'write-failed');
    const error = doc.haproxy.lastApply!.error!;
    t.match(error.message, /ENOSPC|no space/i, `the reason: ${error.message}`);
    await sleep(4_500); // two more retries
    const reloadsDuring = (await reloads(masterSocket)).reloads - reloadsBefore;
    t.ok(
      reloadsDuring <= 1,
      `HAProxy reloaded at most once, to undo the runtime change the write could not follow (${reloadsDuring}); the retries touch nothing`,
    );
    t.equal(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), before, 'the running files are untouched');
    t.same(await leftovers(configDir), [], 'no temporary file or staging directory is left behind');
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the files on disk: ${check.output}`);

    await rm(filler);
    const end = Date.now();
    const served = await eventually(
      'the new alpha instance serves',
      async () => {
        for (let i = 0; i < 6; i++) if ((await get(httpPort, hostOf('alpha'))).body.includes(added.backend.label)) return Date.now();
        return undefined;
      },
      30_000,
    );
    await healthy(statusUrl);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'disk-full',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `lastApply write-failed (${error.message}); /healthz 503`,
      notes: `tmpfs of 256 KiB filled up; ${reloadsDuring} HAProxy reloads during the ~5 s fault; the write is retried every 2 s`,
    });
  });

  await t.test('read-only (EROFS)', async (t) => {
    const from = Date.now();
    const remounted = await run('mount', ['-o', 'remount,ro', mountPoint]);
    t.ok(remounted.ok, `remounted read-only ${remounted.output}`);
    const reloadsBefore = (await reloads(masterSocket)).reloads;
    await fetch(`${consul.url}/v1/kv/paas-router/domains/beta`, { method: 'PUT', body: 'during-readonly.example.org' });
    const doc = await applyStatusIn(statusUrl, 'write-failed');
    const error = doc.haproxy.lastApply!.error!;
    t.match(error.message, /EROFS|read-only/i, `the reason: ${error.message}`);
    await sleep(4_500);
    const reloadsDuring = (await reloads(masterSocket)).reloads - reloadsBefore;
    t.ok(
      reloadsDuring <= 1,
      `HAProxy reloaded at most once, to undo the runtime change the write could not follow (${reloadsDuring}); the retries touch nothing`,
    );
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the files on disk: ${check.output}`);

    await run('mount', ['-o', 'remount,rw', mountPoint]);
    const end = Date.now();
    const served = await servedAt(httpPort, 'during-readonly.example.org', /beta/);
    await healthy(statusUrl);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await recordFigure(t, {
      fault: 'disk-read-only',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - end,
      reported: `lastApply write-failed (${error.message}); /healthz 503`,
      notes: `tmpfs remounted read-only; ${reloadsDuring} HAProxy reloads during the ~5 s fault`,
    });
  });
});
