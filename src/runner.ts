// The daemon's loop: keep the latest snapshot of every source; once all required sources have
// reported, build → render → apply after each quiet period. Any error keeps what is running
// (fabio's watchBackend): an error is never mistaken for "no services". The parts live in
// runner/: quiescence, the never-shrink guard, port probes, certificates, the retry loop.
import { EventEmitter } from 'node:events';
import type { RunnerEvents } from './runner/events.js';
import { MAIN_CONFIG, checksumOf, type Applied, type Applier, type ApplyReport, type PlannedChange, type SentChange } from './apply/applier.js';
import type { Candidate, Deployment } from './apply/deployment.js';
import type { CertificateRuntime } from './apply/runtime/certificates.js';
import { errorCode, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import type { ModelSettings, RoutingModel } from './model/types.js';
import type { TlsStatus } from './render/certificates.js';
import type { CompiledTemplates } from './render/templates.js';
import type { RenderedFiles, RenderSettings } from './render/types.js';
import { candidateFiles, modelInputOf, renderCandidate, type CandidateFiles, type CandidateInputs } from './runner/candidate.js';
import { syncCertificates, type TlsBuild } from './runner/certificate-sync.js';
import type { ClaimRecorder } from './claims/recorder.js';
import { ShrinkGuard } from './runner/guard.js';
import type { RouteCounts } from './runner/shrink.js';
import { IncrementalBuilds, runningCounts, runningPorts, type LiveBuild, type StagedBuild } from './runner/incremental.js';
import { withoutBusyPorts } from './runner/ports.js';
import { Quiescence } from './runner/quiescence.js';
import { nextTurn } from './util/next-turn.js';
import { logSpareClaims, recordApply } from './runner/record.js';
import { rejectionDelta, rejectionLogLine } from './runner/rejection-log.js';
import { retryOnce } from './runner/retry.js';
import { logTlsChanges } from './runner/tls-log.js';
import type { Source, SourceStatus } from './sources/source.js';
import type { KvFeatureSnapshot } from './sources/consul/kv-feature-source.js';
import type { CatalogSnapshot, DomainsSnapshot } from './sources/types.js';
import type { SecretsSnapshot } from './sources/vault/types.js';
import { initialState, type RouterState } from './state.js';

export interface RunnerSources {
  catalog: Source<CatalogSnapshot>;
  domains: Source<DomainsSnapshot>;
  templates: Source<CompiledTemplates>;
  /**
   * Credentials from Vault (when `vault.address` is set). Then nothing is built before its first
   * snapshot, and the Consul sources start only after it (their ACL token may come from it).
   */
  secrets?: Source<SecretsSnapshot>;
  /** Group weights and maintenance pages from Consul K/V: when given, required like domains. */
  weights?: Source<KvFeatureSnapshot>;
  maintenance?: Source<KvFeatureSnapshot>;
  /** Ownership records and path delegations from Consul K/V: when given, required like domains. */
  claims?: Source<KvFeatureSnapshot>;
  paths?: Source<KvFeatureSnapshot>;
}

export interface RunnerOptions {
  /** haproxy.config_dir: the directory the live files are rendered for. */
  configDir: string;
  /** Never-shrink guard; absent = every change applies at once. */
  guard?: { maxShrink: number; confirmAfterMs: number };
  sources: RunnerSources;
  applier: Applier;
  modelSettings: ModelSettings;
  renderSettings: Omit<RenderSettings, 'configDir'>;
  wait: { minMs: number; maxMs: number };
  log: Logger;
  /** How often to retry a reload that could not reach HAProxy. */
  retryMs?: number;
  /** Keeps HAProxy's memory in step with the certificates from `secrets` (runtime API). */
  certificates?: CertificateRuntime;
  /** `haproxy.spare_settle`: quiet time after which apps on spare backends get their own (a validated reload). */
  spareSettleMs?: number;
  /** Records who holds each shared name after every build (absent: nothing is recorded, e.g. `render`). */
  claimRecorder?: ClaimRecorder;
  /** `haproxy.peers.name` when peers are on: the `peers` section is rendered from the catalog's routers. */
  peerName?: string;
}

/** A candidate up to its template data: what the runtime plan compares, and how its files are made. */
interface Staged {
  files: CandidateFiles;
  /** The certificate files and crt-list of the live directory. */
  extra: RenderedFiles;
  /** The model, the template data and the templates they are for. */
  live: StagedBuild;
  /** The runtime plan from what runs (a template that fails on the changed apps fails the build here). */
  planned: PlannedChange | undefined;
  /** The deployment HAProxy ran when the build started. */
  running: Deployment | undefined;
  /** Routes before and after, from the models (the never-shrink guard). */
  counts: { before: RouteCounts | undefined; after: RouteCounts };
}

/** A built candidate: the model, its TLS part, the files for any directory, the live directory's bytes. */
interface Built {
  model: RoutingModel;
  tls: TlsBuild | undefined;
  candidate: Candidate;
  rendered: RenderedFiles;
  live: LiveBuild;
}

interface Latest {
  catalog?: CatalogSnapshot;
  domains?: DomainsSnapshot;
  templates?: CompiledTemplates;
  secrets?: SecretsSnapshot;
  weights?: KvFeatureSnapshot;
  maintenance?: KvFeatureSnapshot;
  claims?: KvFeatureSnapshot;
  paths?: KvFeatureSnapshot;
}

/**
 * Statuses after which HAProxy's memory of the certificates is brought in step with the files. Not
 * after `haproxy-unreachable`: HAProxy runs nothing then, and loads the files when it starts.
 */
const SYNC_CERTIFICATES_AFTER = new Set<ApplyReport['status']>(['unchanged', 'runtime', 'reloaded']);

export class Runner extends EventEmitter<RunnerEvents> {
  /** What the daemon knows; what HAProxy runs is read from the applier (it owns that record). */
  readonly state: RouterState = initialState(Date.now(), () => this.opts.applier.deployment);
  private readonly latest: Latest = {};
  private readonly quiescence: Quiescence;
  private readonly guard: ShrinkGuard | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private tlsStatus: TlsStatus | undefined;
  /**
   * Builds and the periodic retry both drive HAProxy (reloads through the master CLI, runtime
   * commands): one at a time, or two reloads overlap and one's `show proc` confirms the other.
   */
  private haproxyTurn: Promise<void> = Promise.resolve();
  private retryQueued = false;
  /** Model memo and render cache: a change costs what changed. */
  readonly incremental = new IncrementalBuilds();
  /** The last build left out tcp apps whose port another process holds: probe again later. */
  private busyPortsLeftOut = false;
  /** Fires after haproxy.spare_settle of quiet while apps are on spare backends. */
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RunnerOptions) {
    super();
    this.quiescence = new Quiescence({
      minMs: opts.wait.minMs,
      maxMs: opts.wait.maxMs,
      // A lone change HAProxy's runtime API can make goes at once; what needs a reload coalesces.
      leading: true,
      run: (leading) => this.exclusive(() => this.build(leading)),
      onError: (err) => this.buildFailed(err, 'build failed unexpectedly; the running configuration stays'),
    });
    if (opts.guard) {
      this.guard = new ShrinkGuard({
        ...opts.guard,
        log: opts.log,
        state: this.state,
        reread: () => {
          opts.sources.catalog.reread?.();
          opts.sources.domains.reread?.();
          opts.sources.weights?.reread?.();
          opts.sources.maintenance?.reread?.();
          opts.sources.claims?.reread?.();
          opts.sources.paths?.reread?.();
        },
        onHeld: (held) => this.emit('held', held),
      });
    }
  }

  start(): void {
    const { sources } = this.opts;
    this.watch('templates', sources.templates);
    const startConsul = () => {
      this.watch('catalog', sources.catalog);
      this.watch('domains', sources.domains);
      if (sources.weights) this.watch('weights', sources.weights);
      if (sources.maintenance) this.watch('maintenance', sources.maintenance);
      if (sources.claims) this.watch('claims', sources.claims);
      if (sources.paths) this.watch('paths', sources.paths);
    };
    if (sources.secrets) this.watch('secrets', sources.secrets, startConsul);
    else startConsul();
    this.retryTimer = setInterval(() => {
      // Releases of idle names fall due with time: the recorder plans again with the last owners.
      if (this.claimsWritable()) void this.opts.claimRecorder?.tick();
      if (this.retryQueued) return;
      this.retryQueued = true;
      void this.exclusive(() => this.retry())
        .catch((err) => this.opts.log.error({ err }, 'the periodic retry failed unexpectedly; it runs again at the next interval'))
        .finally(() => (this.retryQueued = false));
    }, this.opts.retryMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    clearTimeout(this.settleTimer);
    this.guard?.stop();
    this.quiescence.stop();
    const { sources } = this.opts;
    await Promise.all([
      sources.catalog.stop(),
      sources.domains.stop(),
      sources.templates.stop(),
      sources.secrets?.stop(),
      sources.weights?.stop(),
      sources.maintenance?.stop(),
      sources.claims?.stop(),
      sources.paths?.stop(),
    ]);
    await this.opts.claimRecorder?.settled();
    await this.quiescence.settled();
  }

  /** Resolves once no build is running or scheduled (tests and `dev` use it). */
  settled(): Promise<void> {
    return this.quiescence.settled();
  }

  /** TLS as last built: certificates in use, rejected ones, hosts served on HTTP only. */
  get tls(): TlsStatus | undefined {
    return this.tlsStatus;
  }

  /**
   * The ACME account's thumbprint (src/acme/): from now on every render answers HTTP-01
   * challenges with it. A change rebuilds once (the challenge rule is part of haproxy.cfg).
   */
  setAcmeThumbprint(thumbprint: string): void {
    if (this.acme?.thumbprint === thumbprint) return;
    this.acme = { thumbprint };
    this.quiescence.trigger();
  }

  private acme: { thumbprint: string } | undefined;
  /** The last build's files failed to render (a template error): the next builds do not send first. */
  private renderFailed = false;

  /** Applies the change held by the never-shrink guard at the next build (operator override). */
  releaseHold(): void {
    if (this.guard?.release()) this.quiescence.trigger();
  }

  private watch<K extends keyof Latest>(key: K, source: Source<NonNullable<Latest[K]>>, onFirst?: () => void): void {
    source.start({
      snapshot: (data) => {
        const first = this.latest[key] === undefined;
        this.latest[key] = data;
        if (key === 'catalog') this.guard?.catalogSnapshot();
        if (first && onFirst && !this.stopped) onFirst();
        this.quiescence.trigger();
      },
      status: (status) => this.onStatus(status),
    });
  }

  private onStatus(status: SourceStatus): void {
    const before = this.state.sources[status.name];
    this.state.sources[status.name] = status;
    if (before?.state !== status.state) {
      const level = status.state === 'down' || status.state === 'degraded' ? 'warn' : 'info';
      this.opts.log[level]({ source: status.name, state: status.state, error: status.lastError?.message }, `source ${status.name} is ${status.state}`);
    }
    this.emit('status', status);
  }

  private buildFailed(err: unknown, message: string): void {
    this.state.counters.renderErrors += 1;
    this.state.lastBuildError = { code: errorCode(err), message: errorMessage(err), at: Date.now() };
    this.opts.log.error({ err }, message);
    this.emit('build-error', err);
  }

  /**
   * One build, in its stages: the inputs, the candidate up to its template data, the plan, the
   * runtime commands first when the change has them, the files, what the build tells, the apply.
   */
  private async build(leading = false): Promise<'wait' | undefined> {
    const ready = this.readyInputs();
    if (!ready) return;
    this.state.counters.builds += 1;
    const staged = await this.stageCandidate(ready.templates, ready.inputs);
    if (!staged) return;
    // Run at once on the leading edge, but only for a runtime change: a reload waits for wait.min.
    if (leading && staged.planned?.plan.kind !== 'runtime') return 'wait';
    // After files that failed to render, the next builds render first: a template failing on this
    // input would otherwise cost a reload (the undo) per build.
    const sent = this.renderFailed ? undefined : await this.sendFirst(staged);
    const built = await this.finishCandidate(staged, sent);
    if (!built) return;
    this.noteBuilt(built);
    await this.applyBuilt(built, staged, sent);
  }

  /**
   * The latest input of every source, once every required one has reported: a partial view is not
   * a view. With Vault configured, no configuration is written without the credentials it needs.
   */
  private readyInputs(): { templates: CompiledTemplates; inputs: CandidateInputs } | undefined {
    const { catalog, domains, templates, secrets, weights, maintenance, claims, paths } = this.latest;
    const { sources } = this.opts;
    if (this.stopped || !catalog || !domains || !templates) return undefined;
    if (sources.secrets && !secrets) return undefined;
    if ((sources.weights && !weights) || (sources.maintenance && !maintenance)) return undefined;
    if ((sources.claims && !claims) || (sources.paths && !paths)) return undefined;
    return {
      templates,
      inputs: {
        services: catalog.services,
        claims: domains.claims,
        weights: weights?.entries,
        maintenance: maintenance?.entries,
        claimRecords: claims?.entries,
        delegations: paths?.entries,
        secrets,
      },
    };
  }

  /** The model, the template data of the live directory and the runtime plan; undefined when the build fails (reported) or the runner stopped meanwhile. */
  private async stageCandidate(templates: CompiledTemplates, inputs: CandidateInputs): Promise<Staged | undefined> {
    const { applier, configDir } = this.opts;
    const running = applier.deployment;
    try {
      const built = this.incremental.model(modelInputOf(inputs, this.opts.modelSettings));
      await nextTurn();
      if (this.stopped) return undefined;
      const probed = await withoutBusyPorts(built, runningPorts(running) ?? running?.files[MAIN_CONFIG] ?? '', this.opts.renderSettings.bindAddress);
      const model = probed.model;
      this.busyPortsLeftOut = probed.leftOut;
      const files = candidateFiles(
        model,
        inputs,
        {
          modelSettings: this.opts.modelSettings,
          renderSettings: this.opts.renderSettings,
          peerName: this.opts.peerName,
          tls: this.opts.certificates !== undefined,
          acmeThumbprint: this.acme?.thumbprint,
        },
        configDir,
      );
      // The data is checked here, so a value that cannot be printed is reported as a build error,
      // not as an apply failure. The live directory renders through the cache: what did not
      // change is not rendered again.
      const live = this.incremental.stage(templates, model, files.settingsFor(configDir));
      const planned = this.incremental.plan(live, running);
      const counts = { before: runningCounts(running), after: live.counts };
      return { files, extra: files.extraFiles(configDir), live, planned, running, counts };
    } catch (err) {
      this.buildFailed(err, 'build failed; the running configuration stays');
      return undefined;
    }
  }

  /**
   * Runtime first: a change the runtime API can make goes to HAProxy before its files are rendered
   * (they follow: render, checksum, write). Never a change the never-shrink guard would hold.
   */
  private async sendFirst({ planned, running, counts, extra }: Staged): Promise<SentChange | undefined> {
    if (planned?.plan.kind !== 'runtime' || this.guard?.holds(running?.files, counts)) return undefined;
    return this.opts.applier.sendFirst(planned, extra);
  }

  /**
   * The files of the staged candidate (the applier reuses these bytes for the live directory: one
   * render on the path). A template failing now undoes the commands sent first: HAProxy reloads
   * the last good files.
   */
  private async finishCandidate(staged: Staged, sent: SentChange | undefined): Promise<Built | undefined> {
    const { applier, configDir } = this.opts;
    const { files, extra } = staged;
    const { model, templates } = staged.live;
    try {
      await nextTurn();
      // Commands sent first are followed by their files whatever happens: HAProxy runs them.
      if (this.stopped && !sent) return undefined;
      const live = this.incremental.finish(staged.live);
      const rendered = { ...live.rendered, ...extra };
      this.state.lastRenderMs = this.incremental.profile.renderMs;
      this.emit('rendered', this.state.lastRenderMs);
      const candidate: Candidate = (dir) => (dir === configDir ? rendered : renderCandidate(templates, model, files, dir));
      this.renderFailed = false;
      await nextTurn();
      return { model, tls: files.tls, candidate, rendered, live };
    } catch (err) {
      this.renderFailed = true;
      if (sent) {
        const before = applier.deployment;
        const undo = await applier.undoSent();
        if (undo) this.record(undo, before);
      }
      this.buildFailed(err, 'build failed; the running configuration stays');
      return undefined;
    }
  }

  /** What a successful build tells before anything is applied: TLS, new rejections, the records. */
  private noteBuilt({ model, tls, rendered }: Built): void {
    if (tls) {
      logTlsChanges(this.opts.log, this.tlsStatus, tls.status);
      this.state.tls = this.tlsStatus = tls.status;
    }
    this.logRejectionChanges(this.state.builtModel, model);
    this.state.builtModel = model;
    this.state.builtChecksum = checksumOf(rendered);
    // Off the latency path: the records follow the build (the next build reads them back).
    if (model.owners && this.claimsWritable()) void this.opts.claimRecorder?.reconcile(model.owners);
    this.state.lastBuildError = undefined;
  }

  /** The never-shrink guard, the apply, its record, then the certificates HAProxy needs. */
  private async applyBuilt(
    { model, tls, candidate, rendered, live }: Built,
    { planned, counts, running }: Staged,
    sent: SentChange | undefined,
  ): Promise<void> {
    const { applier } = this.opts;
    // A held change touches nothing: not even the certificate files. (A change sent first is one
    // the guard lets through, asked with the same counts: its files follow whatever it says.)
    if (this.guard && !this.guard.passes(running?.files, rendered, checksumOf(rendered), counts) && !sent) return;
    const applied = await applier.apply(candidate, { planned, sent, built: { model, data: live.data, templates: live.templates } });
    const { modelMs, renderMs, planMs } = this.incremental.profile;
    this.record({ ...applied, profile: { modelMs, renderMs, planMs } }, running);
    if (tls && this.opts.certificates && SYNC_CERTIFICATES_AFTER.has(applied.status)) {
      const before = applier.deployment;
      const result = await syncCertificates(this.opts.certificates, tls.plan, applier, this.opts.log);
      if (result.reload) this.record(result.reload, before);
      this.emit('certificates', result.sync);
    }
  }

  /**
   * Records are written only from a whole, current view: while a Consul source is down, an owner
   * may only look absent, and marking it idle would start its release.
   */
  private claimsWritable(): boolean {
    if (this.stopped || !this.opts.claimRecorder || !this.state.builtModel) return false;
    return Object.values(this.state.sources).every((s) => !s.name.startsWith('consul') || s.state === 'ok');
  }

  private async retry(): Promise<void> {
    const { applier } = this.opts;
    const before = applier.deployment;
    await retryOnce({
      applier,
      rebuildWanted: () => this.state.lastApply?.status === 'write-failed' || this.busyPortsLeftOut,
      rebuild: () => this.quiescence.trigger(),
      // HAProxy runs nothing now: the deployment says so (not loaded) until it has loaded the files again.
      haproxyGone: (report) => this.record(report, before),
      // The reload loads the good files, not the latest build (which may be a refused candidate).
      reloaded: (report) => this.record(report, before),
    });
  }

  /**
   * Apps on spare backends get their own at the next reload that happens anyway, or after
   * haproxy.spare_settle with no change applied (quiet): every applied change starts the wait again.
   */
  private armSpareSettle(restart: boolean): void {
    const onSpares = this.opts.applier.deployment?.spares.size ?? 0;
    if (this.settleTimer !== undefined && !restart && onSpares > 0) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    if (this.stopped || onSpares === 0) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.consolidateSpares().catch((err) =>
        this.opts.log.error({ err }, 'consolidating the apps on spare backends failed; tried again after the next change'),
      );
    }, this.opts.spareSettleMs ?? 300_000);
    this.settleTimer.unref?.();
  }

  /** Gives the apps on spare backends their own now (one validated reload); nothing when none is on a spare. */
  consolidateSpares(): Promise<void> {
    return this.exclusive(async () => {
      const before = this.opts.applier.deployment;
      const report = await this.opts.applier.consolidateSpares();
      if (report) this.record(report, before);
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.haproxyTurn.then(fn);
    this.haproxyTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /**
   * What an apply, reload or retry did, over `before` (the deployment that ran before it). The
   * record HAProxy runs afterwards comes with the report; the report is kept and emitted without it.
   */
  private record({ deployment, ...report }: Applied, before: Deployment | undefined): void {
    recordApply(this.state, this.opts.log, report, before?.model, deployment?.model);
    logSpareClaims(this.opts.log, report.spares ?? []);
    // Only a change restarts the wait: a build that changed nothing (a Vault refresh) is quiet.
    this.armSpareSettle(report.status === 'runtime' || report.status === 'reloaded');
    this.emit('applied', report);
  }

  private logRejectionChanges(before: RoutingModel | undefined, after: RoutingModel): void {
    // One line per build, not one per rejection: tenants decide how many there are.
    const line = rejectionLogLine(rejectionDelta(before?.rejections, after.rejections));
    if (line) this.opts.log[line.level](line.fields, line.message);
  }
}
