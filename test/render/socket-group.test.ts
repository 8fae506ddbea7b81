// The runtime socket is owner-only by default; with a group (the daemon runs as its own user,
// HAProxy creates the socket) it is mode 660 for that group, and HAProxy accepts the line.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/apply/validate.js';
import { renderFiles } from '../../src/render/render.js';
import { loadTemplates } from '../../src/sources/files/templates-source.js';
import { SHIPPED_TEMPLATES_DIR } from '../../src/paths.js';
import { settings } from './fixtures.js';

const empty = { apps: [], hosts: [], rejections: [] };

t.test('runtime socket mode and group', async (t) => {
  const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-sockgroup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const owner = renderFiles(templates, empty, { ...settings, configDir: dir });
  t.match(owner['haproxy.cfg'], /stats socket \/run\/haproxy\/paas-router\.sock mode 600 level admin/);
  const group = renderFiles(templates, empty, { ...settings, configDir: dir, runtimeSocketGroup: 'haproxy' });
  t.match(group['haproxy.cfg'], /stats socket \/run\/haproxy\/paas-router\.sock mode 660 group haproxy level admin/);
  for (const [name, content] of Object.entries(group)) await writeFile(join(dir, name), content);
  await checkConfig('haproxy', join(dir, 'haproxy.cfg'));
  t.pass('haproxy -c accepts the group line');
});
