// Incremental == from scratch (fast-check, fixed seed): random sequences of Consul and K/V events
// through one ModelMemo and RenderCache give, after every step, the model and the files of a
// from-scratch build. `npm run fuzz` runs the same property on 10 000 sequences.
// Replay another seed: PROPERTY_SEED=123 npx tap test/property/incremental.test.ts
import fc from 'fast-check';
import t from 'tap';

import { buildModel } from '../../src/model/build.js';
import { ModelMemo } from '../../src/model/incremental.js';
import type { ModelInput, RoutingModel } from '../../src/model/types.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { RenderCache } from '../../src/render/incremental.js';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { holds, inst, input } from './helpers.js';
import { incrementalCaseArb, runIncremental, type IncrementalCase } from './incremental/support.js';
import { STATIC_PATHS, renderSettings } from './support.js';

const seed = Number(process.env.PROPERTY_SEED ?? 7031);
const runs = (n: number) => ({ seed, numRuns: Number(process.env.PROPERTY_RUNS ?? n) });
const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);

t.test('incremental model and render equal a from-scratch build after every event', async (t) => {
  holds(t, '200 sequences of up to 16 steps from a random state', () =>
    fc.assert(
      fc.property(incrementalCaseArb, (c) => {
        runIncremental(templates, c);
      }),
      runs(200),
    ),
  );
});

t.test('a change costs what changed: stages run again only for the changed service', async (t) => {
  const services = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`app${i}`, [inst({ id: `mesos-consul:a:${i}`, port: 31000 + i })]]));
  const memo = new ModelMemo();
  const cache = new RenderCache();
  const settings = renderSettings(buildModel(input(services)), { bindAddress: '*', tls: 'none', stats: null, maxOldWorkers: null }, STATIC_PATHS);
  renderFiles(templates, buildModel(input(services), memo), settings, cache);
  t.match(memo.stats, { services: 50, structure: 1 });

  const moved = { ...services, app7: [...services.app7!, inst({ id: 'mesos-consul:b:7', address: '10.0.0.9' })] };
  const model = buildModel(input(moved), memo);
  t.same(memo.stats, { services: 1, claims: 0, structure: 0, names: 0, apps: 1 }, 'one new instance: one service stage, no global stage');
  const files = renderFiles(templates, model, settings, cache);
  t.same(cache.stats, { views: 1, files: 1, hosts: 0 }, 'one app view built again; hosts.map reused');
  t.same(files, renderFiles(templates, buildModel(input(moved)), settings));

  const claims = [{ key: 'paas-router/domains/app3', value: 'www.example.org', createIndex: 9, modifyIndex: 9 }];
  const claimed = buildModel(input(moved, claims), memo);
  renderFiles(templates, claimed, settings, cache);
  t.same(cache.stats.hosts, 1, 'one host view built: the new host');
  t.same(
    memo.stats,
    { services: 0, claims: 1, structure: 1, names: 1, apps: 1 },
    "one K/V key: one claim parsed, one app with new hosts; one name decided again (app7's, whose usable count moved since the global stage last ran)",
  );

  const fresh = { ...moved, newcomer: [inst({ id: 'mesos-consul:c:1', address: '10.0.0.10' })] };
  buildModel(input(fresh, claims), memo);
  t.same(memo.stats, { services: 1, claims: 0, structure: 1, names: 1, apps: 1 }, 'a brand-new service: its stage and its own name only');

  const hosted = buildModel(input(fresh, claims), memo);
  const records = [{ key: 'paas-router/claims/names/app9', value: '{"owner":"app9"}', createIndex: 20, modifyIndex: 20 }];
  const recorded = buildModel({ ...input(fresh, claims), claimRecords: records }, memo);
  t.same(memo.stats, { services: 0, claims: 0, structure: 1, names: 1, apps: 0 }, 'a record written: its name decided again, no app changed');
  t.equal(recorded.hosts, hosted.hosts, 'the same host list: the render keeps its views and checks');
  const second = { key: 'paas-router/claims/names/app8', value: '{"owner":"app8"}', createIndex: 21, modifyIndex: 21 };
  buildModel({ ...input(fresh, claims), claimRecords: [...records, second] }, memo);
  t.same(memo.stats.names, 1, 'a second record: only its name (the first record is kept as it was read)');
  t.same(recorded.owners?.find((o) => o.name === 'app9')?.record?.valid, true);
});

