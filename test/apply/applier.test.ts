// The applier against a real HAProxy in master-worker mode (the system's 2.6, or the branch
// PAAS_ROUTER_TEST_HAPROXY selects: docs/testing.md).
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Applier } from '../../src/apply/applier.js';
import { spareUseOf, type Candidate } from '../../src/apply/deployment.js';
import { writeFilesAtomically } from '../../src/apply/files.js';
import { WriteFailedError } from '../../src/errors.js';
import { SERVER_STATE_FILE } from '../../src/render/views.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { atLeast, readHaproxyVersion } from '../../src/apply/haproxy-version.js';
import { createLogger } from '../../src/log.js';
import { startHaproxy, type HaproxyProcess } from '../../dev/haproxy-process.js';
import { startHttpBackend } from '../../dev/backends.js';
import { requestThrough } from '../../dev/probe.js';
import { configHead, runtimeHead } from '../helpers/haproxy-config.js';
import { eventually, freePort } from '../helpers/net.js';

const log = createLogger('silent');

function candidate(version: string, port: number, extra = ''): Candidate {
  return (dir) => ({
    'hosts.map': `a.example.org ${version}\n`,
    'haproxy.cfg': [
      ...configHead('hard-stop-after 2s', port),
      // The map path comes from `dir`: validation must see the candidate's own map, not the live one.
      `  http-request return status 200 content-type text/plain lf-string "%[req.hdr(host),lower,map(${dir}/hosts.map,none)]"`,
      extra,
      '',
    ].join('\n'),
  });
}

/** One backend, app_web, with `servers` (lines), behind a runtime socket at admin level. */
function webConfig(runtimeSocket: string, port: number, servers: string[]): Candidate {
  return (dir) => ({
    'hosts.map': '',
    'haproxy.cfg': [
      ...runtimeHead(runtimeSocket, port),
      `  http-request set-var(txn.m) str(${dir}/hosts.map)`,
      '  default_backend app_web',
      'backend app_web',
      '  balance roundrobin',
      ...servers,
      '',
    ].join('\n'),
  });
}

/** A scratch directory with the paths of one HAProxy; its HAProxy (once started) stops with the test. */
async function workspace(t: Test, name: string) {
  const work = await mkdtemp(join(tmpdir(), `paas-router-${name}-`));
  const ws = {
    work,
    configDir: join(work, 'haproxy'),
    masterSocket: join(work, 'master.sock'),
    port: await freePort(),
    haproxy: undefined as HaproxyProcess | undefined,
  };
  t.teardown(async () => {
    await ws.haproxy?.stop();
    await rm(work, { recursive: true, force: true });
  });
  return ws;
}

