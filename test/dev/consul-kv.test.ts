// The dev Consul's KV endpoint: entry shape, base64, raw, 404 with index, recurse index,
// ?keys with separator, check-and-set on PUT and DELETE.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import type { KVEntry as Entry } from '../../dev/consul/kv.js';
import type { DevConsul } from '../../dev/consul/server.js';
import { fixture, withConsul } from './support.js';

const put = (c: DevConsul, key: string, body: string | Buffer, query = '') => consulCall(c.url, `/v1/kv/${key}${query}`, { method: 'PUT', body });
const del = (c: DevConsul, key: string, query = '') => consulCall(c.url, `/v1/kv/${key}${query}`, { method: 'DELETE' });
const get = (c: DevConsul, path: string) => consulCall(c.url, `/v1/kv/${path}`);

t.test('a single key answers an array of one entry shaped like the documented sample', async (t) => {
  const c = await withConsul(t);
  const written = await put(c, 'zip', 'test');
  t.equal(written.status, 200);
  t.equal(written.text, 'true');
  const answer = await get(c, 'zip');
  const [entry] = answer.json<Entry[]>();
  const [sample] = fixture<(Entry & { Session?: string })[]>('kv-recurse.json');
  const { Session: _lockOnly, ...sampleWithoutLock } = sample as Entry & { Session?: string };
  t.strictSame(Object.keys(entry ?? {}), Object.keys(sampleWithoutLock), 'same fields in the same order (Session only while locked)');
  t.equal(entry?.Value, sample?.Value, 'base64 of "test"');
  t.equal(entry?.Key, 'zip');
  t.equal(entry?.LockIndex, 0);
  t.equal(entry?.Flags, 0);
  t.equal(entry?.CreateIndex, answer.index);
  t.equal(entry?.ModifyIndex, answer.index);
});

t.test('values are base64 in JSON and bytes with ?raw; an empty value is null', async (t) => {
  const c = await withConsul(t);
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await put(c, 'bin', bytes);
  t.equal((await get(c, 'bin')).json<Entry[]>()[0]?.Value, bytes.toString('base64'));
  const res = await fetch(`${c.url}/v1/kv/bin?raw`);
  t.equal(res.headers.get('content-type'), 'text/plain');
  t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  t.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'raw bytes round-trip');
  await put(c, 'empty', '');
  t.equal((await get(c, 'empty')).json<Entry[]>()[0]?.Value, null);
  t.equal((await get(c, 'empty?raw')).text, '');
});

t.test('?flags is stored; a bad number is refused', async (t) => {
  const c = await withConsul(t);
  await put(c, 'f', 'v', '?flags=42');
  t.equal((await get(c, 'f')).json<Entry[]>()[0]?.Flags, 42);
  t.equal((await put(c, 'f', 'v', '?flags=x')).status, 500);
});

t.test('missing keys and prefixes answer 404 with an empty body and an index', async (t) => {
  const c = await withConsul(t);
  await put(c, 'other/key', 'x');
  for (const path of ['nope', 'nope?raw', 'nope/?recurse', 'nope/?keys']) {
    const answer = await get(c, path);
    t.equal(answer.status, 404, path);
    t.equal(answer.text, '', path);
    t.ok((answer.index ?? 0) >= 1, `${path} has X-Consul-Index ${answer.index}`);
    t.equal(answer.headers.get('x-consul-knownleader'), 'true');
  }
  const root = await consulCall((await withConsul(t)).url, '/v1/kv/?keys');
  t.equal(root.status, 200, 'the root of an empty store lists as []');
  t.strictSame(root.json(), []);
  t.equal((await get(c, '')).status, 400);
  t.equal((await get(c, '')).text, 'Missing key name');
  t.equal((await put(c, '', 'x')).text, 'Missing key name');
});

t.test('?recurse lists the prefix in key order with the highest ModifyIndex under it', async (t) => {
  const c = await withConsul(t);
  await put(c, 'app/b', '2');
  await put(c, 'app/a', '1');
  await put(c, 'app/c/d', '3');
  await put(c, 'apple', 'not under app/');
  const answer = await get(c, 'app/?recurse');
  const entries = answer.json<Entry[]>();
  t.strictSame(
    entries.map((e) => e.Key),
    ['app/a', 'app/b', 'app/c/d'],
  );
  t.equal(answer.index, Math.max(...entries.map((e) => e.ModifyIndex)));
  t.ok((answer.index ?? 0) < c.index, 'a later write elsewhere does not count');
});

