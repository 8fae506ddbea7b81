// router.auth end to end: users from the dev Vault (`auth/<app or group>`), real basic auth
// through a real HAProxy for every accepted crypt scheme, 503 for no entry or a bad one (never
// served unprotected, no other app affected), and rotation. HAProxy 2.6 has no runtime API for
// userlists: a rotation is one validated, hitless reload, counted with `show proc`.
import t from 'tap';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import { putAuthUsers, removeAuthUsers } from '../../dev/vault/router.js';
import type { ApplyReport } from '../../src/apply/applier.js';
import { showProc } from '../../src/apply/reload.js';
import { explainHost, formatExplanation, readLiveView } from '../../src/cli/explain.js';
import { HASHES, PASSWORD, ROTATED, ROTATED_PASSWORD } from '../helpers/auth-hashes.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';
import { assertNoSecrets, captureLog } from '../vault/helpers.js';

const app = (id: string, tags: string[]): MarathonApp => ({ id, instances: 1, tags, mode: 'http' });
const apps = [
  app('/staging', ['router.auth=staging']),
  app('/wiki', ['router.auth=wiki']),
  app('/admin', ['router.auth=admin']),
  app('/open', []),
  app('/shop-blue', ['router.group=shop', 'router.auth=shop']),
  app('/shop-green', ['router.group=shop', 'router.auth=shop']),
];
const zone = 'production.mozilla.community';
const USERS = Object.entries(HASHES).map(([scheme, hash]) => ({ name: `u-${scheme}`, hash }));

