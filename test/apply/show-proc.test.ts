import t from 'tap';
import { parseShowProc } from '../../src/apply/show-proc.js';

t.test('parses HAProxy 2.6 show proc with workers and old workers', async (t) => {
  const text = [
    '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
    '6593            master          2 [failed: 1]   0d00h00m02s     2.6.12-1+deb12u4',
    '# workers',
    '6606            worker          1               0d00h00m01s     2.6.12-1+deb12u4',
    '# old workers',
    '6594            worker          2               0d00h00m09s     2.6.12-1+deb12u4',
    '# programs',
    '',
  ].join('\n');
  t.same(parseShowProc(text), {
    master: { pid: 6593, reloads: 2, failedReloads: 1 },
    workers: [{ pid: 6606, reloads: 1 }],
    oldWorkers: [{ pid: 6594, reloads: 2 }],
  });
});

t.test('an answer without a master line is an error, not an empty process list', async (t) => {
  t.throws(() => parseShowProc('Unknown command.\n'), /unexpected answer to "show proc"/);
  t.throws(() => parseShowProc(''), /unexpected answer/);
});
