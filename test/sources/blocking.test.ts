import t from 'tap';
import { BlockingWatch, type BlockingResult } from '../../src/sources/consul/blocking.js';

/** Scripted Consul: each call takes the next answer (or error) and records the index it was sent. */
function scripted<T>(answers: (BlockingResult<T> | Error)[]) {
  const sentIndexes: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const fetch = async (index: number) => {
    sentIndexes.push(index);
    const next = answers.shift();
    if (answers.length === 0) done();
    if (next === undefined) return new Promise<never>(() => undefined); // block forever
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, sentIndexes, finished };
}

function watchWith<T>(answers: (BlockingResult<T> | Error)[], onError: (e: unknown) => void = () => undefined) {
  const s = scripted(answers);
  const delivered: T[] = [];
  const watch = new BlockingWatch<T>({
    fetch: s.fetch,
    onData: (d) => delivered.push(d),
    onError,
    waitMs: 1000,
    minIntervalMs: 1,
    maxBackoffMs: 5,
    random: () => 0,
  });
  watch.start();
  return { ...s, delivered, watch };
}

t.test('first call sends no index, later calls send the last index', async (t) => {
  const w = watchWith([
    { data: 'a', index: 10 },
    { data: 'b', index: 12 },
    { data: 'c', index: 15 },
  ]);
  await w.finished;
  await new Promise((r) => setTimeout(r, 20));
  w.watch.stop();
  t.same(w.sentIndexes.slice(0, 4), [0, 10, 12, 15]);
  t.same(w.delivered, ['a', 'b', 'c']);
});

t.test('same index or same data is not delivered again', async (t) => {
  const w = watchWith([
    { data: ['x'], index: 5 },
    { data: ['x'], index: 5 },
    { data: ['x'], index: 9 },
    { data: ['y'], index: 11 },
  ]);
  await w.finished;
  await new Promise((r) => setTimeout(r, 20));
  w.watch.stop();
  t.same(w.delivered, [['x'], ['y']]);
});

t.test('an index that goes backwards restarts from scratch and loses no update', async (t) => {
  const w = watchWith([
    { data: 'a', index: 100 },
    { data: 'b', index: 3 },
    { data: 'c', index: 4 },
  ]);
  await w.finished;
  await new Promise((r) => setTimeout(r, 20));
  w.watch.stop();
  // After the reset the next call is a fresh, non-blocking read (index 0 is never sent as a block).
  t.same(w.sentIndexes.slice(0, 4), [0, 100, 0, 4]);
  t.same(w.delivered, ['a', 'b', 'c']);
});

t.test('an index of 0 in an answer is clamped to 1', async (t) => {
  const w = watchWith([
    { data: 'a', index: 0 },
    { data: 'b', index: 7 },
  ]);
  await w.finished;
  await new Promise((r) => setTimeout(r, 20));
  w.watch.stop();
  t.same(w.sentIndexes.slice(0, 3), [0, 1, 7]);
});

t.test('errors are reported, retried with backoff, and never delivered as data', async (t) => {
  const errors: unknown[] = [];
  const w = watchWith([{ data: 'a', index: 2 }, new Error('down'), new Error('still down'), { data: 'a', index: 2 }, { data: 'b', index: 3 }], (e) =>
    errors.push(e),
  );
  await w.finished;
  await new Promise((r) => setTimeout(r, 30));
  w.watch.stop();
  t.equal(errors.length, 2);
  t.same(w.delivered, ['a', 'b']);
  // After a failure the next read does not block (fresh data and status at once); then blocking resumes.
  t.same(w.sentIndexes.slice(0, 5), [0, 2, 0, 0, 2], 'the index survives errors');
});

t.test('the loop is rate limited even when answers come back at once', async (t) => {
  let calls = 0;
  const watch = new BlockingWatch<number>({
    fetch: async () => ({ data: ++calls, index: calls }),
    onData: () => undefined,
    onError: () => undefined,
    waitMs: 1000,
    minIntervalMs: 50,
  });
  watch.start();
  await new Promise((r) => setTimeout(r, 500));
  watch.stop();
  // 500 ms at ≥ 50 ms per call allows at most 11 calls; an unthrottled loop makes thousands.
  t.ok(calls <= 11, `${calls} calls in 500 ms`);
  t.ok(calls >= 3, `${calls} calls in 500 ms`);
});

t.test('stop() aborts the request in flight', async (t) => {
  let aborted = false;
  const watch = new BlockingWatch<number>({
    fetch: (_i, _w, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted'))))),
    onData: () => t.fail('no data expected'),
    onError: () => t.fail('an abort after stop is not an error'),
    waitMs: 1000,
    minIntervalMs: 1,
  });
  watch.start();
  await new Promise((r) => setTimeout(r, 10));
  watch.stop();
  await new Promise((r) => setTimeout(r, 10));
  t.ok(aborted);
});
