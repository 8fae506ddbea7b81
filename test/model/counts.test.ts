// The counts the metrics and the never-shrink guard read from a model, counted once per model.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { modelCounts } from '../../src/model/counts.js';
import { countModelRoutes } from '../../src/runner/shrink.js';
import { mc, settings } from './helpers.js';

const model = buildModel({
  services: {
    a: [mc('a', 1), mc('a', 2, { passing: false })],
    b: [mc('b', 3)],
    db: [mc('db', 4, { tags: ['router.mode=tcp', 'router.port=15432'] })],
  },
  claims: [{ key: 'paas-router/domains/a', value: 'www.example.org', createIndex: 1, modifyIndex: 1 }],
  settings,
});

t.test('apps by mode, hosts by source, servers up and down', async (t) => {
  t.strictSame(modelCounts(model), { apps: { http: 2, tcp: 1 }, hosts: { default: 2, kv: 1 }, servers: { up: 3, down: 1 } });
  t.equal(modelCounts(model), modelCounts(model), 'counted once: the same object answers again');
  t.strictSame(countModelRoutes(model), { routes: 4, servers: 3 }, 'the guard: hosts plus tcp listeners, passing servers');
});
