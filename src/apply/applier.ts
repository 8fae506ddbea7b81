// The last step of a build: act only when bytes change, validate the candidate (config, map,
// certificates and crt-list) with `haproxy -c` in a staging directory, apply it through the runtime
// API when only servers and hosts changed (else reload through the master CLI), write the live
// files atomically, and keep the last good configuration on disk whenever any step fails. Every
// reload of HAProxy goes through reload() here: server state saved, paused frontends resumed.
// The applier alone records what HAProxy runs: one Deployment (deployment.ts), replaced whole.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HaproxyUnreachableError, RouterError, WriteFailedError, errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { CERTS_DIR, CRT_LIST_FILE, isCertificateFile } from '../render/certificates.js';
import { SERVER_STATE_FILE } from '../render/views.js';
import type { RenderedFiles } from '../render/types.js';
import { deployable, type BuiltFrom, type Candidate, type Deployable, type Deployment } from './deployment.js';
import { removeFilesNotIn, writeFilesAtomically, type WriteOptions } from './files.js';
import { reloadThroughMaster, resumePausedFrontends, showProc } from './reload.js';
import { RuntimeExecutor, type DesiredState } from './runtime/execute.js';
import { adoptRuntime } from './runtime/adopt.js';
import { parseFiles } from './runtime/parse.js';
import { SpareAssignments, desiredOnSpares, onSpares, type SpareClaim } from './runtime/spares.js';
import { EXTRA_RUNTIME_MAPS, HOSTS_MAP, MAIN_CONFIG, extraMapsOf, planRuntime, type RuntimeOp, type RuntimePlan } from './runtime/plan.js';
import { sendSocketCommand } from './socket.js';
import { checkConfig } from './validate.js';

export { MAIN_CONFIG };
/** Files HAProxy reads at load time go first, the main config last; certificates are secrets. */
const WRITE_ORDER: WriteOptions = { first: [HOSTS_MAP], last: [MAIN_CONFIG], secret: isCertificateFile };

export interface ApplierOptions {
  configDir: string;
  bin: string;
  masterSocket: string;
  /** Admin-level runtime API socket (rendered into the config); without it every change reloads. */
  runtimeSocket?: string;
  reloadTimeoutMs: number;
  log: Logger;
  /** The atomic writer (tests inject a failing one to reach the rollback paths). */
  writeFiles?: typeof writeFilesAtomically;
}

/**
 * - `unchanged`: HAProxy already runs these bytes.
 * - `already-refused`: the same candidate `haproxy -c` or HAProxy refused before: not tried again.
 * - `runtime`: applied through the runtime API, verified, written.
 * - `reloaded`: validated, written, HAProxy reloaded and the new worker confirmed.
 * - `haproxy-unreachable`: validated and written, but the master CLI did not answer (HAProxy loads
 *   the files when it starts; the reload is retried).
 * - `refused`: `haproxy -c` rejected the candidate. `reload-failed`: HAProxy refused the reload.
 *   `write-failed`: the files could not be written. The last good configuration stays in all three.
 */
export type ApplyStatus = 'unchanged' | 'already-refused' | 'runtime' | 'reloaded' | 'haproxy-unreachable' | 'refused' | 'reload-failed' | 'write-failed';

/** Result of adoptFilesOnDisk(). */
export type Adoption = { adopted: true } | { adopted: false; reason: string };

export interface ApplyReport {
  status: ApplyStatus;
  /** sha256 of the candidate's files. */
  checksum: string;
  validateMs?: number;
  reloadMs?: number;
  /** Runtime API commands applied (status `runtime`). */
  runtimeOps?: number;
  runtimeMs?: number;
  /** Writing the live files after a runtime change (HAProxy already serves it). */
  writeMs?: number;
  /** Where the build's time went, ms (set by the runner: model, render, plan). */
  profile?: Record<string, number>;
  /** Why the change could not go through the runtime API (status `reloaded`). */
  reloadReason?: string;
  /** Brand-new apps this change put on spare backends (status `runtime`), until the next reload. */
  spares?: SpareClaim[];
  error?: { code: string; message: string; output?: string };
  /** The reload onto the last good files that undid a half-done runtime change (after a failure). */
  undo?: ApplyReport;
}

