// The traffic ring: rates from counter deltas (a reload's reset counts from zero), bounded
// history, backends dropped when HAProxy no longer has them, `since` windows; and properties
// over random sample sequences.
import t from 'tap';
import fc from 'fast-check';
import { TrafficRing } from '../../src/traffic/ring.js';
import { ShowStatParser, type BackendStat, type ServerStat, type StatSample } from '../../src/traffic/stat.js';

const backend = (name: string, requests: number, e5xx = 0, extra: Partial<BackendStat> = {}): BackendStat => ({
  backend: name,
  requests,
  responses: { '2xx': requests - e5xx, '3xx': 0, '4xx': 0, '5xx': e5xx },
  responseMs: 10,
  sessions: 1,
  status: 'UP',
  cache: { lookups: 0, hits: 0 },
  ...extra,
});
const sample = (...backends: BackendStat[]): StatSample => ({ backends, servers: [] });

t.test('rates are counter deltas per second; the first sample has none', async (t) => {
  const ring = new TrafficRing(10);
  ring.record(1_000, sample(backend('app_a', 100, 0)));
  t.same(ring.traffic('app_a'), {
    requests: 100,
    rate: null,
    responses: { '2xx': 100, '3xx': 0, '4xx': 0, '5xx': 0 },
    responseMs: 10,
    sessions: 1,
    cache: { lookups: 0, hits: 0, misses: 0 },
  });

  ring.record(6_000, sample(backend('app_a', 150, 5)));
  t.equal(ring.traffic('app_a')!.rate, 10, '50 requests in 5 s');
  ring.record(11_000, sample(backend('app_a', 150, 5)));
  t.equal(ring.traffic('app_a')!.rate, 0);
  t.same(ring.series('app_a'), { at: [1_000, 6_000, 11_000], rate: [null, 10, 0], errors: [null, 1, 0], responseMs: [10, 10, 10] });
});

t.test("router.cache: the cache's lookups, hits and misses (lookups - hits)", async (t) => {
  const ring = new TrafficRing(10);
  ring.record(1_000, sample(backend('app_b', 20, 0, { cache: { lookups: 12, hits: 5 } })));
  t.same(ring.traffic('app_b')!.cache, { lookups: 12, hits: 5, misses: 7 });
});

t.test('a counter that goes down was reset by a reload: counted from zero', async (t) => {
  const ring = new TrafficRing(10);
  ring.record(0, sample(backend('app_a', 1000, 10)));
  ring.record(5_000, sample(backend('app_a', 20, 5)));
  t.equal(ring.traffic('app_a')!.rate, 4);
  t.same(ring.series('app_a')!.errors, [null, 1]);
});

t.test('bounded: the oldest sample goes; backends gone from HAProxy are dropped', async (t) => {
  const ring = new TrafficRing(3);
  for (let i = 0; i < 5; i++) ring.record(i * 1000, sample(backend('app_a', i * 10), ...(i < 3 ? [backend('app_b', i)] : [])));
  t.same(ring.times(), [2000, 3000, 4000]);
  t.same(ring.series('app_a')!.rate, [10, 10, 10]);
  t.equal(ring.series('app_b'), undefined, 'app_b left HAProxy');
  t.equal(ring.size, 1);
  ring.record(5000, sample(backend('app_a', 50), backend('app_b', 7)));
  t.same(
    ring.series('app_b'),
    { at: [3000, 4000, 5000], rate: [null, null, null], errors: [null, null, null], responseMs: [null, null, 10] },
    'a new backend has no history',
  );
});

t.test('since: only the samples after it', async (t) => {
  const ring = new TrafficRing(5);
  for (let i = 1; i <= 4; i++) ring.record(i * 1000, sample(backend('app_a', i * 5)));
  t.same(ring.times(2000), [3000, 4000]);
  t.same(ring.series('app_a', 2000)!.rate, [5, 5]);
  t.same(ring.times(4000), []);
  t.equal(ring.lastAt, 4000);
});

t.test('servers: the latest sample per backend', async (t) => {
  const ring = new TrafficRing(2);
  const check = { status: 'L7OK', code: 200, description: 'Layer7 check passed' };
  ring.record(0, { backends: [backend('app_a', 3)], servers: [{ backend: 'app_a', server: '10.0.0.1:80', requests: 3, status: 'UP', check }] });
  t.same(ring.servers('app_a'), [{ name: '10.0.0.1:80', requests: 3, state: 'UP', check }]);
  t.same(ring.servers('app_x'), []);
});

