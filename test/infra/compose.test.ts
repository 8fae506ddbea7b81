// docker-compose.yml: no Docker engine runs here, so the file is checked statically:
// validated against the Compose Specification's JSON schema (shipped in fixtures/, ajv),
// then for what the dev stack promises (the services and real images, pinned tags, dev
// Consul and Vault, loopback only, consistent volumes, files and paas-router config).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const schema = JSON.parse(readFileSync(join(repo, 'test/infra/fixtures/compose-spec.json'), 'utf8')) as Record<string, unknown>;

type Service = {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: (string | { source?: string; target?: string; type?: string })[];
  ports?: (string | number | { host_ip?: string; published?: string | number })[];
  depends_on?: string[] | Record<string, { condition: string }>;
  network_mode?: string;
  profiles?: string[];
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

function validator(): ValidateFunction {
  // The schema declares draft-07 by an https URI that ajv does not know as a meta-schema:
  // compile it without meta-validation; unknown keywords such as "deprecated" are allowed.
  const { $schema: _ignored, ...body } = schema;
  const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
  const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile(body);
}

// The file as Compose reads it (YAML; x- extension fields allowed by the schema).
const composeText = readFileSync(join(repo, 'docker-compose.yml'), 'utf8');
const compose = parseYaml(composeText) as Compose;

function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

t.test('docker-compose.yml is valid against the Compose Specification schema', async (t) => {
  const validate = validator();
  const ok = validate(compose);
  t.ok(ok, ok ? 'valid' : `schema errors:\n${JSON.stringify(validate.errors, null, 2)}`);
});

t.test('the schema validator rejects invalid Compose files', async (t) => {
  const validate = validator();
  t.notOk(validate({ services: { web: { image: 42 } } }), 'image must be a string');
  t.notOk(validate({ services: { web: { image: 'x:1', restart_policy: 'always' } } }), 'unknown service key');
  t.notOk(validate({ services: { web: { image: 'x:1', depends_on: { db: { condition: 'service_ready' } } } } }), 'unknown depends_on condition');
  t.notOk(validate({ servicez: {} }), 'unknown top-level key');
  t.ok(validate({ services: { web: { image: 'nginx:1.27', ports: ['127.0.0.1:80:80'] } } }), 'a minimal valid file passes');
});

t.test('the dev stack has the platform services with real, pinned images', async (t) => {
  const expected: Record<string, RegExp> = {
    zookeeper: /^zookeeper:\d/,
    'mesos-master': /^mesosphere\/mesos-master:\d/,
    'mesos-agent': /^mesosphere\/mesos-(slave|agent):\d/,
    marathon: /^mesosphere\/marathon:v?\d/,
    consul: /^hashicorp\/consul:\d/,
    vault: /^hashicorp\/vault:\d/,
    'mesos-consul': /^ciscocloud\/mesos-consul:v?\d/,
    haproxy: /^haproxy:2\.6/,
  };
  for (const [name, image] of Object.entries(expected)) {
    const svc = compose.services[name];
    t.ok(svc, `service ${name}`);
    t.match(svc?.image ?? '', image, `${name} image`);
  }
  const router = compose.services['paas-router'];
  t.ok(router?.build, 'paas-router is built from this repository');
  const build = router?.build as { context: string; dockerfile: string } | undefined;
  t.ok(build && existsSync(join(repo, build.context, build.dockerfile)), 'its Dockerfile exists');

  for (const [name, svc] of Object.entries(compose.services)) {
    if (svc.build) continue;
    t.match(svc.image ?? '', /^[\w./-]+:[\w][\w.-]*$/, `${name}: image has an explicit tag`);
    t.notMatch(svc.image ?? '', /:latest$/, `${name}: not :latest`);
  }

  const consulCmd = [compose.services.consul?.command ?? []].flat().join(' ');
  t.match(consulCmd, /\bagent\b.*-dev\b/, 'Consul runs in dev mode');
  t.match([compose.services.vault?.command ?? []].flat().join(' '), /server -dev/, 'Vault runs in dev mode');
  t.match(
    [compose.services.haproxy?.command ?? []].flat().join(' '),
    /-W\b.*-S \/run\/haproxy\/master\.sock/,
    'HAProxy in master-worker mode with a master socket',
  );
});

t.test('nothing listens beyond loopback', async (t) => {
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const p of svc.ports ?? []) {
      const hostIp = typeof p === 'object' ? p.host_ip : String(p).split(':').length === 3 ? String(p).split(':')[0] : undefined;
      t.equal(hostIp, '127.0.0.1', `${name}: published port ${JSON.stringify(p)} bound to 127.0.0.1`);
    }
    if (svc.network_mode === 'host') t.pass(`${name}: host network`);
  }
  const text = composeText;
  t.match(text, /-client", "127\.0\.0\.1"/, 'Consul client address on loopback');
  t.match(text, /VAULT_DEV_LISTEN_ADDRESS: 127\.0\.0\.1:8200/, 'Vault on loopback');
  t.match(text, /--http_address\n\s+- 127\.0\.0\.1/, 'Marathon on loopback');
  t.match(text, /clientPortAddress=127\.0\.0\.1/, 'ZooKeeper on loopback');
});

t.test('depends_on, volumes and mounted files are consistent', async (t) => {
  const names = new Set(Object.keys(compose.services));
  const declared = new Set(Object.keys(compose.volumes ?? {}));
  for (const [name, svc] of Object.entries(compose.services)) {
    const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
    for (const d of deps) t.ok(names.has(d), `${name} depends on existing service ${d}`);
    for (const v of svc.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
      if (source.startsWith('./')) t.ok(existsSync(join(repo, source)), `${name}: ${source} exists in the repository`);
      else if (!source.startsWith('/') && !source.startsWith('$')) t.ok(declared.has(source), `${name}: volume ${source} is declared`);
    }
  }
});

t.test('the dev stack paas-router config has every documented key and matches the services', async (t) => {
  const config = parseYaml(readFileSync(join(repo, 'deploy/docker/config.yaml'), 'utf8')) as {
    haproxy: { master_socket: string; runtime_socket: string; config_dir: string };
    consul: { address: string };
    vault: { address: string };
  };
  const example = parseYaml(readFileSync(join(repo, 'deploy/config.example.yaml'), 'utf8')) as unknown;
  t.same(keyPaths(config).sort(), keyPaths(example).sort(), 'same keys as deploy/config.example.yaml');
  const haproxyCmd = [compose.services.haproxy?.command ?? []].flat().join(' ');
  t.ok(haproxyCmd.includes(`-S ${config.haproxy.master_socket}`), 'master socket shared with the haproxy service');
  t.ok(haproxyCmd.includes(`-f ${config.haproxy.config_dir}/haproxy.cfg`), 'config dir shared with the haproxy service');
  t.match(
    readFileSync(join(repo, 'deploy/docker/haproxy-bootstrap.cfg'), 'utf8'),
    new RegExp(`stats socket ${config.haproxy.runtime_socket.replace(/\./g, '\\.')}`),
    'bootstrap config opens the runtime socket',
  );
  t.equal(config.consul.address, 'http://127.0.0.1:8500');
  t.equal(config.vault.address, 'http://127.0.0.1:8200');
});
