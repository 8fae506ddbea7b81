import t from 'tap';
import { assessShrink, countRoutes } from '../../src/runner/shrink.js';

function files(hosts: number, servers: number, disabled = 0, tcp = 0) {
  const cfg = ['global', 'defaults', 'frontend http_in', 'backend app_a'];
  for (let i = 0; i < servers; i++) cfg.push(`    server s${i} 10.0.0.${i}:80${i < disabled ? ' disabled' : ''}`);
  for (let i = 0; i < tcp; i++) cfg.push(`listen app_tcp${i}`, `    bind *:${10000 + i}`);
  const map = Array.from({ length: hosts }, (_, i) => `h${i}.example.org app_a`).join('\n');
  return { 'haproxy.cfg': cfg.join('\n'), 'hosts.map': map };
}

t.test('routes and serving servers are counted from the files', async (t) => {
  t.same(countRoutes(files(3, 4, 1, 2)), { routes: 5, servers: 3 });
});

const cases: [string, ReturnType<typeof files> | undefined, ReturnType<typeof files>, number, boolean, RegExp?][] = [
  ['no running config: never held', undefined, files(0, 0), 0.5, false],
  ['a few routes less: applied', files(20, 20), files(15, 15), 0.5, false],
  ['half the routes gone exactly: applied (more than the share is needed)', files(20, 20), files(10, 20), 0.5, false],
  ['most routes gone at once: held', files(20, 20), files(2, 20), 0.5, true, /18 of 20 routes/],
  ['every route gone (empty answer during an election): held', files(20, 20), files(0, 0), 0.5, true, /20 of 20 routes/],
  ['routes kept but most instances gone (partial health answer): held', files(20, 20), files(20, 20, 18), 0.5, true, /18 of 20 serving instances/],
  ['tiny cluster: one of two apps removed is not a mass disappearance', files(2, 2), files(1, 1), 0.5, false],
  ['guard disabled with max_shrink 1', files(20, 20), files(0, 0), 1, false],
  ['strict guard: 10 % lost with max_shrink 0.05', files(20, 20), files(18, 20), 0.05, true],
];
for (const [name, running, candidate, max, shrink, reason] of cases) {
  t.test(name, async (t) => {
    const v = assessShrink(running, candidate, max);
    t.equal(v.shrink, shrink);
    if (reason) t.match(v.reason, reason);
  });
}
