// `haproxy -v` parsing on the real outputs of the three supported branches (fixtures captured from
// Debian's 2.6, trixie's 3.0 and sid's 3.2), then on the binaries themselves: the system's and the
// ones scripts/install-haproxy-versions.sh puts in .tools/ (never skipped: a missing one fails with
// how to install it), and the one PAAS_ROUTER_TEST_HAPROXY selects for this run.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { atLeast, logHaproxyVersion, parseHaproxyVersion, readHaproxyVersion, supported, versionNotice } from '../../src/apply/haproxy-version.js';
import { HaproxyVersionError } from '../../src/errors.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { captureLog } from '../vault/helpers.js';

const fixture = (branch: string) => readFile(join(import.meta.dirname, 'fixtures', 'haproxy-v', `${branch}.txt`), 'utf8');

t.test('the real outputs of 2.6, 3.0 and 3.2', async (t) => {
  const expected = {
    '2.6': { major: 2, minor: 6, text: '2.6.12-1+deb12u4' },
    '3.0': { major: 3, minor: 0, text: '3.0.11-1+deb13u4' },
    '3.2': { major: 3, minor: 2, text: '3.2.26-1' },
  };
  for (const [branch, version] of Object.entries(expected)) {
    const parsed = parseHaproxyVersion(await fixture(branch));
    t.same(parsed, version, branch);
    t.ok(supported(parsed), `${branch} is supported`);
    t.same(versionNotice(parsed), { level: 'info', message: `HAProxy ${version.text}` });
  }
});

t.test('other branches and forms', async (t) => {
  const line = (v: string) => `HAProxy version ${v} 2026/10/14 - https://haproxy.org/\nStatus: whatever\n`;
  t.same(parseHaproxyVersion(line('3.3-dev5-7d1e3f2')), { major: 3, minor: 3, text: '3.3-dev5-7d1e3f2' }, 'a development version');
  t.same(
    parseHaproxyVersion('HA-Proxy version 2.0.33-1 2023/08/01 - https://haproxy.org/\n'),
    { major: 2, minor: 0, text: '2.0.33-1' },
    'the spelling before 2.1',
  );
  t.same(parseHaproxyVersion(`[WARNING] something first\n${line('2.8.5')}`).text, '2.8.5', 'the version line need not be the first');
  for (const v of ['2.6.0', '2.8.5', '3.1.9', '3.2.0']) t.ok(supported(parseHaproxyVersion(line(v))), `${v} is inside 2.6-3.2`);
  for (const v of ['2.4.22', '2.5.14', '3.3-dev5', '3.4.0', '4.0.0']) {
    const version = parseHaproxyVersion(line(v));
    t.notOk(supported(version), `${v} is outside 2.6-3.2`);
    t.equal(versionNotice(version).level, 'warn');
    t.match(versionNotice(version).message, new RegExp(`^HAProxy ${v.replace(/\./g, '\\.')} is outside the supported versions 2\\.6 to 3\\.2`));
  }
  t.ok(atLeast(parseHaproxyVersion(line('3.1.0')), '3.1'));
  t.notOk(atLeast(parseHaproxyVersion(line('3.0.11')), '3.1'));
  t.ok(atLeast(parseHaproxyVersion(line('10.0.0')), '3.1'), 'numbers, not strings');
  for (const junk of ['', 'haproxy: command not found', 'HAProxy version x.y']) t.throws(() => parseHaproxyVersion(junk), HaproxyVersionError);
});

const installed = {
  '2.6': 'haproxy',
  '3.0': join(PACKAGE_ROOT, '.tools', 'haproxy-3.0', 'bin', 'haproxy'),
  '3.2': join(PACKAGE_ROOT, '.tools', 'haproxy-3.2', 'bin', 'haproxy'),
};

t.test('the binaries themselves', async (t) => {
  // The system's 2.6 by its absolute path: PATH may point at another branch for this run.
  installed['2.6'] = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p)) ?? 'haproxy';
  for (const [branch, bin] of Object.entries(installed)) {
    if (bin.startsWith(PACKAGE_ROOT) && !existsSync(bin)) {
      t.fail(`${bin} is missing: run scripts/install-haproxy-versions.sh (scripts/setup.sh --test does)`);
      continue;
    }
    const version = await readHaproxyVersion(bin);
    t.equal(`${version.major}.${version.minor}`, branch, `${bin} is ${version.text}`);
  }
  await t.rejects(readHaproxyVersion(join(PACKAGE_ROOT, 'no-such-haproxy')), { code: 'HAPROXY_VERSION_UNKNOWN', message: /cannot run .*no-such-haproxy -v/ });
});

t.test('`haproxy` on PATH is the one PAAS_ROUTER_TEST_HAPROXY selects, and the daemon logs it', async (t) => {
  const selected = process.env.PAAS_ROUTER_TEST_HAPROXY;
  const onPath = await readHaproxyVersion('haproxy');
  if (selected) t.same(onPath, await readHaproxyVersion(selected), `haproxy on PATH is ${selected}`);
  else t.equal(`${onPath.major}.${onPath.minor}`, '2.6', 'unset: the system HAProxy');
  const captured = captureLog('info');
  t.same(await logHaproxyVersion('haproxy', captured.log), onPath);
  const line = JSON.parse(captured.lines[0] ?? '{}') as { level?: number; haproxy?: string; msg?: string };
  t.equal(line.haproxy, onPath.text);
  t.equal(line.msg, `HAProxy ${onPath.text}`);

  const missing = captureLog('info');
  t.equal(await logHaproxyVersion(join(PACKAGE_ROOT, 'no-such-haproxy'), missing.log), undefined, 'never throws');
  t.match(JSON.parse(missing.lines[0] ?? '{}'), { level: 40, msg: 'cannot tell which HAProxy runs', error: /no-such-haproxy/ });
});
