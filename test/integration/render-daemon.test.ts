// Issue 20, "one state of what runs": `paas-router render` builds the daemon's candidate (one
// builder), Vault's certificates and the ACME challenge answer included, so `render --out` with the
// daemon's config writes what the daemon applies, byte for byte, and a daemon started on those
// files (with Vault and ACME configured) does not reload HAProxy.
import t from 'tap';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { reloadThroughMaster, showProc } from '../../src/apply/reload.js';
import { renderCommand } from '../../src/cli/render.js';
import { startDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

const web: MarathonApp = { id: '/web', instances: 1, tags: [], mode: 'http' };

/** Every file under `dir`, relative, with its text. */
async function filesUnder(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length + 1)] = await readFile(path, 'utf8');
  }
  return files;
}

t.test('render with the daemon config writes what the daemon applies; a daemon started on it does not reload', async (t) => {
  const cluster = await startTestCluster(t, {
    apps: [web],
    vault: { acme: true },
    configOverrides: { acme: { directory_url: 'https://127.0.0.1:1/directory', email: 'ops@example.org' } },
  });
  const { config, httpPort } = cluster;
  const silent = new Writable({ write: (_chunk, _enc, done) => done() });
  const first = cluster.daemon.runner;
  await eventually('web served', async () => (await requestThrough(httpPort, 'web.production.mozilla.community')).status === 200, 20_000);
  await eventually('the first daemon knows the ACME thumbprint', () => first.state.acme?.thumbprint, 20_000);
  await eventually('the first daemon applied it', async () => {
    await first.settled();
    return (await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8')).includes(first.state.acme!.thumbprint!);
  });
  await first.settled();

  await t.test('render --out: the daemon files, byte for byte', async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'paas-router-render-'));
    t.teardown(() => rm(out, { recursive: true, force: true }));
    await renderCommand(config, out, silent);
    const rendered = await filesUnder(out);
    const live = await filesUnder(config.haproxy.configDir);
    t.ok(
      Object.keys(rendered).some((name) => name.startsWith('certs/')),
      'the certificates from Vault are rendered',
    );
    t.equal((await stat(join(out, 'certs', 'default.pem'))).mode & 0o777, 0o600, 'a private key is written as the daemon writes it');
    for (const [name, text] of Object.entries(rendered)) t.equal(text, live[name], `${name}: what the daemon wrote`);
  });

  await t.test('a daemon started on the files of render: no reload', async (t) => {
    await cluster.daemon.stop();
    await renderCommand(config, config.haproxy.configDir, silent);
    await reloadThroughMaster(config.haproxy.masterSocket, 10_000);
    const before = (await showProc(config.haproxy.masterSocket)).master.reloads;
    const daemon = await startDaemon(config, createLogger('silent'));
    t.teardown(() => daemon.stop());
    const { state } = daemon.runner;
    await eventually('built', () => state.lastApply !== undefined, 20_000);
    await eventually('the ACME thumbprint known', () => state.acme?.thumbprint, 20_000);
    await daemon.runner.settled();
    t.equal(state.lastApply?.status, 'unchanged', 'the candidate is the files render wrote');
    t.equal(state.counters.reloads, 0, 'the daemon counted no reload');
    t.equal((await showProc(config.haproxy.masterSocket)).master.reloads, before, 'show proc: no reload');
  });
});
