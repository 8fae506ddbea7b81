// The runner's incremental builds keep one build as "what HAProxy runs". A build whose files are
// byte for byte those HAProxy runs (the applier answers `unchanged` and keeps its own copy) takes
// that place, so an older build (its model, template data and views) is not kept beside the latest.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { IncrementalBuilds } from '../../src/runner/incremental.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { inst, input } from '../property/helpers.js';
import { STATIC_PATHS, renderSettings } from '../property/support.js';

const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const services = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`app${i}`, [inst({ id: `mesos-consul:a:${i}`, port: 31000 + i })]]));
const settings = renderSettings(buildModel(input(services)), { bindAddress: '*', tls: 'none', stats: null, maxOldWorkers: null }, STATIC_PATHS);

t.test('an unchanged build replaces the kept one; a build of other bytes does not', async (t) => {
  const builds = new IncrementalBuilds();
  const first = builds.render(templates, builds.model(input(services)), settings);
  const running = { ...first.rendered }; // the applier's copy
  builds.afterApply(first, running, running);
  t.equal(builds.runningCounts(running), first.counts, 'the first build runs');

  // The same services again, as a new input (a K/V read that changed nothing HAProxy sees).
  const again = builds.render(templates, builds.model(input({ ...services })), settings);
  t.same(again.rendered, running);
  t.not(again.rendered, running);
  builds.afterApply(again, again.rendered, running, false);
  t.equal(builds.runningCounts(running), first.counts, 'not told unchanged: the first build stays');
  builds.afterApply(again, again.rendered, running, true);
  t.equal(builds.runningCounts(running), again.counts, 'unchanged: the latest build describes what runs');

  // A plan from the adopted build to a new instance is still a runtime plan against `running`.
  const moved = { ...services, app2: [...services.app2!, inst({ id: 'mesos-consul:b:2', address: '10.0.0.9' })] };
  const next = builds.render(templates, builds.model(input(moved)), settings);
  const planned = builds.plan(next, running);
  t.equal(planned?.against, running);
  t.equal(planned?.plan.kind, 'runtime');

  // Unchanged, but the applier holds other files than the kept build's: nothing is adopted.
  const other = { ...running };
  builds.afterApply(next, next.rendered, other, true);
  t.equal(builds.runningCounts(other), undefined);
  t.equal(builds.runningCounts(running), again.counts);
});
