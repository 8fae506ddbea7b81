// Blocking queries on the dev Consul: index/wait parsing, waking on writes, expiry with the
// same index, the "not found" rule, and index resets (snapshot restore). Waits run on a manual
// clock: a query that answers before the test moves time did not wait, one still held after a
// write did not wake on it (`waiting` counts the held queries).
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import { DEFAULT_WAIT_MS, MAX_WAIT_MS, parseBlockingParams, withJitter } from '../../dev/consul/blocking.js';
import { parseGoDuration } from '../../dev/consul/duration.js';
import type { DevConsul } from '../../dev/consul/server.js';
import { ManualClock } from '../helpers/clock.js';
import { held, tracked, withConsul } from './support.js';
const registerWeb = (c: DevConsul, status: string) =>
  consulCall(c.url, '/v1/catalog/register', {
    method: 'PUT',
    body: { Node: 'n', Address: '10.0.0.1', Service: { ID: 'w1', Service: 'web' }, Check: { CheckID: 'c', Name: 'c', Status: status, ServiceID: 'w1' } },
  });

t.test('Go durations', async (t) => {
  t.equal(parseGoDuration('10s'), 10_000);
  t.equal(parseGoDuration('500ms'), 500);
  t.equal(parseGoDuration('5m'), 300_000);
  t.equal(parseGoDuration('1h30m'), 5_400_000);
  t.equal(parseGoDuration('1.5s'), 1500);
  t.equal(parseGoDuration('.5s'), 500);
  t.equal(parseGoDuration('250us'), 0.25);
  t.equal(parseGoDuration('-2s'), -2000);
  t.equal(parseGoDuration('0'), 0);
  for (const bad of ['', '10', '1d', 'ms', 's10', '5m ', '+', '1.2.3s']) t.equal(parseGoDuration(bad), undefined, `rejects ${JSON.stringify(bad)}`);
});

t.test('wait defaults to 5m, is capped at 10m, jitter stays under wait/16', async (t) => {
  t.strictSame(parseBlockingParams(new URLSearchParams('index=5')), { minIndex: 5, waitMs: DEFAULT_WAIT_MS });
  t.equal(parseBlockingParams(new URLSearchParams('wait=0s')).waitMs, DEFAULT_WAIT_MS);
  t.equal(parseBlockingParams(new URLSearchParams('wait=1h')).waitMs, MAX_WAIT_MS);
  t.equal(parseBlockingParams(new URLSearchParams('wait=200ms')).waitMs, 200);
  for (let i = 0; i < 200; i++) {
    const j = withJitter(1600);
    if (j < 1600 || j > 1700) t.fail(`jitter out of range: ${j}`);
  }
  t.pass('jitter in [wait, wait + wait/16]');
});

t.test('bad index or wait values answer 400 with Consul texts', async (t) => {
  const c = await withConsul(t);
  for (const [query, text] of <[string, string][]>[
    ['index=abc', 'Invalid index'],
    ['index=-1', 'Invalid index'],
    ['index=1.5', 'Invalid index'],
    ['index=99999999999999999999', 'Invalid index'],
    ['wait=10', 'Invalid wait time'],
    ['wait=5x', 'Invalid wait time'],
  ]) {
    const answer = await consulCall(c.url, `/v1/catalog/services?${query}`);
    t.equal(answer.status, 400, query);
    t.equal(answer.text, text, query);
    t.match(answer.headers.get('content-type'), /^text\/plain/);
  }
});

t.test('no index, or index=0, answers at once', async (t) => {
  const clock = new ManualClock();
  const c = await withConsul(t, { clock });
  for (const query of ['wait=5s', 'index=0&wait=5s']) {
    // Time never moves here: an answer at all means the query did not wait.
    const value = await consulCall(c.url, `/v1/catalog/services?${query}`);
    t.equal(value.status, 200, query);
  }
  t.equal(clock.pending, 0, 'no wait was started');
});

t.test('a query with the current index returns at wait expiry (jitter included) with the same index', async (t) => {
  const clock = new ManualClock();
  // random() = 1: the longest jitter, wait/16 (12.5 ms on 200 ms).
  const c = await withConsul(t, { clock, random: () => 1 });
  const first = await consulCall(c.url, '/v1/catalog/services');
  const blocked = tracked(consulCall(c.url, `/v1/catalog/services?index=${first.index}&wait=200ms`));
  await held(c, 1);
  await clock.advance(200);
  t.notOk(blocked.done(), 'still blocked at the wait, inside its jitter');
  await clock.advance(13);
  const value = await blocked.promise;
  t.equal(value.status, 200);
  t.equal(value.index, first.index);
  t.strictSame(value.json(), first.json());
});

t.test('a blocked query returns as soon as a write changes its data', async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  const first = await consulCall(c.url, '/v1/catalog/services');
  const blocked = consulCall(c.url, `/v1/catalog/services?index=${first.index}&wait=5s`);
  await held(c, 1);
  await registerWeb(c, 'passing');
  // Time never moved: only the write can have woken it.
  const value = await blocked;
  t.ok((value.index ?? 0) > (first.index ?? 0));
  t.ok('web' in value.json<object>());
});

