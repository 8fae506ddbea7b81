// The master CLI's synchronous answer to `reload` (HAProxy 2.7+), on answers captured from trixie's
// 3.0 and sid's 3.2: a reload that loaded, one whose new worker could not bind, and (3.2) one asked
// while the previous was still loading. 2.6 answers nothing (its master drops the connection).
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReloadAnswer, reloadFailureReason } from '../../src/apply/reload-answer.js';

const answer = (name: string) => readFile(join(import.meta.dirname, 'fixtures', 'reload-answer', `${name}.txt`), 'utf8');

t.test('2.6: no answer, so show proc decides', async (t) => {
  t.equal(parseReloadAnswer(''), undefined);
  t.equal(parseReloadAnswer('Unknown command.\n'), undefined);
});

for (const branch of ['3.0', '3.2']) {
  t.test(`${branch}: success`, async (t) => {
    const parsed = parseReloadAnswer(await answer(`${branch}-success`));
    t.match(parsed, { success: true, busy: false });
    t.ok(parsed?.logs.some((l) => /Loading success/.test(l)));
  });
  t.test(`${branch}: a new worker that cannot bind`, async (t) => {
    const parsed = parseReloadAnswer(await answer(`${branch}-failure`));
    t.match(parsed, { success: false, busy: false });
    const reason = reloadFailureReason(parsed!);
    t.match(reason, /^Binding \[.*cap\.cfg:14\] for proxy clash: protocol tcpv4: cannot bind socket \(Address already in use\)/);
    t.match(reason, /; .*Some protocols failed to start their listeners/, 'every [ALERT] line, in order');
    t.notMatch(reason, /\[ALERT\]|\(\d+\) :/, 'without the level and pid prefix');
  });
}

t.test('3.2: a reload asked while the previous one is loading', async (t) => {
  const parsed = parseReloadAnswer(await answer('3.2-busy'));
  t.match(parsed, { success: false, busy: true });
  t.equal(reloadFailureReason(parsed!), 'Another reload is still in progress.', 'no [ALERT]: the last line');
});
