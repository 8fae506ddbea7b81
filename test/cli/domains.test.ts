// `paas-router domains list|add|remove` against a dev Consul: the daemon's validation, conflicts
// refused with exit 2 naming the other key, check-and-set writes that survive a concurrent editor.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevConsul } from '../../dev/consul/server.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { validateConfig } from '../../src/config/load.js';
import { domainsAdd, domainsRemove } from '../../src/cli/domains.js';
import { cli, kvGet, kvPut, startInterposer } from './helpers.js';

const PREFIX = 'paas-router/domains/';

t.test('domains CLI against a dev Consul', async (t) => {
  const consul = await startDevConsul({ port: 0 });
  const work = await mkdtemp(join(tmpdir(), 'paas-router-domains-'));
  t.teardown(async () => {
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });
  await registerMesosTask(consul.url, { app: '/community/wordpress', agent: 'a1', ip: '10.0.0.5', port: 31000 });
  await registerMesosTask(consul.url, { app: '/community/discourse', agent: 'a1', ip: '10.0.0.6', port: 31001 });
  await registerMesosTask(consul.url, { app: '/irc', agent: 'a1', ip: '10.0.0.7', port: 31002, tags: ['router.mode=tcp', 'router.port=10001'] });
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, `cluster: production\nbase_domain: mozilla.community\nconsul:\n  domains_prefix: ${PREFIX}\n`);
  const base = ['--config', configFile, '--consul-addr', consul.url];
  const value = async (app: string) => (await kvGet(consul.url, `${PREFIX}${app}`))?.value;

  await t.test('add writes a new key (cas=0) and is idempotent', async (t) => {
    const r = await cli(['domains', 'add', 'wordpress-community', 'WWW.Example.org', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /added www\.example\.org to wordpress-community \(paas-router\/domains\/wordpress-community\)/);
    t.equal(await value('wordpress-community'), 'www.example.org', 'normalised to lowercase');
    const again = await cli(['domains', 'add', 'wordpress-community', 'www.example.org', ...base]);
    t.equal(again.code, 0);
    t.match(again.stdout, /already a custom domain/);
    t.equal(await value('wordpress-community'), 'www.example.org', 'not duplicated');
  });

  await t.test('add appends to an existing value and keeps its separators', async (t) => {
    await kvPut(consul.url, `${PREFIX}discourse-community`, 'forum.example.org, talk.example.org');
    const r = await cli(['domains', 'add', 'discourse-community', 'discuss.example.org', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.equal(await value('discourse-community'), 'forum.example.org, talk.example.org, discuss.example.org');
  });

  await t.test('a host claimed by another app is refused with exit 2, naming the key', async (t) => {
    const r = await cli(['domains', 'add', 'discourse-community', 'www.example.org', ...base]);
    t.equal(r.code, 2);
    t.match(r.stderr, /www\.example\.org is already claimed by paas-router\/domains\/wordpress-community \(CreateIndex \d+\)/);
    t.notMatch(await value('discourse-community'), /www\.example\.org/, 'nothing written');
  });

  await t.test("invalid FQDNs are refused with exit 2 and the daemon's reason", async (t) => {
    const cases: [string, RegExp][] = [
      ['bad_host.org', /character "_" is not allowed/],
      ['http://www.example.net/', /looks like a URL/],
      ['www.example.net:8080', /a port is not allowed/],
      ['*.example.net', /wildcards/],
      ['localhost', /at least two labels/],
      ['bücher.example', /punycode \(xn--\) form "xn--bcher-kva\.example"/],
    ];
    const results = await Promise.all(cases.map(([fqdn]) => cli(['domains', 'add', 'wordpress-community', fqdn, ...base])));
    cases.forEach(([fqdn, reason], i) => {
      t.equal(results[i]!.code, 2, `${fqdn}: exit 2`);
      t.match(results[i]!.stderr, reason, fqdn);
    });
    t.equal(await value('wordpress-community'), 'www.example.org', 'nothing written');
  });

  await t.test('the cluster zone is reserved for default hosts', async (t) => {
    const reserved = ['discourse-community.production.mozilla.community', 'production.mozilla.community', 'x.y.production.mozilla.community'];
    const results = await Promise.all(reserved.map((fqdn) => cli(['domains', 'add', 'wordpress-community', fqdn, ...base])));
    reserved.forEach((fqdn, i) => {
      t.equal(results[i]!.code, 2, fqdn);
      t.match(results[i]!.stderr, /reserved for default host names \(production\.mozilla\.community/);
    });
  });

  await t.test('a bad app name is refused with exit 2', async (t) => {
    const slash = await cli(['domains', 'add', 'community/wordpress', 'a.example.org', ...base]);
    t.equal(slash.code, 2);
    t.match(slash.stderr, /has no "\/"/);
    const under = await cli(['domains', 'add', 'word_press', 'a.example.org', ...base]);
    t.equal(under.code, 2);
    t.match(under.stderr, /not a valid service name/);
  });

  await t.test('add for an app not deployed yet works, with a note', async (t) => {
    const r = await cli(['domains', 'add', 'newapp', 'new.example.org', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /no Consul service named newapp is registered yet/);
  });

  await t.test('list shows every claim as the daemon judges it', async (t) => {
    await kvPut(consul.url, `${PREFIX}irc`, 'irc.example.org');
    await kvPut(consul.url, `${PREFIX}wordpress-community`, 'www.example.org\nbad_one.org');
    const r = await cli(['domains', 'list', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^APP\s+HOST\s+STATUS$/m);
    t.match(r.stdout, /^wordpress-community\s+www\.example\.org\s+active$/m);
    t.match(r.stdout, /^wordpress-community\s+bad_one\.org\s+rejected: character "_"/m);
    t.match(r.stdout, /^discourse-community\s+forum\.example\.org\s+active$/m);
    t.match(r.stdout, /^irc\s+irc\.example\.org\s+rejected: service irc is a tcp app/m);
    t.match(r.stdout, /^newapp\s+new\.example\.org\s+rejected: service newapp is not routed/m);
    const one = await cli(['domains', 'list', 'discourse-community', '--json', ...base]);
    t.equal(one.code, 0, one.stderr);
    const entries = JSON.parse(one.stdout) as { app: string; host: string; status: string }[];
    t.same(
      entries.map((e) => [e.app, e.host, e.status]),
      [
        ['discourse-community', 'forum.example.org', 'active'],
        ['discourse-community', 'talk.example.org', 'active'],
        ['discourse-community', 'discuss.example.org', 'active'],
      ],
    );
  });

  await t.test("a conflict put behind the CLI's back shows in list, first claim wins", async (t) => {
    await kvPut(consul.url, `${PREFIX}discourse-community`, 'forum.example.org, talk.example.org, discuss.example.org, www.example.org');
    const r = await cli(['domains', 'list', 'discourse-community', ...base]);
    t.match(r.stdout, /^discourse-community\s+www\.example\.org\s+rejected: host already claimed by service wordpress-community/m);
  });

  await t.test('remove takes one host out, and deletes the key with the last one', async (t) => {
    const r = await cli(['domains', 'remove', 'discourse-community', 'www.example.org', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.equal(await value('discourse-community'), 'forum.example.org, talk.example.org, discuss.example.org');
    const bad = await cli(['domains', 'remove', 'wordpress-community', 'bad_one.org', ...base]);
    t.equal(bad.code, 0, 'an invalid token can be cleaned up');
    t.equal(await value('wordpress-community'), 'www.example.org');
    const last = await cli(['domains', 'remove', 'wordpress-community', 'WWW.EXAMPLE.ORG', ...base]);
    t.equal(last.code, 0, last.stderr);
    t.match(last.stdout, /was deleted/);
    t.equal(await kvGet(consul.url, `${PREFIX}wordpress-community`), undefined, 'key deleted');
    const absent = await cli(['domains', 'remove', 'wordpress-community', 'www.example.org', ...base]);
    t.equal(absent.code, 0);
    t.match(absent.stderr, /www\.example\.org is not a custom domain of wordpress-community \(paas-router\/domains\/wordpress-community\); nothing to do/);
  });

  await t.test('a concurrent edit between read and write is not lost (CAS retry)', async (t) => {
    let raced = 0;
    const proxy = await startInterposer(consul, async (key) => {
      if (raced > 0) return false;
      raced += 1;
      const current = await kvGet(consul.url, key);
      await kvPut(consul.url, key, `${current?.value ?? ''}\nraced.example.org`.trim());
      return true;
    });
    t.teardown(() => proxy.close());
    const config = validateConfig({ consul: { address: proxy.url } }, 'test', {});
    const err: string[] = [];
    const io = { out: { write: () => true } as never, err: { write: (s: string) => err.push(s) } as never };
    const code = await domainsAdd(config, 'discourse-community', 'extra.example.org', io);
    t.equal(code, 0);
    t.equal(raced, 1, 'the concurrent editor got in between');
    t.match(err.join(''), /changed meanwhile \(check-and-set\); reading it again/);
    const v = await value('discourse-community');
    t.match(v, /raced\.example\.org/, 'the concurrent write survived');
    t.match(v, /extra\.example\.org/, 'and ours was applied on top of it');

    raced = 0;
    const removed = await domainsRemove(config, 'discourse-community', 'extra.example.org', io);
    t.equal(removed, 0);
    t.equal(raced, 1);
    t.notMatch(await value('discourse-community'), /extra\.example\.org/);
  });

  await t.test('a key that keeps changing: exit 1 after a few attempts, nothing lost', async (t) => {
    let n = 0;
    const proxy = await startInterposer(consul, async (key) => {
      n += 1;
      const current = await kvGet(consul.url, key);
      await kvPut(consul.url, key, `${current?.value ?? ''}\nrace${n}.example.org`.trim());
      return true;
    });
    t.teardown(() => proxy.close());
    const r = await cli(['domains', 'add', 'discourse-community', 'never.example.org', '--config', configFile, '--consul-addr', proxy.url]);
    t.equal(r.code, 1);
    t.match(
      r.stderr,
      /CAS_CONFLICT: adding never\.example\.org to paas-router\/domains\/discourse-community: the key kept changing during 5 check-and-set attempts/,
    );
    const v = await value('discourse-community');
    t.notMatch(v, /never\.example\.org/);
    t.match(v, /race5\.example\.org/, 'every concurrent write kept');
  });

  await t.test('Consul unreachable: exit 1', async (t) => {
    const r = await cli(['domains', 'list', '--config', configFile, '--consul-addr', 'http://127.0.0.1:1']);
    t.equal(r.code, 1);
    t.match(r.stderr, /CONSUL_UNAVAILABLE/);
  });

  await t.test('usage errors exit 2', async (t) => {
    t.equal((await cli(['domains', 'add', 'only-app', ...base])).code, 2, 'missing argument');
    t.equal((await cli(['domains', 'frobnicate', ...base])).code, 2, 'unknown subcommand');
  });
});
