// Config keys haproxy.spare_backends and haproxy.spare_settle: defaults, values, and bad values
// refused with a message naming the key.
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { renderSettingsFrom } from '../../src/daemon.js';

t.test('defaults: 16 spares, consolidated after 5 minutes of quiet', async (t) => {
  const c = validateConfig({}, 'test', {});
  t.equal(c.haproxy.spareBackends, 16);
  t.equal(c.haproxy.spareSettleMs, 300_000);
  t.equal(renderSettingsFrom(c).spareBackends, 16, 'rendered into haproxy.cfg');
});

t.test('values from the file; 0 turns the pool off', async (t) => {
  const c = validateConfig({ haproxy: { spare_backends: 0, spare_settle: '30s' } }, 'test', {});
  t.equal(c.haproxy.spareBackends, 0);
  t.equal(c.haproxy.spareSettleMs, 30_000);
  t.equal(validateConfig({ haproxy: { spare_backends: 1000 } }, 'test', {}).haproxy.spareBackends, 1000);
});

t.test('bad values name the key', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ haproxy: { spare_backends: -1 } }, /haproxy\.spare_backends: /],
    [{ haproxy: { spare_backends: 2.5 } }, /haproxy\.spare_backends: /],
    [{ haproxy: { spare_backends: 1001 } }, /haproxy\.spare_backends: /],
    [{ haproxy: { spare_backends: '16' } }, /haproxy\.spare_backends: /],
    [{ haproxy: { spare_settle: 'soon' } }, /haproxy\.spare_settle: must be a duration/],
    [{ haproxy: { spare_settle: '500ms' } }, /haproxy\.spare_settle: must be at least 1s/],
    [{ haproxy: { spare_settle: 300 } }, /haproxy\.spare_settle: /],
    [{ haproxy: { spares: 4 } }, /haproxy\.spares: unknown key/],
  ];
  for (const [raw, message] of bad)
    t.throws(() => validateConfig(raw as Record<string, unknown>, 'test', {}), { name: 'ConfigError', message }, JSON.stringify(raw));
});