t.test('a name is decided again when what it reads changes: its record, its weights, its members, its holder', async (t) => {
  const memo = new ModelMemo();
  const check = (what: string, state: ModelInput) => {
    const model = buildModel(state, memo);
    t.same(model, buildModel(state), `${what}: incremental == from scratch`);
    return model;
  };
  const grp = ['router.group=grp'];
  const services: ModelInput['services'] = {
    web: [inst({ id: 'mesos-consul:a:1', tags: grp, createIndex: 10 })],
    api: [inst({ id: 'mesos-consul:a:2', address: '10.0.0.2', tags: grp, createIndex: 11 })],
    blog: [inst({ id: 'mesos-consul:a:3', address: '10.0.0.3', createIndex: 12 })],
  };
  const record = { key: 'paas-router/claims/names/grp', value: '{"owner":"web","as":"group"}', createIndex: 20, modifyIndex: 20 };
  const base = { ...input(services), claimRecords: [record] };
  const members = (m: RoutingModel) =>
    m.apps
      .find((a) => a.name === 'grp')
      ?.servers.map((s) => s.address)
      .sort();

  t.same(members(check('the group recorded for web', base)), ['10.0.0.1'], 'api is not admitted');
  const weights = [{ key: 'paas-router/weights/grp', value: 'api=1 web=1', createIndex: 21, modifyIndex: 21 }];
  t.same(members(check('weights that admit api', { ...base, weights })), ['10.0.0.1', '10.0.0.2'], 'api is admitted');
  t.same(memo.stats.names, 1, 'only the group is decided again');
  // A record read again with the same text is the same record.
  check('the same record read again', { ...base, weights, claimRecords: [{ ...record }] });
  t.same(memo.stats.names, 0, 'nothing decided again');

  // Web, registered before web, holds the name web: web's group ask no longer takes part.
  const variant = { ...services, Web: [inst({ id: 'mesos-consul:a:4', address: '10.0.0.4', createIndex: 5 })] };
  t.same(members(check('a case variant registered first', { ...base, weights, services: variant })), ['10.0.0.2']);
  const moved = { ...base, weights, claimRecords: [{ ...record, value: '{"owner":"api","as":"group"}', modifyIndex: 22 }] };
  t.same(members(check('the group recorded for api', moved)), ['10.0.0.1', '10.0.0.2']);

  // Two services with one name, registered at the same index: more usable instances hold it.
  const pair = (more: 'Kafka' | 'kafka'): ModelInput['services'] => ({
    Kafka: [
      inst({ id: 'mesos-consul:k:1', address: '10.0.1.1', createIndex: 30 }),
      ...(more === 'Kafka' ? [inst({ id: 'mesos-consul:k:2', address: '10.0.1.2', createIndex: 31 })] : []),
    ],
    kafka: [
      inst({ id: 'mesos-consul:k:3', address: '10.0.2.1', createIndex: 30 }),
      ...(more === 'kafka' ? [inst({ id: 'mesos-consul:k:4', address: '10.0.2.2', createIndex: 31 })] : []),
    ],
  });
  const kafka = (m: RoutingModel) =>
    m.apps
      .find((a) => a.name === 'kafka')
      ?.servers.map((s) => s.address)
      .sort()[0];
  t.same(kafka(check('Kafka has more usable instances', input(pair('Kafka')))), '10.0.1.1');
  t.same(kafka(check('kafka has more usable instances', input(pair('kafka')))), '10.0.2.1');
  // As many usable instances each: the one registered first holds it.
  const registered = (kafkaIndex: number): ModelInput['services'] => ({
    Kafka: [inst({ id: 'mesos-consul:k:1', address: '10.0.1.1', createIndex: 30 })],
    kafka: [inst({ id: 'mesos-consul:k:3', address: '10.0.2.1', createIndex: kafkaIndex })],
  });
  t.same(kafka(check('Kafka registered first', input(registered(31)))), '10.0.1.1');
  t.same(kafka(check('kafka registered first', input(registered(29)))), '10.0.2.1');
});

