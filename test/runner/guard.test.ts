// The never-shrink guard's state machine, driven by a manual clock: held, confirmed by a fresh
// read asked for `confirmAfterMs` later, dropped when the routes come back, released by the operator.
import t from 'tap';
import { createLogger } from '../../src/log.js';
import { ShrinkGuard } from '../../src/runner/guard.js';
import { initialState } from '../../src/state.js';
import { ManualClock } from '../helpers/clock.js';

function files(hosts: number) {
  const map = Array.from({ length: hosts }, (_, i) => `h${i}.example.org app_a`).join('\n');
  return { 'haproxy.cfg': 'global\ndefaults\nbackend app_a\n    server s 10.0.0.1:80\n', 'hosts.map': map };
}

function guard() {
  const clock = new ManualClock();
  const state = initialState(clock.now());
  let rereads = 0;
  const held: unknown[] = [];
  const g = new ShrinkGuard({
    maxShrink: 0.5,
    confirmAfterMs: 15_000,
    log: createLogger('silent'),
    state,
    reread: () => void rereads++,
    onHeld: (h) => held.push(h),
    clock,
  });
  return { g, clock, state, rereads: () => rereads, held };
}

const running = files(20);
const shrunk = files(2);

t.test('a mass disappearance is held, and a fresh read asked for confirmAfterMs later confirms it', async (t) => {
  const { g, clock, state, rereads, held } = guard();
  t.notOk(g.passes(running, shrunk, 'c1'), 'held');
  t.match(state.held, { reason: /18 of 20 routes/, checksum: 'c1' });
  t.equal(state.counters.heldChanges, 1);
  t.equal(held.length, 1);
  t.notOk(g.passes(running, shrunk, 'c1'), 'the same candidate again before the fresh read: still held');
  t.equal(state.counters.heldChanges, 1, 'counted once');
  await clock.advance(14_999);
  t.equal(rereads(), 0, 'no reread before confirmAfterMs');
  await clock.advance(1);
  t.equal(rereads(), 1, 'the fresh read is asked for');
  t.notOk(g.passes(running, shrunk, 'c1'), 'a build before the fresh snapshot arrived does not confirm');
  g.catalogSnapshot();
  t.ok(g.passes(running, shrunk, 'c1'), 'the fresh read gave the same candidate: applied');
  t.equal(state.held, undefined);
  t.match(state.lastHold, { resolution: 'confirmed', checksum: 'c1' });
});

t.test('a different shrunken candidate restarts the hold', async (t) => {
  const { g, clock, state, rereads } = guard();
  t.notOk(g.passes(running, shrunk, 'c1'));
  await clock.advance(10_000);
  t.notOk(g.passes(running, files(1), 'c2'));
  t.equal(state.held?.checksum, 'c2');
  t.equal(state.counters.heldChanges, 2);
  await clock.advance(14_999);
  t.equal(rereads(), 0, 'the timer started again with the new candidate');
  await clock.advance(1);
  t.equal(rereads(), 1);
});

t.test('the routes coming back drop the hold; no reread is asked for', async (t) => {
  const { g, clock, state, rereads } = guard();
  t.notOk(g.passes(running, shrunk, 'c1'));
  t.ok(g.passes(running, files(19), 'c3'), 'a small change passes');
  t.match(state.lastHold, { resolution: 'routes-back' });
  await clock.advance(60_000);
  t.equal(rereads(), 0, 'the confirmation timer was cleared');
});

t.test('the operator releases a hold; nothing to release is said so', async (t) => {
  const { g, state } = guard();
  t.notOk(g.release(), 'nothing held');
  t.notOk(g.passes(running, shrunk, 'c1'));
  t.ok(g.release());
  t.ok(g.passes(running, shrunk, 'c1'), 'applied at the next build');
  t.match(state.lastHold, { resolution: 'released' });
  t.notOk(g.passes(running, files(0), 'c4'), 'the release was for that hold only: a new mass disappearance is held again');
});