t.test('applier: validate, write, reload, refuse, roll back', async (t) => {
  const ws = await workspace(t, 'applier');
  const { work, configDir, masterSocket, port } = ws;
  const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, reloadTimeoutMs: 10_000, log });
  const body = async () => (await requestThrough(port, 'a.example.org')).body;
  // After a refused reload HAProxy resumes the running workers' listeners (paused while the new
  // process retried its binds): on a loaded machine a request can come before they are resumed.
  const servedAgain = (version: string) => eventually(`${version} served by the running workers`, async () => (await body()) === version);

  await t.test('HAProxy not running yet: the files are written and the reload is pending', async (t) => {
    const r = await applier.apply(candidate('v1', port));
    t.equal(r.status, 'haproxy-unreachable');
    t.equal(r.error?.code, 'HAPROXY_UNREACHABLE');
    t.equal(applier.deployment?.loaded, false, 'HAProxy has not loaded it yet');
    t.match(await readFile(join(configDir, 'hosts.map'), 'utf8'), /v1/);
    ws.haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
    t.equal(await body(), 'v1');
    const retry = await applier.retryPendingReload();
    t.equal(retry?.status, 'reloaded');
    t.equal(applier.deployment?.loaded, true);
  });

  await t.test('a new candidate is validated, written and reloaded', async (t) => {
    const r = await applier.apply(candidate('v2', port));
    t.equal(r.status, 'reloaded');
    t.equal(await body(), 'v2');
  });

  await t.test('the same bytes are not reloaded again', async (t) => {
    const before = (await showProc(masterSocket)).master.reloads;
    const r = await applier.apply(candidate('v2', port));
    t.equal(r.status, 'unchanged');
    t.equal((await showProc(masterSocket)).master.reloads, before);
  });

  await t.test('a candidate haproxy -c refuses never reaches the live files', async (t) => {
    const r = await applier.apply(candidate('v3', port, '  this-is-not-a-keyword 1'));
    t.equal(r.status, 'refused');
    t.equal(r.error?.code, 'HAPROXY_INVALID');
    t.match(r.error?.message, /this-is-not-a-keyword/);
    t.match(await readFile(join(configDir, 'hosts.map'), 'utf8'), /v2/);
    t.equal(await body(), 'v2');
    t.equal((await applier.apply(candidate('v3', port, '  this-is-not-a-keyword 1'))).status, 'already-refused', 'not retried until the input changes');
  });

  await t.test('a reload HAProxy refuses (port taken) rolls the files back', async (t) => {
    const taken = createServer();
    const takenPort = await freePort();
    await new Promise<void>((r) => taken.listen(takenPort, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => taken.close(r)));
    const r = await applier.apply(candidate('v4', port, `listen clash\n  bind 127.0.0.1:${takenPort}\n  server s 127.0.0.1:1`));
    t.equal(r.status, 'reload-failed');
    t.equal(r.error?.code, 'RELOAD_FAILED');
    // 2.7+ answers the reload with its startup logs: the reason is HAProxy's own. 2.6 only counts it.
    if (atLeast(await readHaproxyVersion('haproxy'), '2.7'))
      t.match(r.error?.message, /refused the reload: Binding .*cannot bind socket \(Address already in use\)/);
    else t.match(r.error?.message, /show proc counts a failed reload/);
    t.match(await readFile(join(configDir, 'hosts.map'), 'utf8'), /v2/, 'disk holds what HAProxy runs');
    t.notMatch(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /clash/);
    t.ok(await servedAgain('v2'), 'the running workers kept serving');
    const after = await applier.apply(candidate('v5', port));
    t.equal(after.status, 'reloaded', 'the next good candidate applies');
    await eventually('v5 served', async () => (await body()) === 'v5');
  });

  await t.test('a daemon restart adopts the files on disk and does not reload', async (t) => {
    const fresh = new Applier({ configDir, bin: 'haproxy', masterSocket, reloadTimeoutMs: 10_000, log });
    t.match(await fresh.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
    t.equal((await fresh.apply(candidate('v5', port))).status, 'unchanged');
  });

  await t.test('an unwritable config dir fails the write and keeps serving', async (t) => {
    const blocker = join(work, 'not-a-dir');
    await writeFile(blocker, 'x');
    const broken = new Applier({ configDir: join(blocker, 'sub'), bin: 'haproxy', masterSocket, reloadTimeoutMs: 10_000, log });
    const r = await broken.apply(candidate('v6', port));
    t.equal(r.status, 'write-failed', 'the staging dir cannot even be created: nothing is applied');
    t.equal(r.error?.code, 'WRITE_FAILED');
    t.equal(await body(), 'v5');
  });

  await t.test('a refused reload whose files cannot be put back says so, with the cause', async (t) => {
    const taken = createServer();
    const takenPort = await freePort();
    await new Promise<void>((r) => taken.listen(takenPort, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => taken.close(r)));
    let liveWrites = 0;
    const failingRestore: typeof writeFilesAtomically = async (dir, files, opts) => {
      if (dir === configDir && 'haproxy.cfg' in files && ++liveWrites === 2) throw new WriteFailedError('cannot write the configuration: EIO (injected)');
      return writeFilesAtomically(dir, files, opts);
    };
    const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, reloadTimeoutMs: 10_000, log, writeFiles: failingRestore });
    t.match(await applier.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
    const r = await applier.apply(candidate('v7', port, `listen clash\n  bind 127.0.0.1:${takenPort}\n  server s 127.0.0.1:1`));
    t.equal(r.status, 'reload-failed');
    t.match(r.error?.message, /could NOT be put back on disk \(cannot write the configuration: EIO \(injected\)\)/);
    t.notMatch(r.error?.message, /were put back/);
    t.ok(await servedAgain('v5'), 'the running workers kept serving');
    const fixed = new Applier({ configDir, bin: 'haproxy', masterSocket, reloadTimeoutMs: 10_000, log });
    t.equal((await fixed.apply(candidate('v8', port))).status, 'reloaded', 'the next good candidate repairs the disk');
  });
});

