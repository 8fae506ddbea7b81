// The small pieces the fault tests made necessary: the port probe run before a tcp app is routed
// (src/runner/port-probe.ts) and the paused-frontend check after a reload (src/apply/reload.ts).
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { boundPorts, portInUse, probeHost } from '../../src/runner/port-probe.js';
import { pausedFrontends, resumePausedFrontends } from '../../src/apply/reload.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { freePort } from '../helpers/net.js';

const listen = async (port: number, host: string): Promise<Server> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
};
const close = (server: Server) => new Promise((resolve) => server.close(resolve));

t.test('boundPorts: the ports of every bind line, whatever the address form', async (t) => {
  const cfg = [
    'frontend http_in',
    '    bind 127.0.0.1:8080',
    '    bind *:443 ssl crt-list /etc/x',
    'listen app_db',
    '    mode tcp',
    '    bind ipv6@::1:10001',
    '# bind 127.0.0.1:9999 (a comment)',
    '    server db 10.0.0.1:5432',
  ].join('\n');
  t.same(
    [...boundPorts(cfg)].sort((a, b) => a - b),
    [443, 8080, 10001],
  );
  t.same([...boundPorts('')], []);
});

t.test('probeHost: HAProxy bind addresses to probe addresses', async (t) => {
  t.equal(probeHost('*'), '0.0.0.0');
  t.equal(probeHost('127.0.0.1'), '127.0.0.1');
  t.equal(probeHost('[::1]'), '::1');
  t.equal(probeHost('::1'), '::1');
});

t.test('portInUse: a port another process listens on, and a free one', async (t) => {
  const port = await freePort();
  t.equal(await portInUse('127.0.0.1', port), false, 'free');
  const server = await listen(port, '127.0.0.1');
  t.equal(await portInUse('127.0.0.1', port), true, 'taken on the same address');
  t.equal(await portInUse('*', port), true, 'taken for a bind on every address');
  await close(server);
  t.equal(await portInUse('127.0.0.1', port), false, 'free again, and the probe left nothing bound');
});

t.test('portInUse below 1024 as an unprivileged user (EACCES before the in-use check)', async (t) => {
  const built = join(PACKAGE_ROOT, 'dist', 'src', 'runner', 'port-probe.js');
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv') || !existsSync(built)) {
    t.comment('needs root (to listen below 1024), setpriv and a build (npm run build)');
    return;
  }
  // The child runs as nobody, who may not enter the checkout (a clone in root's 0700 home): it
  // gets its own copy of the module (a leaf, node:net only) in a directory it can read, and
  // nobody's own environment (--reset-env): tap's process tracking adds its loader from the
  // checkout's node_modules to NODE_OPTIONS of every child, env option or not.
  const readable = await mkdtemp(join(tmpdir(), 'paas-router-probe-'));
  t.teardown(() => rm(readable, { recursive: true, force: true }));
  await chmod(readable, 0o755);
  const module = join(readable, 'port-probe.mjs');
  await copyFile(built, module);
  await chmod(module, 0o644);
  const taken = 1023;
  const free = 1022;
  const server = await listen(taken, '127.0.0.1').catch(() => undefined);
  if (!server) return t.comment(`port ${taken} is not available for the test`);
  t.teardown(() => close(server));
  const script = `import { portInUse } from ${JSON.stringify(module)}; console.log(JSON.stringify([await portInUse('127.0.0.1', ${taken}), await portInUse('*', ${taken}), await portInUse('127.0.0.1', ${free})]));`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--reset-env', process.execPath, '--input-type=module', '-e', script],
      { cwd: readable },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    ),
  );
  t.same(JSON.parse(out), [true, true, false], 'a listener on a privileged port is seen (by connecting), a free one is not');
});

t.test('pausedFrontends: frontends `show stat` reports PAUSED', async (t) => {
  const stat = [
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight',
    'http_in,FRONTEND,,,0,1,262124,3,0,0,0,0,0,,,,,PAUSED,',
    'stats,FRONTEND,,,0,0,262124,0,0,0,0,0,0,,,,,OPEN,',
    'app_x,FRONTEND,,,0,0,262124,0,0,0,0,0,0,,,,,PAUSED,',
    'app_x,127.0.0.1:1,0,0,0,0,,0,0,0,,0,,0,0,0,0,PAUSED,1',
    '',
  ].join('\n');
  t.same(pausedFrontends(stat), ['http_in', 'app_x'], 'only FRONTEND rows count');
  t.same(pausedFrontends(`Pid: 12\nUptime: 0d\n\n${stat}`), ['http_in', 'app_x'], 'after the `show info` of the same answer');
  t.same(pausedFrontends('Unknown command\n'), [], 'no header, nothing paused');
});

t.test('resumePausedFrontends: no socket file is "nothing to check"; a socket that fails is an error with its cause', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-paused-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  t.same(await resumePausedFrontends(join(work, 'absent.sock'), 1, 200), [], 'ENOENT: the templates render no runtime socket');
  const notASocket = join(work, 'file.sock');
  await writeFile(notASocket, '');
  await t.rejects(resumePausedFrontends(notASocket, 1, 200), /cannot ask the new worker 1 for paused frontends on .*file\.sock: .*ECONNREFUSED/);
});
