// The string pool behind the traffic sampler's names: one copy per value, and only the values of
// the current and the last generation (a sample) are held, so names of apps gone are let go.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StringPool, ownCopy } from '../../src/util/string-pool.js';
import { parseShowStat } from '../../src/traffic/stat.js';

const real = readFileSync(join(import.meta.dirname, '..', 'traffic', 'fixtures', 'show-stat-2.6.csv'), 'utf8');

t.test('equal values give the same copy; a generation not asked for is dropped', async (t) => {
  const pool = new StringPool();
  const text = 'app_wordpress-community,127.0.0.1:31000,UP';
  const a = pool.get(text.slice(0, 23));
  t.equal(a, 'app_wordpress-community');
  t.equal(pool.get(`app_wordpress-${'community'}`), a);
  pool.get('UP');
  t.equal(pool.size, 2);
  pool.rotate();
  pool.get('UP');
  t.equal(pool.size, 2, 'the last generation is still held');
  pool.rotate();
  t.equal(pool.size, 1, 'a value asked for in neither of the last two generations is gone');
  t.equal(ownCopy('x'.repeat(40)), 'x'.repeat(40));
});

t.test('show stat through a pool: the same sample, the names held once per distinct value', async (t) => {
  const pool = new StringPool();
  const sample = parseShowStat(real, pool);
  t.same(sample, parseShowStat(real), 'the pool changes no value');
  const distinct = new Set([
    ...sample.backends.flatMap((b) => [b.backend, b.status]),
    ...sample.servers.flatMap((s) => [s.backend, s.server, s.status, s.check.status, s.check.description]),
  ]);
  t.equal(pool.size, distinct.size);
  // A later sample without the servers: their names leave the pool two generations on.
  const backendsOnly = real
    .split('\n')
    .filter((l) => l.startsWith('#') || l === '' || l.split(',')[1] === 'BACKEND')
    .join('\n');
  pool.rotate();
  parseShowStat(backendsOnly, pool);
  pool.rotate();
  parseShowStat(backendsOnly, pool);
  const left = parseShowStat(backendsOnly);
  t.equal(pool.size, new Set(left.backends.flatMap((b) => [b.backend, b.status])).size);
});
