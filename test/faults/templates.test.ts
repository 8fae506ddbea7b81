// Templates broken while the daemon runs, under load, against a real HAProxy: a partial that does
// not compile, one that fails at render (a misspelt field in strict mode), and one that renders a
// configuration `haproxy -c` refuses. Each is fixed later; the daemon must pick the fix up by itself.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import type { StatusDocument } from '../../src/server/status.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';
import { LoadLoop, faultLog, get, healthy, haproxyCheck, hostOf, recordFigure, servedAt, sleep, sourceOf, statusOf } from './helpers.js';

const apps: MarathonApp[] = ['alpha', 'beta', 'gamma'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));

t.test('templates broken mid-run, under load', async (t) => {
  const cluster = await startTestCluster(t, { apps, domains: { gamma: 'www.gamma.example' }, log: faultLog() });
  const { consul, httpPort, templatesDir } = cluster;
  const { configDir } = cluster.config.haproxy;
  const statusUrl = cluster.daemon.server.url;
  const state = cluster.daemon.runner.state;
  const existing = [hostOf('alpha'), hostOf('beta'), 'www.gamma.example'];
  for (const host of existing) await servedAt(httpPort, host);
  await healthy(statusUrl);
  const load = new LoadLoop(httpPort, existing).start();
  t.teardown(() => load.stop());
  await load.warmUp();
  const partial = join(templatesDir, 'partials', 'backend-http.hbs');
  const original = await readFile(partial, 'utf8');
  let domains: string[] = [];
  const addDomain = async (host: string) => {
    domains = [...domains, host];
    const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: domains.join(' ') });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}`);
  };

  const fault = (
    name: string,
    what: string,
    broken: string,
    reported: (doc: StatusDocument) => string | undefined,
    /** Whether a change made during the fault is applied at once (with the last good templates). */
    changesApplyDuringFault: boolean,
  ) =>
    t.test(what, async (t) => {
      const from = Date.now();
      const applied = { ...state.counters };
      await writeFile(partial, broken);
      const doc = await eventually(
        'the fault in /status',
        async () => {
          const d = await statusOf(statusUrl);
          return reported(d) ? d : undefined;
        },
        15_000,
      );
      const reason = reported(doc)!;
      t.ok(reason, `reported: ${reason}`);
      await addDomain(`during-${name}.example.org`);
      if (changesApplyDuringFault) {
        await servedAt(httpPort, `during-${name}.example.org`, /alpha/);
        t.pass('a change made during the fault is applied with the last good templates');
      } else {
        await sleep(1_500);
        t.equal((await get(httpPort, `during-${name}.example.org`)).status, 404, 'no candidate can apply while the templates are broken');
      }
      const check = await haproxyCheck(configDir);
      t.ok(check.ok, `haproxy -c passes on the files on disk: ${check.output}`);
      t.notMatch(await readFile(join(configDir, 'haproxy.cfg'), 'utf8'), /not-a-keyword|BROKEN/, 'nothing of the broken template reached the disk');
      t.equal(state.counters.reloadFailures, applied.reloadFailures, 'no reload failed');

      await writeFile(partial, original);
      const end = Date.now();
      await addDomain(`after-${name}.example.org`);
      const served = await servedAt(httpPort, `after-${name}.example.org`, /alpha/);
      t.equal((await get(httpPort, `during-${name}.example.org`)).status, 200, 'the change made during the fault is served');
      const healthy = await eventually('healthy again', async () => {
        const d = await statusOf(statusUrl);
        return d.health.ok ? d : undefined;
      });
      t.equal(sourceOf(healthy, 'templates')?.state, 'ok');
      const w = load.window(from);
      t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
      await recordFigure(t, { fault: `template-${name}`, requests: w.requests, failedExisting: w.failed, recoveryMs: served - end, reported: reason });
    });

  await fault(
    'syntax',
    'a partial that does not compile: the templates source is down, the last good templates stay in use',
    `${original}{{#each servers}}\n`,
    (d) => {
      const s = sourceOf(d, 'templates');
      return s?.state === 'down' && !d.health.ok ? `templates source down: ${s.lastError?.message}; /healthz 503` : undefined;
    },
    true,
  );

  await fault(
    'render',
    'a partial that compiles but fails to render (misspelt field, strict mode): the build fails',
    original.replace('backend {{backend}}', 'backend {{backnd}}'),
    (d) => (d.haproxy.lastBuildError ? `lastBuildError ${d.haproxy.lastBuildError.code}: ${d.haproxy.lastBuildError.message}` : undefined),
    false,
  );

  await fault(
    'invalid-haproxy',
    'a partial that renders a configuration haproxy -c refuses: the candidate is refused',
    original.replace('    balance {{balance}}', '    balance {{balance}}\n    not-a-keyword on'),
    (d) => (d.haproxy.lastApply?.status === 'refused' ? `lastApply refused: ${d.haproxy.lastApply.error?.message}; health warning` : undefined),
    false,
  );

  await t.test('the files on disk are valid and HAProxy still serves', async (t) => {
    const check = await haproxyCheck(configDir);
    t.ok(check.ok, `haproxy -c passes on the live files: ${check.output}`);
    for (const host of existing) t.equal((await get(httpPort, host)).status, 200, `${host} still served`);
    t.equal(load.window().failed, 0, 'no failed request to existing routes over the whole run');
  });
});