t.test('adopting the files on disk: a missing file is a new node, any other read error is reported', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-adopt-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const applier = new Applier({ configDir: work, bin: 'haproxy', masterSocket: join(work, 'm.sock'), reloadTimeoutMs: 1000, log });
  t.match(await applier.adoptFilesOnDisk(['haproxy.cfg']), { adopted: false, reason: /haproxy\.cfg does not exist/ });
  await mkdir(join(work, 'haproxy.cfg'));
  t.match(
    await applier.adoptFilesOnDisk(['haproxy.cfg']),
    { adopted: false, reason: /cannot read .*haproxy\.cfg: .*EISDIR/ },
    'EISDIR (or EACCES) is not "nothing to adopt"',
  );
  t.equal(applier.deployment, undefined);
  await rm(join(work, 'haproxy.cfg'), { recursive: true });
  await writeFile(join(work, 'haproxy.cfg'), 'x');
  t.match(await applier.adoptFilesOnDisk(['haproxy.cfg']), { adopted: true });
  t.same(applier.deployment?.files, { 'haproxy.cfg': 'x' });
});

t.test('a runtime change whose files cannot be written is undone by a reload, and the undo is reported', async (t) => {
  const ws = await workspace(t, 'undo');
  const { work, configDir, masterSocket, port } = ws;
  const runtimeSocket = join(work, 'runtime.sock');
  const config = (disabled: boolean) => webConfig(runtimeSocket, port, [`    server s1 127.0.0.1:1${disabled ? ' disabled' : ''}`]);
  let failLive = false;
  const writer: typeof writeFilesAtomically = async (dir, files, opts) => {
    if (failLive && dir === configDir && 'haproxy.cfg' in files) throw new WriteFailedError('cannot write the configuration: ENOSPC (injected)');
    return writeFilesAtomically(dir, files, opts);
  };
  const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log, writeFiles: writer });
  t.equal((await applier.apply(config(false))).status, 'haproxy-unreachable');
  ws.haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
  t.equal((await applier.retryPendingReload())?.status, 'reloaded');
  const reloads = (await showProc(masterSocket)).master.reloads;
  failLive = true;
  const r = await applier.apply(config(true));
  t.equal(r.status, 'write-failed');
  t.match(r.error?.message, /ENOSPC \(injected\)/);
  t.match(r.undo, { status: 'reloaded' }, 'the reload onto the last good files is in the report');
  t.equal((await showProc(masterSocket)).master.reloads, reloads + 1, 'and it did happen');
});

t.test('a runtime change rewrites only the files that changed; after a failed write, the next write is whole', async (t) => {
  const ws = await workspace(t, 'changed-only');
  const { work, configDir, masterSocket, port } = ws;
  const runtimeSocket = join(work, 'runtime.sock');
  const config = (disabled: boolean, certificate = 'PEM 1'): Candidate => {
    const files = webConfig(runtimeSocket, port, [`    server s1 127.0.0.1:1${disabled ? ' disabled' : ''}`]);
    return (dir) => ({ ...files(dir), 'certs/www.example.org.pem': certificate });
  };
  const written: string[][] = [];
  let failLive = false;
  const writer: typeof writeFilesAtomically = async (dir, files, opts) => {
    if (dir !== configDir) return writeFilesAtomically(dir, files, opts);
    if (failLive) throw new WriteFailedError('cannot write the configuration: ENOSPC (injected)');
    // The server state saved before a reload is HAProxy's, not the candidate's.
    if (!(SERVER_STATE_FILE in files)) written.push(Object.keys(files).sort());
    return writeFilesAtomically(dir, files, opts);
  };
  const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log, writeFiles: writer });
  t.equal((await applier.apply(config(false))).status, 'haproxy-unreachable');
  ws.haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
  t.equal((await applier.retryPendingReload())?.status, 'reloaded');
  t.same(written.splice(0), [['certs/www.example.org.pem', 'haproxy.cfg', 'hosts.map']], 'the first write is whole');

  t.equal((await applier.apply(config(true))).status, 'runtime');
  t.same(written.splice(0), [['haproxy.cfg']], 'a server disabled: haproxy.cfg alone, not the map or the certificate');
  t.equal(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), applier.deployment!.files['haproxy.cfg'], 'what runs is on disk');

  failLive = true;
  t.equal((await applier.apply(config(false))).status, 'write-failed');
  failLive = false;
  // The failed write may have renamed some files: the next one writes every file again.
  await applier.apply(config(false));
  t.same(written.splice(0), [['certs/www.example.org.pem', 'haproxy.cfg', 'hosts.map']], 'after a failed write, every file again');
  await applier.apply(config(false, 'PEM 2'));
  t.same(written.at(-1), ['certs/www.example.org.pem'], 'a renewed certificate alone');
  t.equal(await readFile(join(configDir, 'certs/www.example.org.pem'), 'utf8'), 'PEM 2');
});

