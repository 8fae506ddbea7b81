// The start-up check of net.ipv4.tcp_migrate_req: which HAProxy needs it, and what each value of the
// sysctl file (or its absence) says. The sysctl is read through an injected reader, so the values a
// host can have are all tried here; the machine's own value is checked in test/faults/haproxy.test.ts.
import t from 'tap';
import { MIGRATE_REQ_SYSCTL, reloadResetWarning } from '../../src/apply/host-settings.js';
import { parseHaproxyVersion } from '../../src/apply/haproxy-version.js';
import { evaluateHealth } from '../../src/server/status.js';
import { initialState } from '../../src/state.js';

const v = (text: string) => parseHaproxyVersion(`HAProxy version ${text} 2026/10/14 - https://haproxy.org/`);
const reads = (value: string) => async (path: string) => {
  if (path !== MIGRATE_REQ_SYSCTL) throw new Error(`unexpected read of ${path}`);
  return value;
};
const missing = async () => {
  throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
};

t.test('HAProxy 3.1 and later with tcp_migrate_req 0: a warning naming the sysctl and the fix', async (t) => {
  for (const text of ['3.1.0', '3.2.26-1', '3.4.0']) {
    const warning = await reloadResetWarning(v(text), reads('0\n'));
    t.match(warning, /net\.ipv4\.tcp_migrate_req is 0/, text);
    t.match(warning, /set it to 1/, text);
    t.match(warning, new RegExp(`HAProxy ${text.replace(/\./g, '\\.')}`), text);
  }
});

t.test('tcp_migrate_req 1 (or any value not 0): no warning', async (t) => {
  t.equal(await reloadResetWarning(v('3.2.26-1'), reads('1\n')), undefined);
  t.equal(await reloadResetWarning(v('3.2.26-1'), reads('2')), undefined);
});

t.test('a kernel without the sysctl: a warning that says so', async (t) => {
  t.match(await reloadResetWarning(v('3.2.26-1'), missing), /this kernel has no net\.ipv4\.tcp_migrate_req \(Linux 5\.14\+\)/);
});

t.test('2.6 and 3.0 (no resets measured there) and an unknown version: no read, no warning', async (t) => {
  const never = async () => {
    throw new Error('must not be read');
  };
  t.equal(await reloadResetWarning(v('2.6.12-1+deb12u4'), never), undefined);
  t.equal(await reloadResetWarning(v('3.0.11-1+deb13u4'), never), undefined);
  t.equal(await reloadResetWarning(undefined, never), undefined);
});

t.test('the warning is in /status and /healthz warnings, and keeps health ok', async (t) => {
  const state = initialState(0);
  const warning = (await reloadResetWarning(v('3.2.26-1'), reads('0')))!;
  state.hostWarnings = [warning];
  const health = evaluateHealth(state, 1_000);
  t.ok(health.warnings.includes(warning));
  t.notOk(
    health.reasons.some((r) => r.includes('tcp_migrate_req')),
    'not a reason: HAProxy serves',
  );
});
