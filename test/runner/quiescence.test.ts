// Quiescence driven by a manual clock: no sleeps, no timed assertions.
import t from 'tap';
import { Quiescence } from '../../src/runner/quiescence.js';
import { ManualClock, settle } from '../helpers/clock.js';

function quiescence(minMs: number, maxMs: number, run: () => Promise<void>) {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const q = new Quiescence({ minMs, maxMs, run, onError: (err) => errors.push(err), clock });
  return { q, clock, errors };
}

t.test('a burst of triggers runs once, minMs after the last one', async (t) => {
  let runs = 0;
  const { q, clock } = quiescence(30, 1000, async () => void runs++);
  for (let i = 0; i < 20; i++) {
    q.trigger();
    await clock.advance(2);
  }
  // The last trigger came at +38 ms, and the loop left the clock at +40.
  await clock.advance(27);
  t.equal(runs, 0, 'not yet: the last trigger pushed it back');
  await clock.advance(1);
  t.equal(runs, 1);
  await clock.advance(1000);
  t.equal(runs, 1, 'nothing more without a trigger');
});

t.test('steady triggers cannot push the run past maxMs', async (t) => {
  const at: number[] = [];
  const { q, clock } = quiescence(40, 120, async () => void at.push(clock.now()));
  const start = clock.now();
  for (let i = 0; i < 40; i++) {
    q.trigger();
    await clock.advance(10);
  }
  q.stop();
  // Triggers every 10 ms (< min 40 ms) would postpone the run forever without the max bound.
  t.same(
    at.map((a) => a - start),
    [120, 240, 360],
    'a run every maxMs',
  );
});

t.test('a trigger during a run schedules exactly one more run', async (t) => {
  let runs = 0;
  let release!: () => void;
  const { q, clock } = quiescence(1, 10, async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
  });
  q.trigger();
  await clock.advance(1);
  t.equal(runs, 1);
  q.trigger();
  q.trigger();
  q.trigger();
  release();
  await settle();
  await clock.advance(1);
  t.equal(runs, 2);
  await clock.advance(100);
  t.equal(runs, 2, 'exactly one more');
});

t.test('a failing run is reported with its error and does not stop later runs', async (t) => {
  let runs = 0;
  const { q, clock, errors } = quiescence(1, 10, async () => {
    runs++;
    throw new Error(`boom ${runs}`);
  });
  q.trigger();
  await clock.advance(1);
  q.trigger();
  await clock.advance(1);
  t.equal(runs, 2);
  t.same(
    errors.map((e) => (e as Error).message),
    ['boom 1', 'boom 2'],
  );
});
