// What the runner keeps between builds so that a change costs what changed: the model memo, the
// render cache, and the template data of the files HAProxy runs, from which the next runtime plan
// is made (apply/runtime/model-plan.ts) instead of reading the whole files back. The never-shrink
// guard counts routes from the models too.
import type { PlannedChange } from '../apply/applier.js';
import { planFromData, type SpareUse } from '../apply/runtime/model-plan.js';
import { buildModel } from '../model/build.js';
import { ModelMemo } from '../model/incremental.js';
import type { ModelInput, RoutingModel } from '../model/types.js';
import type { TemplateData } from '../render/views.js';
import { RenderCache } from '../render/incremental.js';
import { renderFiles } from '../render/render.js';
import type { CompiledTemplates } from '../render/templates.js';
import type { RenderedFiles, RenderSettings } from '../render/types.js';
import { countModelRoutes, type RouteCounts } from './shrink.js';

/** One build's files for the live directory, with what they were made from. */
export interface LiveBuild {
  model: RoutingModel;
  /** The template files only (certificate files are added by the caller). */
  rendered: RenderedFiles;
  data: TemplateData;
  templates: CompiledTemplates;
  counts: RouteCounts;
}

/** Stage timings of the last build, ms (bench profile, /status). */
export interface BuildProfile {
  modelMs: number;
  renderMs: number;
  planMs: number;
}

export class IncrementalBuilds {
  private readonly memo = new ModelMemo();
  private readonly cache = new RenderCache();
  /** The build whose files HAProxy runs (or loads at its next reload), and those files. */
  private applied: { build: LiveBuild; files: RenderedFiles } | undefined;
  profile: BuildProfile = { modelMs: 0, renderMs: 0, planMs: 0 };

  model(input: ModelInput): RoutingModel {
    const started = performance.now();
    this.profile.planMs = 0;
    const model = buildModel(input, this.memo);
    this.profile.modelMs = performance.now() - started;
    return model;
  }

  /** Renders for the live directory through the cache (staging directories render from scratch). */
  render(templates: CompiledTemplates, model: RoutingModel, settings: RenderSettings): LiveBuild {
    const started = performance.now();
    const rendered = renderFiles(templates, model, settings, this.cache);
    this.profile.renderMs = performance.now() - started;
    return { model, rendered, data: this.cache.lastData!, templates, counts: countModelRoutes(model) };
  }

  /** Route counts of what runs, when known from its model (else the guard reads the files). */
  runningCounts(running: RenderedFiles | undefined): RouteCounts | undefined {
    return this.applied && this.applied.files === running ? this.applied.build.counts : undefined;
  }

  /**
   * The runtime plan from the build HAProxy runs to `next`, or undefined when there is none to
   * compare with (first build, adopted files, other templates) or the templates hide what changed.
   */
  plan(next: LiveBuild, running: RenderedFiles | undefined, spares?: SpareUse): PlannedChange | undefined {
    const applied = this.applied;
    if (!applied || !running || applied.files !== running || applied.build.templates !== next.templates) return undefined;
    const started = performance.now();
    const plan = planFromData(next.templates, applied.build.data, next.data, spares);
    this.profile.planMs = performance.now() - started;
    return plan.kind === 'unknown' ? undefined : { against: running, plan };
  }

  /** Ports HAProxy's running configuration binds, when known from its build (else read from its text). */
  runningPorts(running: RenderedFiles | undefined): Set<number> | undefined {
    if (!this.applied || this.applied.files !== running) return undefined;
    const { data, model } = this.applied.build;
    const ports = new Set([data.settings.httpPort, data.settings.httpsPort, data.settings.statsPort]);
    for (const app of model.apps) if (app.mode === 'tcp' && app.port !== undefined) ports.add(app.port);
    return ports;
  }

  /** How many spare backends the running configuration has, when known from its build. */
  runningSpares(running: RenderedFiles | undefined): number | undefined {
    return this.applied && this.applied.files === running ? this.applied.build.data.spares.length : undefined;
  }

  /**
   * After an apply: when the applier now holds `files` (the build's candidate), they run `build`.
   * `unchanged`: the candidate's bytes are those HAProxy runs (the applier kept its own copy): the
   * build describes them as well as the one kept, and replaces it, so the model, template data and
   * views of an older build are not kept alive beside the latest (a second generation at 10 000
   * apps after every build that changed nothing, e.g. ownership records read back).
   */
  afterApply(build: LiveBuild, files: RenderedFiles, running: RenderedFiles | undefined, unchanged = false): void {
    if (running === files) this.applied = { build, files };
    else if (unchanged && running !== undefined && this.applied?.files === running) this.applied = { build, files: running };
  }
}
