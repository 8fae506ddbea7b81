// The log stays bounded whatever tenants write: one registration carrying 3 000 bad tags used to
// write one warning line per rejection. A running dev cluster (Consul, real HAProxy, the daemon)
// with its pino output captured: the build after that registration logs one summary line, with
// counts by kind and the first few subjects.
import t from 'tap';
import type { MarathonApp } from '../../dev/marathon.js';
import { createLogger } from '../../src/log.js';
import { buildModel } from '../../src/model/build.js';
import { logSpareClaims, recordApply } from '../../src/runner/record.js';
import { initialState } from '../../src/state.js';
import { settings } from '../model/helpers.js';
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

t.test('a start at 10 000 apps and a burst of 1 000 changes: one line each, with counts and the first names', async (t) => {
  const lines: { msg: string; apps?: { changed: number; first: string[]; total?: number }; first?: unknown[] }[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const name = (i: number) => `app-${String(i).padStart(5, '0')}`;
  const services = Object.fromEntries(
    Array.from({ length: 10_000 }, (_, i) => [
      name(i),
      [
        {
          id: `mesos-consul:a:${name(i)}:10.0.0.1:${i}`,
          node: 'n1',
          address: '10.0.0.1',
          port: 20_000 + (i % 40_000),
          tags: [],
          passing: true,
          checks: [],
          createIndex: 1,
        },
      ],
    ]),
  );
  const start = buildModel({ services, claims: [], settings });
  const state = initialState(Date.now());
  recordApply(state, log, { status: 'reloaded', checksum: 'a' }, undefined, start);
  t.equal(lines.length, 1, 'the start: one line');
  t.match(lines[0], {
    msg: 'configuration applied, HAProxy reloaded',
    apps: { changed: 10_000, total: 10_000, first: [name(0), name(1), name(2), name(3), name(4)] },
  });

  // 1 000 apps get a second instance.
  for (let i = 0; i < 1_000; i++) {
    const list = services[name(i * 7)]!;
    services[name(i * 7)] = [...list, { ...list[0]!, id: `${list[0]!.id}-b`, address: '10.0.0.2' }];
  }
  const burst = buildModel({ services, claims: [], settings });
  recordApply(state, log, { status: 'runtime', checksum: 'b', runtimeOps: 1_000 }, start, burst);
  t.equal(lines.length, 2, 'the burst: one line');
  t.match(lines[1], {
    msg: 'configuration applied through the runtime API, no reload',
    apps: { changed: 1_000, first: [name(0), name(7), name(14), name(21), name(28)] },
  });

  const claims = Array.from({ length: 1_000 }, (_, i) => ({ app: name(i), spare: `spare_${i}`, backend: `app_${name(i)}` }));
  logSpareClaims(log, claims);
  t.equal(lines.length, 3, '1 000 apps on spare backends: one line');
  t.match(lines[2]!.msg, /^1000 apps are served from spare backends .*: app-00000 \(spare_0\), .* and 995 more$/);
  logSpareClaims(log, claims.slice(0, 2));
  t.equal(lines.length, 5, 'a few: a line each');
});
