// consul.max_connections and consul.consistency: defaults, accepted values, and clear errors.
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';

t.test('defaults: 32 connections over http, 64 over https (HTTP/2 connections), default consistency', async (t) => {
  const c = validateConfig({}, 'test', {});
  t.equal(c.consul.maxConnections, 32);
  t.equal(c.consul.consistency, 'default');
  t.equal(validateConfig({ consul: { address: 'https://127.0.0.1:8501' } }, 'test', {}).consul.maxConnections, 64);
  t.equal(validateConfig({ consul: { address: 'https://127.0.0.1:8501', max_connections: 24 } }, 'test', {}).consul.maxConnections, 24);
});

t.test('accepted values', async (t) => {
  for (const consistency of ['default', 'stale', 'consistent'] as const) {
    t.equal(validateConfig({ consul: { consistency } }, 'test', {}).consul.consistency, consistency);
  }
  t.equal(validateConfig({ consul: { max_connections: 16 } }, 'test', {}).consul.maxConnections, 16);
  t.equal(validateConfig({ consul: { max_connections: 64 } }, 'test', {}).consul.maxConnections, 64);
});

t.test('bad values name the key and what is allowed', async (t) => {
  const bad = (consul: Record<string, unknown>) => () => validateConfig({ consul }, 'test', {});
  t.throws(bad({ max_connections: 12 }), { code: 'CONFIG_INVALID', message: /consul\.max_connections.*at least 16/ });
  t.throws(bad({ max_connections: 2.5 }), { code: 'CONFIG_INVALID', message: /consul\.max_connections/ });
  t.throws(bad({ max_connections: '16' }), { code: 'CONFIG_INVALID', message: /consul\.max_connections/ });
  t.throws(bad({ consistency: 'eventual' }), { code: 'CONFIG_INVALID', message: /consul\.consistency/ });
});
