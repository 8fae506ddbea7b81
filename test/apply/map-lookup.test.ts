// `get map` answers, as HAProxy 2.6, 3.0 and 3.2 print them (copied from the real binaries), and
// what the runtime verification concludes from them for one key.
import t from 'tap';
import { keyDiffers, parseGetMap } from '../../src/apply/runtime/map-lookup.js';

const found = 'type=str, case=sensitive, found=yes, idx=tree, key="a.example.org", value="app_a", type="str"\n';
const notFound = 'type=str, case=sensitive, found=no\n';
// A map used by `map()` and by `map_dom()`: one line per expression; the domain lookup of a
// removed subdomain meets its parent.
const strAndDom = [
  'type=str, case=sensitive, found=no',
  'type=dom, case=sensitive, found=yes, idx=list, key="a.example.org", value="app_a", type="str"',
  '',
].join('\n');

t.test("parseGetMap reads each expression's lookup", async (t) => {
  t.same(parseGetMap(found), [{ match: 'str', caseSensitive: true, met: { key: 'a.example.org', value: 'app_a' } }]);
  t.same(parseGetMap(notFound), [{ match: 'str', caseSensitive: true, met: null }]);
  t.same(parseGetMap(strAndDom), [
    { match: 'str', caseSensitive: true, met: null },
    { match: 'dom', caseSensitive: true, met: { key: 'a.example.org', value: 'app_a' } },
  ]);
  t.same(parseGetMap('type=str, case=insensitive, found=no'), [{ match: 'str', caseSensitive: false, met: null }]);
  t.same(parseGetMap('type=str, case=sensitive, found=yes, idx=tree, key="app_a", value="bWFp bnQ=", type="str"')?.[0]?.met, {
    key: 'app_a',
    value: 'bWFp bnQ=',
  });
  t.same(parseGetMap(''), [], 'no expression uses the map');
});

t.test('parseGetMap refuses what is not a lookup', async (t) => {
  t.equal(parseGetMap('Unknown map identifier. Please use #<id> or <file>.\n'), undefined);
  t.equal(parseGetMap('Missing map identifier and/or key.\n'), undefined);
  t.equal(parseGetMap('type=str, case=sensitive, found=yes'), undefined, 'found without an entry');
  t.equal(parseGetMap('type=str, case=sensitive, found=no, idx=tree, key="a", value="b", type="str"'), undefined, 'not found with an entry');
  t.equal(parseGetMap(`${found}garbage\n`), undefined, 'one bad line spoils the answer');
});

t.test('keyDiffers: an exact string map answers for the key itself', async (t) => {
  const exact = (answer: string) => parseGetMap(answer)!;
  t.equal(keyDiffers('a.example.org', 'app_a', exact(found)), undefined, 'present with the value the file has');
  t.equal(keyDiffers('a.example.org', undefined, exact(notFound)), undefined, 'absent, as in the file');
  t.equal(keyDiffers('a.example.org', 'app_b', exact(found)), 'HAProxy has a.example.org app_a, the file says app_b');
  t.equal(keyDiffers('a.example.org', 'app_a', exact(notFound)), 'HAProxy has no entry, the file says app_a');
  t.equal(keyDiffers('a.example.org', undefined, exact(found)), 'HAProxy has app_a, the file has no entry', 'a stale entry is caught');
  // Two expressions with the exact match method must both agree.
  t.equal(keyDiffers('a.example.org', 'app_a', exact(found + found)), undefined);
});

t.test('keyDiffers: other match methods cannot answer for one key', async (t) => {
  // The removed sub.a.example.org would pass as "absent" under map() while map_dom() still routes it.
  t.equal(keyDiffers('sub.a.example.org', undefined, parseGetMap(strAndDom)!), 'inexact');
  t.equal(keyDiffers('app_abc', undefined, parseGetMap('type=beg, case=sensitive, found=yes, idx=tree, key="app_a", value="x", type="str"')!), 'inexact');
  t.equal(keyDiffers('A.example.org', undefined, parseGetMap('type=str, case=insensitive, found=no')!), 'inexact', 'case-insensitive');
  t.equal(keyDiffers('a.example.org', 'app_a', []), 'inexact', 'no expression to ask');
});
