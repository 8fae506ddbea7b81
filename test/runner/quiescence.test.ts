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

// ---- leading edge (issue 12): a lone change in a quiet period runs at once ----------------------

function leadingQuiescence(minMs: number, maxMs: number, run: (leading: boolean) => Promise<void | 'wait'>) {
  const clock = new ManualClock();
  const errors: unknown[] = [];
  const q = new Quiescence({ minMs, maxMs, run, leading: true, onError: (err) => errors.push(err), clock });
  return { q, clock, errors };
}

t.test('leading edge: a lone trigger after a quiet period runs at once, marked leading', async (t) => {
  const runs: { at: number; leading: boolean }[] = [];
  const { q, clock } = leadingQuiescence(50, 1000, async (leading) => void runs.push({ at: clock.now(), leading }));
  const start = clock.now();
  q.trigger();
  await settle();
  t.same(runs, [{ at: start, leading: true }], 'no wait.min before it');
  await clock.advance(50);
  q.trigger();
  await settle();
  t.same(runs.at(-1), { at: start + 50, leading: true }, 'again after wait.min of quiet');
  t.equal(clock.pending, 0, 'nothing scheduled');
});

/**
 * A leading quiescence whose runs take `runMs` on the ManualClock, triggered at each of `triggersAt`
 * (ms from the start): when each run started, and whether it led.
 */
async function timeline(minMs: number, runMs: number, triggersAt: number[]): Promise<{ at: number; leading: boolean }[]> {
  const started: { at: number; leading: boolean }[] = [];
  const { q, clock } = leadingQuiescence(minMs, 1000, async (leading) => {
    started.push({ at: clock.now(), leading });
    if (runMs > 0) await new Promise<void>((r) => clock.setTimeout(r, runMs));
  });
  const start = clock.now();
  for (const at of triggersAt) {
    await clock.advance(start + at - clock.now());
    q.trigger();
  }
  await clock.advance(2000);
  return started.map((r) => ({ at: r.at - start, leading: r.leading }));
}

t.test('leading edge: a burst still coalesces (the first runs at once, the rest once, wait.min after the last)', async (t) => {
  // 20 triggers 2 ms apart: the first runs at once; the 19 after it (last at +38 ms) make one run at +68 ms.
  const triggers = Array.from({ length: 20 }, (_, i) => i * 2);
  t.same(await timeline(30, 0, triggers), [
    { at: 0, leading: true },
    { at: 68, leading: false },
  ]);
});

t.test('leading edge: a trigger soon after a run waits wait.min (not leading)', async (t) => {
  t.same(await timeline(50, 0, [0, 10]), [
    { at: 0, leading: true },
    { at: 60, leading: false },
  ]);
});

t.test('leading edge: quiet is counted from the trigger before, so a change right after a long run goes at once', async (t) => {
  // Runs take 100 ms (a build at 10 000 apps). The second change comes 10 ms after the first run
  // ended, 110 ms after the trigger before it: a burst of its own.
  t.same(await timeline(50, 100, [0, 110]), [
    { at: 0, leading: true },
    { at: 110, leading: true },
  ]);
});

t.test('leading edge: triggers during a run make one more run, at once when they stopped wait.min before it ended', async (t) => {
  // +20: during the first run (0..100), 80 ms before it ends: the follow-up goes as soon as it ends.
  // +200: as the second run (100..200) ends. +290: alone during the third run, 90 ms after the
  // trigger before: it leads as that run ends. +340 and +395: two during the fourth run (300..400),
  // the second 5 ms before it ends: a burst, wait.min after the run.
  t.same(await timeline(50, 100, [0, 20, 200, 290, 340, 395]), [
    { at: 0, leading: true },
    { at: 100, leading: true },
    { at: 200, leading: true },
    { at: 300, leading: true },
    { at: 450, leading: false },
  ]);
});

t.test('leading edge: one change after a quiet period, come while the last run writes its files, runs as soon as that run ends', async (t) => {
  // Runs take 80 ms: a change is live (its commands sent) early in its run, which then writes its
  // files. +60: alone during the first run (0..80): it leads as that run ends. +100 and +150: two
  // during the second run (80..160): a burst, wait.min after it.
  t.same(await timeline(50, 80, [0, 60, 100, 150]), [
    { at: 0, leading: true },
    { at: 80, leading: true },
    { at: 210, leading: false },
  ]);
});

t.test("leading edge: a run answering 'wait' (needs a reload) runs again on the usual schedule", async (t) => {
  const runs: { at: number; leading: boolean }[] = [];
  const { q, clock } = leadingQuiescence(50, 120, async (leading) => {
    runs.push({ at: clock.now(), leading });
    return leading ? 'wait' : undefined;
  });
  const start = clock.now();
  q.trigger();
  await settle();
  t.equal(runs.length, 1, 'tried at once');
  t.equal(clock.pending, 1, 'and scheduled again');
  // Triggers keep pushing it back by wait.min, never past wait.max from the first trigger.
  for (let i = 0; i < 10; i++) {
    await clock.advance(20);
    q.trigger();
  }
  await clock.advance(200);
  t.same(
    runs.map((r) => ({ at: r.at - start, leading: r.leading })),
    [
      { at: 0, leading: true },
      { at: 120, leading: false },
      // The triggers from +120 on: pushed back by each, capped at wait.max after the first of them.
      { at: 240, leading: false },
    ],
    'the reload at wait.max after the leading trigger, then one run for the triggers after it',
  );
});

t.test("leading edge: a trigger during a run that answers 'wait' makes no extra run", async (t) => {
  const runs: boolean[] = [];
  let release!: () => void;
  const { q, clock } = leadingQuiescence(50, 1000, async (leading) => {
    runs.push(leading);
    if (leading) {
      await new Promise<void>((r) => (release = r));
      return 'wait';
    }
  });
  q.trigger();
  await settle();
  q.trigger();
  q.trigger();
  release();
  await clock.advance(1000);
  t.same(runs, [true, false], 'the scheduled run covers the triggers made during the leading one');
  t.equal(clock.pending, 0);
});
