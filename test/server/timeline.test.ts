// The change timeline: which apps a change touched (a table over real models from buildModel),
// and the events recorded from the runner's events (the runner's event emitter is driven by the
// test here; test/e2e/traffic-page.test.ts sees the events of a real dev cluster).
import t from 'tap';
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildModel } from '../../src/model/build.js';
import { ModelMemo } from '../../src/model/incremental.js';
import type { RoutingModel } from '../../src/model/types.js';
import type { Runner } from '../../src/runner.js';
import { MESSAGE_MAX, Timeline, changedApps } from '../../src/server/timeline.js';
import { initialState } from '../../src/state.js';
import type { Deployment } from '../../src/apply/deployment.js';
import { deploymentOf } from '../helpers/deployment.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import { mc, settings } from '../model/helpers.js';

const model = (services: Record<string, ServiceInstance[]>, claims: DomainClaim[] = []): RoutingModel => buildModel({ services, claims, settings });
const claim = (service: string, host: string): DomainClaim => ({ key: `paas-router/domains/${service}`, value: host, createIndex: 1, modifyIndex: 1 });

t.test('changedApps: added, removed, servers changed, hosts changed; unchanged apps are not named', async (t) => {
  const base = model({ a: [mc('a', 1)], b: [mc('b', 2)], c: [mc('c', 3)] });
  const cases: [string, RoutingModel | undefined, RoutingModel | undefined, string[]][] = [
    ['first build: every app', undefined, base, ['a', 'b', 'c']],
    ['same model', base, base, []],
    ['equal model, other objects', base, model({ a: [mc('a', 1)], b: [mc('b', 2)], c: [mc('c', 3)] }), []],
    ['one server more', base, model({ a: [mc('a', 1), mc('a', 4)], b: [mc('b', 2)], c: [mc('c', 3)] }), ['a']],
    ['an app gone, one new', base, model({ a: [mc('a', 1)], b: [mc('b', 2)], d: [mc('d', 3)] }), ['c', 'd']],
    ['a new app before every other, one gone between', base, model({ '0day': [mc('0day', 5)], a: [mc('a', 1)], c: [mc('c', 3)] }), ['0day', 'b']],
    ['a custom domain', base, model({ a: [mc('a', 1)], b: [mc('b', 2)], c: [mc('c', 3)] }, [claim('b', 'www.example.org')]), ['b']],
    ['everything gone', base, undefined, ['a', 'b', 'c']],
  ];
  for (const [name, before, after, want] of cases) t.same(changedApps(before, after), want, name);
});

t.test('changedApps: models built through the memo (what the daemon compares) share their hosts list; a server change is still found', async (t) => {
  const memo = new ModelMemo();
  const services = { a: [mc('a', 1)], b: [mc('b', 2)], c: [mc('c', 3)] };
  const before = buildModel({ services, claims: [], settings }, memo);
  const after = buildModel({ services: { ...services, b: [mc('b', 2), mc('b', 4)] }, claims: [], settings }, memo);
  t.equal(after.hosts, before.hosts, 'the hosts list is the same array');
  t.same(changedApps(before, after), ['b']);
  const failing = buildModel({ services: { ...services, b: [mc('b', 2), mc('b', 4, { passing: false })] }, claims: [], settings }, memo);
  t.same(changedApps(after, failing), ['b'], 'a check failing');
  const domain = buildModel(
    { services: { ...services, b: [mc('b', 2), mc('b', 4, { passing: false })] }, claims: [claim('c', 'www.example.org')], settings },
    memo,
  );
  t.not(domain.hosts, failing.hosts);
  t.same(changedApps(failing, domain), ['c'], 'a custom domain: the hosts list is another');
});

t.test('changedApps: asked twice for the same pair (the log line, then the timeline), the same answer, each its own array', async (t) => {
  const before = model({ a: [mc('a', 1)], b: [mc('b', 2)] });
  const after = model({ a: [mc('a', 1), mc('a', 3)], b: [mc('b', 2)] }, [claim('b', 'www.example.org')]);
  const first = changedApps(before, after);
  first.push('mutated by its caller');
  t.same(changedApps(before, after), ['a', 'b'], 'the kept answer is not the array handed out');
  const other = model({ b: [mc('b', 2)] });
  t.same(changedApps(before, other), ['a'], 'another pair with the same `before` is not answered from the kept one');
  t.same(changedApps(before, after), ['a', 'b'], 'and back');
});

