// What the renderer keeps between renders so a change costs what changed:
// - an app's view while its AppRoute object is the same (the model memo keeps unchanged apps);
// - the host views while the model's host list is the same array, and each host's view while its
//   route is the same object (the model keeps the route of a host that did not change);
// - every TemplateData field that is deep-equal to the last one, as the same object;
// - a file's text while every field its template reads is the same object (templates.ts `reads`);
// - a per-app partial's text per view object (templates.ts, memoizedPartial).
// New templates or settings start over.
import { isDeepStrictEqual } from 'node:util';
import type { AppRoute, HostRoute } from '../model/types.js';
import type { AppView, HostView, TemplateData, TemplateDataMemo } from './views.js';
import type { CompiledTemplate, CompiledTemplates } from './templates.js';
import type { RenderSettings } from './types.js';

export interface RenderStats {
  /** App views built (the others were reused). */
  views: number;
  /** Files rendered (the others were reused). */
  files: number;
  /** Host views built (the others were reused). */
  hosts: number;
}

/**
 * Deep equality, with a fast path for lists: the views of unchanged apps and hosts are the same
 * objects, so a list of 10 000 is compared element by element by identity (isDeepStrictEqual first
 * lists and compares every index as a key).
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return isDeepStrictEqual(a, b);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !isDeepStrictEqual(a[i], b[i])) return false;
  return true;
}

export class RenderCache {
  private templates: CompiledTemplates | undefined;
  private settings: RenderSettings | undefined;
  private views = new WeakMap<AppRoute, AppView>();
  private hostViews: { routes: HostRoute[]; views: HostView[] } | undefined;
  private hostView = new WeakMap<HostRoute, HostView>();
  private data: TemplateData | undefined;
  private readonly outputs = new Map<string, { reads: unknown[]; text: string }>();
  stats: RenderStats = { views: 0, files: 0, hosts: 0 };

  readonly memo: TemplateDataMemo = {
    app: (app, make) => this.kept(this.views, app, 'views', make),
    hosts: (routes, make) => {
      if (this.hostViews?.routes !== routes) this.hostViews = { routes, views: make() };
      return this.hostViews.views;
    },
    host: (route, make) => this.kept(this.hostView, route, 'hosts', make),
  };

  /** The view kept for `key`, or a new one made, kept and counted. */
  private kept<K extends object, V>(views: WeakMap<K, V>, key: K, counted: 'views' | 'hosts', make: () => V): V {
    let view = views.get(key);
    if (view === undefined) {
      this.stats[counted]++;
      view = make();
      views.set(key, view);
    }
    return view;
  }

  begin(templates: CompiledTemplates, settings: RenderSettings): void {
    this.stats = { views: 0, files: 0, hosts: 0 };
    if (this.templates === templates && isDeepStrictEqual(this.settings, settings)) return;
    this.templates = templates;
    this.settings = structuredClone(settings);
    this.views = new WeakMap();
    this.hostViews = undefined;
    this.hostView = new WeakMap();
    this.data = undefined;
    this.outputs.clear();
  }

  /** The template data of the last render (what planFromData compares). */
  get lastData(): TemplateData | undefined {
    return this.data;
  }

  /** `data` with every field deep-equal to the last render's replaced by that same object. */
  intern(data: TemplateData): TemplateData {
    const last = this.data;
    if (last) {
      const fields = data as unknown as Record<string, unknown>;
      const before = last as unknown as Record<string, unknown>;
      for (const key of Object.keys(fields)) {
        if (fields[key] !== before[key] && sameValue(fields[key], before[key])) fields[key] = before[key];
      }
    }
    this.data = data;
    return data;
  }

  output(template: CompiledTemplate, data: TemplateData, render: () => string): string {
    const reads = template.reads.map((field) => (data as unknown as Record<string, unknown>)[field]);
    const kept = this.outputs.get(template.output);
    if (kept && kept.reads.length === reads.length && kept.reads.every((v, i) => v === reads[i])) return kept.text;
    this.stats.files++;
    const text = render();
    this.outputs.set(template.output, { reads, text });
    return text;
  }
}
