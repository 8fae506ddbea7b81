// The catalog answer as the router reads it: tags sorted, any service name an entry of its own,
// and the comparison the catalog watch uses to tell a changed answer from a repeated one.
import t from 'tap';
import { parseCatalogServices, parseKvEntries, sameCatalog } from '../../src/sources/consul/parse.js';

t.test('a service named like an object property is an entry like any other', async (t) => {
  const parsed = parseCatalogServices(JSON.parse('{"__proto__":["router.x"],"constructor":[],"web":["b","a"]}'));
  t.strictSame(Object.keys(parsed), ['__proto__', 'constructor', 'web']);
  t.strictSame(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value, ['router.x'], '__proto__ is an own entry, not a prototype');
  t.strictSame(parsed.web, ['a', 'b'], 'tags sorted: Consul gathers them in a random order');
  t.equal(Object.hasOwn(parsed, 'toString'), false);
  t.equal(parsed.toString, undefined, 'nothing inherited answers a lookup');
});

t.test('a body that is not a catalog is refused with what is wrong', async (t) => {
  t.throws(() => parseCatalogServices([]), /expected a JSON object/);
  t.throws(() => parseCatalogServices({ web: 'a' }), /tags of service "web" are not a list of strings/);
});

t.test('sameCatalog: equal only with the same services and the same tags', async (t) => {
  const a = parseCatalogServices({ web: ['b', 'a'], db: [] });
  t.equal(sameCatalog(a, parseCatalogServices({ db: [], web: ['a', 'b'] })), true, 'order of services and tags aside');
  t.equal(sameCatalog(a, parseCatalogServices({ web: ['a', 'b'] })), false, 'a service gone');
  t.equal(sameCatalog(a, parseCatalogServices({ web: ['a', 'b'], db: [], api: [] })), false, 'a service more');
  t.equal(sameCatalog(a, parseCatalogServices({ web: ['a', 'b'], api: [] })), false, 'as many services, another name');
  t.equal(sameCatalog(a, parseCatalogServices({ web: ['a', 'c'], db: [] })), false, 'a tag changed');
  t.equal(sameCatalog(a, parseCatalogServices({ web: ['a'], db: [] })), false, 'a tag gone');
  t.equal(sameCatalog(parseCatalogServices({ __proto__x: [] }), parseCatalogServices(JSON.parse('{"__proto__":[]}'))), false);
  t.equal(sameCatalog(parseCatalogServices(JSON.parse('{"__proto__":["a"]}')), parseCatalogServices(JSON.parse('{"__proto__":["a"]}'))), true);
});

t.test('parsed against the last answer: what did not change keeps its object, an answer that changes nothing is the last one', async (t) => {
  const last = parseCatalogServices({ web: ['b', 'a'], db: ['x'], api: [] });
  t.equal(parseCatalogServices({ api: [], db: ['x'], web: ['a', 'b'] }, last), last, 'services and tags in another order: the same object');
  const added = parseCatalogServices({ web: ['a', 'b'], db: ['x'], api: [], cache: ['c', 'a'] }, last);
  t.not(added, last, 'a service more: a new catalog');
  t.same(added, { web: ['a', 'b'], db: ['x'], api: [], cache: ['a', 'c'] });
  t.equal(added.web, last.web, 'an unchanged service keeps its array');
  const retagged = parseCatalogServices({ web: ['a', 'c'], db: ['x'], api: [] }, last);
  t.strictSame(retagged.web, ['a', 'c'], 'changed tags: sorted anew');
  t.equal(retagged.db, last.db);
  t.equal(sameCatalog(last, retagged), false);
  t.not(parseCatalogServices({ web: ['a', 'b'], db: ['x'] }, last), last, 'a service gone: a new catalog');
  t.same(parseCatalogServices({ web: ['a', 'b'], db: ['x'] }, last), { web: ['a', 'b'], db: ['x'] });
  t.same(parseCatalogServices({ web: ['a', 'b'], db: ['x'], other: [] }, last), { web: ['a', 'b'], db: ['x'], other: [] }, 'as many services, another name');
  t.strictSame(parseCatalogServices({ web: ['a', 'a'], db: ['x'], api: [] }, last).web, ['a', 'a'], 'as many tags, not the same ones');
  t.throws(() => parseCatalogServices({ web: ['a', 'b'], db: 'x', api: [] }, last), /tags of service "db" are not a list of strings/, 'still checked');
  const proto = parseCatalogServices(JSON.parse('{"__proto__":["a"]}'));
  t.equal(parseCatalogServices(JSON.parse('{"__proto__":["a"]}'), proto), proto, 'a service named __proto__ too');
  t.not(parseCatalogServices(JSON.parse('{"constructor":["a"]}'), proto), proto);
});

t.test('K/V entries: values decoded from base64; an entry at the same indexes keeps its object, any write reads it again', async (t) => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const body = (value: string, modifyIndex: number) => [
    { Key: 'paas-router/claims/names/web', Value: b64('{"owner":"web"}'), CreateIndex: 5, ModifyIndex: 5 },
    { Key: 'paas-router/claims/names/api', Value: b64(value), CreateIndex: 6, ModifyIndex: modifyIndex },
    { Key: 'paas-router/claims/names/', Value: null, CreateIndex: 7, ModifyIndex: 7 },
  ];
  const first = parseKvEntries('paas-router/claims/', body('{"owner":"api"}', 6));
  t.strictSame(
    first.map((e) => e.value),
    ['{"owner":"web"}', '{"owner":"api"}', ''],
  );
  const previous = new Map(first.map((e) => [e.key, e]));
  const again = parseKvEntries('paas-router/claims/', body('{"owner":"api"}', 6), previous);
  t.ok(
    again.every((e, i) => e === first[i]),
    'the same answer: the same objects',
  );
  const written = parseKvEntries('paas-router/claims/', body('{"owner":"api","idle_since":1}', 9), previous);
  t.equal(written[0], first[0], 'the key nobody wrote keeps its object');
  t.not(written[1], first[1]);
  t.equal(written[1]!.value, '{"owner":"api","idle_since":1}', 'the written key is read again');
  const recreated = parseKvEntries('paas-router/claims/', [{ ...body('x', 6)[0]!, CreateIndex: 8, ModifyIndex: 5 }], previous);
  t.not(recreated[0], first[0], 'another CreateIndex is another key (deleted and created again)');
  const noIndexes = parseKvEntries(
    'p/',
    [{ Key: 'p/a', Value: b64('one') }],
    new Map([['p/a', { key: 'p/a', value: 'stale', createIndex: 0, modifyIndex: 0 }]]),
  );
  t.equal(noIndexes[0]!.value, 'one', 'without indexes nothing is kept');
});