/** What apply() and every reload return: the report, and the deployment HAProxy runs afterwards. */
export type Applied = ApplyReport & { readonly deployment: Deployment | undefined };

/** A runtime plan made by the caller, and the generation of the deployment it was made against. */
export interface PlannedChange {
  against: number;
  plan: RuntimePlan;
}

/** What HAProxy must hold after the runtime change, read from the candidate's files. */
function desiredOf(live: Readonly<RenderedFiles>): DesiredState {
  const { config, hosts } = parseFiles(live);
  return { servers: config.proxies, hosts, maps: extraMapsOf(live) };
}

/**
 * Runtime commands sent before the candidate's files were rendered (sendFirst), for apply():
 * `against` is the generation of the record right after sending. `fallback`: HAProxy refused them.
 */
export type SentChange =
  | { readonly against: number; readonly ops: number; readonly runtimeMs: number; readonly claims: readonly SpareClaim[] }
  | { readonly against: number; readonly fallback: string };

export interface ApplyOptions {
  /** The runtime plan the caller made from the two builds (apply/runtime/model-plan.ts). */
  planned?: PlannedChange;
  /** This candidate's runtime commands, sent already (sendFirst): apply() writes the files after them. */
  sent?: SentChange;
  /** What the candidate was built from: the deployment keeps it (the next plan, status, traffic). */
  built?: BuiltFrom;
}

// Rendered files are never changed once made: each set is hashed once (guard, apply, status).
const checksums = new WeakMap<RenderedFiles, string>();
// Each file's sha256 by name, while its text is the same: a build that leaves haproxy.cfg as it
// was (a custom domain, an ownership record) does not hash its 5.8 MB again at 10 000 apps, nor
// does the live set (the same texts and the certificates) after the template files.
const fileDigests = new Map<string, { text: string; digest: string }>();

function fileDigest(name: string, text: string): string {
  const kept = fileDigests.get(name);
  if (kept?.text === text) return kept.digest;
  const digest = createHash('sha256').update(text).digest('hex');
  fileDigests.set(name, { text, digest });
  return digest;
}

/** sha256 over each file's name and sha256, in name order: what tells two configurations apart. */
export function checksumOf(files: RenderedFiles): string {
  const kept = checksums.get(files);
  if (kept !== undefined) return kept;
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(`${name}\0${fileDigest(name, files[name]!)}\0`);
  const sum = hash.digest('hex');
  checksums.set(files, sum);
  return sum;
}

export class Applier {
  /** What HAProxy runs (or will run at its next start): validated and on disk. The one record of it. */
  private current: Deployment | undefined;
  private generations = 0;
  /**
   * The last write failed (disk full, read-only): until a write works again, changes skip the
   * runtime API. Otherwise every retry would apply a change at runtime and reload to undo it.
   */
  private writeFailing = false;
  /** The checksum of the last candidate HAProxy refused: not retried until the input changes. */
  private refused: string | undefined;
  private readonly runtime: RuntimeExecutor | undefined;
  private readonly writeFiles: typeof writeFilesAtomically;
  /**
   * What the config directory holds, as this applier last wrote it whole or read it: a write
   * rewrites only the files whose text differs (at 10 000 apps most changes touch haproxy.cfg
   * alone, and a certificate written again costs its fsync). Unknown after a failed write.
   */
  private onDisk: Readonly<RenderedFiles> | undefined;

  constructor(private readonly opts: ApplierOptions) {
    if (opts.runtimeSocket) this.runtime = new RuntimeExecutor(opts.runtimeSocket, join(opts.configDir, HOSTS_MAP));
    this.writeFiles = opts.writeFiles ?? writeFilesAtomically;
  }

  /** Servers removed from the config that still finish their connections before deletion. */
  get drainingServers(): string[] {
    return this.runtime?.drainingServers ?? [];
  }

