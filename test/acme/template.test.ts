// The HTTP-01 answer in the shipped templates: rendered only with ACME on, before any https
// redirect and before routing; a thumbprint that is not one is a template error, never rendered.
import t from 'tap';
import { join } from 'node:path';
import { renderFiles } from '../../src/render/render.js';
import { compileTemplates } from '../../src/render/templates.js';
import { readTemplateSource } from '../../src/sources/files/templates-source.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { httpApp, model, server, settings } from '../render/fixtures.js';

const THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const templates = compileTemplates(await readTemplateSource(SHIPPED_TEMPLATES_DIR));
const shop = model([httpApp('shop', [server('10.0.0.1', 31000)], { httpsOnly: true })], { shop: ['shop.example.org'] });
const tls = { crtList: join('/etc/haproxy/paas-router', 'crt-list'), coveredHosts: ['shop.example.org', 'shop.production.mozilla.community'] };

t.test('ACME off: no challenge rule', async (t) => {
  t.notMatch(renderFiles(templates, shop, { ...settings, tls })['haproxy.cfg'], /acme-challenge/);
});

t.test('ACME on: the rule comes first in the HTTP frontend, before the https redirect and routing', async (t) => {
  const cfg = renderFiles(templates, shop, { ...settings, tls, acme: { thumbprint: THUMBPRINT } })['haproxy.cfg'] ?? '';
  const frontend = cfg.slice(cfg.indexOf('frontend http_in'), cfg.indexOf('\nfrontend', cfg.indexOf('frontend http_in') + 1));
  const challenge = frontend.indexOf('acme-challenge');
  t.ok(challenge > 0, 'in frontend http_in');
  t.ok(challenge < frontend.indexOf('http-request redirect scheme https'), 'before the https-only redirect');
  t.ok(challenge < frontend.indexOf('use_backend'), 'before routing');
  t.match(frontend, `lf-string "%[path,field(4,/)].${THUMBPRINT}"`);
  const https = cfg.slice(cfg.indexOf('frontend https_in'));
  t.notMatch(https.slice(0, https.indexOf('\nbackend')), /acme-challenge/, 'HTTP-01 is plain HTTP only');
});

t.test('a thumbprint that is not base64url SHA-256 is refused', async (t) => {
  for (const thumbprint of ['', 'short', `${THUMBPRINT}x`, `${THUMBPRINT.slice(0, 42)}"`, `${THUMBPRINT.slice(0, 40)}%[x]`]) {
    t.throws(
      () => renderFiles(templates, shop, { ...settings, acme: { thumbprint } }),
      { code: 'TEMPLATE_ERROR', message: /acme\.thumbprint .* is not a base64url SHA-256 JWK thumbprint/ },
      JSON.stringify(thumbprint),
    );
  }
});
