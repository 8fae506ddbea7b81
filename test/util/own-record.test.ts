import t from 'tap';
import { setOwn } from '../../src/util/own-record.js';

t.test('a key named __proto__ is an own entry; the prototype stays', async (t) => {
  const record: Record<string, string[]> = {};
  setOwn(record, '__proto__', ['a']);
  setOwn(record, 'web', ['b']);
  t.equal(Object.getPrototypeOf(record), Object.prototype, 'the prototype is untouched');
  t.same(Object.keys(record), ['__proto__', 'web'], 'both are own entries, in insertion order');
  t.same(Object.getOwnPropertyDescriptor(record, '__proto__')?.value, ['a']);
  t.equal((record as Record<string, unknown>).push, undefined, 'no lookup reaches an array prototype');
  setOwn(record, 'web', ['c']);
  t.same(record.web, ['c'], 'setting again replaces the value');
});

t.test('plain assignment, for comparison, loses the entry (what setOwn prevents)', async (t) => {
  const record: Record<string, string[]> = {};
  const name: string = '__proto__'; // as a service name read from Consul would be
  record[name] = ['a'];
  t.same(Object.keys(record), [], 'no own entry');
  t.ok(Array.isArray(Object.getPrototypeOf(record)), 'the prototype became the value');
});
