// Ansible checks: syntax-check of site.yml with both inventories, ansible-lint (production
// profile, offline), and a real run of the paas_router role into a scratch root on this
// machine (local connection, no container): twice, the second run must change nothing;
// then the files, their modes and their contents are checked. Also the systemd unit and
// example config shipped in deploy/. Missing tools FAIL (CI installs them with
// scripts/install-infra-tools.sh): they are never skipped.
import t from 'tap';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ansibleDir = join(repo, 'ansible');
const localPlaybook = join(repo, 'test/infra/fixtures/paas-router-local.yml');
const deployUnit = join(repo, 'deploy/systemd/paas-router.service');
const deployDropIn = join(repo, 'deploy/systemd/paas-router.service.d/vault-approle.conf');
const exampleConfig = join(repo, 'deploy/config.example.yaml');

const INSTALL_HINT = 'install it with scripts/install-infra-tools.sh (apt-get install ansible ansible-lint)';

function which(bin: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const ansibleEnv: NodeJS.ProcessEnv = {
  ...process.env,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_FORCE_COLOR: '0',
  ANSIBLE_ROLES_PATH: join(ansibleDir, 'roles'),
  ANSIBLE_RETRY_FILES_ENABLED: '0',
  ANSIBLE_LOCALHOST_WARNING: '0',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: '0',
  NO_COLOR: '1',
};

function run(cmd: string, args: string[], cwd = repo, timeout = 90_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: ansibleEnv, encoding: 'utf8', timeout, maxBuffer: 32 * 1024 * 1024 });
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

