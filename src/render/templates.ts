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
import type { TemplateData } from './views.js';
import type { TemplateSource } from './types.js';
import { ownCopy } from '../util/string-pool.js';

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
  /**
   * The TemplateData fields the template reads outside its per-app partials (`*`: cannot tell).
   * The runtime plan relies on haproxy.cfg reading no app and no host there, and on hosts.map
   * reading only the hosts (apply/runtime/model-plan.ts).
   */
  frameReads: string[];
}

export interface CompiledTemplates {
  /** One per top-level template, sorted by output name. */
  templates: CompiledTemplate[];
  /**
   * The text the per-app partials render for one view of `list` (`httpApps`, `tcpApps`, `apps`):
   * one app's section of haproxy.cfg, e.g. its backend. Undefined when no partial of the set
   * renders that list's items on their own (render/templates.ts, perItemPartials).
   */
  itemText(list: string, view: object): string | undefined;
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
      throw new TemplateError('eq takes two defined arguments: {{eq a b}}');
    }
    return a === b;
  },
  /** `{{join hosts ", "}}`: join an array of strings or numbers. */
  join(...args: unknown[]): string {
    const [list, separator] = args;
    if (args.length !== 3 || !Array.isArray(list) || typeof separator !== 'string') {
      throw new TemplateError('join takes an array and a separator string: {{join list ", "}}');
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
    if (builtin === undefined) throw new TemplateError(`Handlebars has no built-in "${name}" helper`);
    env.registerHelper(name, function (this: unknown, ...args: unknown[]) {
      if (args.length < 2 || !isOptions(args[args.length - 1])) {
        throw new TemplateError(`{{#${name}}} takes one argument`);
      }
      if (args[0] === undefined) {
        throw new TemplateError(`{{#${name}}} got an undefined value: misspelt field?`);
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
  // One small template per list: renders (or finds in the cache) the per-app partials of an item.
  const byList = new Map<string, string[]>();
  for (const [name, list] of perItem) byList.set(list, [...(byList.get(list) ?? []), name]);
  const itemTemplates = new Map([...byList].map(([list, names]) => [list, env.compile(names.map((n) => `{{> ${n}}}`).join(''), COMPILE_OPTIONS)]));
  const itemText = (list: string, view: object): string | undefined => itemTemplates.get(list)?.(view);
  const templates = [...files]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([output, { file, text }]): CompiledTemplate => {
      const template = env.compile<TemplateData>(text, COMPILE_OPTIONS);
      const frame = [...frameReads(env, text, partials, perItem)].sort();
      return { output, file, render: (data) => template(data), reads: [...fieldsRead(env, text, partials)].sort(), frameReads: frame };
    });
  return { templates, partials: [...partials.keys()].sort(), itemText };
}

// ---- what lets a render cost what changed (render/incremental.ts) ------------------------------

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

/**
 * Every name in a path anywhere in the template or its partials: a superset of the TemplateData
 * fields it reads, whatever fields TemplateData gains (the cache looks up each name in the data).
 */
function fieldsRead(env: typeof Handlebars, text: string, partials: Map<string, Parsed>): Set<string> {
  const reads = new Set<string>();
  for (const source of [text, ...[...partialsUsed(env, text, partials)].map((n) => partials.get(n)!.text)]) {
    walk(env.parse(source), (node) => {
      if (node.type !== 'PathExpression') return;
      for (const part of node.parts as string[]) reads.add(part);
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
function perItemPartials(env: typeof Handlebars, files: Map<string, Parsed>, partials: Map<string, Parsed>): Map<string, string> {
  const candidates = new Map<string, string>();
  const clashing = new Set<string>();
  for (const { text } of files.values()) {
    // Partials called with no arguments right in the body of `{{#each <list>}}` at the top level.
    const visitEach = (node: Node): void => {
      if (node.type !== 'BlockStatement' || (node.path as Node).original !== 'each') return;
      const param = (node.params as Node[])[0];
      if (param?.type !== 'PathExpression' || param.data || param.depth !== 0) return;
      for (const statement of ((node.program as Node).body as Node[]) ?? []) {
        const name = statement.name as Node | undefined;
        if (statement.type !== 'PartialStatement' || name?.type !== 'PathExpression' || name.data) continue;
        if ((statement.params as unknown[]).length > 0 || statement.hash) continue;
        const partial = name.original as string;
        const list = param.original as string;
        if (candidates.has(partial) && candidates.get(partial) !== list) clashing.add(partial);
        candidates.set(partial, list);
      }
    };
    for (const node of env.parse(text).body as unknown as Node[]) visitEach(node);
  }
  for (const name of clashing) candidates.delete(name);
  const selfContained = (source: string): boolean => {
    let ok = true;
    walk(env.parse(source), (node, depth) => {
      if (node.type === 'PathExpression' && (node.data || (node.depth as number) > depth)) ok = false;
      if (node.type === 'PartialBlockStatement' || node.type === 'DecoratorBlock' || node.type === 'Decorator') ok = false;
    });
    return ok;
  };
  const out = new Map<string, string>();
  for (const [name, list] of candidates) {
    const parsed = partials.get(name);
    if (!parsed) continue;
    const used = [name, ...partialsUsed(env, parsed.text, partials)];
    if (used.every((n) => selfContained(partials.get(n)!.text))) out.set(name, list);
  }
  return out;
}

type PartialFn = (context: unknown, options?: unknown) => string;

/**
 * The partial's output, kept per context object (views are never mutated once built). Kept as
 * one flat string: Handlebars builds its output by concatenation, and V8 keeps that as a tree of
 * pieces (60 per app, 19 MB of string nodes at 10 000 apps, for 5 MB of text).
 */
function memoizedPartial(compiled: PartialFn): PartialFn {
  const cache = new WeakMap<object, string>();
  return (context, options) => {
    if (typeof context !== 'object' || context === null) return compiled(context, options);
    let out = cache.get(context);
    if (out === undefined) {
      out = ownCopy(compiled(context, options));
      cache.set(context, out);
    }
    return out;
  };
}

/**
 * Root fields a template reads, leaving out `{{#each <list>}}` blocks at its top level whose body
 * is only text and per-app partials. Paths are followed into partials; a path that climbs out of
 * a partial's context, or `@root`, counts as reading that root field (or `*`).
 */
function frameReads(env: typeof Handlebars, text: string, partials: Map<string, Parsed>, perItem: Map<string, string>): Set<string> {
  const reads = new Set<string>();
  const itemOnly = (node: Node): boolean =>
    node.type === 'BlockStatement' &&
    (node.path as Node).original === 'each' &&
    !node.inverse &&
    ((node.program as Node).body as Node[]).every(
      (s) =>
        s.type === 'ContentStatement' || s.type === 'CommentStatement' || (s.type === 'PartialStatement' && perItem.has((s.name as Node).original as string)),
    );
  const visit = (source: string, rootContext: boolean, seen: Set<string>, top: boolean): void => {
    const ast = env.parse(source) as unknown as Node;
    const body = (ast.body as Node[]).filter((n) => !(top && itemOnly(n)));
    walk(body, (node, depth) => {
      if (node.type === 'PathExpression') {
        const parts = node.parts as string[];
        if (node.data) {
          if (parts[0] === 'root') reads.add(parts[1] ?? '*');
          else if (parts[0] !== 'index' && parts[0] !== 'first' && parts[0] !== 'last' && parts[0] !== 'key') reads.add('*');
        } else if ((node.depth as number) > depth) {
          reads.add('*');
        } else if (rootContext && (node.depth as number) === depth && parts[0] !== undefined) {
          // Helper and partial names are paths too: harmless extra names.
          reads.add(parts[0]);
        }
      } else if (node.type === 'PartialStatement' || node.type === 'PartialBlockStatement') {
        const name = (node.name as Node).original as string;
        if (seen.has(name) || !partials.has(name)) return;
        const plain = (node.params as unknown[]).length === 0 && !node.hash;
        visit(partials.get(name)!.text, rootContext && depth === 0 && plain, new Set([...seen, name]), false);
      }
    });
  };
  visit(text, true, new Set(), true);
  return reads;
}
