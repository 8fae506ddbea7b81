// compileTemplates / renderFiles with small inline template sets: errors surface at load with the
// file name, strict mode catches misspelt fields, and rendering is pure.
import t from 'tap';

import { TemplateError } from '../../src/errors.js';
import type { RoutingModel } from '../../src/model/types.js';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import type { TemplateSource } from '../../src/render/types.js';
import { httpApp, model as fixture, settings } from './fixtures.js';

const model: RoutingModel = fixture(
  [httpApp('web', [{ name: 's1', id: 'x', address: '10.0.0.1', port: 31000, passing: true }])],
  { web: ['www.example.org'] },
);

function source(files: Record<string, string>, partials: Record<string, string> = {}): TemplateSource {
  return { files: { 'hosts.map': '{{#each hosts}}{{host}} {{backend}}\n{{/each}}', ...files }, partials };
}

function render(cfg: string, partials: Record<string, string> = {}) {
  return renderFiles(compileTemplates(source({ 'haproxy.cfg': cfg }, partials)), model, settings);
}

t.test('a minimal set compiles and renders', async (t) => {
  const files = render('{{> head}}{{#each httpApps}}backend {{backend}}\n{{/each}}', { head: '# {{settings.configDir}}\n' });
  t.same(files, {
    'haproxy.cfg': '# /etc/haproxy/paas-router\nbackend app_web\n',
    'hosts.map': 'web.production.mozilla.community app_web\nwww.example.org app_web\n',
  });
});

t.test('file keys with or without .hbs, partials with or without partials/', async (t) => {
  const templates = compileTemplates({
    files: { 'haproxy.cfg.hbs': '{{> a}}{{> b}}', 'hosts.map': 'x' },
    partials: { 'a.hbs': 'A', 'partials/b.hbs': 'B' },
  });
  t.same(templates.partials, ['a', 'b']);
  t.same(renderFiles(templates, model, settings)['haproxy.cfg'], 'AB\n');
  t.throws(() => compileTemplates({ files: { 'haproxy.cfg': 'x', 'haproxy.cfg.hbs': 'y', 'hosts.map': '' }, partials: {} }), {
    name: 'TemplateError',
    message: /haproxy\.cfg\.hbs: defined twice/,
  });
});

t.test('every output ends with a newline, extra top-level templates are rendered too', async (t) => {
  const files = renderFiles(compileTemplates(source({ 'haproxy.cfg': 'no newline', 'crt-list': '' })), model, settings);
  t.same(files, { 'crt-list': '\n', 'haproxy.cfg': 'no newline\n', 'hosts.map': files['hosts.map'] });
});

