// The last step of a build: act only when bytes change, validate the candidate with `haproxy -c`
// in a staging directory, apply it through the runtime API when only servers and hosts changed
// (else reload through the master CLI), write the live files atomically, and keep the last good
// configuration on disk whenever any step fails.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { HaproxyUnreachableError, RouterError, WriteFailedError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { RenderedFiles } from '../render/types.js';
import { writeFilesAtomically } from './files.js';
import { reloadThroughMaster, resumePausedFrontends, showProc } from './reload.js';
import { RuntimeExecutor } from './runtime/execute.js';
import { parseFiles } from './runtime/parse.js';
import { HOSTS_MAP, MAIN_CONFIG, extraMapsOf, planRuntime, type RuntimeOp } from './runtime/plan.js';
import { sendSocketCommand } from './socket.js';
import { checkConfig } from './validate.js';

export { MAIN_CONFIG };
/** Files HAProxy reads at load time go first, the main config last. */
const WRITE_ORDER = [HOSTS_MAP];
/** Where `show servers state` is saved before a reload (the templates' `server-state-file`). */
export const SERVER_STATE_FILE = 'server-state';

export interface ApplierOptions {
  configDir: string;
  bin: string;
  masterSocket: string;
  /** Admin-level runtime API socket (rendered into the config); without it every change reloads. */
  runtimeSocket?: string;
  reloadTimeoutMs: number;
  log: Logger;
}

export type ApplyStatus = 'unchanged' | 'runtime' | 'reloaded' | 'written' | 'refused' | 'reload-failed' | 'write-failed';

export interface ApplyReport {
  status: ApplyStatus;
  /** sha256 of the candidate's files. */
  checksum: string;
  validateMs?: number;
  reloadMs?: number;
  /** Runtime API commands applied (status `runtime`). */
  runtimeOps?: number;
  runtimeMs?: number;
  /** Why the change could not go through the runtime API (status `reloaded`). */
  reloadReason?: string;
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
  /**
   * The last write failed (disk full, read-only): until a write works again, changes skip the
   * runtime API. Otherwise every retry would apply a change at runtime and reload to undo it.
   */
  private writeFailing = false;
  /** The checksum of the last candidate HAProxy refused: not retried until the input changes. */
  private refused: string | undefined;
  private readonly runtime: RuntimeExecutor | undefined;

  constructor(private readonly opts: ApplierOptions) {
    if (opts.runtimeSocket) this.runtime = new RuntimeExecutor(opts.runtimeSocket, join(opts.configDir, HOSTS_MAP));
  }

  /** Servers removed from the config that still finish their connections before deletion. */
  get drainingServers(): string[] {
    return this.runtime?.drainingServers ?? [];
  }

  /** The files HAProxy runs (or will load at its next start). */
  get runningFiles(): RenderedFiles | undefined {
    return this.good;
  }

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

    const previous = this.good;
    let reloadReason = this.writeFailing ? 'the last write had failed: written first, then reloaded' : 'no running configuration to change at runtime';
    let runtimeTouched = false;
    if (previous && !this.reloadPending && this.runtime && !this.writeFailing) {
      const plan = planRuntime(previous, live);
      if (plan.kind === 'runtime') {
        const outcome = await this.applyAtRuntime(plan.ops, live, checksum);
        if ('status' in outcome) return outcome;
        reloadReason = outcome.fallback;
        runtimeTouched = true;
      } else {
        reloadReason = plan.reason;
      }
    }

