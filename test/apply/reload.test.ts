// reloadThroughMaster's failure paths that a real HAProxy cannot be made to produce on demand: a
// master CLI that answers `show proc` and is then gone before `reload` reaches it. A minimal UNIX
// socket server speaks the master CLI's non-interactive mode (one command, answer, close).
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { reloadThroughMaster } from '../../src/apply/reload.js';
import { HaproxyUnreachableError } from '../../src/errors.js';

const SHOW_PROC = [
  '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
  '6593            master          0 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4',
  '# workers',
  '6606            worker          0               0d00h00m01s     2.6.12-1+deb12u4',
  '# old workers',
  '# programs',
  '',
].join('\n');

/** A master CLI that answers one `show proc`, then stops listening (the socket file is removed). */
async function masterGoneAfterShowProc(path: string): Promise<Server> {
  const server = createServer((conn) => {
    conn.once('data', () => {
      conn.end(SHOW_PROC);
      server.close();
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

t.test('a reload command that cannot reach the master fails at once as unreachable, with the cause', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-reload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'master.sock');
  await masterGoneAfterShowProc(path);
  // Without the connect check this waits out the 60 s and ends as a ReloadFailedError instead.
  const err = await reloadThroughMaster(path, 60_000).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, HaproxyUnreachableError);
  t.match((err as Error).message, /refused the reload command: .*(ENOENT|ECONNREFUSED)/);
  t.match((err as Error & { cause?: { code?: string } }).cause?.code, /^(ENOENT|ECONNREFUSED)$/);
});