t.test('spare backends: a claim taken at runtime, a taken spare refused, consolidation validated first', async (t) => {
  const ws = await workspace(t, 'spares');
  const { work, configDir, masterSocket, port } = ws;
  const runtimeSocket = join(work, 'runtime.sock');
  // node:http handles a connection HAProxy resets (a worker stopping at a reload); a bare socket
  // server without an 'error' listener would crash the test process on it.
  const backend = await startHttpBackend('blog');
  t.teardown(() => backend.close());
  const config =
    (withBlog: boolean): Candidate =>
    (dir) => ({
      'hosts.map': withBlog ? 'blog.example.org app_blog\n' : '',
      'haproxy.cfg': [
        ...runtimeHead(runtimeSocket, port),
        `  use_backend %[req.hdr(host),lower,map(${dir}/hosts.map,be_none)]`,
        'backend be_none',
        '  http-request return status 404',
        ...(withBlog ? ['backend app_blog', '  balance roundrobin', `  server s1 127.0.0.1:${backend.port}`] : []),
        'backend spare_1',
        '  balance roundrobin',
        '',
      ].join('\n'),
    });
  let failStaging = false;
  const writer: typeof writeFilesAtomically = async (dir, files, opts) => {
    if (failStaging && dir.endsWith('.staging')) throw new WriteFailedError('cannot write the staging directory: ENOSPC (injected)');
    return writeFilesAtomically(dir, files, opts);
  };
  const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log, writeFiles: writer });
  t.equal((await applier.apply(config(false))).status, 'haproxy-unreachable');
  // A daemon started before HAProxy: the spares are unknown until HAProxy answers (the retry loop asks).
  const early = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log });
  t.same(await early.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
  t.match(spareUseOf(early.deployment!), { unavailable: /not known yet: HAProxy did not answer/ });
  ws.haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
  t.equal((await applier.retryPendingReload())?.status, 'reloaded');
  await early.learnRuntime();
  t.same(spareUseOf(early.deployment!), { inUse: new Set() }, 'read once HAProxy answers: every spare free');
  const reloads = async () => (await showProc(masterSocket)).master.reloads;
  const before = await reloads();

  const s1 = { name: 's1', endpoint: `127.0.0.1:${backend.port}`, args: [], disabled: false };
  const claim = { app: 'blog', backend: 'app_blog', spare: 'spare_1' };
  const planned = () => ({
    against: applier.deployment!.generation,
    plan: {
      kind: 'runtime' as const,
      ops: [
        { op: 'add-server' as const, backend: 'app_blog', server: s1 },
        { op: 'map-add' as const, key: 'blog.example.org', value: 'app_blog' },
      ],
      desired: { servers: new Map([['app_blog', new Map([['s1', s1]])]]), hosts: new Map([['blog.example.org', 'app_blog']]) },
      spares: [claim],
    },
  });
  const r = await applier.apply(config(true), { planned: planned() });
  t.match(r, { status: 'runtime', spares: [claim] });
  t.equal(await reloads(), before, 'no reload');
  t.equal((await requestThrough(port, 'blog.example.org')).body.trim(), 'blog', 'served from the spare');
  t.same(
    applier.deployment!.spares.list().map((a) => a.spare),
    ['spare_1'],
  );

  // A plan that takes a spare already in use (made against stale state) is not run.
  const stale = { ...planned(), against: applier.deployment!.generation };
  stale.plan.spares = [{ app: 'shop', backend: 'app_shop', spare: 'spare_1' }];
  const refusedClaim = await applier.apply(config(false), { planned: stale });
  t.match(refusedClaim, { status: 'reloaded', reloadReason: 'the spare backend the plan took is in use' });
  t.same(applier.deployment!.spares.list(), [], 'that reload freed the spare');

  // Consolidation validates the running files first: a failure keeps the app on its spare.
  t.equal((await applier.apply(config(true), { planned: planned() })).status, 'runtime');
  const reloadsBefore = await reloads();
  failStaging = true;
  const failed = await applier.consolidateSpares();
  t.match(failed, { status: 'write-failed', error: { message: /ENOSPC \(injected\)/ } });
  t.equal(await reloads(), reloadsBefore, 'no reload without validation');
  t.equal(applier.deployment!.spares.list().length, 1, 'still on its spare');
  t.equal((await requestThrough(port, 'blog.example.org')).body.trim(), 'blog');
  failStaging = false;
  t.match(await applier.consolidateSpares(), {
    status: 'reloaded',
    reloadReason: /consolidating 1 app\(s\) on spare backends into their own backends \(blog\)/,
  });
  t.equal(await reloads(), reloadsBefore + 1);
  t.same(applier.deployment!.spares.list(), []);
  t.equal((await requestThrough(port, 'blog.example.org')).body.trim(), 'blog', 'served from its own backend');
  t.equal(await applier.consolidateSpares(), undefined, 'nothing on a spare: nothing to do');

  // A daemon restart adopts the files, which never say what a spare holds: HAProxy does (issue 20).
  t.equal((await applier.apply(config(false))).status, 'reloaded');
  t.equal((await applier.apply(config(true), { planned: planned() })).status, 'runtime');
  const restarted = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log });
  t.equal(restarted.deployment, undefined, 'before adoption: nothing runs that it knows of');
  t.same(await restarted.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
  t.same(spareUseOf(restarted.deployment!), { inUse: new Set(['spare_1']) }, 'known at once: spare_1 holds an app');
  t.match(restarted.deployment!.spares.list(), [claim], 'the app on it, from HAProxy');
  t.match(await restarted.reloadRunning('test'), { status: 'reloaded' });
  t.same(spareUseOf(restarted.deployment!), { inUse: new Set() }, 'a reload loaded the files: free again');
  const again = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log });
  t.same(await again.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
  t.same(spareUseOf(again.deployment!), { inUse: new Set() }, 'adopted with every spare empty: free at once');
  t.equal(again.deployment?.drift, undefined, 'HAProxy runs what the files say');

  // A daemon stopped between its runtime commands and its write leaves HAProxy serving what the
  // files do not say: the record adopted at start names the difference, and the same bytes reload.
  t.equal((await sendSocketCommand(runtimeSocket, `del map ${join(configDir, 'hosts.map')} blog.example.org`)).trim(), '');
  t.equal((await requestThrough(port, 'blog.example.org')).status, 404, 'HAProxy no longer routes blog');
  const drifted = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log });
  t.same(await drifted.adoptFilesOnDisk(['haproxy.cfg', 'hosts.map']), { adopted: true });
  t.match(drifted.deployment, { drift: /the runtime hosts map differs from hosts\.map at blog\.example\.org/ });
  const beforeDrift = await reloads();
  t.match(await drifted.apply(config(true)), { status: 'reloaded', reloadReason: /what HAProxy runs differs from the files adopted at start/ });
  t.equal(await reloads(), beforeDrift + 1, 'one reload, onto the files');
  t.equal((await requestThrough(port, 'blog.example.org')).body.trim(), 'blog', 'served again, as the files say');
  t.equal(drifted.deployment?.drift, undefined);
  t.equal((await drifted.apply(config(true))).status, 'unchanged', 'and then nothing more to do');
});

