// `paas-router explain --marathon <app.json>`: the pre-deploy check, run as a user runs it, with no
// cluster (no Consul address at all): every shipped example, and definitions a tenant gets wrong.
import t from 'tap';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { parseMarathonDefinition } from '../../src/model/marathon.js';
import { startDevConsul } from '../../dev/consul/server.js';
import { mesosServiceName, registerMesosTask } from '../../dev/consul/mesos.js';
import { cli, kvPut } from './helpers.js';

const EXAMPLES = join(PACKAGE_ROOT, 'examples', 'marathon');

async function examples(dir = EXAMPLES): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...(await examples(join(dir, entry.name))));
    else if (entry.name.endsWith('.json')) out.push(join(dir, entry.name));
  }
  return out.sort();
}

t.test('the service name is the dev cluster’s (one function)', async (t) => {
  t.equal(mesosServiceName('/community/wordpress'), 'wordpress-community');
  const p = parseMarathonDefinition({ id: 'community/wordpress', labels: { tags: ' router.sticky , ,router.maxconn=5' } });
  t.match(p, { ok: true, app: { id: '/community/wordpress', service: 'wordpress-community', tags: ['router.sticky', 'router.maxconn=5'] } });
});

t.test('explain --marathon on the examples', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-marathon-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, 'cluster: production\nbase_domain: mozilla.community\n');
  const explain = (file: string, ...extra: string[]) => cli(['explain', '--marathon', file, '--config', configFile, ...extra]);

  const files = await examples();
  t.ok(files.length >= 5, 'every example is checked');
  for (const file of files) {
    await t.test(relative(EXAMPLES, file), async (t) => {
      const r = await explain(file, '--json');
      t.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      const e = JSON.parse(r.stdout);
      t.same(e.rejections, []);
      t.equal(e.service, mesosServiceName(e.id));
      t.equal(e.defaultHost, `${e.service}.production.mozilla.community`);
      t.ok(e.tags.length > 0 && e.tags.every((x: { setting?: string }) => typeof x.setting === 'string'));
      t.ok(e.route.length > 0);
    });
  }

  await t.test('wordpress in words: service, host, each tag and its setting', async (t) => {
    const r = await explain(join(EXAMPLES, 'wordpress.json'));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^service: wordpress-community \(the Consul service name mesos-consul registers\)$/m);
    t.match(r.stdout, /^default host: wordpress-community\.production\.mozilla\.community$/m);
    t.match(r.stdout, /^ {2}router\.balance=leastconn {2}→ {2}balance = leastconn$/m);
    t.match(r.stdout, /^ {2}router\.compress=true {2}→ {2}compress = true$/m);
    t.match(r.stdout, /^ {2}gzip for text responses/m);
    t.match(r.stdout, /^rejections: none$/m);
  });

  await t.test('the gRPC example speaks HTTP/2 to its servers', async (t) => {
    const r = await explain(join(EXAMPLES, 'grpc', 'greeter.json'));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^ {2}router\.proto=h2 {2}→ {2}proto = h2$/m);
    t.match(r.stdout, /HAProxy speaks cleartext HTTP\/2 to the servers/);
  });

  await t.test('the docs example has a 64m HAProxy cache', async (t) => {
    const r = await explain(join(EXAMPLES, 'docs.json'));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^ {2}router\.cache=64m {2}→ {2}cache = 64m$/m);
    t.match(r.stdout, /^ {2}cache 64m$/m);
    t.match(r.stdout, /HAProxy cache of 64m for responses that say how long they are fresh/);
  });

  await t.test('the blue-green members are served as their group', async (t) => {
    const r = await explain(join(EXAMPLES, 'blue-green', 'shop-green.json'));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /served as group shop \(backend app_shop, host shop\.production\.mozilla\.community\)/);
    t.match(r.stdout, /owner admits it in paas-router\/weights\/shop/);
    t.match(r.stdout, /^ {2}router\.canary=header:X-Canary=green {2}→ {2}canary = header:x-canary=green$/m);
    t.match(r.stdout, /canary: requests with header x-canary=green go to shop-green only/);
  });

  const bad = async (name: string, definition: unknown): Promise<{ code: number; stdout: string; stderr: string }> => {
    const file = join(work, `${name}.json`);
    await writeFile(file, typeof definition === 'string' ? definition : JSON.stringify(definition));
    return explain(file);
  };

  await t.test('router.cache: a bad size and one past haproxy.cache_max_size are rejected, naming the app', async (t) => {
    let r = await bad('cache-zero', { id: '/community/blog', labels: { tags: 'router.cache=0m' } });
    t.equal(r.code, 2);
    t.match(r.stdout, /router\.cache=0m {2}→ {2}REJECTED: router\.cache: bad value "0m"; a cache of size 0 is no cache/);
    r = await bad('cache-big', { id: '/community/blog', labels: { tags: 'router.cache=1g' } });
    t.equal(r.code, 2);
    t.match(r.stdout, /router\.cache=1024m of app blog-community does not fit in haproxy\.cache_max_size 256m/);
    t.notMatch(r.stdout, /HAProxy cache of/);
  });

  await t.test('bad tags: exit 2, each rejection with its reason naming the app', async (t) => {
    const r = await bad('bad-tags', {
      id: '/community/blog',
      portDefinitions: [{ port: 0 }],
      labels: { tags: 'router.mode=carrier-pigeon,router.colour=blue,router.hsts-subdomains,router.maxconn=200' },
    });
    t.equal(r.code, 2);
    t.match(r.stdout, /^service: blog-community/m);
    t.match(r.stdout, /router\.mode=carrier-pigeon {2}→ {2}REJECTED: router\.mode: bad value "carrier-pigeon"; allowed: http, tcp/);
    t.match(r.stdout, /router\.colour=blue {2}→ {2}REJECTED: unknown key "colour"/);
    t.match(r.stdout, /router\.hsts-subdomains {2}→ {2}REJECTED: router\.hsts-subdomains needs router\.hsts/);
    t.match(r.stdout, /router\.maxconn=200 {2}→ {2}maxconn = 200/);
    t.match(r.stdout, /^rejections \(3\):$/m);
    t.match(r.stdout, /^ {2}tag "router\.mode=carrier-pigeon": router\.mode: bad value/m);
  });

  await t.test('a tcp app without a port in haproxy.tcp_ports is not routed', async (t) => {
    const r = await bad('tcp', { id: '/irc', labels: { tags: 'router.mode=tcp,router.port=2181' } });
    t.equal(r.code, 2);
    t.match(r.stdout, /port 2181 is outside haproxy\.tcp_ports \(10000-10999\)/);
    t.match(r.stdout, /router\.mode=tcp needs a valid router\.port=.*app not routed/);
    t.notMatch(r.stdout, /^route:/m);
  });

  await t.test('definitions that are not apps: exit 2 with the reason', async (t) => {
    let r = await bad('no-id', { cmd: 'sleep 1' });
    t.equal(r.code, 2);
    t.match(r.stdout, /"id" is missing/);
    r = await bad('bad-id', { id: '/Community/WordPress' });
    t.equal(r.code, 2);
    t.match(r.stdout, /segment "Community" is not a Marathon id segment/);
    r = await bad('tags-not-string', { id: '/x', labels: { tags: ['router.sticky'] } });
    t.equal(r.code, 2);
    t.match(r.stdout, /labels\.tags must be a string/);
    r = await bad('no-port', { id: '/x', portDefinitions: [] });
    t.equal(r.code, 2);
    t.match(r.stdout, /the app has no port/);
    r = await bad('not-json', '{"id": "/x",');
    t.equal(r.code, 2);
    t.match(r.stderr, /cannot read the Marathon app definition .*not-json\.json/);
    r = await explain(join(work, 'missing.json'));
    t.equal(r.code, 2);
    t.match(r.stderr, /ENOENT/);
  });

  await t.test('notes: several ports, another router’s labels', async (t) => {
    const r = await bad('notes', {
      id: '/web',
      portDefinitions: [
        { port: 0, name: 'http' },
        { port: 0, name: 'metrics' },
      ],
      labels: { HAPROXY_0_VHOST: 'web.example.org', tags: 'router.sticky' },
    });
    t.equal(r.code, 0, r.stdout);
    t.match(r.stdout, /note: 2 ports: mesos-consul registers an instance of web for each host port/);
    t.match(r.stdout, /note: label HAPROXY_0_VHOST is another router's/);
  });

  await t.test('a host and --marathon together, or neither: usage, exit 2', async (t) => {
    let r = await cli(['explain', 'www.example.org', '--marathon', join(EXAMPLES, 'wordpress.json'), '--config', configFile]);
    t.equal(r.code, 2);
    t.match(r.stderr, /explain needs a host, or --marathon/);
    r = await cli(['explain', '--config', configFile]);
    t.equal(r.code, 2);
  });
});