t.test('syntax errors are TemplateErrors at load, naming the file', async (t) => {
  const cases: [TemplateSource, RegExp][] = [
    [source({ 'haproxy.cfg': 'global\n{{#if settings.maxconn}}\n' }), /^template haproxy\.cfg\.hbs: Parse error on line 3/],
    [source({ 'haproxy.cfg': '{{> global}}' }, { global: 'global\n    maxconn {{settings.maxconn\n' }), /^template partials\/global\.hbs: Parse error on line 2/],
    [source({ 'haproxy.cfg': '{{#each apps}}{{/if}}' }), /^template haproxy\.cfg\.hbs: each doesn't match if/],
  ];
  for (const [src, message] of cases) {
    const err = t.throws(() => compileTemplates(src), { name: 'TemplateError', code: 'TEMPLATE_ERROR', message }) as unknown;
    t.ok(err instanceof TemplateError && err.cause !== undefined, 'the Handlebars error is kept as cause');
  }
});

t.test('unknown helpers and missing partials fail at load', async (t) => {
  t.throws(() => compileTemplates(source({ 'haproxy.cfg': '{{uppercase settings.configDir}}' })), {
    name: 'TemplateError',
    message: /haproxy\.cfg\.hbs: .*unknown helper uppercase/,
  });
  t.throws(() => compileTemplates(source({ 'haproxy.cfg': '{{> global}}' }, { global: '{{> stats}}' })), {
    name: 'TemplateError',
    message: 'template partials/global.hbs: uses partial "stats", but there is no partials/stats.hbs',
  });
  // A partial block carries its own fallback: not an error.
  t.doesNotThrow(() => compileTemplates(source({ 'haproxy.cfg': '{{#> https}}# no https{{/https}}' })));
});

t.test('haproxy.cfg.hbs and hosts.map.hbs are required', async (t) => {
  t.throws(() => compileTemplates({ files: { 'hosts.map': '' }, partials: { global: 'global' } }), {
    name: 'TemplateError',
    message: 'template haproxy.cfg.hbs is missing from the templates directory',
  });
  t.throws(() => compileTemplates({ files: { 'haproxy.cfg': '' }, partials: {} }), {
    name: 'TemplateError',
    message: 'template hosts.map.hbs is missing from the templates directory',
  });
});

t.test('output and partial names must be plain file names', async (t) => {
  t.throws(() => compileTemplates(source({ 'haproxy.cfg': '', '../etc/passwd': '' })), { name: 'TemplateError', message: /plain file name/ });
  t.throws(() => compileTemplates(source({ 'haproxy.cfg': '', '.hidden': '' })), { name: 'TemplateError', message: /plain file name/ });
  t.throws(() => compileTemplates(source({ 'haproxy.cfg': '' }, { 'a b': '' })), { name: 'TemplateError', message: /partial name/ });
});

t.test('strict mode: a misspelt field throws a TemplateError at render, naming the file', async (t) => {
  const templates = [
    ['haproxy.cfg', '{{settings.configdir}}', /"configdir" not defined/],
    ['haproxy.cfg', '{{#each httpApps}}{{backnd}}{{/each}}', /"backnd" not defined/],
    ['haproxy.cfg', '{{#each tcpApps}}{{/each}}{{#if settings.hardStopAftr}}x{{/if}}', /#if.*undefined value: misspelt field/],
    ['haproxy.cfg', '{{#each hostz}}{{/each}}', /#each.*undefined value/],
    ['haproxy.cfg', '{{#unless stats.admn}}{{/unless}}', /#unless.*undefined value/],
    ['haproxy.cfg', '{{#with stat}}{{/with}}', /#with.*undefined value/],
  ] as const;
  for (const [output, text, message] of templates) {
    const compiled = compileTemplates(source({ [output]: text }));
    const err = t.throws(() => renderFiles(compiled, model, settings), { name: 'TemplateError', message }) as Error;
    t.match(err.message, /^template haproxy\.cfg\.hbs: /);
  }
  // Null optional fields are fine: present, falsy.
  t.same(render('{{#each apps}}{{#if healthcheck}}check{{else}}none{{/if}} {{timeoutServer}}{{/each}}')['haproxy.cfg'], 'none \n');
  // The same inside a partial.
  t.throws(() => render('{{#each httpApps}}{{> be}}{{/each}}', { be: 'backend {{backend}} {{balanse}}' }), {
    name: 'TemplateError',
    message: /"balanse" not defined/,
  });
});

t.test('helpers: eq and join, loud on bad arguments', async (t) => {
  t.equal(render('{{#each apps}}{{#if (eq mode "http")}}http{{/if}} {{join hosts ","}}{{/each}}')['haproxy.cfg'], 'http web.production.mozilla.community,www.example.org\n');
  t.throws(() => render('{{#if (eq mode "http")}}{{/if}}'), { name: 'TemplateError', message: /eq takes two defined arguments/ });
  t.throws(() => render('{{join settings.configDir ","}}'), { name: 'TemplateError', message: /join takes an array/ });
});

t.test('HTML-special characters are not escaped', async (t) => {
  t.equal(render(`{{#each httpApps}}{{backend}}{{/each}} <&>"'`)['haproxy.cfg'], `app_web <&>"'\n`);
});

t.test('each compiled set is isolated; rendering does not mutate the model', async (t) => {
  const a = compileTemplates(source({ 'haproxy.cfg': '{{> p}}' }, { p: 'A' }));
  const b = compileTemplates(source({ 'haproxy.cfg': '{{> p}}' }, { p: 'B' }));
  const before = JSON.stringify(model);
  t.equal(renderFiles(a, model, settings)['haproxy.cfg'], 'A\n');
  t.equal(renderFiles(b, model, settings)['haproxy.cfg'], 'B\n');
  t.equal(JSON.stringify(model), before);
});

t.test('a malformed model is a TemplateError too, never a bare TypeError', async (t) => {
  const compiled = compileTemplates(source({ 'haproxy.cfg': '' }));
  const broken = { ...model, apps: [{ ...model.apps[0]!, servers: undefined }] } as unknown as RoutingModel;
  t.throws(() => renderFiles(compiled, broken, settings), { name: 'TemplateError', message: /^cannot build the template data: / });
});