  /** What HAProxy runs (or loads at its next start), with the apps on spare backends. */
  get deployment(): Deployment | undefined {
    return this.current;
  }

  /** A new record of what runs, replacing the one held. */
  private deploy(what: Deployable, state: Pick<Deployment, 'loaded' | 'spares'> & Partial<Pick<Deployment, 'sparesUnknown' | 'runtimeToRead'>>): Deployment {
    const { files, checksum, model, rendering, candidate, spareTotal } = what;
    this.current = { generation: ++this.generations, files, checksum, model, rendering, candidate, spareTotal, ...state };
    return this.current;
  }

  /** The held record with `changes`, as a new generation. */
  private amend(changes: Partial<Omit<Deployment, 'generation'>>): void {
    if (this.current) this.current = { ...this.current, ...changes, generation: ++this.generations };
  }

  private handOut(report: ApplyReport): Applied {
    return { ...report, deployment: this.current };
  }

  /**
   * Adopts the files already on disk, with the certificates and crt-list beside them (a daemon
   * restart with unchanged input must not reload, and the never-shrink guard compares the first
   * build with them). A missing file means a new node; any other read error is reported with its
   * cause: without adopted files the guard has nothing to compare the first build with.
   */
  async adoptFilesOnDisk(names: string[]): Promise<Adoption> {
    const { configDir, log } = this.opts;
    const files: RenderedFiles = {};
    let certificates: string[] = [];
    try {
      certificates = (await readdir(join(configDir, CERTS_DIR))).filter((n) => n.endsWith('.pem')).map((n) => `${CERTS_DIR}/${n}`);
      certificates.push(CRT_LIST_FILE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.notAdopted(`cannot list ${join(configDir, CERTS_DIR)}: ${errorMessage(err)}`, err);
    }
    for (const name of [...names, ...certificates]) {
      try {
        files[name] = await readFile(join(configDir, name), 'utf8');
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        if (missing && !names.includes(name)) continue;
        if (missing) {
          log.info({ file: join(configDir, name) }, 'no configuration on disk to adopt yet');
          return { adopted: false, reason: `${join(configDir, name)} does not exist` };
        }
        return this.notAdopted(`cannot read ${join(configDir, name)}: ${errorMessage(err)}`, err);
      }
    }
    this.onDisk = files;
    this.deploy(deployable(files, checksumOf(files)), {
      loaded: true,
      spares: SpareAssignments.NONE,
      sparesUnknown: 'the spare backends HAProxy serves apps from are not known yet: HAProxy did not answer since the daemon started',
      runtimeToRead: true,
    });
    await this.learnRuntime();
    return { adopted: true };
  }

  /**
   * After adopting the files: what HAProxy runs, as it reports it (`show map`, `show servers
   * state`): which spares hold which app, so the spares work at once, and whether its servers and
   * maps are the files' (else the next build reloads). Nothing to do once known; HAProxy not
   * answering leaves it unknown (the retry loop asks again).
   */
  async learnRuntime(): Promise<void> {
    const read = this.current;
    if (!read?.runtimeToRead || !this.runtime) return;
    let adopted: ReturnType<typeof adoptRuntime>;
    try {
      adopted = adoptRuntime(read.files, await this.runtime.readRuntime(EXTRA_RUNTIME_MAPS.filter((name) => name in read.files)));
    } catch (err) {
      this.opts.log.debug({ error: errorMessage(err) }, "HAProxy's runtime state is not read yet");
      return;
    }
    // A reload while HAProxy was asked loaded the files: every spare is known to be free then.
    if (this.current?.generation !== read.generation) return;
    const spares = SpareAssignments.NONE.with(adopted.claims, Date.now());
    if (adopted.drift === undefined) {
      this.amend({ runtimeToRead: false, sparesUnknown: undefined, spares });
      return;
    }
    this.amend({ runtimeToRead: false, sparesUnknown: `${adopted.drift}; no spare is taken until a reload`, spares, drift: adopted.drift });
    this.opts.log.warn(
      { reason: adopted.drift },
      'what HAProxy runs differs from the files adopted at start; nothing changes at runtime, the next build reloads',
    );
  }

  private notAdopted(reason: string, err: unknown): Adoption {
    this.opts.log.error(
      { error: reason, code: (err as NodeJS.ErrnoException).code },
      `${reason}; the running files are not adopted, so the never-shrink guard cannot protect the first build`,
    );
    return { adopted: false, reason };
  }

  /**
   * `planned`: the runtime plan the caller made from the two builds, used instead of comparing the
   * whole files when it was made against the deployment HAProxy runs (its generation).
   */
  async apply(candidate: Candidate, opts: ApplyOptions = {}): Promise<Applied> {
    return this.handOut(await this.applyCandidate(candidate, opts));
  }

  /**
   * Runtime first: sends the commands of a plan made from the two builds before the candidate's
   * files are rendered, so HAProxy serves the change while they are made. apply() with the result
   * (`sent`) writes them after. Undefined, and nothing sent, when this change cannot go first: no
   * usable runtime API, a plan against another deployment, a refused candidate pending, a spare in
   * use, or new certificate files (they go live only once `haproxy -c` has loaded them).
   * `certificates`: the candidate's certificate files and crt-list.
   */
  async sendFirst(planned: PlannedChange, certificates: Readonly<RenderedFiles>): Promise<SentChange | undefined> {
    const previous = this.current;
    const { plan } = planned;
    if (!this.runtimeUsable(previous) || planned.against !== previous.generation) return undefined;
    // After a refused candidate the files go first: the same candidate is then not tried again (already-refused).
    if (this.refused !== undefined) return undefined;
    if (plan.kind !== 'runtime' || plan.ops.length === 0 || plan.desired === undefined) return undefined;
    const claims = plan.spares ?? [];
    if (!previous.spares.canTake(claims) || certificatesDiffer(previous.files, certificates)) return undefined;
    const sent = await this.sendAtRuntime(plan.ops, plan.desired, claims);
    return { against: this.current!.generation, ...sent };
  }

  /**
   * Undoes runtime commands sent first whose files could not be made (a template failed at render
   * time): HAProxy reloads the last good files, which never had the change.
   */
  async undoSent(): Promise<Applied | undefined> {
    const undo = await this.resync();
    return undo && this.handOut(undo);
  }

  /** Whether a change can go through the runtime API at all: HAProxy runs the record, which it says, and files can be written. */
  private runtimeUsable(previous: Deployment | undefined): previous is Deployment {
    return previous?.loaded === true && previous.drift === undefined && this.runtime !== undefined && !this.writeFailing;
  }

  private async applyCandidate(candidate: Candidate, { planned, built, sent }: ApplyOptions): Promise<ApplyReport> {
    const live = candidate(this.opts.configDir);
    const checksum = checksumOf(live);
    const target = deployable(live, checksum, built, candidate);
    const previous = this.current;
    if (sent) return this.finishSent(sent, candidate, target, previous);
    if (previous?.checksum === checksum) {
      if (!previous.loaded) return this.reload(target, undefined);
      if (previous.drift !== undefined) {
        const report = await this.reload(target, undefined);
        return report.status === 'reloaded' ? { ...report, reloadReason: driftReason(previous.drift) } : report;
      }
      // The same bytes, now described by this build: the next change is planned from it (adopted
      // files have none), and the build an older record kept (model, views) is let go.
      this.amend(built ? target : { files: live, candidate });
      return { status: 'unchanged', checksum };
    }
    if (checksum === this.refused) return { status: 'already-refused', checksum };

    let reloadReason = this.writeFailing ? 'the last write had failed: written first, then reloaded' : 'no running configuration to change at runtime';
    if (previous?.drift !== undefined) reloadReason = driftReason(previous.drift);
    let runtimeTouched = false;
    if (this.runtimeUsable(previous)) {
      // A plan made against another deployment than the one HAProxy runs is not used: the files are compared.
      let plan: RuntimePlan = planned?.against === previous.generation ? planned.plan : planRuntime(previous.files, live);
      const claims = plan.kind === 'runtime' ? (plan.spares ?? []) : [];
      if (plan.kind === 'runtime' && !previous.spares.canTake(claims)) plan = { kind: 'reload', reason: 'the spare backend the plan took is in use' };
      if (plan.kind === 'runtime') {
        // New certificate files go live only once `haproxy -c` has loaded them from staging.
        if (certificatesDiffer(previous.files, live)) {
          const refused = await this.validateOrReport(candidate, checksum, false);
          if (refused) return refused;
        }
        const outcome = await this.applyAtRuntime(plan.ops, target, plan.desired, claims);
        if ('status' in outcome) return outcome;
        reloadReason = outcome.fallback;
        runtimeTouched = true;
      } else {
        reloadReason = plan.reason;
      }
    }

    return this.validateWriteReload(candidate, target, previous, runtimeTouched, reloadReason);
  }

  /**
   * The files of a change whose runtime commands were sent first: written and recorded, or, when
   * HAProxy refused the commands (or the record changed meanwhile), validated and reloaded, which
   * also repairs what the commands half did.
   */
  private async finishSent(sent: SentChange, candidate: Candidate, target: Deployable, previous: Deployment | undefined): Promise<ApplyReport> {
    if (!('fallback' in sent) && previous?.generation === sent.against) return this.writeAfterRuntime(target, previous, sent);
    const reason = 'fallback' in sent ? sent.fallback : 'what HAProxy runs changed after the runtime commands were sent';
    return this.validateWriteReload(candidate, target, previous, true, reason);
  }

  /** `haproxy -c`, the write and the reload; `runtimeTouched`: a refused or unwritable candidate also undoes runtime commands. */
  private async validateWriteReload(
    candidate: Candidate,
    target: Deployable,
    previous: Deployment | undefined,
    runtimeTouched: boolean,
    reloadReason: string,
  ): Promise<ApplyReport> {
    const { checksum } = target;
    const startedValidate = Date.now();
    const refused = await this.validateOrReport(candidate, checksum, runtimeTouched);
    if (refused) return refused;
    const validateMs = Date.now() - startedValidate;
    try {
      await this.writeLive(target.files);
    } catch (err) {
      const undo = runtimeTouched ? await this.resync() : undefined;
      return { ...this.failure('write-failed', checksum, err, { validateMs }), undo };
    }
    this.writeFailing = false;
    const report = await this.reload(target, previous, validateMs);
    return report.status === 'reloaded' ? { ...report, reloadReason } : report;
  }

  /**
   * Reloads HAProxy on the files it runs, for a change only a reload can make (a certificate the
   * runtime API cannot replace). The same reload path as every other: server state, paused frontends.
   */
  async reloadRunning(reason: string): Promise<Applied | undefined> {
    if (!this.current) return undefined;
    const report = await this.reload(this.current, undefined);
    return this.handOut(report.status === 'reloaded' ? { ...report, reloadReason: reason } : report);
  }

  /**
   * The validated reload that gives the apps on spare backends their own (haproxy.spare_settle of
   * quiet): `haproxy -c` on the running files, then a reload onto them. Undefined when no app is
   * on a spare.
   */
  async consolidateSpares(): Promise<Applied | undefined> {
    const running = this.current;
    if (!running || running.spares.size === 0) return undefined;
    const apps = running.spares.list().map((a) => a.app);
    const reason = `consolidating ${apps.length} app(s) on spare backends into their own backends (${apps.join(', ')})`;
    const { checksum, candidate } = running;
    const started = Date.now();
    if (candidate) {
      try {
        await this.validate(candidate);
      } catch (err) {
        // The files on disk would not load: HAProxy keeps serving from the spares; said loudly.
        this.opts.log.error({ error: errorMessage(err), apps }, 'the running files do not validate; apps stay on their spare backends');
        return this.handOut(this.failure(err instanceof WriteFailedError ? 'write-failed' : 'refused', checksum, err, { validateMs: Date.now() - started }));
      }
    }
    const report = await this.reload(running, undefined, Date.now() - started);
    return this.handOut(report.status === 'reloaded' ? { ...report, reloadReason: reason } : report);
  }

  /** `haproxy -c` on the candidate in staging; a failure comes back as the report to return. */
  private async validateOrReport(candidate: Candidate, checksum: string, runtimeTouched: boolean): Promise<ApplyReport | undefined> {
    const started = Date.now();
    try {
      await this.validate(candidate);
      return undefined;
    } catch (err) {
      // A half-done runtime change must not outlive a candidate that turned out invalid.
      const undo = runtimeTouched ? await this.resync() : undefined;
      // A disk problem says nothing about the candidate: it is tried again, unlike a refused one.
      if (err instanceof WriteFailedError) return { ...this.failure('write-failed', checksum, err, {}), undo };
      this.refused = checksum;
      return { ...this.failure('refused', checksum, err, { validateMs: Date.now() - started }), undo };
    }
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
  private async applyAtRuntime(
    ops: RuntimeOp[],
    target: Deployable,
    desired: DesiredState | undefined,
    claims: SpareClaim[],
  ): Promise<ApplyReport | { fallback: string }> {
    const previous = this.current!;
    const sent = await this.sendAtRuntime(ops, desired ?? desiredOf(target.files), claims);
    return 'fallback' in sent ? sent : this.writeAfterRuntime(target, previous, sent);
  }

  /** The commands, and HAProxy's state read back; `fallback` when it refused or differs. */
  private async sendAtRuntime(
    ops: RuntimeOp[],
    desired: DesiredState,
    claims: readonly SpareClaim[],
  ): Promise<{ ops: number; runtimeMs: number; claims: readonly SpareClaim[] } | { fallback: string }> {
    const previous = this.current!;
    const started = Date.now();
    // Apps on spares (and the ones taking one now) are served by the spare until the next reload.
    const names = previous.spares.names(claims);
    try {
      await this.runtime!.apply(onSpares(ops, names), desiredOnSpares(desired, names));
    } catch (err) {
      const fallback = errorMessage(err);
      this.opts.log.warn({ error: fallback, ops: ops.length }, 'runtime change refused; falling back to a validated reload');
      return { fallback };
    }
    // Recorded before the write: HAProxy serves the apps from these spares whatever the write does.
    if (claims.length > 0) this.amend({ spares: previous.spares.with(claims, Date.now()) });
    return { ops: ops.length, runtimeMs: Date.now() - started, claims };
  }

  /** The files after the commands: written, then the record; a failed write reloads the last good files. */
  private async writeAfterRuntime(
    target: Deployable,
    previous: Deployment,
    sent: { ops: number; runtimeMs: number; claims: readonly SpareClaim[] },
  ): Promise<ApplyReport> {
    const { runtimeMs, claims } = sent;
    const writeStarted = performance.now();
    try {
      await this.writeLive(target.files);
    } catch (err) {
      // What runs must match the files: HAProxy goes back to the last good files on disk.
      const undo = await this.resync();
      return { ...this.failure('write-failed', target.checksum, err, { runtimeMs }), undo };
    }
    const { sparesUnknown, runtimeToRead } = previous;
    this.deploy(target, { loaded: true, spares: this.current!.spares, sparesUnknown, runtimeToRead });
    this.refused = undefined;
    await this.removeStaleCertificates(target.files, previous.files);
    const report: ApplyReport = { status: 'runtime', checksum: target.checksum, runtimeMs, runtimeOps: sent.ops, writeMs: performance.now() - writeStarted };
    return claims.length > 0 ? { ...report, spares: [...claims] } : report;
  }

  /**
   * Reloads HAProxy on the last good files (on disk) to undo runtime changes that cannot stay.
   * Returns what that reload did: a failed undo leaves HAProxy running what the files do not say.
   */
  private async resync(): Promise<ApplyReport | undefined> {
    if (!this.current) return undefined;
    this.opts.log.warn('reloading the last good configuration to undo a runtime change');
    const undo = await this.reload(this.current, undefined);
    if (undo.status !== 'reloaded')
      this.opts.log.error(
        { status: undo.status, error: undo.error?.message },
        'the reload undoing a runtime change failed; HAProxy may run servers or hosts the files do not list',
      );
    return undo;
  }

  /** Writes `files` into the config directory: those whose text differs from what it is known to hold. */
  private async writeLive(files: Readonly<RenderedFiles>): Promise<void> {
    const known = this.onDisk;
    // Until this write completes, the directory holds a mix of old and new files.
    this.onDisk = undefined;
    const changed = known ? Object.fromEntries(Object.entries(files).filter(([name, text]) => known[name] !== text)) : files;
    await this.writeFiles(this.opts.configDir, changed, WRITE_ORDER);
    this.onDisk = files;
  }

  /** Certificate files an earlier candidate wrote and this one does not have (gone from Vault). */
  private async removeStaleCertificates(live: Readonly<RenderedFiles>, previous: Readonly<RenderedFiles> | undefined): Promise<void> {
    if (!previous || !Object.keys(previous).some(isCertificateFile)) return;
    await removeFilesNotIn(this.opts.configDir, live, CERTS_DIR, [CRT_LIST_FILE]).catch((err) =>
      this.opts.log.warn({ error: errorMessage(err) }, 'cannot remove certificate files no longer in Vault'),
    );
  }

  /** Deletes drained servers whose connections have ended (called periodically). */
  async retryDrained(): Promise<void> {
    await this.runtime?.retryDrained().catch((err) => this.opts.log.debug({ error: errorMessage(err) }, 'drained servers not deleted yet'));
  }

  /**
   * Between changes, a master CLI that stops answering means HAProxy is gone (killed, stopped):
   * report it (`haproxy-unreachable`: the good files are on disk, HAProxy has not loaded them) and make
   * the reload pending, so the retry loop reloads it once it answers. A master re-executing itself
   * for a reload does not answer for a moment: only a silence of about a second counts.
   */
  async checkReachable(): Promise<Applied | undefined> {
    const running = this.current;
    if (!running?.loaded) return undefined;
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
    // When it starts, HAProxy loads the files: every app in its own backend.
    this.amend({ loaded: false, spares: SpareAssignments.NONE, sparesUnknown: undefined, runtimeToRead: false, drift: undefined });
    const err = new HaproxyUnreachableError(`HAProxy master CLI ${this.opts.masterSocket} is not reachable: ${errorMessage(last)}`, { cause: last });
    return this.handOut(this.failure('haproxy-unreachable', running.checksum, err, {}));
  }

  /** Retries a reload that could not happen because HAProxy was not reachable. */
  async retryPendingReload(): Promise<Applied | undefined> {
    if (!this.current || this.current.loaded) return undefined;
    return this.handOut(await this.reload(this.current, undefined));
  }

  private async validate(candidate: Candidate): Promise<void> {
    const staging = join(this.opts.configDir, '.staging');
    try {
      await rm(staging, { recursive: true, force: true });
    } catch (err) {
      throw new WriteFailedError(`cannot prepare ${staging}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      await this.writeFiles(staging, candidate(staging), WRITE_ORDER);
      await checkConfig(this.opts.bin, join(staging, MAIN_CONFIG));
    } finally {
      // Also after a failed write (a full disk): no staging directory is left behind. A failure
      // here only leaves a directory the next validation removes first.
      await rm(staging, { recursive: true, force: true }).catch((err) => this.opts.log.warn({ error: errorMessage(err) }, `cannot remove ${staging}`));
    }
  }

  /**
   * Reloads HAProxy onto `target` (written already). `previous`: what ran before, put back on disk
   * when HAProxy refuses the reload.
   */
  private async reload(target: Deployable, previous: Deployable | undefined, validateMs?: number): Promise<ApplyReport> {
    const { checksum } = target;
    const started = Date.now();
    await this.saveServerState();
    let workerPid: number;
    try {
      ({ workerPid } = await reloadThroughMaster(this.opts.masterSocket, this.opts.reloadTimeoutMs));
    } catch (err) {
      if (err instanceof HaproxyUnreachableError) {
        // The files are valid: HAProxy picks them up when it starts; we reload once it answers.
        const before = this.current;
        // HAProxy is gone: when it starts it loads the files, every app in its own backend.
        this.deploy(target, { loaded: false, spares: SpareAssignments.NONE });
        this.refused = undefined;
        await this.removeStaleCertificates(target.files, before?.files);
        return this.failure('haproxy-unreachable', checksum, err, { validateMs });
      }
      // HAProxy refused what `haproxy -c` accepted (a port in use, say): put the running config back
      // on disk so a restart of HAProxy does not load what the running one refused.
      this.refused = checksum;
      const failed = this.failure('reload-failed', checksum, err, { validateMs, reloadMs: Date.now() - started });
      if (!previous) return failed;
      const restored = await this.restore(previous.files, target.files);
      return { ...failed, error: { ...failed.error!, message: `${failed.error!.message}; ${restored}` } };
    }
    if (this.opts.runtimeSocket) {
      try {
        const resumed = await resumePausedFrontends(this.opts.runtimeSocket, workerPid);
        if (resumed.length)
          this.opts.log.warn(
            { frontends: resumed, workerPid },
            'HAProxy started the new worker with paused frontends (a bind needed its retry loop); resumed them',
          );
      } catch (err) {
        this.opts.log.warn({ error: errorMessage(err), workerPid }, 'cannot check the new worker for paused frontends');
      }
    }
    const before = this.current;
    // The new worker runs the files: every app has its own backend, every spare is empty again.
    this.deploy(target, { loaded: true, spares: SpareAssignments.NONE });
    this.refused = undefined;
    this.runtime?.forgetDrained();
    await this.removeStaleCertificates(target.files, before?.files);
    return { status: 'reloaded', checksum, validateMs, reloadMs: Date.now() - started };
  }

  /** Puts the running files back after a refused reload; says what happened, for the report. */
  private async restore(previous: Readonly<RenderedFiles>, refused: Readonly<RenderedFiles>): Promise<string> {
    try {
      await this.writeLive(previous);
      await removeFilesNotIn(
        this.opts.configDir,
        previous,
        CERTS_DIR,
        Object.keys(refused).filter((n) => !n.includes('/')),
      );
      return 'the previous files were put back on disk';
    } catch (err) {
      this.opts.log.error(
        { error: errorMessage(err) },
        'cannot put the previous files back after a refused reload; a restart of HAProxy would load the refused configuration',
      );
      return `the previous files could NOT be put back on disk (${errorMessage(err)}): a restart of HAProxy would load the refused configuration`;
    }
  }

  /**
   * Saves `show servers state` for `load-server-state-from-file`, so health-check results and
   * maintenance states survive the reload. Best effort: without it servers start from the config.
   */
  private async saveServerState(): Promise<void> {
    if (!this.opts.runtimeSocket) return;
    try {
      const state = await sendSocketCommand(this.opts.runtimeSocket, 'show servers state', this.opts.reloadTimeoutMs);
      await this.writeFiles(this.opts.configDir, { [SERVER_STATE_FILE]: state });
    } catch (err) {
      this.opts.log.debug({ error: errorMessage(err) }, 'server state not saved before reload');
    }
  }

  private failure(status: ApplyStatus, checksum: string, err: unknown, timings: { validateMs?: number; reloadMs?: number; runtimeMs?: number }): ApplyReport {
    const output = err instanceof RouterError && 'output' in err ? String((err as { output: unknown }).output) : undefined;
    if (status === 'write-failed') this.writeFailing = true;
    return { status, checksum, ...timings, error: { code: errorCode(err), message: errorMessage(err), output } };
  }
}

function driftReason(drift: string): string {
  return `what HAProxy runs differs from the files adopted at start (${drift}): reloaded onto the files`;
}

function certificatesDiffer(a: Readonly<RenderedFiles>, b: Readonly<RenderedFiles>): boolean {
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) if (isCertificateFile(name) && a[name] !== b[name]) return true;
  return false;
}