t.test('events from the runner: applies with their reason and apps, refusals, held changes, rejections, certificates', async (t) => {
  let clock = 1_000;
  let running: Deployment | undefined;
  const runner = Object.assign(new EventEmitter(), { state: initialState(0, () => running) }) as unknown as Runner;
  const timeline = new Timeline({ now: () => clock, capacity: 6 });
  timeline.attach(runner);

  runner.state.builtModel = model({ a: [mc('a', 1)], b: [mc('b', 2)] });
  running = deploymentOf(runner.state.builtModel);
  runner.emit('applied', { status: 'reloaded', checksum: 'x', reloadReason: 'no running configuration to change at runtime' });
  clock = 2_000;
  runner.state.builtModel = model({
    a: [mc('a', 1), mc('a', 3)],
    b: [mc('b', 2)],
    bad: [mc('bad', 4, { tags: ['router.mode=udp'] })],
  });
  running = deploymentOf(runner.state.builtModel);
  runner.emit('applied', { status: 'runtime', checksum: 'y', runtimeOps: 2 });
  clock = 3_000;
  runner.emit('applied', { status: 'refused', checksum: 'z', error: { code: 'HAPROXY_INVALID', message: 'parsing [haproxy.cfg:12]' } });
  runner.emit('applied', { status: 'unchanged', checksum: 'y' });
  runner.state.builtModel = model({ b: [mc('b', 2)] });
  runner.emit('held', { since: 3_000, reason: 'routes would shrink from 2 to 1', checksum: 'w', routesBefore: 2, routesAfter: 1 });
  runner.emit('certificates', { status: 'updated', ops: ['add www.example.org'] });

  const all = timeline.list();
  t.same(
    all.map((e) => e.kind),
    ['certificate', 'held', 'refused', 'runtime', 'rejection', 'reload'],
    'newest first; unchanged is not a change',
  );
  t.match(
    all.find((e) => e.kind === 'reload'),
    { at: 1_000, apps: ['a', 'b'], message: /HAProxy reloaded \(no running configuration to change at runtime\) — 2 app\(s\): a, b/ },
  );
  t.match(
    all.find((e) => e.kind === 'runtime'),
    { at: 2_000, apps: ['a', 'bad'], message: /runtime API, no reload: 2 command\(s\) — 2 app\(s\): a, bad/ },
  );
  t.match(
    all.find((e) => e.kind === 'rejection'),
    { apps: ['bad'], message: /router\.mode/ },
  );
  t.match(
    all.find((e) => e.kind === 'refused'),
    { apps: [], message: /refused by haproxy -c.*parsing \[haproxy\.cfg:12\]/ },
  );
  t.match(
    all.find((e) => e.kind === 'held'),
    { apps: ['a'], message: /routes 2 → 1/ },
  );
  t.match(
    all.find((e) => e.kind === 'certificate'),
    { message: /add www\.example\.org/ },
  );
  t.same(
    timeline.list('a').map((e) => e.kind),
    ['held', 'runtime', 'reload'],
    'filtered by app',
  );

  runner.emit('build-error', new Error('template x: unknown helper'));
  t.equal(timeline.list().length, 6, 'bounded: the oldest event went');
  t.equal(timeline.list().at(-1)!.kind, 'rejection');
  timeline.detach();
  runner.emit('applied', { status: 'refused', checksum: 'q' });
  t.equal(timeline.list()[0]!.kind, 'build-error', 'detached: no more events');
});

t.test('a brand-new app on a spare backend: the runtime event names the app, then its spare', async (t) => {
  let running: Deployment | undefined;
  const runner = Object.assign(new EventEmitter(), { state: initialState(0, () => running) }) as unknown as Runner;
  const timeline = new Timeline({ now: () => 1_000 });
  timeline.attach(runner);
  runner.state.builtModel = model({ a: [mc('a', 1)] });
  running = deploymentOf(runner.state.builtModel);
  runner.emit('applied', { status: 'reloaded', checksum: 'x' });
  runner.state.builtModel = model({ a: [mc('a', 1)], blog: [mc('blog', 2)] });
  running = deploymentOf(runner.state.builtModel);
  runner.emit('applied', { status: 'runtime', checksum: 'y', runtimeOps: 2, spares: [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }] });
  t.match(timeline.list()[0], {
    kind: 'runtime',
    apps: ['blog'],
    message: /no reload: 2 command\(s\) — 1 app\(s\): blog; on spare backends until the next reload: blog \(spare_1\)$/,
  });
});

t.test('tenant text in an event is clipped: the timeline is in every /status', async (t) => {
  const timeline = new Timeline({ now: () => 1 });
  timeline.add('rejection', ['a'], `rejected maintenance input ${'x'.repeat(5_000)}`);
  const [event] = timeline.list();
  t.equal(event!.message.length, MESSAGE_MAX + 1);
  t.match(event!.message, /^rejected maintenance input x+…$/);
});

t.test('an unchanged apply moves the timeline on to the latest model: the older one is let go', async (t) => {
  // gc() for this test only: the older model must be collectable once nothing but the timeline saw it.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let running: Deployment | undefined;
  const runner = Object.assign(new EventEmitter(), { state: initialState(0, () => running) }) as unknown as Runner;
  const timeline = new Timeline({ now: () => 1_000 });
  timeline.attach(runner);
  running = deploymentOf(model({ a: [mc('a', 1)] }));
  runner.emit('applied', { status: 'reloaded', checksum: 'x' });
  const older = new WeakRef(runner.state.deployment!.model!);
  // The same bytes from a newer model (e.g. records read back): nothing is an event.
  running = deploymentOf(model({ a: [mc('a', 1)] }));
  runner.emit('applied', { status: 'unchanged', checksum: 'x' });
  t.equal(timeline.list().length, 1);
  await new Promise((r) => setImmediate(r));
  gc();
  t.equal(older.deref(), undefined, 'the model of the reload is not kept once an unchanged apply described the same files');
  running = deploymentOf(model({ a: [mc('a', 1)], b: [mc('b', 2)] }));
  runner.emit('applied', { status: 'runtime', checksum: 'y', runtimeOps: 1 });
  t.same(timeline.list()[0]?.apps, ['b'], 'the next change names what changed since');
});
