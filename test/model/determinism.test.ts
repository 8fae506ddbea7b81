// Properties over whole models: order independence, no input mutation, nothing unsafe in the output.
import t, { type Test } from 'tap';
import { buildModel } from '../../src/model/build.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import type { ModelInput, RoutingModel } from '../../src/model/types.js';
import { claim, mc, plain, rng, settings, shuffle } from './helpers.js';

/** A catalog that exercises every rule at once (votes, collisions, conflicts, bad input). */
function richInput(): ModelInput {
  const services: Record<string, ServiceInstance[]> = {
    wordpress: [
      mc('wordpress', 1, { tags: ['router.balance=leastconn', 'router.sticky', 'router.maxconn=300'], createIndex: 40 }),
      mc('wordpress', 2, { tags: ['router.balance=source', 'router.maxconn=200'], passing: false }),
      mc('wordpress', 3, { tags: ['router.balance=source', 'router.foo=1'] }),
      mc('wordpress', 3, { id: 'mesos-consul:dup', tags: ['router.balance=leastconn'] }),
    ],
    blog: [mc('blog', 4, { tags: ['router.https-only=true'] })],
    Blog: [mc('Blog', 17)],
    discourse: [mc('discourse', 5, { tags: ['router.timeout-server=120s', 'router.healthcheck=/srv/status'] })],
    irc: [mc('irc', 6, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 3 })],
    irc2: [mc('irc2', 7, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 3 })],
    irc3: [mc('irc3', 8, { tags: ['router.mode=tcp', 'router.port=10001'] })],
    db: [mc('db', 9, { tags: ['router.mode=tcp'] })],
    grafana: [plain('grafana-1', { tags: ['router.expose'], address: 'fe80::1' })],
    redis: [plain('redis')],
    consul: [mc('consul', 10)],
    hidden: [mc('hidden', 11, { tags: ['router.skip'] }), mc('hidden', 12)],
    bad_name: [mc('bad_name', 13)],
    broken: [mc('broken', 14, { address: '' }), mc('broken', 15, { port: 0 }), mc('broken', 16, { passing: false })],
  };
  const claims: DomainClaim[] = [
    claim('wordpress', 'www.example.org, blog.example.org\nshared.example.org bücher.de', 30),
    claim('discourse', 'shared.example.org forum.example.org wordpress.production.mozilla.community', 20),
    claim('grafana', 'SHARED.example.org grafana.example.org\u0000 metrics.example.org', 20),
    claim('irc', 'irc.example.org', 5),
    claim('nosuch', 'nosuch.example.org', 1),
    claim('', 'x.example.org', 2, 'paas-router/domains/a/b'),
    claim('', '', 3, 'paas-router/domains/'),
  ];
  return { services, claims, settings };
}

function shuffled(input: ModelInput, seed: number): ModelInput {
  const next = rng(seed);
  const services: Record<string, ServiceInstance[]> = {};
  for (const name of shuffle(Object.keys(input.services), next)) {
    services[name] = shuffle(input.services[name]!, next).map((i) => ({ ...i, tags: shuffle(i.tags, next) }));
  }
  return { services, claims: shuffle(input.claims, next), settings: input.settings };
}

t.test('shuffled input order gives byte-identical output', async (t) => {
  const input = richInput();
  const baseline = JSON.stringify(buildModel(input));
  // Guard against a vacuous pass: the fixture must actually produce every kind of output.
  const model = JSON.parse(baseline) as RoutingModel;
  t.ok(model.apps.length >= 5, 'several apps');
  t.ok(
    model.hosts.some((h) => h.source === 'kv'),
    'custom hosts',
  );
  t.strictSame([...new Set(model.rejections.map((r) => r.kind))].sort(), ['conflict', 'domain', 'service', 'tag'], 'every rejection kind');
  for (let seed = 1; seed <= 30; seed++) {
    const again = JSON.stringify(buildModel(shuffled(input, seed)));
    t.equal(again, baseline, `seed ${seed}`);
  }
});

t.test('the winners of ties do not depend on order', async (t) => {
  const model = buildModel(richInput());
  t.strictSame(
    model.apps.map((a) => a.name),
    ['blog', 'broken', 'discourse', 'grafana', 'irc', 'wordpress'],
    'routed apps',
  );
  t.equal(model.apps.find((a) => a.name === 'blog')?.servers[0]?.id, mc('Blog', 17).id, 'Blog beats blog');
  t.equal(model.apps.find((a) => a.name === 'irc')?.port, 10001, 'irc keeps port (CreateIndex tie → name order)');
  t.equal(model.apps.find((a) => a.name === 'wordpress')?.balance, 'leastconn', 'vote 2:2 → smallest value');
  t.equal(model.apps.find((a) => a.name === 'wordpress')?.maxconn, 200, 'vote 1:1 → smallest text');
  const shared = model.hosts.find((h) => h.host === 'shared.example.org');
  t.strictSame(
    shared,
    {
      host: 'shared.example.org',
      backend: 'app_discourse',
      app: 'discourse',
      source: 'kv',
      key: 'paas-router/domains/discourse',
    },
    'CreateIndex tie on shared host → lower key',
  );
});

t.test('buildModel does not mutate its input', async (t) => {
  const input = richInput();
  const before = structuredClone(input);
  buildModel(input);
  t.strictSame(input, before);
});