function get(port: number, host: string, credentials?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = { host };
  if (credentials !== undefined) headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('router.auth through a real HAProxy with users from Vault', async (t) => {
  const captured = captureLog('debug');
  const cluster = await startTestCluster(t, { apps, vault: true, log: captured.log });
  const { httpPort, config } = cluster;
  const vault = cluster.vault!.vault;
  const state = cluster.daemon.runner.state;
  const http = (host: string, credentials?: string) => get(httpPort, host, credentials);
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const settle = () => cluster.daemon.runner.settled();
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 15_000);
  const reports: ApplyReport[] = [];
  cluster.daemon.runner.on('applied', (r: ApplyReport) => reports.push(r));

  await wait('open served', async () => (await http(`open.${zone}`)).status === 200);
  // Before any entry exists: protected apps answer 503, never their content.
  t.equal((await http(`staging.${zone}`)).status, 503, 'no entry yet: 503');

  putAuthUsers(vault, 'staging', USERS.map((u) => `${u.name}:${u.hash}`).join('\n'));
  putAuthUsers(vault, 'wiki', `alice:${HASHES.bcrypt2b}\nbob:${PASSWORD}`);
  putAuthUsers(vault, 'shop', `alice:${HASHES.sha512}`);
  await wait('staging asks for credentials', async () => (await http(`staging.${zone}`)).status === 401);
  await settle();

  await t.test('a challenge without credentials; every accepted crypt scheme logs in; wrong passwords do not', async (t) => {
    const r = await http(`staging.${zone}`);
    t.equal(r.headers['www-authenticate'], 'Basic realm="staging"');
    t.notMatch(r.body, /staging #1/);
    for (const user of USERS) {
      const ok = await http(`staging.${zone}`, `${user.name}:${PASSWORD}`);
      t.equal(ok.status, 200, `${user.name} with the right password`);
      t.equal(ok.body.trim(), '/staging #1');
      t.equal((await http(`staging.${zone}`, `${user.name}:wrong`)).status, 401, `${user.name} with a wrong password`);
    }
    t.equal((await http(`staging.${zone}`, `nobody:${PASSWORD}`)).status, 401, 'an unknown user');
  });

  await t.test('a bad entry or no entry: 503 with a plain reason, the rejection names the app and line; others unaffected', async (t) => {
    const wiki = await http(`wiki.${zone}`, `alice:${PASSWORD}`);
    t.equal(wiki.status, 503, 'one plain-password line: the whole entry is refused, even for the valid user');
    t.equal(wiki.body, 'Authentication is not configured for this app: its list of users is invalid.\n');
    t.match(wiki.headers['content-type'], /^text\/plain/);
    const admin = await http(`admin.${zone}`);
    t.equal(admin.status, 503);
    t.equal(admin.body, 'Authentication is not configured for this app: it has no users yet.\n');
    const wikiRejection = state.builtModel!.rejections.find((r) => r.kind === 'auth' && r.service === 'wiki')!;
    t.match(wikiRejection.reason, /secret\/data\/paas-router\/auth\/wiki "users": line 2 \(user bob\): not a crypt hash.*app wiki answers 503/);
    t.notOk(wikiRejection.reason.includes(PASSWORD), 'the pasted password is not repeated');
    t.equal((await http(`open.${zone}`)).status, 200, 'an app without router.auth is untouched');
    t.equal((await http(`staging.${zone}`, `u-sha512:${PASSWORD}`)).status, 200, 'another router.auth app is untouched');
  });

  await t.test('a group: the members agree, the users are auth/<group>', async (t) => {
    t.equal((await http(`shop.${zone}`)).status, 401);
    t.match((await http(`shop.${zone}`, `alice:${PASSWORD}`)).body, /^\/shop-(blue|green) #1/);
  });

  await t.test('a new instance of a router.auth app joins through the runtime API, no reload', async (t) => {
    await settle();
    const before = await reloads();
    await cluster.addTask(apps[0]!);
    const seen = new Set<string>();
    await wait('both instances behind the auth', async () => {
      seen.add((await http(`staging.${zone}`, `u-sha512:${PASSWORD}`)).body.trim());
      return seen.has('/staging #2');
    });
    await settle();
    t.equal(reports.at(-1)?.status, 'runtime');
    t.equal(await reloads(), before, 'no reload');
    t.equal((await http(`staging.${zone}`)).status, 401, 'still protected');
  });

  await t.test('rotation: the new hash works and the old one stops, through one validated reload', async (t) => {
    await settle();
    const before = await reloads();
    putAuthUsers(vault, 'staging', `u-bcrypt2b:${ROTATED}`);
    await wait('new password accepted', async () => (await http(`staging.${zone}`, `u-bcrypt2b:${ROTATED_PASSWORD}`)).status === 200);
    await settle();
    t.equal((await http(`staging.${zone}`, `u-bcrypt2b:${PASSWORD}`)).status, 401, 'the old password is refused');
    t.equal((await http(`staging.${zone}`, `u-sha512:${PASSWORD}`)).status, 401, 'a user dropped from the entry is refused');
    t.equal(reports.at(-1)?.status, 'reloaded', 'HAProxy 2.6 has no runtime API for userlists: the applier reloads');
    t.equal(await reloads(), before + 1, 'exactly one reload');
    // The fix of a bad entry and the removal of an entry go the same way; removal never unprotects.
    putAuthUsers(vault, 'wiki', `alice:${HASHES.bcrypt2b}`);
    await wait('wiki fixed', async () => (await http(`wiki.${zone}`, `alice:${PASSWORD}`)).status === 200);
    removeAuthUsers(vault, 'staging');
    await wait('staging removed: 503', async () => (await http(`staging.${zone}`, `u-bcrypt2b:${ROTATED_PASSWORD}`)).status === 503);
    t.equal((await http(`wiki.${zone}`)).status, 401, 'wiki keeps its users');
  });

  await t.test('secrets: never in logs, the status document, the status page or explain', async (t) => {
    await settle();
    const status = await (await fetch(`${cluster.daemon.server.url}/status`)).text();
    const page = await (await fetch(`${cluster.daemon.server.url}/`)).text();
    const doc = JSON.parse(status) as { apps: { name: string; auth: unknown; features: string[] }[] };
    t.strictSame(doc.apps.find((a) => a.name === 'wiki')!.auth, {
      realm: 'wiki',
      path: 'secret/data/paas-router/auth/wiki',
      users: ['alice'],
      failure: null,
    });
    t.match(doc.apps.find((a) => a.name === 'staging')!.features, [/basic auth \(realm staging\): answers 503/]);
    const view = await readLiveView(config, { vault: true });
    const explained = formatExplanation(explainHost(view, config, `wiki.${zone}`));
    t.match(explained, /HAProxy asks for basic auth \(realm wiki/);
    t.match(explained, /basic auth \(realm wiki\): 1 user from Vault secret\/data\/paas-router\/auth\/wiki \(alice\)/);
    const cfg = await readFile(join(config.haproxy.configDir, 'haproxy.cfg'), 'utf8');
    t.match(cfg, `user alice password ${HASHES.bcrypt2b}`, 'the hash is in haproxy.cfg, where HAProxy needs it');
    const secrets = { 'bcrypt hash': HASHES.bcrypt2b, 'sha-512 hash': HASHES.sha512, 'rotated hash': ROTATED, 'yescrypt hash': HASHES.yescrypt };
    for (const [what, text] of Object.entries({ status, page, explained })) {
      for (const [name, hash] of Object.entries(secrets)) t.notOk(text.includes(hash), `no ${name} in ${what}`);
    }
    assertNoSecrets(t, captured.lines, { ...secrets, 'plain password in a bad entry': `bob:${PASSWORD}` });
  });
});
