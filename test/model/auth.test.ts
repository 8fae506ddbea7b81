// Table tests of router.auth: the tag, the users entry from Vault (`auth/<app or group>`), and the
// 503 every failure leads to. A bad entry never serves the app unprotected, never touches another
// app, and its reason names the app and the line, never the hash or a pasted password.
import t from 'tap';
import { hashProblem, parseUsers } from '../../src/model/auth.js';
import { buildModel } from '../../src/model/build.js';
import { describeFeatures } from '../../src/model/describe.js';
import { ModelMemo } from '../../src/model/incremental.js';
import { parseRouterTag } from '../../src/model/tags.js';
import type { ModelInput, ModelSettings } from '../../src/model/types.js';
import type { ServiceInstance } from '../../src/sources/types.js';
import { HASHES } from '../helpers/auth-hashes.js';
import { mc, settings as base } from './helpers.js';

const PREFIX = 'secret/data/paas-router/auth/';
const settings: ModelSettings = { ...base, authPrefix: PREFIX };

function build(services: Record<string, ServiceInstance[]>, auth?: ModelInput['auth'], s: ModelSettings = settings) {
  return buildModel({ services, claims: [], settings: s, ...(auth ? { auth } : {}) });
}
const appOf = (m: ReturnType<typeof build>, name: string) => m.apps.find((a) => a.name === name)!;

t.test('tag syntax: router.auth=<realm>', async (t) => {
  t.strictSame(parseRouterTag('router.auth=staging', settings), { ok: true, key: 'auth', value: 'staging' });
  t.strictSame(parseRouterTag('router.auth=Admin_Area-2.0~x', settings), { ok: true, key: 'auth', value: 'Admin_Area-2.0~x' });
  const bad: [string, RegExp][] = [
    ['router.auth', /router\.auth needs a value/],
    ['router.auth=', /empty value/],
    ['router.auth=my realm', /whitespace/],
    ['router.auth="x"', /bad value/],
    ['router.auth=a#b', /bad value/],
    [`router.auth=${'r'.repeat(65)}`, /bad value/],
    ['router.auth=réalm', /bad value/],
  ];
  for (const [tag, reason] of bad) {
    const p = parseRouterTag(tag, settings);
    t.equal(p?.ok, false, tag);
    if (p && !p.ok) t.match(p.reason, reason, tag);
  }
});

t.test('hashes: every crypt scheme HAProxy verifies is accepted; plain passwords and the rest are not', async (t) => {
  for (const [name, hash] of Object.entries(HASHES)) t.equal(hashProblem(hash), undefined, name);
  t.equal(hashProblem(`$2a$${HASHES.bcrypt2b.slice(4)}`), undefined, '$2a$');
  t.equal(hashProblem('$6$rounds=5000$paasrouterfix$03IpwKxNT5IVIJ.XiUvr.jO2M4x5AtjIWfpmlxprLv6tssCZY0HP4TISOhPpaQDNoLpukryVS3CY6MF3OdJlx/'), undefined);
  const bad: [string, RegExp][] = [
    ['s3cret', /plain passwords are never accepted/],
    ['', /plain passwords are never accepted/],
    ['$apr1$abcdefgh$0123456789012345678901', /\$apr1\$.*htpasswd -B/],
    ['$1$abcdefgh$7.vq19w/w3Vm.hk1FOA7Q/', /MD5-crypt/],
    ['{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', /LDAP-style/],
    ['abJnggxhB/yWI', /DES crypt/],
    [HASHES.bcrypt2b.replace('$05$', '$13$'), /bcrypt cost must be 04\.\.12/],
    [HASHES.bcrypt2b.replace('$05$', '$03$'), /bcrypt cost/],
    [HASHES.bcrypt2b.slice(0, -1), /not a crypt hash/],
    [`${HASHES.sha512} `, /not a crypt hash/],
    [HASHES.sha512.replace('$6$', '$6$rounds=200000$'), /rounds must be at most 100000/],
    ['$6$salt$short', /not a crypt hash/],
    ['$2b$05$"quote"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', /not a crypt hash/],
  ];
  for (const [hash, reason] of bad) {
    const problem = hashProblem(hash);
    t.match(problem, reason, JSON.stringify(hash));
    if (hash.length > 3) t.notOk(problem?.includes(hash), 'the reason never quotes the hash');
  }
});

