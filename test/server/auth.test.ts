// Authentication of the status listener: scrypt credentials file, Basic auth, mandatory off loopback.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevCluster } from '../../dev/cluster.js';
import { validateConfig } from '../../src/config/load.js';
import { startDaemon } from '../../src/daemon.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import {
  FileCredentials,
  StaticCredentials,
  credentialsFor,
  hashPassword,
  isLoopbackHost,
  parseBasicAuth,
  parseCredentialsFile,
  parseScryptHash,
  verifyScrypt,
} from '../../src/server/auth.js';
import { eventually, freeListenerPorts, freePort } from '../helpers/net.js';
import { basic, getText } from './helpers.js';

const log = createLogger('silent');

function caught(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

t.test('scrypt hashes', async (t) => {
  const hash = await hashPassword('correct horse battery');
  t.match(hash, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  const parsed = parseScryptHash(hash)!;
  t.ok(parsed);
  t.equal(await verifyScrypt('correct horse battery', parsed), true);
  t.equal(await verifyScrypt('correct horse batterY', parsed), false);
  t.not(await hashPassword('correct horse battery'), hash, 'a fresh salt each time');
  for (const bad of ['plain', '$scrypt$N=1000,r=8,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5', '$scrypt$N=16384,r=8$c2FsdHNhbHQ=$a2V5', '$scrypt$$$']) {
    t.equal(parseScryptHash(bad), undefined, `refused: ${bad}`);
  }
});

t.test('credentials file format', async (t) => {
  const hash = await hashPassword('secret password 1');
  const users = parseCredentialsFile(`# operators\n\nalice:${hash}\n  bob:${hash}  \n`, 'users');
  t.same([...users.keys()], ['alice', 'bob']);
  const plain = caught(() => parseCredentialsFile('carol:my-plain-password\n', 'users'));
  t.ok(plain instanceof ConfigError);
  t.match(plain?.message, /users line 1: the password of "carol" is not an scrypt hash/);
  t.notMatch(plain?.message, /my-plain-password/, 'the secret is not echoed');
  t.throws(() => parseCredentialsFile(`a:${hash}\na:${hash}\n`, 'users'), /line 2: user "a" appears twice/);
  t.throws(() => parseCredentialsFile('no colon here\n', 'users'), /line 1: expected user:\$scrypt\$/);
});

t.test('loopback detection', async (t) => {
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.10.0.1', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['192.168.1.10', false],
    ['::ffff:10.0.0.1', false],
    ['router.example.org', false],
  ];
  for (const [host, loopback] of table) t.equal(isLoopbackHost(host), loopback, host);
});

t.test('Basic header parsing', async (t) => {
  t.same(parseBasicAuth(basic('alice', 'pa:ss').authorization), { user: 'alice', password: 'pa:ss' });
  t.equal(parseBasicAuth('Bearer abc'), undefined);
  t.equal(parseBasicAuth(undefined), undefined);
  t.equal(parseBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`), undefined);
});

t.test('static credentials (the shape a Vault provider plugs in with)', async (t) => {
  const c = new StaticCredentials({ ops: 'from-vault-123' });
  t.equal(await c.verify('ops', 'from-vault-123'), true);
  t.equal(await c.verify('ops', 'wrong'), false);
  t.equal(await c.verify('nobody', 'from-vault-123'), false);
});

t.test('off loopback, credentials are mandatory', async (t) => {
  const open = await credentialsFor({ host: '0.0.0.0', port: 9107 }, '').then(
    () => undefined,
    (e: Error) => e,
  );
  t.ok(open instanceof ConfigError);
  t.match(open?.message, /listen: 0\.0\.0\.0:9107 is not a loopback address.*set listen_auth_file/);
  t.equal(await credentialsFor({ host: '127.0.0.1', port: 9107 }, ''), undefined, 'loopback: open');
  const config = validateConfig({ listen: '0.0.0.0:0', consul: { address: 'http://127.0.0.1:1' } }, 'test', {});
  await t.rejects(startDaemon(config, log), ConfigError, 'the daemon refuses to start');

  const work = await mkdtemp(join(tmpdir(), 'paas-router-auth-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const file = join(work, 'config.yaml');
  await writeFile(file, 'listen: 0.0.0.0:9107\n');
  const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', file],
      { env: { ...process.env, NOTIFY_SOCKET: '' }, timeout: 30_000 },
      (err, _o, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
    ),
  );
  t.equal(r.code, 2, '`run` exits 2 (invalid configuration)');
  t.match(r.stderr, /CONFIG_INVALID: listen: 0\.0\.0\.0:9107 is not a loopback address/);
});

t.test('a listener bound to all interfaces asks for credentials (but not for /healthz)', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-auth-'));
  const usersFile = join(work, 'users');
  await writeFile(usersFile, `ops:${await hashPassword('first password!')}\n`, { mode: 0o600 });
  const port = await freePort();
  const cluster = await startDevCluster({
    ...(await freeListenerPorts()),
    apps: [{ id: '/foo', instances: 1, tags: [], mode: 'http' }],
    domains: {},
    log,
    configOverrides: { listen: `0.0.0.0:${port}`, listen_auth_file: usersFile },
  });
  t.teardown(async () => {
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  });
  // Requests go to loopback only; the listener itself is bound to 0.0.0.0 (not loopback).
  const base = `http://127.0.0.1:${port}`;
  t.equal(cluster.daemon.server.url, `http://0.0.0.0:${port}`);

  const health = await getText(`${base}/healthz`);
  t.not(health.status, 401, '/healthz needs no credentials');
  t.ok([200, 503].includes(health.status));
  for (const path of ['/', '/status', '/metrics', '/static/app.js', '/traffic', '/static/traffic.js']) {
    const r = await getText(`${base}${path}`);
    t.equal(r.status, 401, `${path} without credentials`);
    t.equal(r.headers.get('www-authenticate'), 'Basic realm="paas-router", charset="UTF-8"');
    t.notMatch(r.body, /paas_router_|"apps"/, 'nothing leaks');
  }
  t.equal((await getText(`${base}/status`, basic('ops', 'wrong password'))).status, 401, 'wrong password');
  t.equal((await getText(`${base}/status`, basic('root', 'first password!'))).status, 401, 'unknown user');
  const ok = await getText(`${base}/status`, basic('ops', 'first password!'));
  t.equal(ok.status, 200);
  t.match(JSON.parse(ok.body).router.auth, /^basic \(file .*users\)$/);
  t.equal((await getText(`${base}/metrics`, basic('ops', 'first password!'))).status, 200);
  t.equal((await getText(`${base}/traffic`, basic('ops', 'first password!'))).status, 200, 'the chart series behind the same credentials');

  // Rotating the file takes effect without a restart.
  await writeFile(usersFile, `ops:${await hashPassword('second password!')}\n`);
  await eventually('new password accepted', async () => (await getText(`${base}/status`, basic('ops', 'second password!'))).status === 200);
  t.equal((await getText(`${base}/status`, basic('ops', 'first password!'))).status, 401, 'the old password no longer works');
});

t.test('loopback with a credentials file: auth applies too', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-auth-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const usersFile = join(work, 'users');
  await writeFile(usersFile, `ops:${await hashPassword('a long password')}\n`);
  const provider = await credentialsFor({ host: '127.0.0.1', port: 1 }, usersFile);
  t.ok(provider instanceof FileCredentials);
  t.equal(await provider!.verify('ops', 'a long password'), true);
  t.equal(await provider!.verify('ops', 'another'), false);
  await t.rejects(credentialsFor({ host: '127.0.0.1', port: 1 }, join(work, 'missing')), /listen_auth_file: cannot read/);
});
