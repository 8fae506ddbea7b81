// Compile the template texts (read by sources/files) into render functions. Pure: no I/O.
//
// Every template set gets its own Handlebars environment (Handlebars.create()), so helpers and
// partials of one set never leak into another (a reload of the templates directory compiles a
// fresh set while the old one keeps serving).
//
// Compile options:
// - strict: `{{typo}}` throws instead of printing nothing. Handlebars does not apply strict lookups
//   to helper arguments (`{{#if typo}}`), so the block helpers are wrapped to throw on `undefined`:
//   TemplateData never holds `undefined` (absent values are `null`), so `undefined` is a typo.
// - noEscape: HTML escaping is wrong for HAProxy; values are checked when TemplateData is built.
// - knownHelpersOnly: a call to an unknown helper is a compile error at load, not at render.
//
// Handlebars compiles lazily, so each template and partial is also precompiled here: a syntax
// error surfaces at load, as a TemplateError naming the file.
import Handlebars from 'handlebars';

import { TemplateError, errorMessage } from '../errors.js';
import type { TemplateData } from './data.js';
import type { TemplateSource } from './types.js';

/** Top-level templates every template set must have (output file names). */
export const REQUIRED_OUTPUTS = ['haproxy.cfg', 'hosts.map'] as const;

export interface CompiledTemplate {
  /** Output file name, e.g. `haproxy.cfg`. */
  output: string;
  /** Template file it came from, e.g. `haproxy.cfg.hbs` (for error messages). */
  file: string;
  render: (data: TemplateData) => string;
  /**
   * Every TemplateData field the template (with the partials it uses) may read: its output is the
   * same while these fields are the same objects (render/incremental.ts caches it so).
   */
  reads: string[];
}

export interface CompiledTemplates {
  /** One per top-level template, sorted by output name. */
  templates: CompiledTemplate[];
  /** Partial names (without `.hbs`), sorted. */
  partials: string[];
}

type HelperFn = (...args: unknown[]) => unknown;

function isOptions(value: unknown): value is Handlebars.HelperOptions {
  return typeof value === 'object' && value !== null && 'fn' in value && 'inverse' in value;
}

/** Helpers the shipped templates use. Keep them few, pure, and loud on bad input. */
const HELPERS: Record<string, HelperFn> = {
  /** `{{#if (eq mode "tcp")}}`: strict equality of two defined values. */
  eq(...args: unknown[]): boolean {
    const [a, b] = args;
    if (args.length !== 3 || a === undefined || b === undefined) {
      throw new Error('eq takes two defined arguments: {{eq a b}}');
    }
    return a === b;
  },
  /** `{{join hosts ", "}}`: join an array of strings or numbers. */
  join(...args: unknown[]): string {
    const [list, separator] = args;
    if (args.length !== 3 || !Array.isArray(list) || typeof separator !== 'string') {
      throw new Error('join takes an array and a separator string: {{join list ", "}}');
    }
    return list.map((item) => String(item)).join(separator);
  },
};

const STRICT_BLOCK_HELPERS = ['if', 'unless', 'each', 'with'] as const;

const COMPILE_OPTIONS: CompileOptions = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: Object.fromEntries(Object.keys(HELPERS).map((name) => [name, true])) as KnownHelpers,
};

function stripSuffix(name: string, suffix: string): string {
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

function newEnvironment(): typeof Handlebars {
  const env = Handlebars.create();
  for (const [name, fn] of Object.entries(HELPERS)) env.registerHelper(name, fn);
  for (const name of STRICT_BLOCK_HELPERS) {
    const builtin = env.helpers[name] as HelperFn | undefined;
    if (builtin === undefined) throw new Error(`Handlebars has no built-in "${name}" helper`);
    env.registerHelper(name, function (this: unknown, ...args: unknown[]) {
      if (args.length < 2 || !isOptions(args[args.length - 1])) {
        throw new Error(`{{#${name}}} takes one argument`);
      }
      if (args[0] === undefined) {
        throw new Error(`{{#${name}}} got an undefined value: misspelt field?`);
      }
      return builtin.apply(this, args);
    });
  }
  return env;
}

/** Names of the partials a template uses with a literal name (`{{> name}}`, `{{#> name}}`). */
function partialReferences(ast: hbs.AST.Program): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (record.type === 'PartialStatement' || record.type === 'PartialBlockStatement') {
      const name = record.name as hbs.AST.PathExpression | hbs.AST.SubExpression;
      // A partial block carries its own fallback content, and `{{> @partial-block}}` is data.
      if (record.type === 'PartialStatement' && name.type === 'PathExpression' && !name.data) {
        names.add(name.original);
      }
    }
    for (const [key, value] of Object.entries(record)) {
      if (key !== 'loc') visit(value);
    }
  };
  visit(ast);
  return names;
}

