// THE atomic writer: every temp file is written and fsynced first, then each is renamed over its
// target, so HAProxy never reads a half-written file and a full disk fails before anything live is
// touched. Names may hold one sub-directory (`certs/www.example.org.pem`).
import { chmod, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WriteFailedError, errorMessage } from '../errors.js';

export interface WriteOptions {
  /** Names written first, in this order (files HAProxy reads at load time before the main config). */
  first?: string[];
  /** Names written last, in this order (the main config). */
  last?: string[];
  /** Files holding secrets: mode 0600 in a 0700 directory (others: 0640 in 0750). */
  secret?: (name: string) => boolean;
}

export async function writeFilesAtomically(dir: string, files: Record<string, string>, opts: WriteOptions = {}): Promise<void> {
  const { first = [], last = [], secret = () => false } = opts;
  const ordered = new Set([...first, ...last]);
  const names = [
    ...first.filter((n) => n in files),
    ...Object.keys(files)
      .filter((n) => !ordered.has(n))
      .sort(),
    ...last.filter((n) => n in files),
  ];
  const temps: string[] = [];
  try {
    await makeDirectory(dir, 0o750);
    for (const sub of new Set(names.map((n) => dirname(n)).filter((d) => d !== '.'))) {
      const isSecret = names.some((n) => dirname(n) === sub && secret(n));
      await makeDirectory(join(dir, sub), isSecret ? 0o700 : 0o750);
      if (isSecret) await chmod(join(dir, sub), 0o700);
    }
    for (const name of names) {
      const temp = tempPath(dir, name);
      temps.push(temp);
      const handle = await open(temp, 'w', secret(name) ? 0o600 : 0o640);
      try {
        await writeText(handle, files[name]!);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [i, name] of names.entries()) await rename(temps[i]!, join(dir, name));
  } catch (err) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw new WriteFailedError(`cannot write the configuration into ${dir}: ${errorMessage(err)}`, { cause: err });
  }
}

/** UTF-16 units encoded per write (3 bytes a unit at most: a 384 KB buffer per file written). */
const WRITE_UNITS = 128 * 1024;

/**
 * `text` as UTF-8 through one small buffer: writeFile(string) encodes the whole text into one
 * Buffer first, 5.8 MB of malloc per applied change at 10 000 apps, freed only at a later
 * collection, which grew malloc's arena (docs/benchmarks.md).
 */
async function writeText(handle: FileHandle, text: string): Promise<void> {
  const buffer = Buffer.allocUnsafe(WRITE_UNITS * 3);
  for (let from = 0; from < text.length; ) {
    let to = Math.min(text.length, from + WRITE_UNITS);
    // A surrogate pair is encoded whole: never cut between its two halves.
    const last = text.charCodeAt(to - 1);
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to -= 1;
    const bytes = buffer.write(text.slice(from, to));
    for (let written = 0; written < bytes; ) written += (await handle.write(buffer, written, bytes - written)).bytesWritten;
    from = to;
  }
}

/**
 * mkdir -p that keeps the real reason: Node's recursive mkdir reports a directory it cannot create
 * on a read-only filesystem as ENOENT (it stats the path after EROFS). Created one level at a time,
 * each mkdir says why it failed.
 */
async function makeDirectory(path: string, mode: number): Promise<void> {
  const once = () =>
    mkdir(path, { mode }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST' || !(await stat(path)).isDirectory()) throw err;
    });
  try {
    await once();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw err;
    await makeDirectory(dirname(path), mode);
    await once();
  }
}

function tempPath(dir: string, name: string): string {
  return join(dir, dirname(name), `.${basename(name)}.${process.pid}.tmp`);
}

/**
 * Removes the files of `sub` (and the top-level names in `names`) that `keep` does not hold: what an
 * earlier candidate wrote and the current one no longer has (a certificate gone from Vault).
 */
export async function removeFilesNotIn(dir: string, keep: Record<string, string>, sub: string, names: string[] = []): Promise<void> {
  const stale = names.filter((n) => !(n in keep));
  let inSub: string[];
  try {
    inSub = await readdir(join(dir, sub));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new WriteFailedError(`cannot list ${join(dir, sub)}: ${errorMessage(err)}`, { cause: err });
    inSub = [];
  }
  for (const name of inSub) if (!(`${sub}/${name}` in keep)) stale.push(`${sub}/${name}`);
  try {
    await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  } catch (err) {
    throw new WriteFailedError(`cannot remove stale files from ${dir}: ${errorMessage(err)}`, { cause: err });
  }
}
