// The Vault secrets source: whole snapshots, changes picked up, Vault down or sealed at start
// (down, retried with backoff, nothing emitted), Vault lost later (degraded, the cache stays),
// recovery, malformed secrets reported — and no secret in any log line.
import { backoffDelay } from '../../src/util/backoff.js';
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import {
  ROUTER_POLICY,
  putAuthUsers,
  putCertificate,
  removeAuthUsers,
  removeCertificate,
  routerAppRole,
  routerPolicy,
  writeRouterSecrets,
} from '../../dev/vault/router.js';
import { startDevVault, type DevVault } from '../../dev/vault/server.js';
import type { SourceStatus } from '../../src/sources/source.js';
import { VaultAuth } from '../../src/sources/vault/auth.js';
import { VaultClient } from '../../src/sources/vault/client.js';
import { VaultSecretsSource, kvPaths } from '../../src/sources/vault/secrets-source.js';
import type { SecretsSnapshot } from '../../src/sources/vault/types.js';
import { eventually } from '../helpers/net.js';
import { HASHES, ROTATED } from '../helpers/auth-hashes.js';
import { assertNoSecrets, captureLog, sleep, type CapturedLog } from './helpers.js';

const dir = await mkdtemp(join(tmpdir(), 'paas-router-vault-source-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

interface Harness {
  source: VaultSecretsSource;
  snapshots: SecretsSnapshot[];
  statuses: SourceStatus[];
  captured: CapturedLog;
  secretId: string;
}

async function harness(
  t: Test,
  vault: DevVault,
  opts: { refreshMs?: number; retryMaxMs?: number; random?: () => number; withoutAuthList?: boolean } = {},
): Promise<Harness> {
  const { roleId, secretId } = routerAppRole(vault, { tokenTtl: 60 });
  // A policy written before router.auth: no `list` on auth/.
  if (opts.withoutAuthList)
    vault.addPolicy(
      ROUTER_POLICY,
      routerPolicy().filter((rule) => !rule.path.includes('/auth')),
    );
  const file = join(dir, `secret-id-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, secretId, { mode: 0o600 });
  const captured = captureLog();
  const client = new VaultClient({ address: vault.url, timeoutMs: 2_000 });
  const auth = new VaultAuth({
    client,
    auth: { method: 'approle', roleId, secretIdFile: file, mount: 'approle' },
    renewBeforeMs: 10_000,
    retryMaxMs: 500,
    log: captured.log,
  });
  const source = new VaultSecretsSource({
    client,
    auth,
    kvPrefix: 'secret/data/paas-router/',
    refreshMs: opts.refreshMs ?? 100,
    retryMaxMs: opts.retryMaxMs ?? 400,
    log: captured.log,
    random: opts.random,
  });
  const snapshots: SecretsSnapshot[] = [];
  const statuses: SourceStatus[] = [];
  source.start({ snapshot: (s) => snapshots.push(s), status: (s) => statuses.push(s) });
  t.teardown(() => source.stop());
  return { source, snapshots, statuses, captured, secretId };
}

t.test('kv_prefix: KV v2 data and metadata paths', async (t) => {
  t.same(kvPaths('secret/data/paas-router/'), { data: 'secret/data/paas-router/', metadata: 'secret/metadata/paas-router/' });
  t.same(kvPaths('kv/data/infra/router/'), { data: 'kv/data/infra/router/', metadata: 'kv/metadata/infra/router/' });
  t.throws(() => kvPaths('secret/paas-router/'), /not a KV v2 data path/);
});

t.test('one whole snapshot; changes in Vault are picked up; unchanged reads emit nothing', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  const def = await selfSignedCertificate({ commonName: 'default.test' });
  const www = await selfSignedCertificate({ commonName: 'www.example.org' });
  writeRouterSecrets(vault, {
    consulToken: 'consul-1',
    stats: { user: 'admin', password: 'stats-pw-1' },
    certificates: { default: def, 'www.example.org': www },
  });
  const h = await harness(t, vault);
  await eventually('first snapshot', () => h.snapshots.length === 1);
  const first = h.snapshots[0]!;
  t.equal(first.consulToken, 'consul-1');
  t.same(first.stats, { user: 'admin', password: 'stats-pw-1' });
  t.same(Object.keys(first.certificates).sort(), ['default', 'www.example.org']);
  t.equal(first.certificates['www.example.org']!.privateKey, www.privateKey);
  t.same(first.problems, []);
  await sleep(400);
  t.equal(h.snapshots.length, 1, 'several unchanged reads emit nothing new');
  t.equal(h.source.latest, first);

  writeRouterSecrets(vault, { consulToken: 'consul-2' });
  await eventually('token change', () => h.snapshots.at(-1)?.consulToken === 'consul-2');
  removeCertificate(vault, 'www.example.org');
  await eventually('certificate removal', () => h.snapshots.at(-1) && !('www.example.org' in h.snapshots.at(-1)!.certificates));
  t.ok(
    vault.requests.every((r) => ['GET', 'POST', 'PUT'].includes(r.method)),
    'no LIST verb: GET ?list=true',
  );
  t.ok(vault.requests.some((r) => r.path === 'secret/metadata/paas-router/tls/' && /list=/.test(r.query)));
  assertNoSecrets(t, h.captured.lines, {
    'Consul token': 'consul-1',
    'new Consul token': 'consul-2',
    'stats password': 'stats-pw-1',
    'default key': def.privateKey,
    'www key': www.privateKey,
    'secret id': h.secretId,
  });
});

t.test('malformed secrets are reported by path, not used, and do not block the rest', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  vault.kvPut('secret', 'paas-router/consul', { tokn: 'typo' });
  vault.kvPut('secret', 'paas-router/haproxy', { stats_user: 'admin' });
  vault.kvPut('secret', 'paas-router/tls/www.example.org', { cert: 'x' });
  putCertificate(vault, 'ok.example.org', await selfSignedCertificate({ commonName: 'ok.example.org' }));
  const h = await harness(t, vault);
  await eventually('snapshot', () => h.snapshots.length === 1);
  const s = h.snapshots[0]!;
  t.equal(s.consulToken, undefined);
  t.equal(s.stats, undefined);
  t.same(Object.keys(s.certificates), ['ok.example.org']);
  t.same(s.problems.map((p) => p.path).sort(), [
    'secret/data/paas-router/consul',
    'secret/data/paas-router/haproxy',
    'secret/data/paas-router/tls/www.example.org',
  ]);
  t.ok(
    h.captured.lines.some((l) => l.includes('secret/data/paas-router/haproxy') && l.includes('stats_password')),
    'logged with the path',
  );
});

t.test('router.auth entries: listed and read under auth/, rotated and removed; only names are logged', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  putAuthUsers(vault, 'staging', `alice:${HASHES.bcrypt2b}\nbob:${HASHES.sha512}`);
  vault.kvPut('secret', 'paas-router/auth/wiki', { user: 'typo' });
  const h = await harness(t, vault, { refreshMs: 50 });
  await eventually('snapshot', () => h.snapshots.length === 1);
  t.same(
    h.snapshots[0]!.auth,
    { staging: `alice:${HASHES.bcrypt2b}\nbob:${HASHES.sha512}`, wiki: null },
    'no "users" text field: null, for the model to report',
  );
  putAuthUsers(vault, 'staging', `alice:${ROTATED}`);
  await eventually('rotated', () => h.snapshots.at(-1)?.auth.staging === `alice:${ROTATED}`);
  removeAuthUsers(vault, 'staging');
  await eventually('removed', () => h.snapshots.at(-1)?.auth.staging === undefined);
  t.ok(
    h.captured.lines.some((l) => l.includes('"authEntries":["staging","wiki"]') && l.includes('"authChanged":["staging"]')),
    'entry names and which changed are logged',
  );
  assertNoSecrets(t, h.captured.lines, { 'bcrypt hash': HASHES.bcrypt2b, 'sha-512 hash': HASHES.sha512, 'rotated hash': ROTATED });
});

t.test('a policy without list on auth/: everything else is read, the denial is a problem with the fix', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'consul-x', stats: { user: 'admin', password: 'pw' } });
  putAuthUsers(vault, 'staging', `alice:${HASHES.bcrypt2b}`);
  const h = await harness(t, vault, { withoutAuthList: true });
  await eventually('snapshot', () => h.snapshots.length === 1);
  const s = h.snapshots[0]!;
  t.equal(s.consulToken, 'consul-x');
  t.same(s.auth, {});
  t.match(s.problems, [{ path: 'secret/metadata/paas-router/auth/', reason: /permission denied.*needs "list" on secret\/metadata\/paas-router\/auth/ }]);
  t.equal(h.statuses.at(-1)?.state, 'ok', 'the source is not down');
});

t.test('Vault down at start: reported down, retried with backoff, nothing emitted until it answers', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'late-token' });
  await vault.stop();
  const h = await harness(t, vault, { retryMaxMs: 400, random: () => 0.5 });
  await eventually('down', () => h.statuses.at(-1)?.state === 'down');
  const delays = () => h.captured.lines.filter((l) => l.includes('Vault read failed')).map((l) => JSON.parse(l).retryInMs as number);
  await eventually('two retries', () => delays().length >= 2);
  // util/backoff's equal jitter: half of min(max, base * 2^n) fixed, half random (0.5 here).
  t.same(delays().slice(0, 2), [backoffDelay(1, { baseMs: 1000, maxMs: 400, random: () => 0.5 }), 300], 'the shared backoff, capped at retry_max');
  t.match(h.statuses.at(-1)!.lastError!.message, /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ .*no configuration is written until Vault answers/);
  t.equal(h.statuses.at(-1)!.lastError!.code, 'VAULT_UNAVAILABLE');
  await sleep(1_200);
  t.equal(h.snapshots.length, 0, 'no snapshot without Vault');
  await vault.start();
  await eventually('snapshot once Vault is back', () => h.snapshots.length === 1, 5_000);
  t.equal(h.snapshots[0]!.consulToken, 'late-token');
  t.equal(h.statuses.at(-1)!.state, 'ok');
});

t.test('Vault sealed at start: down with the reason; unsealed: read', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'sealed-token' });
  vault.seal();
  const h = await harness(t, vault);
  await eventually('down', () => h.statuses.at(-1)?.state === 'down');
  t.match(h.statuses.at(-1)!.lastError!.message, /sealed or in maintenance \(503 Vault is sealed\)/);
  vault.unseal();
  await eventually('snapshot once unsealed', () => h.snapshots.length === 1, 5_000);
});

t.test('Vault lost later: degraded, the cached secrets stay, changes made meanwhile are picked up', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'before-outage', stats: { user: 'admin', password: 'pw-before' } });
  const h = await harness(t, vault);
  await eventually('first snapshot', () => h.snapshots.length === 1);
  await vault.stop();
  await eventually('degraded', () => h.statuses.at(-1)?.state === 'degraded');
  t.match(h.statuses.at(-1)!.lastError!.message, /using the secrets read at \d{4}-/);
  t.equal(h.source.latest?.consulToken, 'before-outage', 'the cache is kept');
  t.equal(h.snapshots.length, 1, 'no empty snapshot while Vault is down');
  writeRouterSecrets(vault, { consulToken: 'after-outage' });
  await vault.start();
  await eventually('change picked up', () => h.snapshots.at(-1)?.consulToken === 'after-outage', 5_000);
  await eventually('ok again', () => h.statuses.at(-1)?.state === 'ok');
  vault.seal();
  await eventually('degraded while sealed', () => h.statuses.at(-1)?.state === 'degraded');
  t.match(h.statuses.at(-1)!.lastError!.message, /sealed/);
  vault.unseal();
  await eventually('ok after unseal', () => h.statuses.at(-1)?.state === 'ok', 5_000);
  assertNoSecrets(t, h.captured.lines, {
    'Consul token': 'before-outage',
    'new Consul token': 'after-outage',
    'stats password': 'pw-before',
    'secret id': h.secretId,
  });
});

t.test('a revoked AppRole token mid-run: logged in again, reads go on', async (t) => {
  const vault = await startDevVault();
  t.teardown(() => vault.close());
  writeRouterSecrets(vault, { consulToken: 'one' });
  const h = await harness(t, vault);
  await eventually('first snapshot', () => h.snapshots.length === 1);
  for (const token of [...vault.state.tokens.values()].filter((x) => x.path === 'auth/approle/login')) vault.revokeToken(token.id);
  writeRouterSecrets(vault, { consulToken: 'two' });
  await eventually('read with a fresh login', () => h.snapshots.at(-1)?.consulToken === 'two', 5_000);
  t.equal(vault.requests.filter((r) => r.path === 'auth/approle/login').length, 2);
  t.notOk(
    h.statuses.some((s) => s.state !== 'ok'),
    'a recovered 403 never shows as an outage',
  );
});
