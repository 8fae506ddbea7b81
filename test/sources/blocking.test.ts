// BlockingWatch driven by a manual clock: no sleeps, no timed assertions. Time moves only in
// clock.advance(), which also lets the watch's promises settle, so every call is counted exactly.
import t from 'tap';
import { BlockingWatch, type BlockingResult, type BlockingWatchOptions } from '../../src/sources/consul/blocking.js';
import { ManualClock, settle } from '../helpers/clock.js';

interface Call {
  index: number;
  /** Clock time at which the request started. */
  at: number;
}

/**
 * Scripted Consul: each call takes the next answer (or error) and records the index it was sent and
 * when. Once the script is used up, calls block until the watch aborts them. `respond`, if given,
 * answers every call instead of the script (n counts calls from 1).
 */
function scripted<T>(clock: ManualClock, answers: (BlockingResult<T> | Error)[], respond?: Responder<T>) {
  const calls: Call[] = [];
  const fetch = async (index: number, _waitMs: number, signal: AbortSignal) => {
    calls.push({ index, at: clock.now() });
    if (respond) return respond(calls.length, clock);
    const next = answers.shift();
    if (next === undefined) {
      return new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, calls };
}

type Responder<T> = (n: number, clock: ManualClock) => BlockingResult<T> | Promise<BlockingResult<T>>;

function watchWith<T>(answers: (BlockingResult<T> | Error)[], opts: Partial<BlockingWatchOptions<T>> = {}, respond?: Responder<T>) {
  const clock = new ManualClock();
  const s = scripted(clock, answers, respond);
  const delivered: T[] = [];
  const sameData: number[] = [];
  const errors: unknown[] = [];
  const start = clock.now();
  const watch = new BlockingWatch<T>({
    fetch: s.fetch,
    onData: (d) => delivered.push(d),
    onSameData: (i) => sameData.push(i),
    onError: (e) => errors.push(e),
    waitMs: 1000,
    minIntervalMs: 10,
    maxBackoffMs: 40,
    random: () => 0,
    clock,
    ...opts,
  });
  watch.start();
  return {
    ...s,
    clock,
    delivered,
    sameData,
    errors,
    watch,
    indexes: () => s.calls.map((c) => c.index),
    /** Start times of the calls, relative to start(). */
    times: () => s.calls.map((c) => c.at - start),
  };
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((at, i) => at - (times[i] ?? 0));
}

t.test('first call sends no index, later calls send the last index', async (t) => {
  const w = watchWith([
    { data: 'a', index: 10 },
    { data: 'b', index: 12 },
    { data: 'c', index: 15 },
  ]);
  await w.clock.advance(1000);
  t.same(w.indexes(), [0, 10, 12, 15], 'the fourth call blocks on index 15');
  t.same(w.delivered, ['a', 'b', 'c']);
  t.same(w.errors, []);
  w.watch.stop();
});

t.test('from a read made before: the first call blocks on its index, and only a difference is delivered', async (t) => {
  const w = watchWith(
    [
      { data: ['x'], index: 9 },
      { data: ['y'], index: 11 },
    ],
    { from: { data: ['x'], index: 7 } },
  );
  await w.clock.advance(1000);
  t.same(w.indexes(), [7, 9, 11], 'no non-blocking first read');
  t.same(w.delivered, [['y']], 'the data it started from is not delivered again');
  w.watch.stop();
});

t.test('same index or same data is not delivered again', async (t) => {
  const w = watchWith([
    { data: ['x'], index: 5 },
    { data: ['x'], index: 5 },
    { data: ['x'], index: 9 },
    { data: ['y'], index: 11 },
  ]);
  await w.clock.advance(1000);
  t.same(w.indexes(), [0, 5, 5, 9, 11]);
  t.same(w.delivered, [['x'], ['y']]);
  t.same(w.sameData, [9], 'an index that moved with the same data is reported, an unchanged one is not');
  w.watch.stop();
});

t.test('an index that goes backwards restarts from scratch and loses no update', async (t) => {
  const w = watchWith([
    { data: 'a', index: 100 },
    { data: 'b', index: 3 },
    { data: 'c', index: 4 },
  ]);
  await w.clock.advance(1000);
  // After the reset the next call is a fresh, non-blocking read (index 0 is never sent as a block).
  t.same(w.indexes(), [0, 100, 0, 4]);
  t.same(w.delivered, ['a', 'b', 'c']);
  w.watch.stop();
});

t.test('an index of 0 in an answer is clamped to 1', async (t) => {
  const w = watchWith([
    { data: 'a', index: 0 },
    { data: 'b', index: 7 },
  ]);
  await w.clock.advance(1000);
  t.same(w.indexes(), [0, 1, 7]);
  w.watch.stop();
});

t.test('errors are reported, retried with backoff, and never delivered as data', async (t) => {
  const w = watchWith([{ data: 'a', index: 2 }, new Error('down'), new Error('still down'), { data: 'a', index: 2 }, { data: 'b', index: 3 }]);
  await w.clock.advance(1000);
  t.same(
    w.errors.map((e) => (e as Error).message),
    ['down', 'still down'],
  );
  t.same(w.delivered, ['a', 'b']);
  // After a failure the next read does not block (fresh data and status at once); then blocking resumes.
  t.same(w.indexes(), [0, 2, 0, 0, 2, 3], 'the index survives errors');
  w.watch.stop();
});

t.test('the backoff grows after each error up to its cap, and a success resets it', async (t) => {
  const down = () => new Error('down');
  const w = watchWith([down(), down(), down(), down(), down(), { data: 'a', index: 1 }, down(), down()], {
    maxBackoffMs: 1000,
    minIntervalMs: 10,
  });
  await w.clock.advance(5000);
  t.equal(w.errors.length, 7);
  // random() = 0 takes the fixed half of each delay: 100 ms base (FIRST_RETRY_MS), doubling, capped at 1000 ms.
  // The success brought data: the read after it starts at once (min_interval only follows nothing new).
  t.same(gaps(w.times()), [50, 100, 200, 400, 500, 0, 50, 100]);
  t.same(w.indexes(), [0, 0, 0, 0, 0, 0, 1, 0, 0], 'every read after an error is non-blocking');
  w.watch.stop();
});

t.test('no retry before the backoff delay is over', async (t) => {
  const w = watchWith([new Error('down')], { maxBackoffMs: 1000 });
  await w.clock.advance(49);
  t.equal(w.calls.length, 1, 'still waiting at 49 ms');
  await w.clock.advance(1);
  t.equal(w.calls.length, 2, 'retried at 50 ms');
  w.watch.stop();
});

t.test('the loop is rate limited when answers with nothing new come back at once', async (t) => {
  // The index moves, the data does not (a write of the same value, a timeout answered early).
  const w = watchWith<number>([], { minIntervalMs: 100, random: () => 0.5 }, (n) => ({ data: 0, index: n }));
  await w.clock.advance(999);
  // The first answer is new data: the second read starts at once. From then on nothing is new:
  // minIntervalMs 100 plus jitter of random() × half of it, one call every 125 ms.
  t.same(w.times(), [0, 0, 125, 250, 375, 500, 625, 750, 875]);
  await w.clock.advance(1);
  t.equal(w.calls.length, 10, 'the tenth call starts at 1000 ms');
  w.watch.stop();
});

t.test('the jitter varies the interval by up to half of minIntervalMs', async (t) => {
  const randoms = [0, 1, 0.5, 0.2];
  const w = watchWith<number>([], { minIntervalMs: 100, random: () => randoms.shift() ?? 0 }, (n) => ({ data: 0, index: n }));
  await w.clock.advance(1000);
  t.same(gaps(w.times()).slice(1, 5), [100, 150, 125, 110], 'after the first answer (new data, no wait)');
  w.watch.stop();
});

t.test('the interval counts from the start of a request, so a slow answer is not penalised twice', async (t) => {
  // Answers take 40 ms (or 300 ms, longer than the interval, for the second call).
  const w = watchWith<number>(
    [],
    { minIntervalMs: 100 },
    (n, clock) => new Promise((resolve) => clock.setTimeout(() => resolve({ data: 0, index: n }), n === 2 ? 300 : 40)),
  );
  await w.clock.advance(1000);
  // The first answer (new data, at 40 ms) is followed at once; the 300 ms answer brought nothing new
  // but took longer than the interval: the next call starts at once too.
  t.same(w.times().slice(0, 4), [0, 40, 340, 440], 'after the 300 ms answer the next call starts at once');
  w.watch.stop();
});

t.test('an answer with a change is followed by the next read at once: min_interval never delays a change', async (t) => {
  // Two changes 20 ms apart, then nothing new: only the read after the unchanged answer waits.
  const w = watchWith<string>([], { minIntervalMs: 100, random: () => 0 }, (n, clock) =>
    n === 1
      ? { data: 'a', index: 1 }
      : new Promise((resolve) =>
          clock.setTimeout(() => resolve(n === 2 ? { data: 'b', index: 2 } : n === 3 ? { data: 'c', index: 3 } : { data: 'c', index: n }), 20),
        ),
  );
  await w.clock.advance(200);
  t.same(w.delivered, ['a', 'b', 'c']);
  t.same(w.times().slice(0, 5), [0, 0, 20, 40, 140], 'reads 2-4 start as the answer before them arrives; read 5 waits min_interval after read 4 started');
  w.watch.stop();
});

t.test('stop() aborts the request in flight', async (t) => {
  let aborted = false;
  const clock = new ManualClock();
  let calls = 0;
  const watch = new BlockingWatch<number>({
    fetch: (_i, _w, signal) =>
      new Promise((_resolve, reject) => {
        calls += 1;
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      }),
    onData: () => t.fail('no data expected'),
    onError: () => t.fail('an abort after stop is not an error'),
    waitMs: 1000,
    minIntervalMs: 1,
    clock,
  });
  watch.start();
  await settle();
  t.equal(calls, 1);
  t.notOk(aborted);
  watch.stop();
  await settle();
  t.ok(aborted);
  await clock.advance(10_000);
  t.equal(calls, 1, 'no request after stop');
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('stop() during a sleep ends the loop at once', async (t) => {
  for (const [name, answers] of [
    [
      'rate limit',
      [
        { data: 'a', index: 1 },
        { data: 'a', index: 2 },
      ],
    ],
    ['backoff', [new Error('down')]],
  ] as const) {
    const w = watchWith<string>([...answers], { minIntervalMs: 100, maxBackoffMs: 1000 });
    await settle();
    t.equal(w.clock.pending, 1, `${name}: the watch sleeps`);
    const calls = w.calls.length;
    w.watch.stop();
    t.equal(w.clock.pending, 0, `${name}: its timer is cleared`);
    await w.clock.advance(10_000);
    t.equal(w.calls.length, calls, `${name}: no request after stop`);
  }
});

t.test('a backed-off watch reads again as soon as `recovered` says Consul answers', async (t) => {
  let answering!: () => void;
  const probes: AbortSignal[] = [];
  const w = watchWith([new Error('down'), new Error('down'), { data: 'a', index: 5 }], {
    maxBackoffMs: 60_000,
    recovered: (_err, signal) => {
      probes.push(signal);
      return new Promise<void>((resolve) => (answering = resolve));
    },
  });
  await w.clock.advance(50); // first retry after 50 ms (random 0: the fixed half of 100 ms)
  t.equal(w.calls.length, 2);
  await w.clock.advance(60); // the second backoff is 100 ms: not over
  t.equal(w.calls.length, 2, 'still backing off');
  answering();
  await w.clock.advance(0);
  t.equal(w.calls.length, 4, 'read again at once when Consul answers, before the delay ends (then, on its new data, a blocking read)');
  t.same(w.indexes(), [0, 0, 0, 5]);
  t.same(w.delivered, ['a']);
  t.ok(
    probes.every((s) => s.aborted),
    'every probe is called off once its sleep is over',
  );
  w.watch.stop();
});

t.test('a probe that fails leaves the backoff to run', async (t) => {
  const w = watchWith([new Error('down'), { data: 'a', index: 5 }], { maxBackoffMs: 60_000, recovered: () => Promise.reject(new Error('no probe')) });
  await w.clock.advance(49);
  t.equal(w.calls.length, 1, 'no busy loop');
  await w.clock.advance(1);
  t.equal(w.calls.length, 3, 'retried at 50 ms; its new data is followed at once by a blocking read');
  t.same(w.indexes(), [0, 0, 5]);
  w.watch.stop();
});

t.test('an early answer with an unchanged index (a snapshot restore in Consul 1.8) is followed by short waits', async (t) => {
  const clock = new ManualClock();
  const waits: number[] = [];
  const seen: string[] = [];
  const answers: (BlockingResult<string> | 'hold')[] = [
    { data: 'a', index: 15 },
    { data: 'a', index: 15 }, // answered at once: the old state store was abandoned
    'hold', // the restored state is older (index 11): Consul holds the read for its wait
    { data: 'b', index: 16 },
    'hold',
  ];
  const watch = new BlockingWatch<string>({
    fetch: async (_index, waitMs) => {
      waits.push(waitMs);
      const next = answers.shift();
      if (next === 'hold') {
        await new Promise<void>((r) => clock.setTimeout(r, waitMs));
        return { data: 'restored', index: 11 };
      }
      return next ?? new Promise<never>(() => undefined);
    },
    onData: (d) => seen.push(d),
    onError: () => undefined,
    waitMs: 300_000,
    minIntervalMs: 10,
    random: () => 0,
    clock,
  });
  watch.start();
  await clock.advance(5_000);
  t.same(waits.slice(0, 4), [300_000, 300_000, 1_000, 300_000], 'the read after the early answer waits 1 s, not 5 min; then the full wait again');
  t.same(seen, ['a', 'restored', 'b'], 'the restored state was read within seconds');
  watch.stop();
});

t.test('onQuietWait: the watch ends once a whole wait passes with the index unchanged, and only then', async (t) => {
  // Each blocking read answers after `delay` ms of the clock with `answer`.
  const run = async (answers: { delay: number; answer: BlockingResult<string> }[]) => {
    const ended: number[] = [];
    const w = watchWith<string>([], { waitMs: 1000, onQuietWait: () => ended.push(w.clock.now()) }, (n, clock) => {
      if (n === 1) return { data: 'a', index: 5 };
      const next = answers[n - 2];
      if (!next) return new Promise<never>(() => undefined);
      return new Promise((resolve) => clock.setTimeout(() => resolve(next.answer), next.delay));
    });
    await w.clock.advance(5_000);
    w.watch.stop();
    return { ended: ended.length, calls: w.calls.length };
  };
  t.same(await run([{ delay: 1000, answer: { data: 'a', index: 5 } }]), { ended: 1, calls: 2 }, 'the wait ran out: ended, no read after');
  t.same(
    await run([
      { delay: 1000, answer: { data: 'b', index: 5 } },
      { delay: 1000, answer: { data: 'b', index: 5 } },
    ]),
    { ended: 1, calls: 3 },
    'new data at the same index is delivered and the watch goes on; the next quiet wait ends it',
  );
  t.same(
    await run([
      { delay: 1000, answer: { data: 'a', index: 6 } },
      { delay: 1000, answer: { data: 'a', index: 6 } },
    ]),
    { ended: 1, calls: 3 },
    'an index that moved (same data) is no quiet wait',
  );
  const early = await run([{ delay: 10, answer: { data: 'a', index: 5 } }]);
  t.equal(early.ended, 0, 'an early answer with the same index (a snapshot restore) is no quiet wait');
});

t.test('`same` decides what counts as new data: an answer it calls the same is not delivered', async (t) => {
  // Compared on the first letter only: 'apple' after 'avocado' is the same, 'banana' is new.
  const w = watchWith(
    [
      { data: 'avocado', index: 10 },
      { data: 'apple', index: 11 },
      { data: 'banana', index: 12 },
    ],
    { same: (a, b) => a[0] === b[0] },
  );
  await w.clock.advance(1000);
  t.same(w.delivered, ['avocado', 'banana']);
  t.same(w.sameData, [11], 'the index moved with the same data');
});
