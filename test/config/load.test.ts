import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consulAddressFromEnv, loadConfig, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-config-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, text);
  return path;
}

t.test('every key has a default (docs/configuration.md)', async (t) => {
  const c = validateConfig({}, 'test', {});
  t.equal(c.cluster, 'production');
  t.equal(c.baseDomain, 'mozilla.community');
  t.equal(c.consul.address, 'http://127.0.0.1:8500');
  t.equal(c.consul.domainsPrefix, 'paas-router/domains/');
  t.same(c.consul.serviceIdPrefixes, ['mesos-consul:']);
  t.equal(c.vault.kvPrefix, 'secret/data/paas-router/');
  t.same(c.vault.auth, { method: 'token' });
  t.equal(c.haproxy.configDir, '/etc/haproxy/paas-router');
  t.equal(c.haproxy.masterSocket, '/run/haproxy-master.sock');
  t.equal(c.haproxy.runtimeSocket, '/run/haproxy/paas-router.sock');
  t.equal(c.haproxy.httpPort, 80);
  t.equal(c.haproxy.httpsPort, 443);
  t.equal(c.haproxy.statsPort, 8404);
  t.equal(c.templatesDir, SHIPPED_TEMPLATES_DIR);
  t.same(c.wait, { minMs: 50, maxMs: 1000 });
  t.same(c.listen, { host: '127.0.0.1', port: 9107 });
  t.equal(c.logLevel, 'info');
  t.equal(c.haproxy.cacheMaxSize, 256, 'haproxy.cache_max_size: 256m');
});

t.test('haproxy.cache_max_size: <n>m, <n>g or 0; anything else names the key', async (t) => {
  const size = (v: unknown) => validateConfig({ haproxy: { cache_max_size: v } }, 'test', {}).haproxy.cacheMaxSize;
  t.equal(size('64m'), 64);
  t.equal(size('2G'), 2048);
  t.equal(size('64g'), 65536);
  t.equal(size(0), 0);
  t.equal(size('0'), 0);
  for (const bad of ['65g', '256', '256mb', '1.5g', '-1m', '', 'lots', 256, '0m1']) {
    t.throws(() => size(bad), /haproxy\.cache_max_size: must be a size <integer>m or <integer>g \(MiB, GiB\) of at most 64g/, JSON.stringify(bad));
  }
});

t.test('file < environment < flags', async (t) => {
  const path = await configFile('cluster: staging\nconsul:\n  address: http://file:8500\n  token: from-file\nlog_level: warn\n');
  const env = { CONSUL_HTTP_ADDR: 'env-host:8500', CONSUL_HTTP_TOKEN: 'from-env', VAULT_ADDR: 'https://vault:8200', VAULT_TOKEN: 'vt' };
  const fromEnv = await loadConfig({ config: path }, env);
  t.equal(fromEnv.cluster, 'staging');
  t.equal(fromEnv.consul.address, 'http://env-host:8500');
  t.equal(fromEnv.consul.token, 'from-env');
  t.equal(fromEnv.vault.address, 'https://vault:8200');
  t.equal(fromEnv.vault.token, 'vt');
  t.equal(fromEnv.logLevel, 'warn');
  const fromFlags = await loadConfig({ config: path, consulAddr: 'https://flag:8501', logLevel: 'debug', configDir: '/tmp/x' }, env);
  t.equal(fromFlags.consul.address, 'https://flag:8501');
  t.equal(fromFlags.logLevel, 'debug');
  t.equal(fromFlags.haproxy.configDir, '/tmp/x');
});

t.test('CONSUL_HTTP_ADDR without a scheme honours CONSUL_HTTP_SSL', async (t) => {
  t.equal(consulAddressFromEnv('10.0.0.1:8500', undefined), 'http://10.0.0.1:8500');
  t.equal(consulAddressFromEnv('10.0.0.1:8501', 'true'), 'https://10.0.0.1:8501');
  t.equal(consulAddressFromEnv('https://c:8501', undefined), 'https://c:8501');
});

t.test('the default config file is optional, an explicit one is not', async (t) => {
  const c = await loadConfig({}, {});
  t.equal(c.cluster, 'production');
  await t.rejects(loadConfig({ config: '/nonexistent/paas-router.yaml' }, {}), { code: 'CONFIG_INVALID', message: /cannot read config file \/nonexistent/ });
});

const bad: [string, string, RegExp][] = [
  ['unknown top-level key', 'clustr: x\n', /clustr: unknown key/],
  ['unknown nested key', 'haproxy:\n  http_prot: 80\n', /haproxy\.http_prot: unknown key/],
  ['port out of range', 'haproxy:\n  http_port: 70000\n', /haproxy\.http_port/],
  ['port as text', 'haproxy:\n  stats_port: eighty\n', /haproxy\.stats_port/],
  ['bad duration', 'wait:\n  min: fast\n', /wait\.min: must be a duration/],
  ['min above max', 'wait:\n  min: 2s\n  max: 1s\n', /wait\.min must not be greater than wait\.max/],
  ['consul address without scheme', 'consul:\n  address: 127.0.0.1:8500\n', /consul\.address: must be an http/],
  ['prefix without trailing slash', 'consul:\n  domains_prefix: paas-router/domains\n', /consul\.domains_prefix: must end with/],
  ['empty service id prefixes', 'consul:\n  service_id_prefixes: []\n', /consul\.service_id_prefixes/],
  ['cluster with a dot', 'cluster: a.b\n', /cluster: must be one lowercase DNS label/],
  ['uppercase base domain', 'base_domain: Example.ORG\n', /base_domain/],
  ['approle without role_id', 'vault:\n  auth:\n    method: approle\n    secret_id_file: /x\n', /vault\.auth\.role_id/],
  ['unknown auth method', 'vault:\n  auth:\n    method: ldap\n', /vault\.auth\.method/],
  ['bad log level', 'log_level: loud\n', /log_level/],
  ['listen without port', 'listen: localhost\n', /listen: must be host:port/],
  ['section that is not a mapping', 'haproxy: 3\n', /haproxy/],
  ['not YAML', 'a: [1, 2\n', /not valid YAML/],
  ['YAML list at the top', '- a\n- b\n', /must be a YAML mapping/],
];
for (const [name, text, message] of bad) {
  t.test(`rejected with a message naming the key: ${name}`, async (t) => {
    const path = await configFile(text);
    const err = await loadConfig({ config: path }, {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, ConfigError);
    t.match((err as Error).message, message);
  });
}

t.test('CONSUL_HTTP_ADDR that is not an address is refused, not ignored', async (t) => {
  await t.rejects(loadConfig({}, { CONSUL_HTTP_ADDR: 'http://' }), { code: 'CONFIG_INVALID', message: /consul\.address/ });
});
