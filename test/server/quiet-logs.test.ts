// The log stays bounded whatever tenants write: one registration carrying 3 000 bad tags used to
// write one warning line per rejection. A running dev cluster (Consul, real HAProxy, the daemon)
// with its pino output captured: the build after that registration logs one summary line, with
// counts by kind and the first few subjects.
import t from 'tap';
import type { MarathonApp } from '../../dev/marathon.js';
import { createLogger } from '../../src/log.js';
import { rejectionDelta, rejectionLogLine, REJECTIONS_NAMED } from '../../src/runner/rejection-log.js';
import type { Rejection } from '../../src/model/types.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

const BAD_TAGS = 3_000;

t.test('one summary line per build, not one per rejection', async (t) => {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const cluster = await startTestCluster(t, { apps: [{ id: '/quiet', instances: 1, tags: [], mode: 'http' }], log });
  const base = cluster.daemon.server.url;
  await eventually('healthy', async () => (await fetch(`${base}/healthz`)).status === 200, 20_000);
  await cluster.daemon.runner.settled();

  const noisy: MarathonApp = { id: '/noisy', instances: 1, mode: 'http', tags: Array.from({ length: BAD_TAGS }, (_, i) => `router.no-such-key-${i}=x`) };
  const since = lines.length;
  await cluster.addTask(noisy);
  const { state } = cluster.daemon.runner;
  await eventually('the rejections are built', () => (state.builtModel?.rejections.filter((r) => r.service === 'noisy').length ?? 0) >= BAD_TAGS, 30_000);
  await cluster.daemon.runner.settled();

  const after = lines.slice(since);
  const about = after.filter((l) => /reject/i.test(l.msg));
  t.equal(about.length, 1, `one line about rejections (${about.length}, the first: ${JSON.stringify(about.slice(0, 2).map((l) => l.msg))})`);
  const line = about[0]!;
  t.equal(line.level, 40, 'a warning');
  t.match(line.msg, new RegExp(`^${BAD_TAGS} new rejected inputs \\(tag ${BAD_TAGS}\\): noisy "router\\.no-such-key-`));
  t.match(line.msg, /and 2995 more; every one is listed in \/status$/);
  t.same(line.byKind, { tag: BAD_TAGS });
  t.equal((line.first as unknown[]).length, REJECTIONS_NAMED);
  t.ok(after.length < 20, `${after.length} log lines in all for that registration`);
  t.ok(JSON.stringify(after).length < 20_000, 'and short ones');

  // /status carries every one of them, paged.
  const doc = (await (await fetch(`${base}/status?app=noisy`)).json()) as { rejections: unknown[] };
  t.equal(doc.rejections.length, BAD_TAGS);
});

t.test('the summary line: one rejection, many, none gone', async (t) => {
  const r = (service: string, subject: string, kind: Rejection['kind'] = 'tag'): Rejection => ({ kind, service, subject, reason: `bad ${subject}` });
  const before = [r('a', 'x')];
  t.equal(rejectionLogLine(rejectionDelta(before, before)), undefined, 'nothing changed: no line');
  t.match(rejectionLogLine(rejectionDelta([], [r('a', 'x')])), { level: 'warn', message: 'rejected tag input for a: bad x' });
  const many = [r('a', 'x'), r('b', 'y', 'domain'), r('c', 'z'), r('d', 'w', 'conflict')];
  t.match(rejectionLogLine(rejectionDelta(before, many)), {
    level: 'warn',
    message: '3 new rejected inputs (conflict 1, domain 1, tag 1): b "y", c "z", d "w"; every one is listed in /status',
    fields: { added: 3, removed: 0, total: 4 },
  });
  t.match(rejectionLogLine(rejectionDelta(many, before)), { level: 'info', message: '3 rejected input(s) no longer rejected; 1 remain' });
});
