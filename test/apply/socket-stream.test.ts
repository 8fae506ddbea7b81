// streamSocketCommand over a real UNIX socket: the answer arrives whole, chunk by chunk, one
// chunk per turn of the event loop (what keeps a 10 000-app `show stat` from blocking the
// daemon); silence past the timeout and a missing socket are errors.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamSocketCommand } from '../../src/apply/socket.js';

async function serve(
  t: { teardown: (f: () => Promise<void>) => void },
  answer: (command: string, write: (s: string | Uint8Array) => void, end: () => void) => void,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'socket-stream-'));
  const path = join(dir, 'runtime.sock');
  // Half-open like HAProxy: the request's end does not end the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.setEncoding('utf8');
    socket.once('data', (command: string) =>
      answer(
        command,
        (s) => socket.write(s),
        () => socket.end(),
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return path;
}

t.test('a large answer: whole, in order, one chunk per turn of the event loop', async (t) => {
  const line = `${'x'.repeat(99)}\n`;
  const big = line.repeat(40_000); // 4 MB, written at once: the reader has many chunks buffered
  let got = '';
  const path = await serve(t, (command, write, end) => {
    t.equal(command, 'show stat -1 6 -1\n');
    write(big);
    end();
  });
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns += 1;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const seenAt: number[] = [];
  await streamSocketCommand(path, 'show stat -1 6 -1', (chunk) => {
    got += chunk;
    seenAt.push(turns);
  });
  ticking = false;
  t.equal(got.length, big.length);
  t.equal(got, big);
  t.ok(seenAt.length > 1, `in ${seenAt.length} chunks`);
  t.ok(
    seenAt.every((turn, i) => i === 0 || turn > seenAt[i - 1]!),
    'the event loop ran between every two chunks',
  );
});

t.test('multi-byte characters split across chunks arrive intact', async (t) => {
  const text = 'é'.repeat(100_000);
  let got = '';
  const path = await serve(t, (_c, write, end) => {
    const bytes = Buffer.from(text);
    // Raw bytes cut in the middle of a two-byte character.
    write(bytes.subarray(0, 1001));
    write(bytes.subarray(1001));
    end();
  });
  await streamSocketCommand(path, 'show stat', (chunk) => {
    got += chunk;
  });
  t.equal(got, text);
});

t.test('errors: no socket, silence past the timeout, a throwing consumer', async (t) => {
  await t.rejects(
    streamSocketCommand('/nonexistent/runtime.sock', 'show stat', () => undefined),
    { code: 'ENOENT' },
  );
  const silent = await serve(t, () => undefined);
  await t.rejects(
    streamSocketCommand(silent, 'show stat', () => undefined, 200),
    { message: /no answer from .* to "show stat" within 200 ms/ },
  );
  const talky = await serve(t, (_c, write, end) => {
    write('not show stat\n');
    end();
  });
  await t.rejects(
    streamSocketCommand(talky, 'show stat', () => {
      throw new Error('not the CSV');
    }),
    { message: 'not the CSV' },
  );
});