t.test("a check under way (HAProxy's \"* \"): the server keeps its last result's code, not the new check's 0", async (t) => {
  const ring = new TrafficRing(4);
  const showStat = (at: number, check: string, code: string) => {
    const parser = new ShowStatParser(ring);
    parser.push(
      '# pxname,svname,type,status,scur,stot,req_tot,rtime,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,check_status,check_code,check_desc,\n' +
        'app_a,BACKEND,1,UP,0,3,3,1,3,0,0,0,,,,\n' +
        `app_a,10.0.0.1:80,2,UP,0,3,3,1,3,0,0,0,${check},${code},Layer7 check passed,\n\n`,
    );
    parser.end();
    ring.publish(at);
    return ring.servers('app_a')[0]?.check;
  };
  t.same(showStat(1_000, '* L7OK', '0'), { status: 'L7OK', code: null, description: 'Layer7 check passed' }, 'no result seen yet: unknown, not 0');
  t.same(showStat(2_000, 'L7OK', '200'), { status: 'L7OK', code: 200, description: 'Layer7 check passed' });
  t.same(showStat(3_000, '* L7OK', '0'), { status: 'L7OK', code: 200, description: 'Layer7 check passed' }, 'under way: the last result');
  t.same(showStat(4_000, '* L7OK', '0'), { status: 'L7OK', code: 200, description: 'Layer7 check passed' }, 'and again');
  t.same(showStat(5_000, 'L7STS', '503'), { status: 'L7STS', code: 503, description: 'Layer7 check passed' }, 'a check that ended: its own');
});

t.test('a capacity that is not a positive integer is refused', async (t) => {
  t.throws(() => new TrafficRing(0), { code: 'CONFIG_INVALID' });
  t.throws(() => new TrafficRing(2.5), { code: 'CONFIG_INVALID' });
});

