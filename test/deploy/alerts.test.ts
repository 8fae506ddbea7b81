// deploy/prometheus/alerts.yml: valid for Prometheus (`promtool check rules`), every alert covered
// by the unit tests in alerts.test.yml (`promtool test rules`, Debian's prometheus package), and
// promtool really fails a broken copy (so these checks can fail).
import t from 'tap';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { PACKAGE_ROOT } from '../../src/paths.js';

const run = promisify(execFile);
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const DIR = join(PACKAGE_ROOT, 'deploy', 'prometheus');

async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(PROMTOOL, args, { cwd: DIR });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

t.test('promtool check rules', async (t) => {
  const r = await promtool('check', 'rules', 'alerts.yml');
  t.equal(r.code, 0, r.out);
  t.match(r.out, /SUCCESS: 9 rules found/);
});

t.test('promtool test rules: every alert has a unit test, and they pass', async (t) => {
  const rules = (parse(await readFile(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
  const alerts = rules.map((r) => r.alert).filter(Boolean);
  t.same(alerts.sort(), [
    'PaasRouterApp5xxRatio',
    'PaasRouterCertificateExpiring',
    'PaasRouterChangeHeld',
    'PaasRouterConfigRefused',
    'PaasRouterDown',
    'PaasRouterReloadFailures',
    'PaasRouterSourceDown',
    'PaasRouterSourceStale',
    'PaasRouterUnhealthy',
  ]);
  for (const r of rules) t.ok(r.labels?.severity && r.annotations?.summary && r.annotations?.description, `${r.alert}: severity, summary and description`);
  const tests = parse(await readFile(join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const firing = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  const silent = new Set(tests.tests.flatMap((x) => x.alert_rule_test.filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
  for (const a of alerts) t.ok(firing.has(a!), `${a} is tested firing`);
  for (const a of alerts) if (a !== 'PaasRouterCertificateExpiring') t.ok(silent.has(a!), `${a} is tested silent`);
  const r = await promtool('test', 'rules', 'alerts.test.yml');
  t.equal(r.code, 0, r.out);
  t.match(r.out, /SUCCESS/);
});

t.test('promtool fails a broken rule file and a wrong expectation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-alerts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(DIR, dir, { recursive: true });
  const rules = await readFile(join(dir, 'alerts.yml'), 'utf8');
  await writeFile(join(dir, 'alerts.yml'), rules.replace('expr: paas_router_change_held == 1', 'expr: paas_router_change_held == = 1'));
  const broken = await run(PROMTOOL, ['check', 'rules', join(dir, 'alerts.yml')]).then(
    () => 0,
    (e: { code: number }) => e.code,
  );
  t.not(broken, 0, 'a syntax error is refused');
  await writeFile(join(dir, 'alerts.yml'), rules.replace('< 14 * 86400', '< 7 * 86400'));
  const wrong = await run(PROMTOOL, ['test', 'rules', join(dir, 'alerts.test.yml')]).then(
    () => 0,
    (e: { code: number }) => e.code,
  );
  t.not(wrong, 0, 'a 7-day threshold fails the 10-day certificate test');
});
