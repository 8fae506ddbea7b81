// Test controls of the dev Consul: stop/start on the same port, fault modes, the request
// counter and the /dev/ HTTP controls. Waits run on a manual clock: nothing here sleeps.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import { ManualClock } from '../helpers/clock.js';
import { held, tracked, withConsul } from './support.js';
const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

t.test('stop() closes the port and open connections, start() serves the same data on the same port', async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  const { url, port } = c;
  await consulCall(url, '/v1/kv/keep', { method: 'PUT', body: 'me' });
  const before = await consulCall(url, '/v1/kv/keep');
  const blocked = consulCall(url, `/v1/kv/keep?index=${before.index}&wait=5s`).then(
    () => 'answered',
    () => 'connection dropped',
  );
  await held(c, 1);
  // Time never moves: stop() returning at all means it did not wait for the blocked query.
  await c.stop();
  t.equal(await blocked, 'connection dropped', 'stop() is prompt even with a blocked query');
  t.equal(c.running, false);
  await t.rejects(fetch(`${url}/v1/kv/keep`), 'nothing listens while stopped');

  await c.start();
  t.equal(c.port, port);
  t.equal(c.url, url);
  const after = await consulCall(url, '/v1/kv/keep');
  t.equal(after.status, 200);
  t.equal(after.index, before.index, 'same data, same index');
  await c.start(); // idempotent
  await c.close();
  await t.rejects(c.start(), /closed/);
});

t.test('requestCount counts every /v1 request whatever its outcome, and nothing else', async (t) => {
  const c = await withConsul(t);
  const start = c.requestCount;
  await consulCall(c.url, '/v1/catalog/services');
  await consulCall(c.url, '/v1/kv/missing');
  await consulCall(c.url, '/v1/no/such/endpoint');
  await consulCall(c.url, '/v1/catalog/services?index=x');
  c.setFault('http500');
  await consulCall(c.url, '/v1/catalog/services');
  await consulCall(c.url, '/dev/status');
  await consulCall(c.url, '/');
  t.equal(c.requestCount - start, 5);
});

t.test("fault 'http500' answers 500 at once and does not run the request", async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  c.setFault('http500');
  t.equal(c.fault, 'http500');
  const answer = await consulCall(c.url, '/v1/kv/x', { method: 'PUT', body: 'v' });
  t.equal(answer.status, 500);
  t.match(answer.text, /No cluster leader/);
  // Time never moves: an answer at all means it did not block.
  const blocking = await consulCall(c.url, `/v1/catalog/services?index=${c.index}&wait=5s`);
  t.equal(blocking.status, 500, 'does not block');
  c.setFault('none');
  t.equal((await consulCall(c.url, '/v1/kv/x')).status, 404, 'the PUT never happened');
});

t.test("fault 'garbage' answers 200 with a body that is not JSON", async (t) => {
  const c = await withConsul(t);
  c.setFault('garbage');
  const answer = await consulCall(c.url, '/v1/catalog/services');
  t.equal(answer.status, 200);
  t.equal(answer.headers.get('content-type'), 'application/json');
  t.ok((answer.index ?? 0) >= 1, 'headers look normal');
  t.notOk(parses(answer.text), 'body is not JSON');
  t.ok(answer.text.length > 0);
});

t.test("fault 'truncated' answers 200 with the real JSON cut short", async (t) => {
  const c = await withConsul(t);
  await consulCall(c.url, '/v1/kv/app/a', { method: 'PUT', body: 'hello' });
  const full = (await consulCall(c.url, '/v1/kv/app/?recurse')).text;
  c.setFault('truncated');
  const answer = await consulCall(c.url, '/v1/kv/app/?recurse');
  t.equal(answer.status, 200);
  t.notOk(parses(answer.text));
  t.ok(answer.text.length > 0 && full.startsWith(answer.text) && answer.text.length < full.length, answer.text);
  t.notOk(parses((await consulCall(c.url, '/v1/kv/none')).text), 'even a 404 comes back as a cut 200');
  t.equal((await consulCall(c.url, '/v1/kv/app/b', { method: 'PUT', body: 'x' })).status, 200);
  c.setFault('none');
  t.equal((await consulCall(c.url, '/v1/kv/app/b')).status, 200, 'writes still run');
});

t.test("fault 'slow' answers only after the wait plus 2 s", async (t) => {
  const clock = new ManualClock();
  const c = await withConsul(t, { clock });
  const first = await consulCall(c.url, '/v1/catalog/services');
  c.setFault('slow');
  const blocking = tracked(consulCall(c.url, `/v1/catalog/services?index=${first.index}&wait=200ms`));
  await held(c, 1);
  await clock.advance(2199);
  t.notOk(blocking.done(), 'a blocking read is held for its wait plus 2 s');
  await clock.advance(1);
  t.equal((await blocking.promise).status, 200);
  const plain = tracked(consulCall(c.url, '/v1/catalog/services'));
  await held(c, 1);
  await clock.advance(1999);
  t.notOk(plain.done(), 'a non-blocking read is held 2 s');
  await clock.advance(1);
  t.equal((await plain.promise).status, 200);
});

t.test('a slow request cut off by stop() never runs', async (t) => {
  const c = await withConsul(t, { clock: new ManualClock() });
  c.setFault('slow');
  const put = consulCall(c.url, '/v1/kv/late', { method: 'PUT', body: 'v' }).catch(() => 'dropped');
  await held(c, 1);
  await c.stop();
  t.equal(await put, 'dropped');
  c.setFault('none');
  await c.start();
  t.equal((await consulCall(c.url, '/v1/kv/late')).status, 404);
});

t.test('setFault refuses unknown modes', async (t) => {
  const c = await withConsul(t);
  t.throws(() => c.setFault('flaky' as never), RangeError);
  t.equal(c.fault, 'none');
});

t.test('/dev/ HTTP controls for the shell', async (t) => {
  const c = await withConsul(t);
  await consulCall(c.url, '/v1/kv/a', { method: 'PUT', body: '1' });
  t.equal((await consulCall(c.url, '/dev/fault/garbage', { method: 'PUT' })).status, 200);
  t.equal(c.fault, 'garbage');
  t.equal((await consulCall(c.url, '/dev/fault/bogus', { method: 'PUT' })).status, 400);
  await consulCall(c.url, '/dev/fault/none', { method: 'PUT' });
  t.equal((await consulCall(c.url, '/dev/reset-index?to=1', { method: 'PUT' })).status, 200);
  t.equal(c.index, 1);
  const status = (await consulCall(c.url, '/dev/status')).json<{ index: number; fault: string; requestCount: number }>();
  t.strictSame(status, { index: 1, requestCount: c.requestCount, fault: 'none', acl: false });
});
