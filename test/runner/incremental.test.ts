// The runner plans the next change against the applier's deployment (what HAProxy runs): from its
// build's template data when it has one, by its generation, whatever object holds its files.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { IncrementalBuilds, runningCounts, runningPorts } from '../../src/runner/incremental.js';
import { countModelRoutes } from '../../src/runner/shrink.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { deploymentOf } from '../helpers/deployment.js';
import { inst, input } from '../property/helpers.js';
import { STATIC_PATHS, renderSettings } from '../property/support.js';

const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const services = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`app${i}`, [inst({ id: `mesos-consul:a:${i}`, port: 31000 + i })]]));
const settings = renderSettings(buildModel(input(services)), { bindAddress: '*', tls: 'none', stats: null, maxOldWorkers: null }, STATIC_PATHS);

t.test('the plan is made against the deployment HAProxy runs, by its generation', async (t) => {
  const builds = new IncrementalBuilds();
  const first = builds.finish(builds.stage(templates, builds.model(input(services)), settings));
  const moved = { ...services, app2: [...services.app2!, inst({ id: 'mesos-consul:b:2', address: '10.0.0.9' })] };
  const next = builds.finish(builds.stage(templates, builds.model(input(moved)), settings));

  t.equal(builds.plan(next, undefined), undefined, 'nothing runs: nothing to plan against');
  const adopted = deploymentOf(undefined, { files: first.rendered });
  t.equal(builds.plan(next, adopted), undefined, 'adopted files have no build: the applier compares the files');

  // The applier's own copy of the files, not the build's object: the plan is still made from the data.
  const running = deploymentOf(first.model, { files: { ...first.rendered }, rendering: { data: first.data, templates } });
  const planned = builds.plan(next, running);
  t.equal(planned?.against, running.generation);
  t.equal(planned?.plan.kind, 'runtime');

  const otherTemplates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
  const before = deploymentOf(first.model, { files: first.rendered, rendering: { data: first.data, templates: otherTemplates } });
  t.equal(builds.plan(next, before), undefined, 'built with another template set: the files are compared');
});

t.test('what the never-shrink guard and the port probe read from the deployment', async (t) => {
  const builds = new IncrementalBuilds();
  const tcp = { ...services, db: [inst({ id: 'mesos-consul:a:db', port: 32000, tags: ['router.mode=tcp', 'router.port=10001'] })] };
  const built = builds.finish(builds.stage(templates, builds.model(input(tcp)), settings));
  const running = deploymentOf(built.model, { files: built.rendered, rendering: { data: built.data, templates } });
  t.same(runningCounts(running), countModelRoutes(built.model));
  t.same(runningCounts(running), built.counts);
  t.ok(runningPorts(running)?.has(10001), 'the tcp app binds its port');
  t.equal(runningCounts(deploymentOf(undefined)), undefined, 'adopted files: the guard counts from the files');
  t.equal(runningPorts(deploymentOf(undefined)), undefined);
});