t.test('explain --marathon with Consul reachable: the names other apps own', async (t) => {
  const consul = await startDevConsul({ port: 0 });
  const work = await mkdtemp(join(tmpdir(), 'paas-router-marathon-live-'));
  t.teardown(async () => {
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, 'cluster: production\nbase_domain: mozilla.community\n');
  await registerMesosTask(consul.url, { app: '/old-irc', agent: 'a1', ip: '10.0.0.5', port: 31000, tags: ['router.mode=tcp', 'router.port=10001'] });
  await registerMesosTask(consul.url, {
    app: '/shop-blue',
    agent: 'a1',
    ip: '10.0.0.6',
    port: 31001,
    tags: ['router.group=shop', 'router.healthcheck=/', 'router.balance=roundrobin'],
  });
  // The daemon recorded the group when blue first ran alone.
  await kvPut(consul.url, 'paas-router/claims/names/shop', JSON.stringify({ owner: 'shop-blue', as: 'group', members: ['shop-blue'] }));
  const explain = (file: string) => cli(['explain', '--marathon', file, '--config', configFile, '--consul-addr', consul.url]);

  let r = await explain(join(EXAMPLES, 'irc-bouncer.json'));
  t.equal(r.code, 2, r.stdout);
  t.match(r.stdout, /note: checked beside the apps and the recorded owners in Consul at http:\/\/127\.0\.0\.1:\d+/);
  t.match(r.stdout, /^ {2}conflict .*10001.*old-irc/m);

  r = await explain(join(EXAMPLES, 'blue-green', 'shop-green.json'));
  t.equal(r.code, 2, r.stdout);
  t.match(r.stdout, /^ {2}group "shop": .*not admitted to group shop/m);

  r = await explain(join(EXAMPLES, 'wordpress.json'));
  t.equal(r.code, 0, r.stdout);
  t.notMatch(r.stdout, /old-irc|shop-blue/, 'other apps’ own rejections are not this app’s');
});