t.test('health watchers wake on a check flap; catalog watchers do not', async (t) => {
  const clock = new ManualClock();
  const c = await withConsul(t, { clock, random: () => 0 });
  await registerWeb(c, 'passing');
  const catalog = await consulCall(c.url, '/v1/catalog/services');
  const health = await consulCall(c.url, '/v1/health/service/web');
  const catalogWatch = tracked(consulCall(c.url, `/v1/catalog/services?index=${catalog.index}&wait=600ms`));
  const healthWatch = consulCall(c.url, `/v1/health/service/web?index=${health.index}&wait=5s`);
  await held(c, 2);
  await registerWeb(c, 'critical');
  const h = await healthWatch;
  t.equal(h.json<{ Checks: { Status: string }[] }[]>()[0]?.Checks[0]?.Status, 'critical');
  t.equal(c.waiting, 1, 'the catalog watch is still blocked');
  t.notOk(catalogWatch.done());
  await clock.advance(600);
  const k = await catalogWatch.promise;
  t.equal(k.index, catalog.index, 'ran to its wait, same index');
});

t.test('an empty KV prefix: 404 with an index, blocks through unrelated writes, wakes on its own', async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  const empty = await consulCall(c.url, '/v1/kv/paas-router/domains/?recurse');
  t.equal(empty.status, 404);
  t.ok((empty.index ?? 0) >= 1);
  const watch = tracked(consulCall(c.url, `/v1/kv/paas-router/domains/?recurse&index=${empty.index}&wait=5s`));
  await held(c, 1);
  await consulCall(c.url, '/v1/kv/elsewhere', { method: 'PUT', body: 'x' }); // moves the KV table index
  t.equal(c.waiting, 1, 'did not wake on the unrelated write');
  t.notOk(watch.done());
  await consulCall(c.url, '/v1/kv/paas-router/domains/web', { method: 'PUT', body: 'www.example.org' });
  const value = await watch.promise;
  t.equal(value.status, 200, 'woke on the prefix write');
  t.equal(value.json<{ Key: string }[]>()[0]?.Key, 'paas-router/domains/web');
});

t.test('deleting under a prefix moves its index forward and wakes its watchers', async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  await consulCall(c.url, '/v1/kv/p/a', { method: 'PUT', body: '1' });
  await consulCall(c.url, '/v1/kv/p/b', { method: 'PUT', body: '2' });
  const before = await consulCall(c.url, '/v1/kv/p/?recurse');
  const watch = consulCall(c.url, `/v1/kv/p/?recurse&index=${before.index}&wait=5s`);
  await held(c, 1);
  await consulCall(c.url, '/v1/kv/p/b', { method: 'DELETE' }); // the key with the highest ModifyIndex
  const value = await watch;
  t.ok((value.index ?? 0) > (before.index ?? 0), `index moved forward: ${before.index} -> ${value.index}`);
  t.strictSame(
    value.json<{ Key: string }[]>().map((e) => e.Key),
    ['p/a'],
  );
});

t.test('resetIndex wakes blocked queries, which then see a lower index', async (t) => {
  const clock = new ManualClock();
  const c = await withConsul(t, { clock, random: () => 0 });
  for (let i = 0; i < 5; i++) await consulCall(c.url, `/v1/kv/k${i}`, { method: 'PUT', body: String(i) });
  await registerWeb(c, 'passing');
  const catalog = await consulCall(c.url, '/v1/catalog/services');
  const kv = await consulCall(c.url, '/v1/kv/k4');
  t.ok((catalog.index ?? 0) > 3);
  const catalogWatch = consulCall(c.url, `/v1/catalog/services?index=${catalog.index}&wait=5s`);
  const kvWatch = consulCall(c.url, `/v1/kv/k4?index=${kv.index}&wait=5s`);
  await held(c, 2);
  c.resetIndex(1);
  const [cw, kw] = await Promise.all([catalogWatch, kvWatch]);
  t.equal(cw.index, 1);
  t.equal(kw.index, 1);
  t.ok('web' in cw.json<object>(), 'data survives the restore');
  t.equal(kw.json<{ ModifyIndex: number; CreateIndex: number }[]>()[0]?.ModifyIndex, 1);

  // New writes continue from the restored index.
  await consulCall(c.url, '/v1/kv/after', { method: 'PUT', body: 'x' });
  t.equal(c.index, 2);
  t.equal((await consulCall(c.url, '/v1/kv/after')).index, 2);

  // A client that keeps its old, higher index blocks until the wait ends, as on a real server.
  const stale = tracked(consulCall(c.url, `/v1/catalog/services?index=${catalog.index}&wait=200ms`));
  await held(c, 1);
  await clock.advance(199);
  t.notOk(stale.done(), 'the stale index blocks');
  await clock.advance(1);
  t.equal((await stale.promise).index, 1);
  t.throws(() => c.resetIndex(0), RangeError);
});
