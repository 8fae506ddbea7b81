// The daemon's loop: keep the latest snapshot of every source; once all required sources have
// reported, build → render → apply after each quiet period. Any error keeps what is running
// (fabio's watchBackend): an error is never mistaken for "no services".
import { EventEmitter } from 'node:events';
import { MAIN_CONFIG, checksumOf, type Applier, type ApplyReport } from './apply/applier.js';
import { hostsCoveredBy, tlsStatusOf, type CertificatePlan, type CertificateStore, type TlsStatus } from './apply/certs.js';
import { assessShrink } from './apply/guard.js';
import { boundPorts, portInUse } from './apply/ports.js';
import { Quiescence } from './apply/quiescence.js';
import { errorCode, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { buildModel } from './model/build.js';
import { finishRejections, reject } from './model/rejections.js';
import type { ModelSettings, RoutingModel } from './model/types.js';
import { renderFiles } from './render/render.js';
import type { CompiledTemplates } from './render/templates.js';
import type { RenderedFiles, RenderSettings } from './render/types.js';
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
  /** Writes the TLS certificates from `secrets` and keeps HAProxy's memory in step with them. */
  certificates?: CertificateStore;
}

interface Latest {
  catalog?: CatalogSnapshot;
  domains?: DomainsSnapshot;
  templates?: CompiledTemplates;
  secrets?: SecretsSnapshot;
  weights?: KvFeatureSnapshot;
  maintenance?: KvFeatureSnapshot;
}

export class Runner extends EventEmitter {
  readonly state: RouterState = initialState(Date.now());
  private readonly latest: Latest = {};
  private readonly quiescence: Quiescence;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private tlsStatus: TlsStatus | undefined;
  /**
   * Builds and the periodic retry both drive HAProxy (reloads through the master CLI, runtime
   * commands): one at a time, or two reloads overlap and one's `show proc` confirms the other.
   */
  private haproxyTurn: Promise<void> = Promise.resolve();
  private retryQueued = false;
  /** The model of the files the applier holds as good (what a pending reload will load). */
  private appliedModel: RoutingModel | undefined;
  /** The last build left out tcp apps whose port another process holds: probe again later. */
  private busyPortsLeftOut = false;

  constructor(private readonly opts: RunnerOptions) {
    super();
    this.quiescence = new Quiescence(opts.wait.minMs, opts.wait.maxMs, () => this.exclusive(() => this.build()));
  }