    const startedValidate = Date.now();
    try {
      await this.validate(candidate);
    } catch (err) {
      // A half-done runtime change must not outlive a candidate that turned out invalid.
      if (runtimeTouched) await this.resync();
      // A disk problem says nothing about the candidate: it is tried again, unlike a refused one.
      if (err instanceof WriteFailedError) return this.failure('write-failed', checksum, err, {});
      this.refused = checksum;
      return this.failure('refused', checksum, err, { validateMs: Date.now() - startedValidate });
    }
    const validateMs = Date.now() - startedValidate;
    try {
      await writeFilesAtomically(this.opts.configDir, live, WRITE_ORDER);
    } catch (err) {
      if (runtimeTouched) await this.resync();
      return this.failure('write-failed', checksum, err, { validateMs });
    }
    this.writeFailing = false;
    const report = await this.reload(live, checksum, previous, validateMs);
    return report.status === 'reloaded' ? { ...report, reloadReason } : report;
  }

  /**
   * Applies the change through the runtime API, then writes the files so a later reload or restart
   * serves the same. No `haproxy -c` here, and none is needed: the plan proved that everything but
   * server lines and map entries is byte-identical to the running, validated configuration, and
   * HAProxy's runtime API has just parsed and accepted exactly those server lines (`add server`
   * takes the keywords of the file's line). Any later reload validates the whole file again.
   * Returns `fallback` when the runtime API refused or its state did not match: the caller then
   * reloads, which also repairs whatever the runtime API had half done.
   */
  private async applyAtRuntime(ops: RuntimeOp[], live: RenderedFiles, checksum: string): Promise<ApplyReport | { fallback: string }> {
    const started = Date.now();
    const { config, hosts } = parseFiles(live);
    try {
      await this.runtime!.apply(ops, { servers: config.proxies, hosts, maps: extraMapsOf(live) });
    } catch (err) {
      const fallback = errorMessage(err);
      this.opts.log.warn({ error: fallback, ops: ops.length }, 'runtime change refused; falling back to a validated reload');
      return { fallback };
    }
    const runtimeMs = Date.now() - started;
    try {
      await writeFilesAtomically(this.opts.configDir, live, WRITE_ORDER);
    } catch (err) {
      // What runs must match the files: HAProxy goes back to the last good files on disk.
      await this.resync();
      return this.failure('write-failed', checksum, err, { runtimeMs });
    }
    this.good = live;
    this.refused = undefined;
    return { status: 'runtime', checksum, runtimeMs, runtimeOps: ops.length };
  }

  /** Reloads HAProxy on the last good files (on disk) to undo runtime changes that cannot stay. */
  private async resync(): Promise<void> {
    if (!this.good) return;
    this.opts.log.warn('reloading the last good configuration to undo a runtime change');
    await this.reload(this.good, checksumOf(this.good), undefined).catch(() => undefined);
  }

  /** Deletes drained servers whose connections have ended (called periodically). */
  async retryDrained(): Promise<void> {
    await this.runtime?.retryDrained().catch((err) => this.opts.log.debug({ error: errorMessage(err) }, 'drained servers not deleted yet'));
  }

  /**
   * Between changes, a master CLI that stops answering means HAProxy is gone (killed, stopped):
   * report it (status `written`: the good files are on disk, HAProxy has not loaded them) and make
   * the reload pending, so the retry loop reloads it once it answers. A master re-executing itself
   * for a reload does not answer for a moment: only a silence of about a second counts.
   */
  async checkReachable(): Promise<ApplyReport | undefined> {
    if (this.reloadPending || !this.good) return undefined;
    let last: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
      try {
        await showProc(this.opts.masterSocket);
        return undefined;
      } catch (err) {
        last = err;
      }
    }
    this.reloadPending = true;
    const err = new HaproxyUnreachableError(`HAProxy master CLI ${this.opts.masterSocket} is not reachable: ${errorMessage(last)}`, { cause: last });
    return this.failure('written', checksumOf(this.good), err, {});
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
    try {
      await writeFilesAtomically(staging, candidate(staging), WRITE_ORDER);
      await checkConfig(this.opts.bin, join(staging, MAIN_CONFIG));
    } finally {
      // Also after a failed write (a full disk): no empty staging directory is left behind.
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async reload(
    live: RenderedFiles,
    checksum: string,
    previous: RenderedFiles | undefined,
    validateMs?: number,
  ): Promise<ApplyReport> {
    const started = Date.now();
    await this.saveServerState();
    let workerPid: number;
    try {
      ({ workerPid } = await reloadThroughMaster(this.opts.masterSocket, this.opts.reloadTimeoutMs));
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
    if (this.opts.runtimeSocket) {
      const resumed = await resumePausedFrontends(this.opts.runtimeSocket, workerPid).catch((err) => {
        this.opts.log.warn({ error: errorMessage(err) }, 'cannot check the new worker for paused frontends');
        return [];
      });
      if (resumed.length) this.opts.log.warn({ frontends: resumed, workerPid }, 'HAProxy started the new worker with paused frontends (a bind needed its retry loop); resumed them');
    }
    this.good = live;
    this.reloadPending = false;
    this.refused = undefined;
    this.runtime?.forgetDrained();
    return { status: 'reloaded', checksum, validateMs, reloadMs: Date.now() - started };
  }

  /**
   * Saves `show servers state` for `load-server-state-from-file`, so health-check results and
   * maintenance states survive the reload. Best effort: without it servers start from the config.
   */
  private async saveServerState(): Promise<void> {
    if (!this.opts.runtimeSocket) return;
    try {
      const state = await sendSocketCommand(this.opts.runtimeSocket, 'show servers state', this.opts.reloadTimeoutMs);
      await writeFilesAtomically(this.opts.configDir, { [SERVER_STATE_FILE]: state });
    } catch (err) {
      this.opts.log.debug({ error: errorMessage(err) }, 'server state not saved before reload');
    }
  }

  private failure(
    status: ApplyStatus,
    checksum: string,
    err: unknown,
    timings: { validateMs?: number; reloadMs?: number; runtimeMs?: number },
  ): ApplyReport {
    const output = err instanceof RouterError && 'output' in err ? String((err as { output: unknown }).output) : undefined;
    if (status === 'write-failed') this.writeFailing = true;
    return { status, checksum, ...timings, error: { code: errorCode(err), message: errorMessage(err), output } };
  }
}
