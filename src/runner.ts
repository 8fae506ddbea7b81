// The daemon's loop: keep the latest snapshot of every source; once all required sources have
// reported, build → render → apply after each quiet period. Any error keeps what is running
// (fabio's watchBackend): an error is never mistaken for "no services".
import { EventEmitter } from 'node:events';
import type { Applier, ApplyReport } from './apply/applier.js';
import { Quiescence } from './apply/quiescence.js';
import { errorCode, errorMessage } from './errors.js';
import type { Logger } from './log.js';
import { buildModel } from './model/build.js';
import type { ModelSettings, RoutingModel } from './model/types.js';
import { renderFiles } from './render/render.js';
import type { CompiledTemplates } from './render/templates.js';
import type { RenderSettings } from './render/types.js';
import type { Source, SourceStatus } from './sources/source.js';
import type { CatalogSnapshot, DomainsSnapshot } from './sources/types.js';
import { initialState, type RouterState } from './state.js';

export interface RunnerSources {
  catalog: Source<CatalogSnapshot>;
  domains: Source<DomainsSnapshot>;
  templates: Source<CompiledTemplates>;
}

export interface RunnerOptions {
  sources: RunnerSources;
  applier: Applier;
  modelSettings: ModelSettings;
  renderSettings: Omit<RenderSettings, 'configDir'>;
  wait: { minMs: number; maxMs: number };
  log: Logger;
  /** How often to retry a reload that could not reach HAProxy. */
  retryMs?: number;
}

interface Latest {
  catalog?: CatalogSnapshot;
  domains?: DomainsSnapshot;
  templates?: CompiledTemplates;
}

export class Runner extends EventEmitter {
  readonly state: RouterState = initialState(Date.now());
  private readonly latest: Latest = {};
  private readonly quiescence: Quiescence;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: RunnerOptions) {
    super();
    this.quiescence = new Quiescence(opts.wait.minMs, opts.wait.maxMs, () => this.build());
  }

  start(): void {
    const { sources } = this.opts;
    this.watch('catalog', sources.catalog);
    this.watch('domains', sources.domains);
    this.watch('templates', sources.templates);
    this.retryTimer = setInterval(() => void this.retryReload(), this.opts.retryMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.quiescence.stop();
    const { sources } = this.opts;
    await Promise.all([sources.catalog.stop(), sources.domains.stop(), sources.templates.stop()]);
    await this.quiescence.settled();
  }

  /** Resolves once no build is running or scheduled (tests and `dev` use it). */
  settled(): Promise<void> {
    return this.quiescence.settled();
  }

  private watch<K extends keyof Latest>(key: K, source: Source<NonNullable<Latest[K]>>): void {
    source.start({
      snapshot: (data) => {
        this.latest[key] = data;
        this.quiescence.trigger();
      },
      status: (status) => this.onStatus(status),
    });
  }

  private onStatus(status: SourceStatus): void {
    const before = this.state.sources[status.name];
    this.state.sources[status.name] = status;
    if (before?.state !== status.state) {
      const level = status.state === 'down' ? 'warn' : 'info';
      this.opts.log[level]({ source: status.name, state: status.state, error: status.lastError?.message }, `source ${status.name} is ${status.state}`);
    }
    this.emit('status', status);
  }

  private async build(): Promise<void> {
    const { catalog, domains, templates } = this.latest;
    // Wait until every required source has reported once: a partial view is not a view.
    if (this.stopped || !catalog || !domains || !templates) return;
    this.state.counters.builds += 1;
    let model: RoutingModel;
    try {
      model = buildModel({ services: catalog.services, claims: domains.claims, settings: this.opts.modelSettings });
      // Render once up front so a template error is reported as such, not as an apply failure.
      const renderStarted = performance.now();
      renderFiles(templates, model, { ...this.opts.renderSettings, configDir: '/' });
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
    const report = await this.opts.applier.apply((configDir) =>
      renderFiles(templates, model, { ...this.opts.renderSettings, configDir }),
    );
    this.record(report, model);
  }

  private async retryReload(): Promise<void> {
    // A full or read-only disk may have been fixed since: build again.
    if (this.state.lastApply?.status === 'write-failed') this.quiescence.trigger();
    await this.opts.applier.retryDrained();
    const report = await this.opts.applier.retryPendingReload();
    if (report && report.status !== 'written') this.record(report, this.state.model);
  }

  private record(report: ApplyReport, model: RoutingModel | undefined): void {
    const at = Date.now();
    this.state.lastApply = { ...report, at };
    const { log } = this.opts;
    switch (report.status) {
      case 'unchanged':
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
    this.state.runningChecksum = this.opts.applier.runningChecksum ?? this.state.runningChecksum;
    this.emit('applied', report);
  }

  private logRejectionChanges(before: RoutingModel | undefined, after: RoutingModel): void {
    const seen = new Set((before?.rejections ?? []).map((r) => JSON.stringify(r)));
    for (const r of after.rejections) {
      if (!seen.has(JSON.stringify(r))) this.opts.log.warn({ rejection: r }, `rejected ${r.kind} input for ${r.service}: ${r.reason}`);
    }
  }
}
