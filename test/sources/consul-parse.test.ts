// The catalog answer as the router reads it: tags sorted, any service name an entry of its own,
// and the comparison the catalog watch uses to tell a changed answer from a repeated one.
import t from 'tap';
import { parseCatalogServices, sameCatalog } from '../../src/sources/consul/parse.js';

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
