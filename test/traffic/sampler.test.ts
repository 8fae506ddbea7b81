// The sampler's own rules, with the runtime socket answer given by the test (the socket client is
// driven in test/apply/socket-stream.test.ts, a real HAProxy in test/e2e/traffic-page.test.ts):
// samples go into the ring, a failure is counted and
// keeps the history, a sample already running is not doubled.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { TrafficSampler, type TrafficSamplerOptions } from '../../src/traffic/sampler.js';
import { SHOW_STAT_COMMAND } from '../../src/traffic/stat.js';

const real = readFileSync(join(import.meta.dirname, 'fixtures', 'show-stat-2.6.csv'), 'utf8');
const log = createLogger('silent');
/** A sampler of a 1 s window whose runtime socket is `send`. */
const sampler1s = (send: TrafficSamplerOptions['send']) => new TrafficSampler({ runtimeSocket: 's', intervalMs: 1000, windowMs: 1000, log, send });

t.test('samples into the ring; failures keep the history and are reported', async (t) => {
  let clock = 10_000;
  let answer: () => Promise<string> = async () => real;
  const commands: string[] = [];
  const sampler = new TrafficSampler({
    runtimeSocket: '/run/test.sock',
    intervalMs: 5_000,
    windowMs: 60_000,
    log,
    now: () => clock,
    send: async (socket, command, onChunk) => {
      commands.push(`${socket} ${command}`);
      onChunk(await answer());
    },
  });
  t.equal(sampler.ring.capacity, 12, 'window / interval');
  await sampler.sample();
  t.same(commands, [`/run/test.sock ${SHOW_STAT_COMMAND}`]);
  t.equal(sampler.status.samples, 1);
  t.equal(sampler.status.lastSampleAt, 10_000);
  t.equal(sampler.ring.traffic('app_wordpress-community')!.requests, 9);

  clock += 5_000;
  answer = async () => {
    throw Object.assign(new Error('connect ENOENT /run/test.sock'), { code: 'ENOENT' });
  };
  await sampler.sample();
  t.equal(sampler.status.failures, 1);
  t.match(sampler.status.lastError, { message: /show stat on \/run\/test\.sock: connect ENOENT/, at: 15_000 });
  t.equal(sampler.ring.traffic('app_wordpress-community')!.requests, 9, 'history kept');

  clock += 5_000;
  answer = async () => 'Unknown command.\n';
  await sampler.sample();
  t.match(sampler.status.lastError?.message, /not the CSV of "show stat"/, 'a wrong answer is a failure too');

  clock += 5_000;
  // HAProxy reloading mid-dump: the answer stops after wordpress; its history must not be dropped.
  answer = async () => real.slice(0, real.indexOf('\napp_irc-bouncer-community') + 1);
  await sampler.sample();
  t.match(sampler.status.lastError?.message, /cut short/, 'a truncated answer is a failure, not a sample missing apps');
  t.ok(sampler.ring.traffic('app_irc-bouncer-community'), 'the apps after the cut keep their history');

  clock += 5_000;
  answer = async () => real;
  await sampler.sample();
  t.equal(sampler.status.lastError, undefined, 'recovered');
  t.equal(sampler.ring.times().length, 2);
});

t.test('the answer is parsed chunk by chunk, cut anywhere (mid-line, mid-field)', async (t) => {
  const whole = sampler1s(async (_s, _c, onChunk) => onChunk(real));
  const chunked = sampler1s(async (_s, _c, onChunk) => {
    for (let i = 0; i < real.length; i += 7) onChunk(real.slice(i, i + 7));
  });
  await whole.sample();
  await chunked.sample();
  t.equal(chunked.status.samples, 1);
  for (const backend of ['app_wordpress-community', 'app_discourse-community', 'app_irc-bouncer-community']) {
    t.same(chunked.ring.traffic(backend), whole.ring.traffic(backend), backend);
    t.same(chunked.ring.servers(backend), whole.ring.servers(backend), `${backend} servers`);
  }
});

t.test('a sample already running is awaited, not doubled', async (t) => {
  let release!: (v: string) => void;
  let calls = 0;
  const sampler = sampler1s(async (_s, _c, onChunk) => {
    calls += 1;
    onChunk(await new Promise<string>((r) => (release = r)));
  });
  const a = sampler.sample();
  const b = sampler.sample();
  release(real);
  await Promise.all([a, b]);
  t.equal(calls, 1);
});
