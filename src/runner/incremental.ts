// What the runner keeps between builds so that a change costs what changed: the model memo and the
// render cache. The next runtime plan is made from the template data of the deployment HAProxy
// runs (the applier's record) and of the new build (apply/runtime/model-plan.ts), instead of
// reading the whole files back. The never-shrink guard counts routes from the models too.
import type { PlannedChange } from '../apply/applier.js';
import { spareUseOf, type Deployment } from '../apply/deployment.js';
import { planFromData } from '../apply/runtime/model-plan.js';
import { buildModel } from '../model/build.js';
import { ModelMemo } from '../model/incremental.js';
import type { ModelInput, RoutingModel } from '../model/types.js';
import type { TemplateData } from '../render/views.js';
import { RenderCache } from '../render/incremental.js';
import { renderData, renderText } from '../render/render.js';
import type { CompiledTemplates } from '../render/templates.js';
import type { RenderedFiles, RenderSettings } from '../render/types.js';
import { countModelRoutes, type RouteCounts } from './shrink.js';

/** One build up to its template data: what the runtime plan compares (its files are rendered after). */
export interface StagedBuild {
  model: RoutingModel;
  data: TemplateData;
  templates: CompiledTemplates;
  counts: RouteCounts;
}

/** One build's files for the live directory, with what they were made from. */
export interface LiveBuild extends StagedBuild {
  /** The template files only (certificate files are added by the caller). */
  rendered: RenderedFiles;
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
  profile: BuildProfile = { modelMs: 0, renderMs: 0, planMs: 0 };

  model(input: ModelInput): RoutingModel {
    const started = performance.now();
    this.profile.planMs = 0;
    const model = buildModel(input, this.memo);
    this.profile.modelMs = performance.now() - started;
    return model;
  }

  /**
   * The template data for the live directory, through the cache (staging directories render from
   * scratch). Its files follow with finish(): after the runtime commands when the change has them.
   */
  stage(templates: CompiledTemplates, model: RoutingModel, settings: RenderSettings): StagedBuild {
    const started = performance.now();
    const data = renderData(templates, model, settings, this.cache);
    this.profile.renderMs = performance.now() - started;
    return { model, data, templates, counts: countModelRoutes(model) };
  }

  /** The files of `staged`, the last build staged (the cache holds its data). */
  finish(staged: StagedBuild): LiveBuild {
    const started = performance.now();
    const rendered = renderText(staged.templates, staged.data, this.cache);
    this.profile.renderMs += performance.now() - started;
    return { ...staged, rendered };
  }

  /**
   * The runtime plan from the build HAProxy runs to `next`, against that deployment's generation;
   * undefined when the deployment has no build to compare with (adopted files: the applier
   * compares the files), other templates, or templates that hide what changed.
   */
  plan(next: StagedBuild, running: Deployment | undefined): PlannedChange | undefined {
    const before = running?.rendering;
    if (!running || !before || before.templates !== next.templates) return undefined;
    const started = performance.now();
    const plan = planFromData(next.templates, before.data, next.data, spareUseOf(running));
    this.profile.planMs = performance.now() - started;
    return plan.kind === 'unknown' ? undefined : { against: running.generation, plan };
  }
}

/** What a deployment's build says for the never-shrink guard: its route counts (else the guard reads the files). */
export function runningCounts(running: Deployment | undefined): RouteCounts | undefined {
  return running?.model && countModelRoutes(running.model);
}

/** Ports HAProxy's running configuration binds, when known from its build (else read from its text). */
export function runningPorts(running: Deployment | undefined): Set<number> | undefined {
  if (!running?.model || !running.rendering) return undefined;
  const { settings } = running.rendering.data;
  const ports = new Set([settings.httpPort, settings.httpsPort, settings.statsPort]);
  for (const app of running.model.apps) if (app.mode === 'tcp' && app.port !== undefined) ports.add(app.port);
  return ports;
}
