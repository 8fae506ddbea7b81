// The daemon with Vault unreachable (then sealed) at start: a clear status, retries, and no
// configuration written until the credentials are there; the Vault config keys.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevConsul } from '../../dev/consul/server.js';
import { writeRouterSecrets } from '../../dev/vault/router.js';
import { startDevVault } from '../../dev/vault/server.js';
import { validateConfig } from '../../src/config/load.js';
import { startDaemon } from '../../src/daemon.js';
import { eventually, freePort } from '../helpers/net.js';
import { assertNoSecrets, captureLog, sleep } from './helpers.js';

t.test('config: Vault keys and their checks', async (t) => {
  const c = validateConfig({ vault: { address: 'https://vault:8200' } }, 'test', { VAULT_TOKEN: 'tok' });
  t.same(
    { refresh: c.vault.refreshMs, renewBefore: c.vault.renewBeforeMs, retryMax: c.vault.retryMaxMs, timeout: c.vault.timeoutMs },
    { refresh: 30_000, renewBefore: 300_000, retryMax: 30_000, timeout: 10_000 },
  );
  t.throws(() => validateConfig({ vault: { address: 'https://vault:8200' } }, 'test', {}), /method "token" needs VAULT_TOKEN/);
  t.throws(() => validateConfig({ vault: { kv_prefix: 'secret/paas-router/' } }, 'test', {}), /vault\.kv_prefix: must be a KV v2 data path/);
  const approle = validateConfig(
    { vault: { address: 'https://vault:8200', auth: { method: 'approle', role_id: 'r', secret_id_file: '/run/secret-id' }, refresh: '5s' } },
    'test',
    {},
  );
  t.same(approle.vault.auth, { method: 'approle', roleId: 'r', secretIdFile: '/run/secret-id', mount: 'approle' });
  t.equal(approle.vault.refreshMs, 5_000);
  t.equal(validateConfig({}, 'test', { VAULT_TOKEN: 'tok' }).vault.address, '', 'no address: Vault not used, no token needed');
});

t.test('Vault down, then sealed, at start: no configuration is written without the credentials', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-vault-start-'));
  const consul = await startDevConsul({ port: 0 });
  const vault = await startDevVault();
  const token = vault.createToken({ ttl: 3600, policies: ['root'] }).id;
  writeRouterSecrets(vault, { consulToken: 'consul-from-vault', stats: { user: 'admin', password: 'stats-from-vault' } });
  await vault.stop();
  const config = validateConfig(
    {
      consul: { address: consul.url, wait: '2s', min_interval: '20ms', retry_max: '500ms' },
      vault: { address: vault.url, refresh: '200ms', retry_max: '300ms' },
      haproxy: {
        config_dir: join(dir, 'haproxy'),
        master_socket: join(dir, 'master.sock'),
        runtime_socket: join(dir, 'runtime.sock'),
        bind_address: '127.0.0.1',
        http_port: await freePort(),
        https_port: await freePort(),
        stats_port: await freePort(),
      },
      wait: { min: '20ms', max: '100ms' },
      listen: '127.0.0.1:0',
    },
    'test',
    { VAULT_TOKEN: token },
  );
  const captured = captureLog();
  const daemon = await startDaemon(config, captured.log);
  t.teardown(async () => {
    await daemon.stop();
    await consul.close();
    await vault.close();
    await rm(dir, { recursive: true, force: true });
  });
  const state = daemon.runner.state;
  const cfg = join(config.haproxy.configDir, 'haproxy.cfg');

  await eventually('vault down', () => state.sources.vault?.state === 'down');
  t.match(state.sources.vault!.lastError!.message, /cannot reach Vault at .*no configuration is written until Vault answers/);
  await sleep(1_000);
  t.notOk(existsSync(cfg), 'no haproxy.cfg while Vault is unreachable');
  t.equal(state.sources['consul-catalog'], undefined, 'Consul is not read before its token is known');
  t.ok(
    captured.lines.some((l) => l.includes('source vault is down') && l.includes('"level":40')),
    'a warning names the source',
  );

  vault.seal();
  await vault.start();
  await eventually('sealed reported', () => /sealed/.test(state.sources.vault?.lastError?.message ?? ''));
  await sleep(500);
  t.notOk(existsSync(cfg), 'no haproxy.cfg while Vault is sealed');

  vault.unseal();
  await eventually('configuration written once Vault answers', () => existsSync(cfg), 10_000);
  t.equal(state.sources.vault?.state, 'ok');
  // The files are written before HAProxy is tried: the apply's outcome is recorded after.
  await eventually('the apply recorded', () => state.lastApply, 10_000);
  t.equal(state.lastApply?.status, 'haproxy-unreachable', 'validated and written (HAProxy is not running in this test)');
  assertNoSecrets(t, captured.lines, { 'Vault token': token, 'Consul token': 'consul-from-vault', 'stats password': 'stats-from-vault' });
});