  start(): void {
    const { sources } = this.opts;
    this.watch('templates', sources.templates);
    const startConsul = () => {
      this.watch('catalog', sources.catalog);
      this.watch('domains', sources.domains);
      if (sources.weights) this.watch('weights', sources.weights);
      if (sources.maintenance) this.watch('maintenance', sources.maintenance);
    };
    if (sources.secrets) this.watch('secrets', sources.secrets, startConsul);
    else startConsul();
    this.retryTimer = setInterval(() => {
      if (this.retryQueued) return;
      this.retryQueued = true;
      void this.exclusive(() => this.retryReload()).finally(() => (this.retryQueued = false));
    }, this.opts.retryMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    if (this.guardTimer) clearTimeout(this.guardTimer);
    this.quiescence.stop();
    const { sources } = this.opts;
    await Promise.all([sources.catalog.stop(), sources.domains.stop(), sources.templates.stop(), sources.secrets?.stop(), sources.weights?.stop(), sources.maintenance?.stop()]);
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

  private watch<K extends keyof Latest>(key: K, source: Source<NonNullable<Latest[K]>>, onFirst?: () => void): void {
    source.start({
      snapshot: (data) => {
        const first = this.latest[key] === undefined;
        this.latest[key] = data;
        if (key === 'catalog' && this.rereadAskedAt !== undefined) this.freshSnapshotAt = Date.now();
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

  private async build(): Promise<void> {
    const { catalog, domains, templates, secrets, weights, maintenance } = this.latest;
    // Wait until every required source has reported once: a partial view is not a view. With
    // Vault configured, no configuration is written without the credentials it needs.
    if (this.stopped || !catalog || !domains || !templates) return;
    if (this.opts.sources.secrets && !secrets) return;
    if ((this.opts.sources.weights && !weights) || (this.opts.sources.maintenance && !maintenance)) return;
    this.state.counters.builds += 1;
    let model: RoutingModel;
    let renderSettings: Omit<RenderSettings, 'configDir'>;
    let certificates: CertificatePlan | undefined;
    let rendered: RenderedFiles;
    try {
      model = await this.withoutBusyPorts(buildModel({ services: catalog.services, claims: domains.claims, settings: this.opts.modelSettings, weights: weights?.entries, maintenance: maintenance?.entries }));
      ({ renderSettings, certificates } = this.withSecrets(model, secrets));
      // Render up front so a template error is reported as such, not as an apply failure; the
      // applier reuses these bytes for the live directory (one render on the latency path).
      const renderStarted = performance.now();
      rendered = renderFiles(templates, model, { ...renderSettings, configDir: this.opts.configDir });
      this.state.lastRenderMs = performance.now() - renderStarted;
      this.emit('rendered', this.state.lastRenderMs);
    } catch (err) {
      this.state.counters.renderErrors += 1;
      this.state.lastBuildError = { code: errorCode(err), message: errorMessage(err), at: Date.now() };
      this.opts.log.error({ err }, 'build failed; the running configuration stays');
      this.emit('build-error', err);
      return;
    }
    this.logRejectionChanges(this.state.model, model);
    this.state.model = model;
    this.state.lastBuildError = undefined;
    // A held change touches nothing: not even the certificate files.
    if (!this.passesGuard(rendered)) return;
    const store = this.opts.certificates;
    if (store && certificates) {
      try {
        // Before validation: `haproxy -c` loads the certificates the crt-list names.
        await store.write(certificates);
      } catch (err) {
        this.state.lastBuildError = { code: errorCode(err), message: errorMessage(err), at: Date.now() };
        this.opts.log.error({ error: errorMessage(err) }, 'cannot write the TLS certificates; the running configuration stays');
        return;
      }
    }
    const report = await this.opts.applier.apply((configDir) =>
      configDir === this.opts.configDir ? rendered : renderFiles(templates, model, { ...renderSettings, configDir }),
    );
    this.record(report, model);
    if (store && certificates && report.status !== 'refused' && report.status !== 'reload-failed' && report.status !== 'write-failed') {
      await this.syncCertificates(store, certificates);
    }
  }

  /** Render settings completed with what Vault holds: stats credentials, certificates, covered hosts. */
  private withSecrets(model: RoutingModel, secrets: SecretsSnapshot | undefined): { renderSettings: Omit<RenderSettings, 'configDir'>; certificates?: CertificatePlan } {
    const base = this.opts.renderSettings;
    const store = this.opts.certificates;
    if (!secrets) return { renderSettings: base };
    const renderSettings: Omit<RenderSettings, 'configDir'> = { ...base, stats: secrets.stats ?? base.stats };
    if (!store) return { renderSettings };
    const certificates = store.prepare(secrets.certificates);
    const covered = hostsCoveredBy(certificates, model.hosts.map((h) => h.host));
    if (certificates.entries.length > 0) renderSettings.tls = { crtList: store.crtListPath, coveredHosts: [...covered].sort() };
    this.logTlsChanges(this.tlsStatus, (this.tlsStatus = tlsStatusOf(model, certificates, covered)));
    this.state.tls = this.tlsStatus;
    return { renderSettings, certificates };
  }

  private async syncCertificates(store: CertificateStore, plan: CertificatePlan): Promise<void> {
    const { log } = this.opts;
    const sync = await store.syncRuntime(plan);
    if (sync.status === 'updated' || sync.status === 'reloaded') log.info({ ops: sync.ops }, `certificates ${sync.status === 'updated' ? 'updated through the runtime API, no reload' : 'applied with a reload'}`);
    else if (sync.status === 'failed') log.error({ error: sync.error, ops: sync.ops }, 'certificates could not be applied to the running HAProxy; the files are written for its next reload');
    else log.debug({ status: sync.status, error: sync.error }, 'certificates checked against the running HAProxy');
    await store.cleanUp(plan).catch((err) => log.warn({ error: errorMessage(err) }, 'cannot remove the certificate files'));
    this.emit('certificates', sync);
  }

  private logTlsChanges(before: TlsStatus | undefined, after: TlsStatus): void {
    const { log } = this.opts;
    const seen = new Set((before?.httpOnlyHosts ?? []).map((h) => JSON.stringify(h)));
    for (const h of after.httpOnlyHosts) {
      if (seen.has(JSON.stringify(h)) || (h.source === 'default' && !h.httpsOnly)) continue;
      const why = h.httpsOnly ? `app ${h.app} is router.https-only, but` : `custom domain of app ${h.app}:`;
      log.warn({ host: h.host, app: h.app, httpsOnly: h.httpsOnly }, `${why} no certificate in Vault covers ${h.host}; it is served over plain HTTP only`);
    }
    const rejected = new Set((before?.rejected ?? []).map((r) => JSON.stringify(r)));
    for (const r of after.rejected) {
      if (!rejected.has(JSON.stringify(r))) log.error({ certificate: r.name }, `certificate tls/${r.name} in Vault is not used: ${r.reason}`);
    }
    const expired = new Set((before?.certificates ?? []).filter((c) => c.expired).map((c) => c.sha256));
    for (const c of after.certificates) {
      if (c.expired && !expired.has(c.sha256)) log.warn({ certificate: c.name, notAfter: c.notAfter }, `certificate tls/${c.name} has expired`);
    }
  }

  private async retryReload(): Promise<void> {
    // A full or read-only disk may have been fixed since: build again.
    if (this.state.lastApply?.status === 'write-failed') this.quiescence.trigger();
    // A port another process held may be free now: build again (probing it again).
    if (this.busyPortsLeftOut) this.quiescence.trigger();
    await this.opts.applier.retryDrained();
    const gone = await this.opts.applier.checkReachable();
    if (gone) {
      // HAProxy runs nothing now: no running checksum until it has loaded the files again.
      this.state.runningChecksum = undefined;
      this.record(gone, this.appliedModel ?? this.state.model);
    }
    const report = await this.opts.applier.retryPendingReload();
    // The reload loads the good files, not the latest build (which may be a refused candidate).
    if (report && report.status !== 'written') this.record(report, this.appliedModel ?? this.state.model);
  }

  /**
   * Leaves out, with a conflict rejection, every tcp app whose router.port another process holds on
   * this host. Reloading onto such a port fails after `haproxy -c` passed, and HAProxy 2.6 retries
   * that bind for ~2 s with the running worker's listeners paused (no app accepts connections):
   * one app's port must neither block the other changes nor cost an outage per attempt. Ports of
   * the running configuration belong to HAProxy and are not probed.
   */
  private async withoutBusyPorts(model: RoutingModel): Promise<RoutingModel> {
    this.busyPortsLeftOut = false;
    const running = boundPorts(this.opts.applier.runningFiles?.[MAIN_CONFIG] ?? '');
    const busy: RoutingModel['apps'] = [];
    for (const app of model.apps) {
      if (app.mode !== 'tcp' || app.port === undefined || running.has(app.port)) continue;
      if (await portInUse(this.opts.renderSettings.bindAddress, app.port)) busy.push(app);
    }
    if (busy.length === 0) return model;
    this.busyPortsLeftOut = true;
    const left = new Set(busy.map((a) => a.name));
    const rejections = busy.map((a) =>
      reject('conflict', a.name, `router.port=${a.port}`, `router.port: port ${a.port} is in use by another process on this host; the app is routed once the port is free`),
    );
    return { ...model, apps: model.apps.filter((a) => !left.has(a.name)), rejections: finishRejections([...model.rejections, ...rejections]) };
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const turn = this.haproxyTurn.then(fn);
    this.haproxyTurn = turn.catch(() => undefined);
    return turn;
  }

  private record(report: ApplyReport, model: RoutingModel | undefined): void {
    const at = Date.now();
    this.state.lastApply = { ...report, at };
    const { log } = this.opts;
    switch (report.status) {
      case 'unchanged':
        // HAProxy already runs exactly this model (e.g. files adopted after a daemon restart),
        // unless the candidate is one HAProxy refused before.
        if (report.checksum === this.opts.applier.runningChecksum) this.state.servingModel = model;
        log.debug({ checksum: report.checksum }, 'configuration unchanged');
        break;
      case 'runtime':
        this.state.counters.runtimeChanges += 1;
        this.state.lastRuntimeChangeAt = at;
        this.state.servingModel = model;
        log.info({ checksum: report.checksum, ops: report.runtimeOps, runtimeMs: report.runtimeMs }, 'configuration applied through the runtime API, no reload');
        break;
      case 'reloaded':
        this.state.counters.reloads += 1;
        this.state.lastReloadAt = at;
        this.state.servingModel = model;
        log.info({ checksum: report.checksum, validateMs: report.validateMs, reloadMs: report.reloadMs, reason: report.reloadReason, apps: model?.apps.length }, 'configuration applied, HAProxy reloaded');
        break;
      case 'written':
        this.state.servingModel = model;
        log.warn({ error: report.error?.message }, 'configuration written; HAProxy not reachable, will reload when it answers');
        break;
      case 'refused':
        this.state.counters.refusedConfigs += 1;
        log.error({ error: report.error?.message, output: report.error?.output }, 'candidate configuration refused by haproxy -c; the last good configuration stays');
        break;
      default:
        if (report.status === 'reload-failed') this.state.counters.reloadFailures += 1;
        log.error({ status: report.status, error: report.error?.message }, 'configuration not applied; the last good configuration stays');
    }
    if (report.status === 'runtime' || report.status === 'reloaded' || report.status === 'written') this.appliedModel = model;
    this.state.runningChecksum = this.opts.applier.runningChecksum ?? this.state.runningChecksum;
    this.emit('applied', report);
  }

  /** Applies the change held by the never-shrink guard at the next build (operator override). */
  releaseHold(): void {
    if (!this.state.held) return;
    this.releaseRequested = true;
    this.opts.log.warn({ reason: this.state.held.reason }, 'held change released by the operator');
    this.quiescence.trigger();
  }

  private releaseRequested = false;
  private guardTimer: NodeJS.Timeout | undefined;
  /** When the confirming fresh read was asked for, and when its catalog snapshot arrived. */
  private rereadAskedAt: number | undefined;
  private freshSnapshotAt: number | undefined;

  /**
   * The never-shrink guard: a candidate that drops too many routes at once is held; it applies
   * only when a fresh read, made `confirmAfterMs` later, gives the same candidate again.
   */
  private passesGuard(rendered: RenderedFiles): boolean {
    const guard = this.opts.guard;
    if (!guard) return true;
    const verdict = assessShrink(this.opts.applier.runningFiles, rendered, guard.maxShrink);
    const held = this.state.held;
    const log = this.opts.log;
    if (!verdict.shrink) {
      if (held) log.info({ reason: held.reason }, 'the held change is no longer pending: the routes came back');
      this.clearHold();
      return true;
    }
    const checksum = checksumOf(rendered);
    if (this.releaseRequested) {
      this.clearHold();
      return true;
    }
    const confirmed =
      held?.checksum === checksum &&
      this.rereadAskedAt !== undefined &&
      this.freshSnapshotAt !== undefined &&
      this.freshSnapshotAt >= this.rereadAskedAt;
    if (confirmed) {
      log.warn({ reason: held.reason }, 'a fresh read confirmed the held change; applying it');
      this.clearHold();
      return true;
    }
    if (held?.checksum !== checksum) {
      this.state.held = { since: Date.now(), reason: verdict.reason!, checksum, routesBefore: verdict.before.routes, routesAfter: verdict.after.routes };
      this.state.counters.heldChanges += 1;
      log.warn({ reason: verdict.reason, confirmAfterMs: guard.confirmAfterMs }, 'change held by the never-shrink guard until a fresh read confirms it');
      this.emit('held', this.state.held);
      if (this.guardTimer) clearTimeout(this.guardTimer);
      this.rereadAskedAt = undefined;
      this.guardTimer = setTimeout(() => this.confirmWithFreshRead(), guard.confirmAfterMs);
    }
    return false;
  }

  private confirmWithFreshRead(): void {
    this.guardTimer = undefined;
    if (!this.state.held || this.stopped) return;
    this.rereadAskedAt = Date.now();
    this.opts.sources.catalog.reread?.();
    this.opts.sources.domains.reread?.();
    this.opts.sources.weights?.reread?.();
    this.opts.sources.maintenance?.reread?.();
  }

  private clearHold(): void {
    if (this.guardTimer) clearTimeout(this.guardTimer);
    this.guardTimer = undefined;
    this.state.held = undefined;
    this.releaseRequested = false;
    this.rereadAskedAt = undefined;
  }

  private logRejectionChanges(before: RoutingModel | undefined, after: RoutingModel): void {
    const seen = new Set((before?.rejections ?? []).map((r) => JSON.stringify(r)));
    for (const r of after.rejections) {
      if (!seen.has(JSON.stringify(r))) this.opts.log.warn({ rejection: r }, `rejected ${r.kind} input for ${r.service}: ${r.reason}`);
    }
  }
}