function mode(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

// Every key path of a parsed YAML document ("consul.address", "wait.min", ...).
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

const hasAnsible = which('ansible-playbook') !== null;
const hasLint = which('ansible-lint') !== null;
const hasHaproxy = which('haproxy') !== null;

t.test('ansible and ansible-lint are installed', async (t) => {
  t.ok(hasAnsible, `ansible-playbook not found: ${INSTALL_HINT}`);
  t.ok(hasLint, `ansible-lint not found: ${INSTALL_HINT}`);
});

t.test('site.yml passes ansible-playbook --syntax-check with both inventories', async (t) => {
  if (!hasAnsible) return t.fail(`ansible-playbook not found: ${INSTALL_HINT}`);
  for (const env of ['staging', 'production']) {
    const r = run('ansible-playbook', ['--syntax-check', '-i', `inventories/${env}/hosts.yml`, 'site.yml'], ansibleDir);
    t.equal(r.status, 0, `syntax-check (${env})\n${output(r)}`);
  }
});

t.test('ansible-lint (production profile, offline) is clean', async (t) => {
  if (!hasLint) return t.fail(`ansible-lint not found: ${INSTALL_HINT}`);
  const r = run('ansible-lint', ['--offline', '--nocolor'], ansibleDir, 110_000);
  t.equal(r.status, 0, `ansible-lint\n${output(r)}`);
  t.match(r.stdout + r.stderr, /Passed with production profile/, 'lint ran with the production profile');
});

t.test('every role has meta, defaults, handlers or tasks, and documents each default in its README', async (t) => {
  const roles = ['paas_router', 'haproxy', 'consul', 'mesos_master', 'marathon', 'zookeeper', 'mesos_agent', 'mesos_consul'];
  for (const role of roles) {
    const dir = join(ansibleDir, 'roles', role);
    for (const f of ['meta/main.yml', 'defaults/main.yml', 'tasks/main.yml', 'handlers/main.yml', 'README.md']) {
      t.ok(existsSync(join(dir, f)), `${role}/${f} exists`);
    }
    const defaults = parseYaml(readFileSync(join(dir, 'defaults/main.yml'), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const name of Object.keys(defaults)) {
      t.ok(name.startsWith(`${role}_`), `${role}: variable ${name} carries the role prefix`);
      t.ok(readme.includes(`\`${name}\``), `${role}: README documents ${name}`);
    }
  }
});

// Extra vars for a converge into `root`, with this user's accounts instead of root/paas-router
// so the run needs no privileges and creates no account on this machine.
function localVars(root: string, extra: Record<string, unknown> = {}): string {
  const user = userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  return JSON.stringify({
    paas_router_root: root,
    paas_router_install_packages: false,
    paas_router_manage_user: false,
    paas_router_manage_services: false,
    paas_router_haproxy_validate: hasHaproxy,
    paas_router_user: user,
    paas_router_group: group,
    paas_router_haproxy_group: group,
    paas_router_admin_user: user,
    paas_router_admin_group: group,
    ...extra,
  });
}

function converge(root: string, extra: Record<string, unknown> = {}): SpawnSyncReturns<string> {
  return run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', localPlaybook, '-e', localVars(root, extra)]);
}

function recap(r: SpawnSyncReturns<string>): { changed: number; failed: number } | null {
  const m = /localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(r.stdout);
  return m ? { changed: Number(m[1]), failed: Number(m[2]) } : null;
}

t.test('paas_router role converges into a scratch root (token auth), idempotently', async (t) => {
  if (!hasAnsible) return t.fail(`ansible-playbook not found: ${INSTALL_HINT}`);
  const root = mkdtempSync(join(tmpdir(), 'paas-router-role-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();

  const p = (path: string) => join(root, path);
  const bootstrap = p('etc/haproxy/paas-router/haproxy.cfg');

  const first = converge(root);
  t.equal(first.status, 0, `first run\n${output(first)}`);
  t.ok((recap(first)?.changed ?? 0) > 0, 'first run changes the scratch root');
  const bootstrapText = readFileSync(bootstrap, 'utf8');
  t.equal(mode(bootstrap), '0640', 'bootstrap haproxy.cfg 0640');

  // paas-router renders its own configuration: a later run must neither touch it nor
  // anything else.
  writeFileSync(bootstrap, '# rendered by paas-router\n');
  const second = converge(root);
  t.equal(second.status, 0, `second run\n${output(second)}`);
  t.same(recap(second), { changed: 0, failed: 0 }, `second run changes nothing\n${second.stdout}`);
  t.equal(readFileSync(bootstrap, 'utf8'), '# rendered by paas-router\n', 'an existing haproxy.cfg is kept');

  // systemd unit: the role's template renders deploy/systemd/paas-router.service.
  const unitPath = p('etc/systemd/system/paas-router.service');
  t.equal(mode(unitPath), '0644', 'unit mode 0644');
  const unit = readFileSync(unitPath, 'utf8');
  const expectedUnit = readFileSync(deployUnit, 'utf8')
    .replace(/^User=.*$/m, `User=${userInfo().username}`)
    .replace(/^Group=.*$/m, `Group=${group}`)
    .replace(/^SupplementaryGroups=.*$/m, `SupplementaryGroups=${group}`);
  t.equal(unit, expectedUnit, 'rendered unit = deploy/systemd/paas-router.service (accounts aside)');
  t.notOk(existsSync(p('etc/systemd/system/paas-router.service.d/vault-approle.conf')), 'no AppRole drop-in with token auth');

  // config.yaml: same keys and values as deploy/config.example.yaml with the role defaults.
  const configPath = p('etc/paas-router/config.yaml');
  t.equal(mode(configPath), '0640', 'config.yaml mode 0640');
  t.equal(mode(p('etc/paas-router')), '0750', '/etc/paas-router mode 0750');
  const config = parseYaml(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const example = parseYaml(readFileSync(exampleConfig, 'utf8')) as Record<string, unknown>;
  t.same(keyPaths(config).sort(), keyPaths(example).sort(), 'config.yaml has every key of the example');
  // The converge runs with this user's group in place of `haproxy` (see localVars).
  const expectedConfig = { ...example, haproxy: { ...(example.haproxy as object), runtime_socket_group: group, group } };
  t.same(config, expectedConfig, 'role defaults render the documented defaults');

  t.equal(mode(p('etc/paas-router/environment')), '0600', 'environment file mode 0600');
  t.notOk(existsSync(p('etc/paas-router/vault-approle-secret-id')), 'no secret id with token auth');

  // HAProxy side: Debian's unit pointed at the paas-router config, master socket for the group.
  const defaults = readFileSync(p('etc/default/haproxy'), 'utf8');
  t.match(defaults, /^CONFIG="\/etc\/haproxy\/paas-router\/haproxy\.cfg"$/m, 'CONFIG points at the paas-router config');
  t.match(defaults, new RegExp(`^EXTRAOPTS="-S /run/haproxy-master\\.sock,mode,660,group,${group}"$`, 'm'), 'EXTRAOPTS adds the master socket');
  t.equal(mode(p('etc/haproxy/paas-router')), '0750', 'config dir 0750');
  t.equal(mode(p('etc/haproxy/paas-router/certs')), '0750', 'certs dir 0750');
  t.match(bootstrapText, /stats socket \/run\/haproxy\/paas-router\.sock mode 660 level admin/, 'runtime socket in the bootstrap config');
  if (hasHaproxy) {
    const copy = p('bootstrap-check.cfg');
    writeFileSync(copy, bootstrapText);
    const check = spawnSync('haproxy', ['-c', '-q', '-f', copy], { encoding: 'utf8' });
    t.equal(check.status, 0, `haproxy -c accepts the bootstrap config\n${check.stderr}`);
  }
});

t.test('paas_router role with Vault AppRole delivers the secret id 0600 through LoadCredential=', async (t) => {
  if (!hasAnsible) return t.fail(`ansible-playbook not found: ${INSTALL_HINT}`);
  const root = mkdtempSync(join(tmpdir(), 'paas-router-role-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const secret = 'approle-secret-7d1f3c';
  const r = converge(root, {
    paas_router_vault_address: 'https://vault.service.consul:8200',
    paas_router_vault_auth_method: 'approle',
    paas_router_vault_role_id: 'role-1234',
    paas_router_vault_secret_id: secret,
    paas_router_environment: { VAULT_CACERT: '/etc/ssl/certs/vault-ca.pem' },
  });
  t.equal(r.status, 0, output(r));
  t.notOk((r.stdout + r.stderr).includes(secret), 'the secret id never shows in the ansible output');

  const secretPath = join(root, 'etc/paas-router/vault-approle-secret-id');
  t.equal(mode(secretPath), '0600', 'secret id mode 0600');
  t.equal(readFileSync(secretPath, 'utf8'), secret, 'secret id content');

  const dropIn = readFileSync(join(root, 'etc/systemd/system/paas-router.service.d/vault-approle.conf'), 'utf8');
  t.equal(dropIn, readFileSync(deployDropIn, 'utf8'), 'drop-in = deploy/systemd/paas-router.service.d/vault-approle.conf');

  const config = parseYaml(readFileSync(join(root, 'etc/paas-router/config.yaml'), 'utf8')) as {
    vault: { address: string; auth: Record<string, string> };
  };
  t.same(
    config.vault.auth,
    {
      method: 'approle',
      role_id: 'role-1234',
      secret_id_file: '/run/credentials/paas-router.service/vault-approle-secret-id',
    },
    'config reads the secret id from the systemd credential',
  );
  t.equal(config.vault.address, 'https://vault.service.consul:8200');

  const env = readFileSync(join(root, 'etc/paas-router/environment'), 'utf8');
  t.match(env, /^VAULT_CACERT="\/etc\/ssl\/certs\/vault-ca\.pem"$/m, 'environment file carries the extra variables');
  t.equal(mode(join(root, 'etc/paas-router/environment')), '0600');

  // Switching back to token auth removes the secret and the drop-in.
  const back = converge(root);
  t.equal(back.status, 0, output(back));
  t.notOk(existsSync(secretPath), 'secret id removed when AppRole is no longer used');
  t.notOk(existsSync(join(root, 'etc/systemd/system/paas-router.service.d/vault-approle.conf')), 'drop-in removed');
});

t.test('paas_router role refuses AppRole without a secret id', async (t) => {
  if (!hasAnsible) return t.fail(`ansible-playbook not found: ${INSTALL_HINT}`);
  const root = mkdtempSync(join(tmpdir(), 'paas-router-role-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const r = converge(root, { paas_router_vault_address: 'https://vault:8200', paas_router_vault_auth_method: 'approle', paas_router_vault_role_id: 'x' });
  t.not(r.status, 0, 'the run fails');
  t.match(r.stdout, /Invalid paas_router variables/, "with the role's message");
  t.notOk(existsSync(join(root, 'etc/paas-router/config.yaml')), 'before writing anything');
});

t.test('deploy/systemd/paas-router.service', async (t) => {
  const unit = readFileSync(deployUnit, 'utf8');
  const directives = [
    'Type=notify',
    'NotifyAccess=main',
    'WatchdogSec=30s',
    'Restart=on-failure',
    'User=paas-router',
    'After=network-online.target haproxy.service consul.service',
    'ExecStart=/usr/bin/paas-router run --config /etc/paas-router/config.yaml',
    'Environment="NODE_OPTIONS=--max-old-space-size=512"',
    'Environment=MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'ProtectSystem=strict',
    'ReadWritePaths=/etc/haproxy/paas-router /run/haproxy',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectHome=yes',
    'CapabilityBoundingSet=',
  ];
  for (const d of directives) t.ok(unit.split('\n').includes(d), `has ${d}`);
  t.match(unit, /^Wants=.*\bhaproxy\.service\b/m, 'wants haproxy.service');

  const analyze = which('systemd-analyze');
  if (!analyze) return t.fail('systemd-analyze not found (package systemd)');
  // verify needs an existing ExecStart binary: check a copy that starts /bin/true.
  const dir = mkdtempSync(join(tmpdir(), 'paas-router-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, 'paas-router.service');
  writeFileSync(copy, unit.replace(/^ExecStart=\/usr\/bin\/paas-router/m, 'ExecStart=/bin/true'));
  const verify = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
  t.equal(verify.status, 0, `systemd-analyze verify\n${verify.stderr}`);
  t.equal(verify.stderr.trim(), '', 'no unknown or invalid directive');
  const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', copy], { encoding: 'utf8' });
  t.equal(security.status, 0, `exposure level at most 2.0\n${security.stdout.split('\n').slice(-3).join('\n')}`);
});
