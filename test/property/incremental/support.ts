// The incremental-equals-scratch property, shared by test/property/incremental.test.ts and
// bench/fuzz.ts: a sequence of Consul and K/V events goes through one long-lived ModelMemo and
// RenderCache; after every step the model and the files must equal a from-scratch build of the
// same state (buildModel and renderFiles without a memo or cache).
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';

import { planFromData } from '../../../src/apply/runtime/model-plan.js';
import { planRuntime, type RuntimeOp } from '../../../src/apply/runtime/plan.js';
import { buildModel } from '../../../src/model/build.js';
import type { TemplateData } from '../../../src/render/views.js';
import { ModelMemo } from '../../../src/model/incremental.js';
import type { ModelInput, RoutingModel } from '../../../src/model/types.js';
import { RenderCache } from '../../../src/render/incremental.js';
import { renderFiles } from '../../../src/render/render.js';
import type { CompiledTemplates } from '../../../src/render/templates.js';
import type { RenderedFiles } from '../../../src/render/types.js';
import { eventArb, inputArb, renderOptionsArb, type ConsulEvent, type RenderOptions } from '../fixtures.js';
import { PropertyFailure, STATIC_PATHS, applyEvent, renderSettings } from '../support.js';

/** One step: an event, or a fresh read of the same state (equal data, new arrays). */
export type Step = { event: ConsulEvent } | { reread: true } | { render: RenderOptions };

export interface IncrementalCase {
  start: ModelInput;
  render: RenderOptions;
  steps: Step[];
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: eventArb.map((event) => ({ event })) },
  { weight: 1, arbitrary: fc.constant({ reread: true as const }) },
  { weight: 1, arbitrary: renderOptionsArb.map((render) => ({ render })) },
);

export const incrementalCaseArb: fc.Arbitrary<IncrementalCase> = fc.record({
  start: inputArb,
  render: renderOptionsArb,
  steps: fc.array(stepArb, { minLength: 1, maxLength: 16 }),
});

function firstDiff(a: unknown, b: unknown, path = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return `${path}: ${JSON.stringify(a)?.slice(0, 300)} != ${JSON.stringify(b)?.slice(0, 300)}`;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDiff((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
    if (d) return d;
  }
  return `${path}: differs`;
}

/** Result of one case: the states visited (for the real-HAProxy sample of the fuzz run). */
export interface StepResult {
  input: ModelInput;
  model: RoutingModel;
  files: RenderedFiles;
}

const opKey = (op: RuntimeOp): string => JSON.stringify(op);

/**
 * The plan from the template data must be the plan from the files: the same runtime commands (in
 * any order), or a reload when the files need one.
 */
function checkPlan(
  templates: CompiledTemplates,
  what: string,
  before: { data: TemplateData; files: RenderedFiles },
  after: { data: TemplateData; files: RenderedFiles },
): void {
  const byFiles = planRuntime(before.files, after.files);
  const byData = planFromData(templates, before.data, after.data);
  const P = 'runtime plan from the model == runtime plan from the files';
  if (byData.kind === 'unknown') throw new PropertyFailure(P, `after ${what}: the shipped templates gave no per-app text (${byData.reason})`);
  if (byFiles.kind !== byData.kind) {
    throw new PropertyFailure(
      P,
      `after ${what}: files say ${byFiles.kind} (${byFiles.kind === 'reload' ? byFiles.reason : `${byFiles.ops.length} ops`}), data says ${byData.kind} (${byData.kind === 'reload' ? byData.reason : JSON.stringify(byData.ops).slice(0, 300)})`,
    );
  }
  if (byFiles.kind === 'runtime' && byData.kind === 'runtime') {
    const x = byFiles.ops.map(opKey).sort();
    const y = byData.ops.map(opKey).sort();
    if (!isDeepStrictEqual(x, y)) throw new PropertyFailure(P, `after ${what}: ${JSON.stringify(x).slice(0, 400)} != ${JSON.stringify(y).slice(0, 400)}`);
  }
}

/** Runs the steps; throws a PropertyFailure at the first state where incremental != scratch. */
export function runIncremental(templates: CompiledTemplates, c: IncrementalCase): StepResult[] {
  const memo = new ModelMemo();
  const cache = new RenderCache();
  let input = c.start;
  let options = c.render;
  const visited: StepResult[] = [];
  let previous: { data: TemplateData; files: RenderedFiles } | undefined;
  const compare = (what: string) => {
    const model = buildModel(input, memo);
    const scratch = buildModel(input);
    if (!isDeepStrictEqual(model, scratch)) {
      throw new PropertyFailure('incremental model == from-scratch model', `after ${what}: ${firstDiff(scratch, model)}`);
    }
    // The settings follow the model (certificate coverage), as the daemon's do.
    const settings = renderSettings(scratch, options, STATIC_PATHS);
    let files: RenderedFiles | undefined;
    let scratchFiles: RenderedFiles | undefined;
    let error: unknown;
    let scratchError: unknown;
    try {
      files = renderFiles(templates, model, settings, cache);
    } catch (err) {
      error = err;
    }
    try {
      scratchFiles = renderFiles(templates, scratch, settings);
    } catch (err) {
      scratchError = err;
    }
    if (String(error) !== String(scratchError) || !isDeepStrictEqual(files, scratchFiles)) {
      throw new PropertyFailure(
        'incremental render == from-scratch render',
        `after ${what}: ${firstDiff(scratchFiles ?? String(scratchError), files ?? String(error))}`,
      );
    }
    if (!files) return;
    visited.push({ input, model, files });
    const current = { data: cache.lastData!, files };
    if (previous) checkPlan(templates, what, previous, current);
    previous = current;
  };
  compare('the first build');
  for (const step of c.steps) {
    let what: string;
    if ('event' in step) {
      const next = applyEvent(input, step.event);
      input = next.input;
      what = next.what;
    } else if ('reread' in step) {
      input = structuredClone(input);
      what = 'a fresh read of the same state';
    } else {
      options = step.render;
      what = 'new render settings';
    }
    compare(what);
  }
  return visited;
}