t.test('properties: bounded history, aligned series, rates never negative', async (t) => {
  const names = ['app_a', 'app_b', 'app_c', 'app_d'];
  const step = fc.record({
    dt: fc.integer({ min: 1, max: 10_000 }),
    present: fc.subarray(names),
    counts: fc.array(fc.nat({ max: 1_000_000 }), { minLength: 4, maxLength: 4 }),
  });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 30 }), (capacity, steps) => {
      const ring = new TrafficRing(capacity);
      let at = 0;
      for (const s of steps) {
        at += s.dt;
        ring.record(at, sample(...s.present.map((n) => backend(n, s.counts[names.indexOf(n)]!, Math.floor(s.counts[names.indexOf(n)]! / 3)))));
        const times = ring.times();
        if (times.length > capacity || times.length !== Math.min(capacity, steps.indexOf(s) + 1)) return false;
        if (ring.size !== s.present.length) return false;
        for (const n of s.present) {
          const series = ring.series(n)!;
          if (series.at.length !== times.length || series.rate.length !== times.length) return false;
          if (series.rate.some((r) => r !== null && r < 0) || series.errors.some((r) => r !== null && r < 0)) return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('held for 300 random sequences');
});

t.test('recorded in steps: nothing of a sample shows before its last step, then all of it', async (t) => {
  const ring = new TrafficRing(10);
  const names = Array.from({ length: 25 }, (_, i) => `app_${i}`);
  ring.record(1_000, sample(...names.map((n) => backend(n, 10))));
  const steps = ring.recordInSteps(6_000, sample(...names.slice(1).map((n) => backend(n, 60))), 10);
  let paused = 0;
  for (let r = steps.next(); !r.done; r = steps.next()) {
    paused += 1;
    t.equal(ring.lastAt, 1_000, `step ${paused}: still the previous sample`);
    t.equal(ring.traffic('app_3')!.requests, 10);
    t.ok(ring.traffic('app_0'), 'the backend about to go is still there');
  }
  t.ok(paused >= 2, `it paused (${paused} times)`);
  t.equal(ring.lastAt, 6_000);
  t.equal(ring.traffic('app_3')!.rate, 10, 'published: 50 requests in 5 s');
  t.equal(ring.traffic('app_0'), undefined, 'the backend gone is dropped');
  t.same(ring.series('app_24')!.rate, [null, 10]);
});

t.test('an app on a spare backend: its traffic is recorded under its own backend until HAProxy has that (issue 20)', async (t) => {
  const server = (name: string, requests = 3): ServerStat => ({
    backend: name,
    server: 's1',
    requests,
    status: 'UP',
    check: { status: '', code: null, description: '' },
  });
  const spares = [{ app: 'blog', backend: 'app_blog', spare: 'spare_1' }];
  const ring = new TrafficRing(10);
  ring.record(0, { backends: [backend('app_web', 9), backend('spare_1', 3), backend('spare_2', 0)], servers: [server('app_web'), server('spare_1')] }, spares);
  t.same(
    ['app_web', 'app_blog', 'spare_1', 'spare_2'].map((b) => ring.traffic(b)?.requests),
    [9, 3, undefined, 0],
  );
  t.same(ring.servers('app_blog'), [{ name: 's1', requests: 3, state: 'UP', check: { status: '', code: null, description: '' } }]);
  ring.record(5_000, { backends: [backend('app_web', 9), backend('spare_1', 13)], servers: [server('spare_1', 13)] }, spares);
  t.equal(ring.traffic('app_blog')!.rate, 2, "the spare's counters continue the app's series");
  ring.record(10_000, { backends: [backend('app_blog', 0), backend('spare_1', 0)], servers: [] }, spares);
  t.same(
    ['app_blog', 'spare_1'].map((b) => ring.traffic(b)?.requests),
    [0, 0],
    'after the reload HAProxy counts the app itself: the spare is not the app any more',
  );
  ring.record(15_000, { backends: [backend('app_web', 9)], servers: [] });
  t.same(ring.servers('app_web'), [], 'no spare given: nothing renamed, servers gone are gone');
});

t.test("properties: each backend shows the latest sample's figures and servers, however they come and go", async (t) => {
  const names = ['app_a', 'app_b', 'app_c'];
  const step = fc.array(
    fc.record({
      name: fc.constantFrom(...names),
      requests: fc.nat({ max: 1000 }),
      servers: fc.array(fc.record({ server: fc.constantFrom('s1', 's2', 's3', 's4'), requests: fc.nat({ max: 100 }), status: fc.constantFrom('UP', 'DOWN') }), {
        maxLength: 4,
      }),
    }),
    { maxLength: 3 },
  );
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      const ring = new TrafficRing(4);
      for (const [i, present] of steps.entries()) {
        const unique = [...new Map(present.map((p) => [p.name, p])).values()];
        const servers = unique.flatMap((p) =>
          p.servers.map(
            (s): ServerStat => ({
              backend: p.name,
              server: s.server,
              requests: s.requests,
              status: s.status,
              check: { status: 'L4OK', code: null, description: s.status },
            }),
          ),
        );
        ring.record(i * 1000, { backends: unique.map((p) => backend(p.name, p.requests)), servers });
        for (const n of names) {
          const p = unique.find((u) => u.name === n);
          if ((ring.traffic(n)?.requests ?? -1) !== (p?.requests ?? -1)) return false;
          const want = (p?.servers ?? []).map((s) => ({
            name: s.server,
            requests: s.requests,
            state: s.status,
            check: { status: 'L4OK', code: null, description: s.status },
          }));
          if (JSON.stringify(ring.servers(n)) !== JSON.stringify(want)) return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('held for 300 random sequences');
});

t.test('an app with no traffic yet holds no series; its first traffic stores what it had (issue 23, memory)', async (t) => {
  const ring = new TrafficRing(6);
  const idle = (at: number) => ring.record(at, sample(backend('app_busy', at / 100), backend('app_idle', 0, 0, { responseMs: 0 })));
  ring.record(1_000, sample(backend('app_busy', 10)));
  idle(2_000);
  idle(3_000);
  idle(4_000);
  t.equal(ring.seriesBytes, 6 * 3 * 4, 'only the busy app holds series (capacity × 3 × 4 bytes)');
  t.same(
    ring.series('app_idle'),
    { at: [1_000, 2_000, 3_000, 4_000], rate: [null, null, 0, 0], errors: [null, null, 0, 0], responseMs: [null, 0, 0, 0] },
    'the same series as if stored: nothing before it appeared, no rate at its first sample, then 0',
  );
  t.equal(ring.recentErrors('app_idle', 3), 0);
  ring.record(5_000, sample(backend('app_busy', 50), backend('app_idle', 5, 1, { responseMs: 7 })));
  t.equal(ring.seriesBytes, 2 * 6 * 3 * 4, 'its first traffic stores its series');
  t.same(ring.series('app_idle'), {
    at: [1_000, 2_000, 3_000, 4_000, 5_000],
    rate: [null, null, 0, 0, 5],
    errors: [null, null, 0, 0, 1],
    responseMs: [null, 0, 0, 0, 7],
  });
  for (let at = 6_000; at <= 9_000; at += 1_000) ring.record(at, sample(backend('app_busy', at / 100), backend('app_idle', 5, 1, { responseMs: 7 })));
  t.same(ring.series('app_idle')!.rate, [0, 5, 0, 0, 0, 0], 'the stored series wraps like any other');
  t.same(ring.series('app_idle')!.at, [4_000, 5_000, 6_000, 7_000, 8_000, 9_000]);
});

t.test('an app whose first sample has a response time (traffic before the router started) stores its series at once', async (t) => {
  const ring = new TrafficRing(4);
  ring.record(1_000, sample(backend('app_a', 0, 0, { responseMs: 12 })));
  t.equal(ring.seriesBytes, 4 * 3 * 4);
  t.same(ring.series('app_a'), { at: [1_000], rate: [null], errors: [null], responseMs: [12] });
});

t.test('properties: the series are the counters of the current run of samples, stored or not', async (t) => {
  // The reference: a backend's series covers its latest unbroken run of samples; at the run's first
  // sample no rates, after it the counters' increase per second (from zero after a reset).
  const names = ['app_a', 'app_b', 'app_c'];
  const step = fc.record({
    dt: fc.integer({ min: 1, max: 5_000 }),
    present: fc.subarray(names),
    added: fc.array(fc.constantFrom(0, 0, 0, 3, 100, -1), { minLength: 3, maxLength: 3 }),
    responseMs: fc.array(fc.constantFrom(0, 0, 9), { minLength: 3, maxLength: 3 }),
  });
  const f32 = (v: number) => Math.round(Math.fround(v) * 1000) / 1000;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 25 }), (capacity, steps) => {
      const ring = new TrafficRing(capacity);
      const counts = [0, 0, 0];
      const history: { at: number; stats: (BackendStat | undefined)[] }[] = [];
      let at = 0;
      for (const s of steps) {
        at += s.dt;
        const stats = names.map((n, i) => {
          counts[i] = s.added[i]! < 0 ? 0 : counts[i]! + s.added[i]!; // -1: a reload resets the counter
          return s.present.includes(n) ? backend(n, counts[i]!, Math.floor(counts[i]! / 2), { responseMs: s.responseMs[i]! }) : undefined;
        });
        history.push({ at, stats });
        ring.record(at, sample(...stats.filter((b) => b !== undefined)));
      }
      const window = history.slice(-capacity);
      for (const [i, n] of names.entries()) {
        const present = history.at(-1)?.stats[i];
        const got = ring.series(n);
        if (!present) {
          if (got !== undefined) return false;
          continue;
        }
        let runStart = history.length - 1;
        while (runStart > 0 && history[runStart - 1]!.stats[i]) runStart--;
        const expected = { at: [] as number[], rate: [] as (number | null)[], errors: [] as (number | null)[], responseMs: [] as (number | null)[] };
        for (const [w, h] of window.entries()) {
          const index = history.length - window.length + w;
          expected.at.push(h.at);
          if (index < runStart) {
            expected.rate.push(null);
            expected.errors.push(null);
            expected.responseMs.push(null);
            continue;
          }
          const b = h.stats[i]!;
          const before = index > runStart ? history[index - 1]!.stats[i]! : undefined;
          const dt = before ? (h.at - history[index - 1]!.at) / 1000 : 0;
          const per = (now: number, was: number) => f32((now >= was ? now - was : now) / dt);
          expected.rate.push(before ? per(b.requests, before.requests) : null);
          expected.errors.push(before ? per(b.responses['5xx'], before.responses['5xx']) : null);
          expected.responseMs.push(f32(b.responseMs));
        }
        if (JSON.stringify(got) !== JSON.stringify(expected)) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('held for 500 random sequences');
});