interface Parsed {
  file: string;
  text: string;
  uses: Set<string>;
}

function parse(env: typeof Handlebars, file: string, text: unknown): Parsed {
  if (typeof text !== 'string') throw new TemplateError(`template ${file}: content is not text`);
  try {
    // precompile parses and compiles the whole template now (Handlebars.compile would wait for
    // the first render), with the same options, so unknown helpers are reported here as well.
    env.precompile(text, COMPILE_OPTIONS);
    return { file, text, uses: partialReferences(env.parse(text)) };
  } catch (err) {
    throw new TemplateError(`template ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Compile a template set. `source.files` holds the top-level templates keyed by file name
 * (`haproxy.cfg.hbs`; the `.hbs` suffix is optional), each rendering the output named without
 * `.hbs`; `source.partials` holds the partials keyed by name (`global`, `global.hbs` or
 * `partials/global.hbs` all mean `{{> global}}`). Throws TemplateError on a syntax error, an
 * unknown helper, a reference to a missing partial, or when `haproxy.cfg.hbs` or
 * `hosts.map.hbs` is missing.
 */
export function compileTemplates(source: TemplateSource): CompiledTemplates {
  const env = newEnvironment();

  const partials = new Map<string, Parsed>();
  for (const [key, text] of Object.entries(source.partials)) {
    const name = stripSuffix(key.startsWith('partials/') ? key.slice('partials/'.length) : key, '.hbs');
    const file = `partials/${name}.hbs`;
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) {
      throw new TemplateError(`template ${file}: a partial name may only have letters, digits, ".", "_" and "-"`);
    }
    if (partials.has(name)) throw new TemplateError(`template ${file}: partial "${name}" is defined twice`);
    partials.set(name, parse(env, file, text));
  }

  const files = new Map<string, Parsed>();
  for (const [key, text] of Object.entries(source.files)) {
    const output = stripSuffix(key, '.hbs');
    const file = `${output}.hbs`;
    // The output name becomes a file name inside configDir: no directories, no dot files.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(output)) {
      throw new TemplateError(`template ${file}: output file name must be a plain file name`);
    }
    if (files.has(output)) throw new TemplateError(`template ${file}: defined twice`);
    files.set(output, parse(env, file, text));
  }

  for (const output of REQUIRED_OUTPUTS) {
    if (!files.has(output)) throw new TemplateError(`template ${output}.hbs is missing from the templates directory`);
  }
  for (const { file, uses } of [...partials.values(), ...files.values()]) {
    for (const name of uses) {
      if (!partials.has(name)) {
        throw new TemplateError(`template ${file}: uses partial "${name}", but there is no partials/${name}.hbs`);
      }
    }
  }

  const perItem = perItemPartials(env, files, partials);
  for (const [name, { text }] of partials) {
    const compiled = env.compile(text, COMPILE_OPTIONS);
    env.registerPartial(name, perItem.has(name) ? (memoizedPartial(compiled as PartialFn) as typeof compiled) : compiled);
  }
  const templates = [...files]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([output, { file, text }]): CompiledTemplate => {
      const template = env.compile<TemplateData>(text, COMPILE_OPTIONS);
      return { output, file, render: (data) => template(data), reads: [...fieldsRead(env, text, partials)].sort() };
    });
  return { templates, partials: [...partials.keys()].sort() };
}

// ---- what lets a render cost what changed (render/incremental.ts) ------------------------------

/** Top-level TemplateData fields (kept in step with data.ts by a test). */
export const TEMPLATE_DATA_FIELDS = [
  'settings', 'binds', 'stats', 'apps', 'httpApps', 'tcpApps', 'hosts', 'hostsMapPath', 'serverStatePath', 'defaultBackend', 'tls', 'httpsRedirects',
] as const;

type Node = Record<string, unknown>;

function walk(node: unknown, visit: (node: Node, blockDepth: number) => void, blockDepth = 0): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit, blockDepth);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as Node;
  visit(record, blockDepth);
  for (const [key, value] of Object.entries(record)) {
    if (key === 'loc') continue;
    // `each` and `with` bodies run in a new context (a `../` there is the block's own parent);
    // `if`/`unless` bodies do not (Handlebars 4: a `../` there leaves the current context).
    const changesContext = record.type === 'BlockStatement' && ['each', 'with'].includes(((record.path as Node).original as string) ?? '');
    const inner = changesContext && key === 'program' ? blockDepth + 1 : blockDepth;
    walk(value, visit, inner);
  }
}

function partialsUsed(env: typeof Handlebars, text: string, partials: Map<string, Parsed>, seen = new Set<string>()): Set<string> {
  for (const name of partialReferences(env.parse(text))) {
    if (seen.has(name) || !partials.has(name)) continue;
    seen.add(name);
    partialsUsed(env, partials.get(name)!.text, partials, seen);
  }
  return seen;
}

/** TemplateData fields named anywhere in the template or its partials (a superset of what it reads). */
function fieldsRead(env: typeof Handlebars, text: string, partials: Map<string, Parsed>): Set<string> {
  const known = new Set<string>(TEMPLATE_DATA_FIELDS);
  const reads = new Set<string>();
  for (const source of [text, ...[...partialsUsed(env, text, partials)].map((n) => partials.get(n)!.text)]) {
    walk(env.parse(source), (node) => {
      if (node.type !== 'PathExpression') return;
      for (const part of node.parts as string[]) if (known.has(part)) reads.add(part);
    });
  }
  return reads;
}

/**
 * Partials whose output is a function of their context object alone: called with no arguments
 * right inside an `{{#each}}` of a top-level template (one app per call, e.g. `backend-http`),
 * and reading neither `@data` (`@index`, `@root`, ...) nor anything above their own context
 * (`../` out of the partial), nor do the partials they use. Their output is cached per context.
 */
function perItemPartials(env: typeof Handlebars, files: Map<string, Parsed>, partials: Map<string, Parsed>): Set<string> {
  const candidates = new Set<string>();
  for (const { text } of files.values()) {
    walk(env.parse(text), (node, depth) => {
      if (node.type !== 'PartialStatement' || depth !== 1) return;
      const name = node.name as Node;
      if (name.type === 'PathExpression' && !name.data && (node.params as unknown[]).length === 0 && !node.hash) {
        candidates.add(name.original as string);
      }
    });
  }
  const selfContained = (source: string): boolean => {
    let ok = true;
    walk(env.parse(source), (node, depth) => {
      if (node.type === 'PathExpression' && (node.data || (node.depth as number) > depth)) ok = false;
      if (node.type === 'PartialBlockStatement' || node.type === 'DecoratorBlock' || node.type === 'Decorator') ok = false;
    });
    return ok;
  };
  const out = new Set<string>();
  for (const name of candidates) {
    const parsed = partials.get(name);
    if (!parsed) continue;
    const used = [name, ...partialsUsed(env, parsed.text, partials)];
    if (used.every((n) => selfContained(partials.get(n)!.text))) out.add(name);
  }
  return out;
}

type PartialFn = (context: unknown, options?: unknown) => string;

/** The partial's output, kept per context object (views are never mutated once built). */
function memoizedPartial(compiled: PartialFn): PartialFn {
  const cache = new WeakMap<object, string>();
  return (context, options) => {
    if (typeof context !== 'object' || context === null) return compiled(context, options);
    let out = cache.get(context);
    if (out === undefined) {
      out = compiled(context, options);
      cache.set(context, out);
    }
    return out;
  };
}
