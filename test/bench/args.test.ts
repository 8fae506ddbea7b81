// `npm run bench` refuses bad options with the reason and its usage (exit 2) before it starts
// anything: no HAProxy, no Consul, no backends.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

const bench = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', RUN, ...args], { encoding: 'utf8', timeout: 60_000 });

t.test('bad bench options: exit 2, the reason, the usage', async (t) => {
  for (const [args, reason] of <[string[], RegExp][]>[
    [['--help'], /Unknown option '--help'/],
    [['--trials', 'x'], /--trials must be a whole number, got "x"/],
    [['--spares=-1'], /--spares must be a whole number/],
    [['--sizes', '100,,200'], /--sizes must be a comma-separated list of whole numbers/],
    [['--parts', 'latency,foo'], /--parts takes latency and\/or scale, got "foo"/],
  ]) {
    const r = bench(...args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, reason, args.join(' '));
    t.match(r.stderr, /usage: npm run bench --/);
    t.notMatch(r.stderr, /machine:/, 'nothing started');
  }
});
