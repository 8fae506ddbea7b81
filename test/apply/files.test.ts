// The atomic writer's directories: created with their modes, and on a read-only filesystem the
// error says so (Node's recursive mkdir alone reports ENOENT there, which sent an operator looking
// for a missing directory; test/faults/disk.test.ts saw it only when the staging directory had to
// be created, so it failed in some runs and not others).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesAtomically } from '../../src/apply/files.js';
import { WriteFailedError } from '../../src/errors.js';

const run = (cmd: string, args: string[]) =>
  new Promise<{ ok: boolean; output: string }>((resolve) =>
    execFile(cmd, args, (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}`.trim() })),
  );

t.test('missing directories are created, secret ones 0700', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-files-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const dir = join(work, 'a', 'b');
  await writeFilesAtomically(dir, { 'haproxy.cfg': 'x\n', 'certs/www.pem': 'pem\n' }, { secret: (n) => n.startsWith('certs/') });
  t.equal(await readFile(join(dir, 'haproxy.cfg'), 'utf8'), 'x\n');
  t.equal((await stat(join(dir, 'certs'))).mode & 0o777, 0o700);
  t.equal((await stat(join(dir, 'certs', 'www.pem'))).mode & 0o777, 0o600);
});

t.test('a directory on a read-only filesystem: EROFS, not ENOENT', async (t) => {
  const mountPoint = await mkdtemp(join(tmpdir(), 'paas-router-rofs-'));
  t.teardown(() => rm(mountPoint, { recursive: true, force: true }));
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', mountPoint]);
  if (!mounted.ok) {
    t.comment(`mount -t tmpfs is not permitted here (${mounted.output}): EROFS not tested`);
    return;
  }
  t.teardown(() => run('umount', ['-l', mountPoint]));
  for (const dir of [join(mountPoint, '.staging'), join(mountPoint, 'deeper', '.staging')]) {
    const err = await writeFilesAtomically(dir, { 'haproxy.cfg': 'x\n' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, WriteFailedError);
    t.match((err as Error).message, /EROFS/, (err as Error).message);
  }
});

t.test('a file larger than one write buffer is written byte for byte, characters cut nowhere', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'paas-router-files-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  // Megabytes like haproxy.cfg at 10 000 apps, with 2-, 3- and 4-byte characters: a line of an odd
  // number of UTF-16 units puts a surrogate pair across every possible buffer boundary.
  const line = '    server s1 10.0.0.1:80 # é € 😀😀 ok!\n';
  t.equal(line.length % 2, 1);
  const text = line.repeat(Math.ceil(6_000_000 / line.length));
  await writeFilesAtomically(work, { 'haproxy.cfg': text, 'empty.map': '' });
  t.ok((await readFile(join(work, 'haproxy.cfg'))).equals(Buffer.from(text, 'utf8')), `${Buffer.byteLength(text)} bytes as encoded`);
  t.equal(await readFile(join(work, 'empty.map'), 'utf8'), '');
});