t.test('runtime first: the commands go before the files are made, the files follow; refused commands reload; a failed render is undone', async (t) => {
  const ws = await workspace(t, 'first');
  const { work, configDir, masterSocket, port } = ws;
  const runtimeSocket = join(work, 'runtime.sock');
  const web = await startHttpBackend('web');
  const api = await startHttpBackend('api');
  t.teardown(() => Promise.all([web.close(), api.close()]));
  const config = (servers: string[]) => webConfig(runtimeSocket, port, servers);
  const s1 = `  server s1 127.0.0.1:${web.port}`;
  const applier = new Applier({ configDir, bin: 'haproxy', masterSocket, runtimeSocket, reloadTimeoutMs: 10_000, log });
  t.equal((await applier.apply(config([s1]))).status, 'haproxy-unreachable');
  ws.haproxy = await startHaproxy({ configFile: join(configDir, 'haproxy.cfg'), masterSocket });
  t.equal((await applier.retryPendingReload())?.status, 'reloaded');
  const reloads = async () => (await showProc(masterSocket)).master.reloads;
  const before = await reloads();
  // Rows of `show servers state` (after its version line and header): one per server.
  const servers = async () =>
    (await sendSocketCommand(runtimeSocket, 'show servers state app_web')).split('\n').filter((l) => !l.startsWith('#') && l.split(' ').length > 5).length;

  const s2 = { name: 's2', endpoint: `127.0.0.1:${api.port}`, args: [], disabled: false };
  const s1Line = { ...s2, name: 's1', endpoint: `127.0.0.1:${web.port}` };
  /** A plan adding `server` to app_web, against the deployment held now; `servers`: app_web afterwards. */
  const adding = (server: typeof s2, servers: (typeof s2)[]) => ({
    against: applier.deployment!.generation,
    plan: {
      kind: 'runtime' as const,
      ops: [{ op: 'add-server' as const, backend: 'app_web', server }],
      desired: { servers: new Map([['app_web', new Map(servers.map((x) => [x.name, x]))]]), hosts: new Map<string, string>() },
    },
  });
  const addS2 = () => adding(s2, [s1Line, s2]);
  const sent = await applier.sendFirst(addS2(), {});
  t.match(sent, { ops: 1 }, 'sent');
  t.equal(await servers(), 2, 'HAProxy serves s2 ...');
  t.notMatch(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /server s2/, '... before its files are written');
  const withS2 = config([s1, `  server s2 127.0.0.1:${api.port}`]);
  const r = await applier.apply(withS2, { sent });
  t.match(r, { status: 'runtime', runtimeOps: 1 });
  t.match(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /server s2/, 'the files follow');
  t.equal(applier.deployment?.files['haproxy.cfg'], withS2(configDir)['haproxy.cfg'], 'and the record says what runs');
  t.equal(await reloads(), before, 'no reload');

  t.equal(await applier.sendFirst({ ...addS2(), against: applier.deployment!.generation - 1 }, {}), undefined, 'a plan against another deployment is not sent');
  t.equal(await applier.sendFirst(addS2(), { 'certs/a.pem': 'x' }), undefined, 'nor one with new certificate files (haproxy -c loads them first)');

  // HAProxy refuses the commands (s2 exists already): the files are validated and reloaded.
  const refused = await applier.sendFirst(addS2(), {});
  t.match(refused, { fallback: /s2/ });
  t.match(await applier.apply(withS2, { sent: refused }), { status: 'reloaded', reloadReason: /s2/ });
  t.equal(await reloads(), before + 1);

  // The render failed after the commands went: HAProxy goes back to the last good files.
  const s3 = { ...s2, name: 's3' };
  const addS3 = adding(s3, [s1Line, s2, s3]);
  t.match(await applier.sendFirst(addS3, {}), { ops: 1 });
  t.equal(await servers(), 3);
  t.match(await applier.undoSent(), { status: 'reloaded' });
  t.equal(await servers(), 2, 'undone: the last good files have s1 and s2');
  t.equal(await reloads(), before + 2);

  // While a candidate `haproxy -c` refused is pending, changes go through the files first, where
  // the same candidate is recognised (already-refused) instead of being sent again.
  t.equal((await applier.apply(config([s1, '  no-such-keyword']))).status, 'refused');
  t.equal(await applier.sendFirst({ ...addS3, against: applier.deployment!.generation }, {}), undefined, 'not sent');
  t.equal(await servers(), 2);
});
