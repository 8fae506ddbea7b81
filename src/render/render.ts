// The pure renderer: (compiled templates, routing model, settings) → file contents. No I/O, no
// clock: the same inputs always give the same bytes, so "did anything change?" is a byte compare.
import { TemplateError, errorMessage } from '../errors.js';
import type { RoutingModel } from '../model/types.js';
import { buildTemplateData, type TemplateData } from './data.js';
import { RenderCache } from './incremental.js';
import type { CompiledTemplates } from './templates.js';
import type { RenderedFiles, RenderSettings } from './types.js';

/**
 * Render every top-level template with the TemplateData built from `model` and `settings`.
 * Returns output file name → content (always `haproxy.cfg` and `hosts.map`), each ending with a
 * newline. Throws TemplateError (with `cause`) when a value cannot be printed safely or a
 * template fails at render time (e.g. a misspelt field under strict mode). With a `cache` kept
 * from the previous render, only what changed is rendered again; the bytes are the same.
 */
export function renderFiles(templates: CompiledTemplates, model: RoutingModel, settings: RenderSettings, cache: RenderCache = new RenderCache()): RenderedFiles {
  cache.begin(templates, settings);
  let data: TemplateData;
  try {
    data = cache.intern(buildTemplateData(model, settings, cache.memo));
  } catch (err) {
    if (err instanceof TemplateError) throw err;
    throw new TemplateError(`cannot build the template data: ${errorMessage(err)}`, { cause: err });
  }
  const files: RenderedFiles = {};
  for (const template of templates.templates) {
    const { output, file, render } = template;
    files[output] = cache.output(template, data, () => {
      let text: string;
      try {
        text = render(data);
      } catch (err) {
        throw new TemplateError(`template ${file}: ${errorMessage(err)}`, { cause: err });
      }
      return text.endsWith('\n') ? text : `${text}\n`;
    });
  }
  return files;
}
