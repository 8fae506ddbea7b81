// Tenants are untrusted: each finding of the hostile-tenant review, tried as the attacker would, on
// the real Consul agent through a real HAProxy. A name (custom host, path, group, tcp port, service
// name) stays with the app that held it first, whatever a later tenant registers or writes. A
// second router on the same Consul decides every owner the same way.
import t from 'tap';
import type { MarathonApp } from '../../dev/marathon.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { requestThrough, tcpBanner } from '../../dev/probe.js';
import type { OwnedName } from '../../src/model/types.js';
import { startTestCluster } from '../helpers/cluster.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually, freePort } from '../helpers/net.js';
import { startSecondRouter } from '../helpers/second-router.js';

const http = (id: string, tags: string[] = []): MarathonApp => ({ id, instances: 1, tags, mode: 'http' });
const zone = 'production.mozilla.community';

t.test('a hostile tenant takes nothing that is another app’s', { skip: consulAgentSkip() }, async (t) => {
  const tcpPort = await freePort();
  const apps: MarathonApp[] = [
    // Registered before the apps it attacks: its instance's CreateIndex is the oldest.
    http('/old'),
    http('/appd'),
    http('/victim'),
    http('/wordpress'),
    http('/appb', ['router.path=/wp-admin']),
    http('/shop-blue', ['router.group=shop']),
    { id: '/db', instances: 1, tags: ['router.mode=tcp', `router.port=${tcpPort}`], mode: 'tcp' },
    http('/appa'),
  ];
  const cluster = await startTestCluster(t, {
    apps,
    consul: 'agent',
    // appd's key is created first, for its own domain.
    domains: { appd: 'd.example.com', victim: 'victim.example.com', wordpress: 'www.example.org' },
    configOverrides: { haproxy: { tcp_ports: [`${tcpPort}-${tcpPort}`] } },
  });
  const { httpPort, consul } = cluster;
  const state = cluster.daemon.runner.state;
  const get = (host: string, path = '/') => requestThrough(httpPort, host, path);
  const body = async (host: string, path = '/') => (await get(host, path)).body.trim();
  const kv = (key: string, value: string) => fetch(`${consul.url}/v1/kv/${key}`, { method: 'PUT', body: value });
  const wait = <T>(what: string, check: () => Promise<T> | T) => eventually(what, check, 20_000);
  const rejected = (service: string, re: RegExp) => state.builtModel?.rejections.find((r) => r.service === service && re.test(r.reason));
  const recorded = async (key: string) => {
    const r = await fetch(`${consul.url}/v1/kv/${key}?raw`);
    return r.status === 200 ? (JSON.parse(await r.text()) as { owner: string; as?: string; members?: string[] }) : undefined;
  };

  /** An instance of `service` (old's backend) registered through the agent's catalog API, as no bridge would name it. */
  const registerStraight = async (service: string) => {
    const port = cluster.backends.get('/old')![0]!.port;
    const registered = await fetch(`${consul.url}/v1/catalog/register`, {
      method: 'PUT',
      body: JSON.stringify({
        Node: 'dev-agent-9',
        Address: '127.0.0.1',
        Service: { ID: `mesos-consul:dev-agent-9:${service}:127.0.0.1:${port}`, Service: service, Address: '127.0.0.1', Port: port },
      }),
    });
    return registered.status;
  };

  await wait('victim served', async () => (await body('victim.example.com')) === '/victim #1');
  // Today's winners are recorded as they are (the migration of an existing cluster).
  await wait('owners recorded', async () => (await recorded('paas-router/claims/hosts/victim.example.com'))?.owner === 'victim');

  await t.test('1. a live custom domain cannot be stolen by adding it to an older key', async (t) => {
    await kv('paas-router/domains/appd', 'd.example.com victim.example.com');
    const r = await wait('appd refused', () => rejected('appd', /host victim\.example\.com belongs to app victim/));
    t.equal(r?.subject, 'victim.example.com');
    t.equal(await body('victim.example.com'), '/victim #1', 'victim keeps its domain');
    t.equal(await body('d.example.com'), '/appd #1', 'appd keeps its own');
    t.notOk(rejected('victim', /./), 'the victim is not blamed');
  });

  await t.test("2. a path app cannot take a path on another tenant's custom domain", async (t) => {
    await kv('paas-router/domains/appb', 'www.example.org');
    await wait('appb refused', () => rejected('appb', /only the host's owner gives a path on it to another app: paas-router\/paths\/wordpress/));
    t.equal(await body('www.example.org', '/wp-admin/'), '/wordpress #1', "the site's /wp-admin stays the site's");
    // The owner delegates the prefix: then, and only then, appb serves it.
    await kv('paas-router/paths/wordpress', 'www.example.org/wp-admin=appb');
    await wait('delegated', async () => (await body('www.example.org', '/wp-admin/x')) === '/appb #1');
    t.equal(await body('www.example.org', '/'), '/wordpress #1');
    // A delegation written under another app's key gives nothing.
    await kv('paas-router/paths/wordpress', '');
    await kv('paas-router/paths/appb', 'www.example.org/wp-admin=appb');
    await wait('taken back', async () => (await body('www.example.org', '/wp-admin/x')) === '/wordpress #1');
  });

  await t.test('3. nobody joins a group uninvited, and a disagreeing member cannot take it down', async (t) => {
    await wait('group recorded', async () => (await recorded('paas-router/claims/names/shop'))?.owner === 'shop-blue');
    const evil = http('/evil-shop', ['router.group=shop']);
    await cluster.addTask(evil);
    await wait('evil-shop refused', () => rejected('evil-shop', /not admitted to group shop: the group belongs to app shop-blue/));
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await body(`shop.${zone}`));
    t.same([...seen], ['/shop-blue #1'], 'all of the group’s traffic stays with its members');
    // Registered again with one disagreeing tag: rejected on its own, the group stays up.
    await cluster.addTask({ ...evil, tags: ['router.group=shop', 'router.balance=leastconn'] });
    await wait('still refused', () => state.builtModel?.rejections.some((r) => r.service === 'evil-shop'));
    t.equal((await get(`shop.${zone}`)).status, 200, 'shop answers');
    // The owner admits a member through its weights key.
    const green = http('/shop-green', ['router.group=shop']);
    await cluster.addTask(green);
    await kv('paas-router/weights/shop', 'shop-blue=1 shop-green=1');
    await wait('green admitted', async () => {
      const s = new Set<string>();
      for (let i = 0; i < 12; i++) s.add(await body(`shop.${zone}`));
      return s.has('/shop-green #1') && !s.has('/evil-shop #1');
    });
  });

  await t.test('10. a K/V key that differs only in case decides nothing (ACLs grant exact keys)', async (t) => {
    await kv('paas-router/weights/SHOP', 'shop-blue=0 shop-green=0 evil-shop=256');
    await wait('refused', () => state.builtModel?.rejections.some((r) => r.key === 'paas-router/weights/SHOP' && /keys are exact/.test(r.reason)));
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await body(`shop.${zone}`));
    t.notOk(seen.has('/evil-shop #1'), 'evil-shop is still not in the group');
    t.ok(seen.has('/shop-blue #1'), 'the weights of paas-router/weights/shop still apply');
  });

  await t.test("4. a new service named like a group does not take the group's hosts", async (t) => {
    await cluster.addTask(http('/shop'));
    await wait('shop refused', () => rejected('shop', /name shop belongs to group shop \(owned by app shop-blue/));
    t.not(await body(`shop.${zone}`), '/shop #1', 'the default host stays the group’s');
  });

  await t.test('5. a tcp port cannot be stolen with an old instance registered again', async (t) => {
    t.equal(await tcpBanner(tcpPort), '/db #1');
    await wait('port recorded', async () => (await recorded(`paas-router/claims/ports/${tcpPort}`))?.owner === 'db');
    // The same ServiceID keeps its (older) CreateIndex in Consul: it used to win the port.
    const old = cluster.backends.get('/old')![0]!;
    await registerMesosTask(consul.url, {
      app: '/old',
      agent: 'dev-agent-1',
      agentAddress: '127.0.0.1',
      ip: '127.0.0.1',
      port: old.port,
      tags: ['router.mode=tcp', `router.port=${tcpPort}`],
    });
    await wait('old refused', () => rejected('old', new RegExp(`port ${tcpPort} belongs to app db`)));
    t.equal(await tcpBanner(tcpPort), '/db #1', 'the port stays with db');
  });

  await t.test('6. a case-variant service name neither merges backends nor takes the name', async (t) => {
    // Registered straight through the agent's catalog API (mesos-consul would lowercase the name).
    t.equal(await registerStraight('Appa'), 200);
    await wait('Appa refused', () => rejected('Appa', /"Appa" is the same as "appa" to Consul/));
    const app = state.builtModel!.apps.find((a) => a.name === 'appa')!;
    t.equal(app.servers.length, 1, 'app_appa serves appa’s instance only');
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(await body(`appa.${zone}`));
    t.same([...seen], ['/appa #1']);
  });

  await t.test('7. a service named __proto__ is one rejected service, not a hole in the catalog', async (t) => {
    // Consul accepts the name (mesos-consul would never make it); read into a plain record, the name
    // used to replace the record's prototype: the service vanished with no rejection shown.
    t.equal(await registerStraight('__proto__'), 200);
    const r = await wait('__proto__ refused', () => rejected('__proto__', /not usable as a host name/));
    t.ok(r, `rejected with its reason: ${r?.reason}`);
    t.equal(await body(`appa.${zone}`), '/appa #1', 'the other apps are served as before');
    t.equal(await body('victim.example.com'), '/victim #1');
  });

  await t.test('a second router on the same Consul decides every owner the same way', async (t) => {
    const second = await startSecondRouter(t, cluster.config);
    const owners = (m: { owners?: readonly OwnedName[] } | undefined) => JSON.stringify((m?.owners ?? []).map((o) => [o.key, o.owner, o.ownerAsks]));
    await wait('the second router built', () => second.daemon.runner.state.builtModel);
    await wait('same owners', () => owners(second.daemon.runner.state.builtModel) === owners(state.builtModel));
    for (const [host, path] of [
      ['victim.example.com', '/'],
      ['www.example.org', '/wp-admin/x'],
      ['d.example.com', '/'],
    ] as const) {
      t.equal((await requestThrough(second.httpPort, host, path)).body.trim(), await body(host, path), `${host}${path} routes the same`);
    }
  });
});
