// Test controls of the dev Consul: stop/start on the same port, fault modes, the request
// counter and the /dev/ HTTP controls.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import { sleep, timed, withConsul } from './support.js';
const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

t.test('stop() closes the port and open connections, start() serves the same data on the same port', async (t) => {
  const c = await withConsul(t);
  const { url, port } = c;
  await consulCall(url, '/v1/kv/keep', { method: 'PUT', body: 'me' });
  const before = await consulCall(url, '/v1/kv/keep');
  const blocked = consulCall(url, `/v1/kv/keep?index=${before.index}&wait=5s`).then(
    () => 'answered',
    () => 'connection dropped',
  );
  await sleep(50);
  const stopping = await timed(() => c.stop());
  t.ok(stopping.ms < 1000, `stop() is prompt even with a blocked query (${stopping.ms}ms)`);
  t.equal(await blocked, 'connection dropped');
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
  const c = await withConsul(t);
  c.setFault('http500');
  t.equal(c.fault, 'http500');
  const answer = await consulCall(c.url, '/v1/kv/x', { method: 'PUT', body: 'v' });
  t.equal(answer.status, 500);
  t.match(answer.text, /No cluster leader/);
  const blocking = await timed(() => consulCall(c.url, `/v1/catalog/services?index=${c.index}&wait=5s`));
  t.equal(blocking.value.status, 500);
  t.ok(blocking.ms < 1000, 'does not block');
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
  const c = await withConsul(t);
  const first = await consulCall(c.url, '/v1/catalog/services');
  c.setFault('slow');
  const blocking = await timed(() => consulCall(c.url, `/v1/catalog/services?index=${first.index}&wait=200ms`));
  t.equal(blocking.value.status, 200);
  t.ok(blocking.ms >= 2190, `blocking read: ${blocking.ms}ms`);
  t.ok(blocking.ms < 4000);
  const plain = await timed(() => consulCall(c.url, '/v1/catalog/services'));
  t.ok(plain.ms >= 1990 && plain.ms < 3500, `non-blocking read: ${plain.ms}ms`);
});

t.test('a slow request cut off by stop() never runs', async (t) => {
  const c = await withConsul(t);
  c.setFault('slow');
  const put = consulCall(c.url, '/v1/kv/late', { method: 'PUT', body: 'v' }).catch(() => 'dropped');
  await sleep(100);
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