t.test('templates that read outside their app are rendered whole, and still right', async (t) => {
  // `@index` and `../` make a per-app partial depend on more than its app: no per-app cache.
  const shipped = await loadTemplates(SHIPPED_TEMPLATES_DIR);
  void shipped;
  const custom = compileTemplates({
    files: {
      'haproxy.cfg.hbs': '{{#each httpApps}}{{> app}}\n{{/each}}{{#each tcpApps}}{{> counted}}\n{{/each}}',
      'hosts.map.hbs': '{{#each hosts}}{{host}} {{backend}}\n{{/each}}',
    },
    partials: { app: '# {{name}} of {{@root.httpApps.length}}', counted: '# {{@index}} {{name}} {{../defaultBackend}}' },
  });
  const a = { web: [inst()], api: [inst({ id: 'mesos-consul:b', address: '10.0.0.2' })] };
  const b = { ...a, new: [inst({ id: 'mesos-consul:c', address: '10.0.0.3' })] };
  const memo = new ModelMemo();
  const cache = new RenderCache();
  const settings = renderSettings(buildModel(input(a)), { bindAddress: '*', tls: 'none', stats: null, maxOldWorkers: null }, STATIC_PATHS);
  renderFiles(custom, buildModel(input(a), memo), settings, cache);
  const files = renderFiles(custom, buildModel(input(b), memo), settings, cache);
  t.match(files['haproxy.cfg'], /# web of 3\n/, 'web reads the app count: rendered again when an app is added');
  t.same(files, renderFiles(custom, buildModel(input(b)), settings));
});

t.test('regression (npm run fuzz, seed 709235299): Web and web share a name; an instance gone from the holder moves it', async (t) => {
  // The shrunk counterexample of that run: the structure was kept after a change of the holder's
  // registration order and usable count, so the incremental build kept the other service's servers.
  const c = JSON.parse(COUNTEREXAMPLE) as IncrementalCase;
  t.doesNotThrow(() => runIncremental(templates, c));
});

const COUNTEREXAMPLE =
  '{"start":{"services":{"Web":[{"id":"mesos-consul:agent1:x:1","node":"agent1","address":"10.0.0.1","port":1,"tags":[],"passing":false,"checks":[{"id":"serfHealth","status":"critical"}],"createIndex":0},{"id":"mesos-consul:","node":"agent1","address":"10.0.0.1","port":1,"tags":[],"passing":false,"checks":[{"id":"serfHealth","status":"critical"}]}]},"claims":[],"settings":{"cluster":"production","baseDomain":"mozilla.community","serviceIdPrefixes":["mesos-consul:"],"domainsPrefix":"paas-router/domains/","reservedPorts":[80,443,8404],"tcpPorts":[{"from":10000,"to":10999},{"from":65535,"to":65535}]},"weights":[],"maintenance":[]},"render":{"bindAddress":"*","tls":"none","stats":null,"maxOldWorkers":null,"edge":{"acceptProxy":false,"trustedProxies":[],"statsBindAddress":"127.0.0.1","sslMinVer":"TLSv1.2","maxconn":null}},"steps":[{"event":{"type":"register","service":"web","instance":{"id":"mesos-consul:agent1:x:1","node":"agent1","address":"10.0.0.1","port":31000,"tags":[],"passing":false,"checks":[{"id":"serfHealth","status":"critical"}]}}},{"event":{"type":"deregister","service":0,"instance":0}}]}';
