// The last step of a build: act only when bytes change, validate the candidate with `haproxy -c`
// in a staging directory, write the live files atomically, reload through the master CLI, and keep
// the last good configuration on disk whenever any step fails.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { HaproxyUnreachableError, RouterError, WriteFailedError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { RenderedFiles } from '../render/types.js';
import { writeFilesAtomically } from './files.js';
import { reloadThroughMaster } from './reload.js';
import { checkConfig } from './validate.js';

export const MAIN_CONFIG = 'haproxy.cfg';
/** Files HAProxy reads at load time go first, the main config last. */
const WRITE_ORDER = ['hosts.map'];

export interface ApplierOptions {
  configDir: string;
  bin: string;
  masterSocket: string;
  reloadTimeoutMs: number;
  log: Logger;
}

export type ApplyStatus = 'unchanged' | 'reloaded' | 'written' | 'refused' | 'reload-failed' | 'write-failed';

export interface ApplyReport {
  status: ApplyStatus;
  /** sha256 of the candidate's files. */
  checksum: string;
  validateMs?: number;
  reloadMs?: number;
  error?: { code: string; message: string; output?: string };
}

/** Renders the candidate for a given directory: paths inside the config must point at its files. */
export type Candidate = (configDir: string) => RenderedFiles;

export function checksumOf(files: RenderedFiles): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(`${name}\0${files[name]}\0`);
  return hash.digest('hex');
}

export class Applier {
  /** What HAProxy runs (or will run at its next start): validated and on disk. */
  private good: RenderedFiles | undefined;
  /** Validated and written, but HAProxy was not reachable to load it. */
  private reloadPending = false;
  /** The checksum of the last candidate HAProxy refused: not retried until the input changes. */
  private refused: string | undefined;

  constructor(private readonly opts: ApplierOptions) {}

  get runningChecksum(): string | undefined {
    return this.good && !this.reloadPending ? checksumOf(this.good) : undefined;
  }

  get pendingReload(): boolean {
    return this.reloadPending;
  }

  /** Adopts the files already on disk (a daemon restart with unchanged input must not reload). */
  async adoptFilesOnDisk(names: string[]): Promise<void> {
    const files: RenderedFiles = {};
    for (const name of names) {
      try {
        files[name] = await readFile(join(this.opts.configDir, name), 'utf8');
      } catch {
        return;
      }
    }
    this.good = files;
  }

  async apply(candidate: Candidate): Promise<ApplyReport> {
    const live = candidate(this.opts.configDir);
    const checksum = checksumOf(live);
    if (this.good && isDeepStrictEqual(this.good, live)) {
      if (this.reloadPending) return this.reload(live, checksum, undefined);
      return { status: 'unchanged', checksum };
    }
    if (checksum === this.refused) return { status: 'unchanged', checksum };

    const startedValidate = Date.now();
    try {
      await this.validate(candidate);
    } catch (err) {
      // A disk problem says nothing about the candidate: it is tried again, unlike a refused one.
      if (err instanceof WriteFailedError) return this.failure('write-failed', checksum, err, {});
      this.refused = checksum;
      return this.failure('refused', checksum, err, { validateMs: Date.now() - startedValidate });
    }
    const validateMs = Date.now() - startedValidate;

    const previous = this.good;
    try {
      await writeFilesAtomically(this.opts.configDir, live, WRITE_ORDER);
    } catch (err) {
      return this.failure('write-failed', checksum, err, { validateMs });
    }
    return this.reload(live, checksum, previous, validateMs);
  }

  /** Retries a reload that could not happen because HAProxy was not reachable. */
  async retryPendingReload(): Promise<ApplyReport | undefined> {
    if (!this.reloadPending || !this.good) return undefined;
    return this.reload(this.good, checksumOf(this.good), undefined);
  }

  private async validate(candidate: Candidate): Promise<void> {
    const staging = join(this.opts.configDir, '.staging');
    try {
      await rm(staging, { recursive: true, force: true });
    } catch (err) {
      throw new WriteFailedError(`cannot prepare ${staging}: ${errorMessage(err)}`, { cause: err });
    }
    await writeFilesAtomically(staging, candidate(staging), WRITE_ORDER);
    try {
      await checkConfig(this.opts.bin, join(staging, MAIN_CONFIG));
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private async reload(
    live: RenderedFiles,
    checksum: string,
    previous: RenderedFiles | undefined,
    validateMs?: number,
  ): Promise<ApplyReport> {
    const started = Date.now();
    try {
      await reloadThroughMaster(this.opts.masterSocket, this.opts.reloadTimeoutMs);
    } catch (err) {
      if (err instanceof HaproxyUnreachableError) {
        // The files are valid: HAProxy picks them up when it starts; we reload once it answers.
        this.good = live;
        this.reloadPending = true;
        this.refused = undefined;
        return this.failure('written', checksum, err, { validateMs });
      }
      // HAProxy refused what `haproxy -c` accepted (a port in use, say): put the running config back
      // on disk so a restart of HAProxy does not load what the running one refused.
      this.refused = checksum;
      if (previous) await writeFilesAtomically(this.opts.configDir, previous, WRITE_ORDER).catch(() => undefined);
      return this.failure('reload-failed', checksum, err, { validateMs, reloadMs: Date.now() - started });
    }
    this.good = live;
    this.reloadPending = false;
    this.refused = undefined;
    return { status: 'reloaded', checksum, validateMs, reloadMs: Date.now() - started };
  }

  private failure(
    status: ApplyStatus,
    checksum: string,
    err: unknown,
    timings: { validateMs?: number; reloadMs?: number },
  ): ApplyReport {
    const output = err instanceof RouterError && 'output' in err ? String((err as { output: unknown }).output) : undefined;
    return { status, checksum, ...timings, error: { code: errorCode(err), message: errorMessage(err), output } };
  }
}
