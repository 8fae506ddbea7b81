// Atomic replacement of a set of files: every temp file is written and fsynced first, then each is
// renamed over its target, so HAProxy never reads a half-written file and a full disk fails before
// anything live is touched.
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { WriteFailedError, errorMessage } from '../errors.js';

export async function writeFilesAtomically(dir: string, files: Record<string, string>, order: string[] = []): Promise<void> {
  const names = [...order.filter((n) => n in files), ...Object.keys(files).filter((n) => !order.includes(n)).sort()];
  const temps: string[] = [];
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    for (const name of names) {
      const temp = join(dir, `.${name}.${process.pid}.tmp`);
      temps.push(temp);
      const handle = await open(temp, 'w', 0o640);
      try {
        await handle.writeFile(files[name]!);
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