t.test('the documented ?keys&separator sample', async (t) => {
  const c = await withConsul(t);
  for (const key of ['/web/bar', '/web/foo', '/web/subdir/a', '/web/subdir/b/c']) await put(c, key, 'x');
  const answer = await get(c, '/web/?keys&separator=/');
  t.equal(answer.status, 200);
  t.strictSame(answer.json(), fixture('kv-keys.json'));
  t.strictSame((await get(c, '/web/?keys')).json(), ['/web/bar', '/web/foo', '/web/subdir/a', '/web/subdir/b/c'], 'no separator: every key');
  t.strictSame((await get(c, '/web/?keys&seperator=/')).json(), fixture('kv-keys.json'), "Consul's old spelling works too");
});

t.test('PUT ?cas: 0 only creates, N only replaces ModifyIndex N', async (t) => {
  const c = await withConsul(t);
  t.equal((await put(c, 'lock', 'first', '?cas=0')).text, 'true');
  t.equal((await put(c, 'lock', 'second', '?cas=0')).text, 'false');
  const [entry] = (await get(c, 'lock')).json<Entry[]>();
  t.equal(Buffer.from(entry?.Value ?? '', 'base64').toString(), 'first');
  t.equal((await put(c, 'lock', 'stale', `?cas=${(entry?.ModifyIndex ?? 0) + 100}`)).text, 'false');
  t.equal((await put(c, 'lock', 'third', `?cas=${entry?.ModifyIndex}`)).text, 'true');
  t.equal((await put(c, 'lock', 'again', `?cas=${entry?.ModifyIndex}`)).text, 'false', 'the old index no longer matches');
  const [after] = (await get(c, 'lock')).json<Entry[]>();
  t.equal(Buffer.from(after?.Value ?? '', 'base64').toString(), 'third');
  t.equal(after?.CreateIndex, entry?.CreateIndex);
  t.ok((after?.ModifyIndex ?? 0) > (entry?.ModifyIndex ?? 0));
  t.equal((await put(c, 'absent', 'x', '?cas=5')).text, 'false', 'cas=N on a missing key fails');
  t.equal((await put(c, 'lock', 'x', '?cas=1&acquire=abc')).status, 400, 'cas with acquire conflicts');
});

t.test('writing the same value again keeps ModifyIndex', async (t) => {
  const c = await withConsul(t);
  await put(c, 'same', 'v');
  const first = await get(c, 'same');
  await put(c, 'same', 'v');
  const second = await get(c, 'same');
  t.equal(second.index, first.index);
  await put(c, 'same', 'w');
  t.ok(((await get(c, 'same')).index ?? 0) > (first.index ?? 0));
});

t.test('DELETE: plain, ?cas and ?recurse', async (t) => {
  const c = await withConsul(t);
  await put(c, 'd/a', '1');
  await put(c, 'd/b', '2');
  await put(c, 'keep', '3');
  const [a] = (await get(c, 'd/a')).json<Entry[]>();
  t.equal((await del(c, 'd/a', '?cas=0')).text, 'false', 'cas=0 never deletes an existing key');
  t.equal((await del(c, 'd/a', `?cas=${(a?.ModifyIndex ?? 0) + 1}`)).text, 'false');
  t.equal((await get(c, 'd/a')).status, 200);
  t.equal((await del(c, 'd/a', `?cas=${a?.ModifyIndex}`)).text, 'true');
  t.equal((await get(c, 'd/a')).status, 404);
  t.equal((await del(c, 'd/a', '?cas=7')).text, 'true', 'cas on a key already gone answers true');
  t.equal((await del(c, 'never')).text, 'true');
  t.equal((await del(c, 'd/', '?recurse&cas=1')).status, 400, 'recurse and cas conflict');
  t.equal((await del(c, 'd/', '?recurse')).text, 'true');
  t.equal((await get(c, 'd/?recurse')).status, 404);
  t.equal((await get(c, 'keep')).status, 200, 'keys outside the prefix stay');
  t.equal((await del(c, '')).text, 'Missing key name');
});

t.test('values above 512 KB are refused with 413', async (t) => {
  const c = await withConsul(t);
  const answer = await put(c, 'big', Buffer.alloc(512 * 1024 + 1));
  t.equal(answer.status, 413);
  t.match(answer.text, /too large, max size: 524288 bytes/);
  t.equal((await put(c, 'ok', Buffer.alloc(512 * 1024))).status, 200);
});
