import t from 'tap';
import { Quiescence } from '../../src/apply/quiescence.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a burst of triggers runs once', async (t) => {
  let runs = 0;
  const q = new Quiescence(30, 1000, async () => void runs++);
  for (let i = 0; i < 20; i++) {
    q.trigger();
    await sleep(2);
  }
  await sleep(80);
  await q.settled();
  t.equal(runs, 1);
});

t.test('steady triggers cannot push the run past max', async (t) => {
  let runs = 0;
  const q = new Quiescence(40, 120, async () => void runs++);
  const until = Date.now() + 400;
  while (Date.now() < until) {
    q.trigger();
    await sleep(10);
  }
  q.stop();
  // Without the max bound, triggers every 10 ms (< min 40 ms) would postpone the run forever.
  t.ok(runs >= 2, `${runs} runs during 400 ms of continuous triggers`);
});

t.test('a trigger during a run schedules exactly one more run', async (t) => {
  let runs = 0;
  let release!: () => void;
  const q = new Quiescence(1, 10, async () => {
    runs++;
    if (runs === 1) await new Promise<void>((r) => (release = r));
  });
  q.trigger();
  await sleep(20);
  q.trigger();
  q.trigger();
  q.trigger();
  release();
  await sleep(30);
  await q.settled();
  t.equal(runs, 2);
});

t.test('a failing run does not stop later runs', async (t) => {
  let runs = 0;
  const q = new Quiescence(1, 10, async () => {
    runs++;
    throw new Error('boom');
  });
  q.trigger();
  await sleep(20);
  q.trigger();
  await sleep(20);
  await q.settled();
  t.equal(runs, 2);
});