const UNSAFE_IN_CONFIG = /[^\x21-\x7e]/; // anything but printable, non-space ASCII
const BREAKS_A_LOG_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function checkInvariants(t: Test, model: RoutingModel, label: string): void {
  const appNames = model.apps.map((a) => a.name);
  t.strictSame(appNames, [...new Set(appNames)].sort(), `${label}: apps unique and sorted`);
  const hostNames = model.hosts.map((h) => h.host);
  t.strictSame(hostNames, [...new Set(hostNames)].sort(), `${label}: hosts unique and sorted`);
  const ports = model.apps.flatMap((a) => (a.port === undefined ? [] : [a.port]));
  t.equal(new Set(ports).size, ports.length, `${label}: tcp ports unique`);
  const strings: string[] = [];
  for (const a of model.apps) {
    t.equal(a.backend, `app_${a.name}`, `${label}: backend of ${a.name}`);
    strings.push(a.name, a.backend, a.balance, ...a.hosts, ...(a.healthcheck ? [a.healthcheck] : []));
    strings.push(...(a.timeoutServer ? [a.timeoutServer] : []), ...(a.defaultHost ? [a.defaultHost] : []));
    for (const s of a.servers) strings.push(s.name, s.address);
    t.equal(new Set(a.servers.map((s) => s.name)).size, a.servers.length, `${label}: server names unique in ${a.name}`);
    t.ok(
      a.servers.every((s) => /^[A-Za-z0-9_.:-]+$/.test(s.name)),
      `${label}: server names safe in ${a.name}`,
    );
    if (a.mode === 'tcp') t.strictSame(a.hosts, [], `${label}: tcp app ${a.name} has no hosts`);
    else t.equal(a.hosts[0], a.defaultHost, `${label}: default host first for ${a.name}`);
  }
  for (const h of model.hosts) {
    const app = model.apps.find((a) => a.name === h.app);
    t.ok(app?.hosts.includes(h.host) && app.backend === h.backend, `${label}: host ${h.host} belongs to its app`);
  }
  t.notOk(
    strings.some((s) => UNSAFE_IN_CONFIG.test(s)),
    `${label}: nothing unsafe reaches the routes`,
  );
  const rejectionText = model.rejections.flatMap((r) => [r.service, r.subject, r.reason, r.key ?? '']);
  t.notOk(
    rejectionText.some((s) => BREAKS_A_LOG_LINE.test(s)),
    `${label}: rejections stay on one line`,
  );
}

t.test('invariants hold on random hostile input', async (t) => {
  const next = rng(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
  const tagPool = [
    'router.mode=tcp',
    'router.mode=http',
    'router.mode=udp',
    'router.port=10001',
    'router.port=10002',
    'router.port=80',
    'router.port=0',
    'router.balance=source',
    'router.balance=hdr(host)',
    'router.healthcheck=/ok',
    'router.healthcheck=/a b',
    'router.healthcheck=/x"\ny',
    'router.sticky',
    'router.https-only=yes',
    'router.maxconn=5',
    'router.timeout-server=30s',
    'router.timeout-server=99h',
    'router.expose',
    'router.skip',
    'router.\u0000',
    'router.mode=tcp\u2028',
    'router.',
    'router.x=y',
    'other',
  ];
  const namePool = ['web', 'Web', 'api', 'a_b', 'bad name', 'x\u0000y', 'ok.grp', 'consul', 'tcp1', 'tcp2', 'ünï'];
  const hostPool = [
    'www.example.org',
    'a.example.org',
    'web.production.mozilla.community',
    'bad host',
    'x\u2028y.org',
    'a..b',
    'bücher.de',
    'xn--bcher-kva.de',
    'p.org:80',
    '*.x.org',
    'Z.EXAMPLE.ORG',
    'q.org.',
    '"x.org"',
  ];
  const addrPool = ['10.0.0.1', '10.0.0.2', 'fe80::1', '', 'a b', 'x;y', 'Node1', 'node1'];
  for (let round = 0; round < 40; round++) {
    const services: Record<string, ServiceInstance[]> = {};
    for (let s = 0; s < 6; s++) {
      const name = pick(namePool);
      services[name] = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, i) =>
        mc(name, i + 1, {
          id: next() < 0.8 ? `mesos-consul:${name}:${i}` : `plain-${i}`,
          address: pick(addrPool),
          port: pick([31000, 31001, 0, 70000]),
          passing: next() < 0.5,
          tags: Array.from({ length: Math.floor(next() * 4) }, () => pick(tagPool)),
          ...(next() < 0.7 ? { createIndex: Math.floor(next() * 5) } : {}),
        }),
      );
    }
    const claims = Array.from({ length: 4 }, (_, i) =>
      claim(pick(namePool).toLowerCase(), Array.from({ length: 3 }, () => pick(hostPool)).join(pick([',', ' ', '\n'])), Math.floor(next() * 3), undefined),
    ).map((c, i) => (i === 3 ? { ...c, key: `${c.key}/nested` } : c));
    const input: ModelInput = { services, claims, settings };
    const model = buildModel(input);
    checkInvariants(t, model, `round ${round}`);
    t.equal(JSON.stringify(buildModel(shuffled(input, round + 100))), JSON.stringify(model), `round ${round}: order-independent`);
  }
});
