// Config keys traffic.{interval,window} and metrics.per_app: defaults, values, and bad values
// refused with a message naming the key.
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';

t.test('defaults: a sample every 5 s over 15 min, no per-app series', async (t) => {
  const c = validateConfig({}, 'test', {});
  t.same(c.traffic, { intervalMs: 5_000, windowMs: 900_000 });
  t.same(c.metrics, { perApp: false });
});

t.test('values from the file', async (t) => {
  const c = validateConfig({ traffic: { interval: '10s', window: '1h' }, metrics: { per_app: true } }, 'test', {});
  t.same(c.traffic, { intervalMs: 10_000, windowMs: 3_600_000 });
  t.same(c.metrics, { perApp: true });
});

t.test('bad values name the key', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ traffic: { interval: 'often' } }, /traffic\.interval: must be a duration/],
    [{ traffic: { interval: '100ms' } }, /traffic\.interval must be at least 1s/],
    [{ traffic: { interval: '10s', window: '5s' } }, /traffic\.window must not be shorter than traffic\.interval/],
    [{ traffic: { interval: '1s', window: '24h' } }, /at most 1440 samples \(got 86400\)/],
    [{ traffic: { rate: '1s' } }, /traffic\.rate: unknown key/],
    [{ metrics: { per_app: 'yes' } }, /metrics\.per_app: /],
    [{ metrics: { perApp: true } }, /metrics\.perApp: unknown key/],
  ];
  for (const [raw, message] of bad)
    t.throws(() => validateConfig(raw as Record<string, unknown>, 'test', {}), { name: 'ConfigError', message }, JSON.stringify(raw));
});