t.test('users: lines, comments, and the first bad line decides (with its number)', async (t) => {
  const good = parseUsers(`# staging testers\nalice:${HASHES.bcrypt2b}\r\n\n  bob@example.org:${HASHES.sha512}  \n`);
  t.strictSame(good, {
    ok: true,
    users: [
      { name: 'alice', hash: HASHES.bcrypt2b },
      { name: 'bob@example.org', hash: HASHES.sha512 },
    ],
  });
  const bad: [string, RegExp][] = [
    ['', /no user in it/],
    ['# only a comment\n', /no user in it/],
    [`alice:${HASHES.bcrypt2b}\nbob:hunter2`, /^line 2 \(user bob\): not a crypt hash.*plain passwords are never accepted/],
    [`alice:${HASHES.bcrypt2b}\nalice:${HASHES.sha512}`, /^line 2: user alice is given twice/],
    ['hunter2', /^line 1 is not <user>:<hash>/],
    [`:${HASHES.bcrypt2b}`, /^line 1: the user name must be/],
    [`al ice:${HASHES.bcrypt2b}`, /^line 1: the user name must be/],
    [`al#ice:${HASHES.bcrypt2b}`, /^line 1: the user name must be/],
    [`${'a'.repeat(65)}:${HASHES.bcrypt2b}`, /^line 1: the user name must be 1\.\.64/],
    [`alice:${HASHES.bcrypt2b}:extra`, /^line 1 \(user alice\): not a crypt hash/],
    [Array.from({ length: 101 }, (_, i) => `u${i}:${HASHES.sha256}`).join('\n'), /more than 100 users/],
  ];
  for (const [text, reason] of bad) {
    const parsed = parseUsers(text);
    t.equal(parsed.ok, false, JSON.stringify(text.slice(0, 40)));
    if (!parsed.ok) {
      t.match(parsed.reason, reason);
      t.notOk(parsed.reason.includes('hunter2'), 'a pasted password is never repeated');
      t.notOk(parsed.reason.includes(HASHES.bcrypt2b), 'a hash is never repeated');
    }
  }
});

t.test('model: users from Vault, or 503 with a reason naming the app; other apps untouched', async (t) => {
  const services = {
    staging: [mc('staging', 1, { tags: ['router.auth=staging'] })],
    wiki: [mc('wiki', 2, { tags: ['router.auth=wiki'] })],
    admin: [mc('admin', 3, { tags: ['router.auth=admin'] })],
    open: [mc('open', 4)],
  };
  const auth = { staging: `alice:${HASHES.bcrypt2b}\nbob:${HASHES.sha512}`, wiki: `carol:hunter2`, other: `x:${HASHES.sha256}` };
  const m = build(services, auth);
  t.strictSame(appOf(m, 'staging').auth, {
    realm: 'staging',
    path: `${PREFIX}staging`,
    users: [
      { name: 'alice', hash: HASHES.bcrypt2b },
      { name: 'bob', hash: HASHES.sha512 },
    ],
  });
  t.strictSame(appOf(m, 'wiki').auth, { realm: 'wiki', path: `${PREFIX}wiki`, users: [], failure: 'invalid' });
  t.strictSame(appOf(m, 'admin').auth, { realm: 'admin', path: `${PREFIX}admin`, users: [], failure: 'no-entry' });
  t.equal(appOf(m, 'open').auth, undefined, 'an app without the tag has no auth (an entry for another name changes nothing)');
  t.strictSame(
    m.rejections.map((r) => [r.kind, r.service, r.subject, r.key]),
    [
      ['auth', 'admin', 'router.auth=admin', `${PREFIX}admin`],
      ['auth', 'wiki', 'router.auth=wiki', `${PREFIX}wiki`],
    ],
  );
  t.match(m.rejections[0]!.reason, `router.auth: no users at Vault ${PREFIX}admin; app admin answers 503 until this is fixed`);
  t.match(m.rejections[1]!.reason, /line 1 \(user carol\): not a crypt hash.*app wiki answers 503/);
  for (const secret of ['hunter2', HASHES.bcrypt2b, HASHES.sha512, HASHES.sha256])
    t.notOk(JSON.stringify(m.rejections).includes(secret), 'no password or hash in any reason');
  t.strictSame(describeFeatures(appOf(m, 'staging')), [`basic auth (realm staging): 2 users from Vault ${PREFIX}staging (alice, bob); others get 401`]);
  t.match(describeFeatures(appOf(m, 'wiki'))[0], /answers 503, authentication is not configured: the users in Vault are invalid/);

  const entryWithoutUsers = build(services, { staging: null });
  t.strictSame(appOf(entryWithoutUsers, 'staging').auth?.failure, 'invalid');
  t.match(entryWithoutUsers.rejections.find((r) => r.service === 'staging')!.reason, /has no "users" text field/);
});

