// Incremental == from scratch (fast-check, fixed seed): random sequences of Consul and K/V events
// through one ModelMemo and RenderCache give, after every step, the model and the files of a
// from-scratch build. `npm run fuzz` runs the same property on 10 000 sequences.
// Replay another seed: PROPERTY_SEED=123 npx tap test/property/incremental.test.ts
import fc from 'fast-check';
import t from 'tap';

import { buildModel } from '../../src/model/build.js';
import { ModelMemo } from '../../src/model/incremental.js';
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
  t.same(memo.stats, { services: 1, claims: 0, structure: 0, apps: 1 }, 'one new instance: one service stage, no global stage');
  const files = renderFiles(templates, model, settings, cache);
  t.same(cache.stats, { views: 1, files: 1 }, 'one app view built again; hosts.map reused');
  t.same(files, renderFiles(templates, buildModel(input(moved)), settings));

  const claims = [{ key: 'paas-router/domains/app3', value: 'www.example.org', createIndex: 9, modifyIndex: 9 }];
  buildModel(input(moved, claims), memo);
  t.same(memo.stats, { services: 0, claims: 1, structure: 1, apps: 1 }, 'one K/V key: one claim parsed, one app with new hosts');
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
