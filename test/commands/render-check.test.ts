// The CLI as a user runs it (bin/paas-router.js over dist/, built by `npm test`): output and exit codes.
import t from 'tap';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevConsul } from '../../dev/consul/server.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { PACKAGE_ROOT, SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { freePort } from '../helpers/net.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'paas-router.js');

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, PAAS_ROUTER_CONFIG: '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('render and check against a dev Consul', async (t) => {
  const consul = await startDevConsul({ port: 0 });
  const work = await mkdtemp(join(tmpdir(), 'paas-router-cli-'));
  t.teardown(async () => {
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });
  await registerMesosTask(consul.url, {
    app: '/community/wordpress',
    agent: 'a1',
    ip: '10.0.0.5',
    port: 31000,
    tags: ['router.sticky=true', 'router.colour=blue'],
  });
  await fetch(`${consul.url}/v1/kv/paas-router/domains/wordpress-community`, { method: 'PUT', body: 'www.example.org, bad_domain.org' });
  const configFile = join(work, 'config.yaml');
  await writeFile(
    configFile,
    `haproxy:\n  config_dir: ${join(work, 'haproxy')}\n  http_port: ${await freePort()}\n  runtime_socket: ${join(work, 'rt.sock')}\n`,
  );
  const base = ['--config', configFile, '--consul-addr', consul.url];

  await t.test('render prints haproxy.cfg and reports rejections on stderr', async (t) => {
    const r = await cli(['render', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /backend app_wordpress-community/);
    t.match(r.stdout, /server 10\.0\.0\.5:31000 10\.0\.0\.5:31000/);
    t.match(r.stderr, /router\.colour/);
    t.match(r.stderr, /bad_domain\.org/);
  });

  await t.test('render --out writes every file', async (t) => {
    const out = join(work, 'out');
    const r = await cli(['render', ...base, '--out', out]);
    t.equal(r.code, 0, r.stderr);
    t.match(await readFile(join(out, 'hosts.map'), 'utf8'), /www\.example\.org app_wordpress-community/);
    t.match(await readFile(join(out, 'haproxy.cfg'), 'utf8'), /frontend http_in/);
  });

  await t.test('check validates with haproxy -c and lists rejected inputs', async (t) => {
    const r = await cli(['check', ...base]);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(r.stdout, /1 apps, 2 hosts, 2 rejected inputs/);
    t.match(r.stdout, /rejected tag "router\.colour=blue" of wordpress-community/);
    t.match(r.stdout, /rejected domain "bad_domain\.org" of wordpress-community \(paas-router\/domains\/wordpress-community\)/);
    t.match(r.stdout, /configuration is valid/);
  });

  await t.test('check exits 1 when the rendered config would not validate', async (t) => {
    const templates = join(work, 'templates-invalid');
    await cp(SHIPPED_TEMPLATES_DIR, templates, { recursive: true });
    const main = join(templates, 'haproxy.cfg.hbs');
    await writeFile(main, `${await readFile(main, 'utf8')}\nfrontend broken\n    no-such-keyword on\n`);
    const r = await cli(['check', ...base, '--templates-dir', templates]);
    t.equal(r.code, 1);
    t.match(r.stdout, /NOT valid/);
    t.match(r.stdout, /no-such-keyword/);
  });

  await t.test('a template that does not compile is invalid input: exit 2, naming the file', async (t) => {
    const templates = join(work, 'templates-broken');
    await cp(SHIPPED_TEMPLATES_DIR, templates, { recursive: true });
    await writeFile(join(templates, 'partials', 'stats.hbs'), '{{#if stats.auth}}unclosed\n');
    const r = await cli(['render', ...base, '--templates-dir', templates]);
    t.equal(r.code, 2);
    t.match(r.stderr, /TEMPLATE_ERROR/);
    t.match(r.stderr, /stats/);
  });
});

t.test('Consul unreachable: render and check exit 1 with the reason', async (t) => {
  const port = await freePort();
  for (const command of ['render', 'check']) {
    const r = await cli([command, '--consul-addr', `127.0.0.1:${port}`]);
    t.equal(r.code, 1, command);
    t.match(r.stderr, /CONSUL_UNAVAILABLE: .*cannot reach Consul at http:\/\/127\.0\.0\.1/, command);
  }
});

t.test('bad config and bad usage exit 2', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-cli-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const bad = join(work, 'bad.yaml');
  await writeFile(bad, 'haproxy:\n  http_port: eighty\n');
  const r = await cli(['check', '--config', bad]);
  t.equal(r.code, 2);
  t.match(r.stderr, /CONFIG_INVALID: invalid configuration .*\n\s+haproxy\.http_port/);
  const missing = await cli(['render', '--config', join(work, 'absent.yaml')]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read config file/);
  t.equal((await cli(['no-such-command'])).code, 2);
  t.equal((await cli(['render', '--no-such-flag'])).code, 2);
  const help = await cli(['render', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--out <dir>/);
});
