// The `acme:` block: defaults, bad values named by key, and ACME without Vault refused (exit 2).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { validateConfig } from '../../src/config/load.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

const vault = { address: 'http://127.0.0.1:8200', auth: { method: 'approle', role_id: 'r', secret_id_file: '/dev/null' } };

t.test('defaults: ACME off; the documented defaults when on', async (t) => {
  t.equal(validateConfig({}, 'test', {}).acme.directoryUrl, '');
  const on = validateConfig({ vault, acme: { directory_url: 'https://acme-v02.api.letsencrypt.org/directory' } }, 'test', {}).acme;
  t.same(on, {
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    email: '',
    cacert: '',
    renewBeforeMs: 30 * 86_400_000,
    maxOrdersPerHour: 20,
    consulPrefix: 'paas-router/acme/',
    challengePort: 80,
    dnsResolver: '',
    retryBaseMs: 5 * 60_000,
    sessionTtlMs: 30_000,
    lockDelayMs: 15_000,
  });
});

t.test('bad values are refused with the key named', async (t) => {
  const table: [Record<string, unknown>, RegExp][] = [
    [{ directory_url: 'http://acme.example/dir' }, /acme\.directory_url: must be an https:\/\/ URL/],
    [{ email: 'nobody' }, /acme\.email: must be an e-mail address/],
    [{ renew_before: '30 days' }, /acme\.renew_before: must be a duration/],
    [{ max_orders_per_hour: 0 }, /acme\.max_orders_per_hour/],
    [{ consul_prefix: '/acme' }, /acme\.consul_prefix: must end with "\/"/],
    [{ challenge_port: 70000 }, /acme\.challenge_port/],
    [{ dns_resolver: '8.8.8.8' }, /acme\.dns_resolver: must be host:port/],
    [{ session_ttl: '5s' }, /acme\.session_ttl: must be between 10s and 24h/],
    [{ directory_urll: 'x' }, /acme\.directory_urll: unknown key/],
  ];
  for (const [acme, message] of table) t.throws(() => validateConfig({ vault, acme }, 'test', {}), { code: 'CONFIG_INVALID', message }, JSON.stringify(acme));
});

t.test('ACME on without Vault: a config error', async (t) => {
  t.throws(() => validateConfig({ acme: { directory_url: 'https://acme.example/dir' } }, 'test', {}), {
    message: /acme\.directory_url is set but vault\.address is empty: ACME needs Vault/,
  });
});

t.test('the daemon refuses to start: exit 2 and the reason on stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-acme-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'acme:\n  directory_url: https://acme.example/dir\n');
  const run = promisify(execFile);
  const env = { ...process.env, VAULT_ADDR: '', CONSUL_HTTP_ADDR: '', PAAS_ROUTER_CONFIG: '' };
  const err = await run(process.execPath, [join(PACKAGE_ROOT, 'bin', 'paas-router.js'), 'run', '--config', file], { env }).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(err?.code, 2);
  t.match(err?.stderr, /ACME needs Vault/);
});