t.test('model: no Vault configured → every router.auth app answers 503', async (t) => {
  const m = build({ staging: [mc('staging', 1, { tags: ['router.auth=staging'] })], open: [mc('open', 2)] }, undefined, base);
  t.strictSame(appOf(m, 'staging').auth, { realm: 'staging', path: '<vault.kv_prefix>auth/staging', users: [], failure: 'no-vault' });
  t.match(m.rejections[0]!.reason, /Vault is not configured \(vault\.address is empty\).*app staging answers 503/);
  t.equal(appOf(m, 'open').auth, undefined);
});

t.test('model: router.auth is for http apps; tcp apps are rejected and keep their route', async (t) => {
  const m = build({ db: [mc('db', 1, { tags: ['router.mode=tcp', 'router.port=10001', 'router.auth=db'] })] }, {});
  t.equal(appOf(m, 'db').auth, undefined);
  t.match(m.rejections[0]!.reason, /router\.auth is only valid with router\.mode=http; ignored/);
});

t.test('groups: the members agree on the realm; the users are the group entry auth/<group>', async (t) => {
  const member = (app: string, n: number, realm: string) => [mc(app, n, { tags: ['router.group=shop', `router.auth=${realm}`] })];
  const ok = build({ 'shop-blue': member('shop-blue', 1, 'shop'), 'shop-green': member('shop-green', 2, 'shop') }, { shop: `alice:${HASHES.sha512}` });
  t.strictSame(appOf(ok, 'shop').auth, { realm: 'shop', path: `${PREFIX}shop`, users: [{ name: 'alice', hash: HASHES.sha512 }] });
  const memberEntry = build(
    { 'shop-blue': member('shop-blue', 1, 'shop'), 'shop-green': member('shop-green', 2, 'shop') },
    { 'shop-blue': `alice:${HASHES.sha512}` },
  );
  t.equal(appOf(memberEntry, 'shop').auth?.failure, 'no-entry', "a member's own entry does not count: the route is the group's");

  // A member that disagrees on the realm is rejected on its own: the group keeps the owner's auth.
  const split = build({ 'shop-blue': member('shop-blue', 1, 'shop'), 'shop-green': member('shop-green', 2, 'other') }, { shop: `alice:${HASHES.sha512}` });
  t.strictSame(appOf(split, 'shop').auth?.realm, 'shop');
  t.strictSame(
    appOf(split, 'shop').members?.map((m) => m.app),
    ['shop-blue'],
  );
  t.match(split.rejections.find((r) => r.service === 'shop-green')?.reason, /disagrees with app shop-blue on auth \(other vs shop\)/);
  // Never served without the auth: a member without router.auth does not join an auth group.
  const oneWithout = build({ 'shop-blue': member('shop-blue', 1, 'shop'), 'shop-green': [mc('shop-green', 2, { tags: ['router.group=shop'] })] }, {});
  t.strictSame(
    appOf(oneWithout, 'shop').members?.map((m) => m.app),
    ['shop-blue'],
  );
  t.equal(appOf(oneWithout, 'shop').auth?.realm, 'shop');
  t.match(oneWithout.rejections.find((r) => r.service === 'shop-green')?.reason, /disagrees with app shop-blue on auth \(\(unset\) vs shop\)/);
});

t.test('incremental: a rotation rebuilds with the memo exactly as from scratch', async (t) => {
  const services = { staging: [mc('staging', 1, { tags: ['router.auth=staging'] })], open: [mc('open', 2)] };
  const memo = new ModelMemo();
  const steps: ModelInput['auth'][] = [
    { staging: `alice:${HASHES.bcrypt2b}` },
    { staging: `alice:${HASHES.sha512}` },
    { staging: 'alice:plain' },
    {},
    { staging: `alice:${HASHES.bcrypt2b}` },
  ];
  for (const auth of steps) {
    const input: ModelInput = { services, claims: [], settings, ...(auth ? { auth } : {}) };
    t.strictSame(buildModel(input, memo), buildModel(input), JSON.stringify(auth).slice(0, 60));
  }
});
