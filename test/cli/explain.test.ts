// `paas-router explain <host>` against a dev Consul: which app, why, which servers; or why none.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevConsul } from '../../dev/consul/server.js';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { hostFromArgument } from '../../src/cli/explain.js';
import { cli, kvPut } from './helpers.js';

t.test('hostFromArgument accepts hosts, host:port and URLs', async (t) => {
  t.same(hostFromArgument('WWW.Example.org'), { ok: true, host: 'www.example.org' });
  t.same(hostFromArgument('www.example.org:8443'), { ok: true, host: 'www.example.org' });
  t.same(hostFromArgument('https://www.example.org/path?q=1'), { ok: true, host: 'www.example.org' });
  t.match(hostFromArgument('bad host'), { ok: false, reason: /whitespace/ });
  t.match(hostFromArgument('under_score.org'), { ok: false, reason: /"_"/ });
});

t.test('explain against a dev Consul', async (t) => {
  const consul = await startDevConsul({ port: 0 });
  const work = await mkdtemp(join(tmpdir(), 'paas-router-explain-'));
  t.teardown(async () => {
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });
  await registerMesosTask(consul.url, { app: '/community/wordpress', agent: 'a1', ip: '10.0.0.5', port: 31000 });
  await registerMesosTask(consul.url, { app: '/community/wordpress', agent: 'a2', ip: '10.0.0.6', port: 31000, status: 'critical' });
  await registerMesosTask(consul.url, { app: '/community/discourse', agent: 'a1', ip: '10.0.0.7', port: 31001, status: 'critical' });
  await registerMesosTask(consul.url, { app: '/irc', agent: 'a1', ip: '10.0.0.8', port: 31002, tags: ['router.mode=tcp', 'router.port=10001'] });
  await registerMesosTask(consul.url, { app: '/broken', agent: 'a1', ip: '10.0.0.9', port: 31003, tags: ['router.mode=carrier-pigeon'] });
  await registerMesosTask(consul.url, { app: '/noport', agent: 'a1', ip: '10.0.0.10', port: 31004, tags: ['router.mode=tcp'] });
  await kvPut(consul.url, 'paas-router/domains/wordpress-community', 'www.example.org');
  await kvPut(consul.url, 'paas-router/domains/discourse-community', 'www.example.org, forum.example.org');
  await kvPut(consul.url, 'paas-router/domains/ghost', 'ghost.example.org');
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, 'cluster: production\nbase_domain: mozilla.community\n');
  const explain = (host: string, ...extra: string[]) => cli(['explain', host, '--config', configFile, '--consul-addr', consul.url, ...extra]);

  await t.test('a default host: the app, why, and its servers with their state', async (t) => {
    const r = await explain('wordpress-community.production.mozilla.community');
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /is served by app wordpress-community \(backend app_wordpress-community\)/);
    t.match(r.stdout, /default host of service wordpress-community: <service>\.production\.mozilla\.community/);
    t.match(r.stdout, /HAProxy balances roundrobin over 1 of 2 servers/);
    t.match(r.stdout, /^\s+up\s+10\.0\.0\.5:31000\s+mesos-consul:a1:wordpress-community:10\.0\.0\.5:31000\s+\(all checks passing\)/m);
    t.match(r.stdout, /^\s+down\s+10\.0\.0\.6:31000\s+\S+\s+\(service:\S+ critical\)/m);
  });

  await t.test('a custom domain: the key, and the later claim that lost', async (t) => {
    const r = await explain('https://WWW.example.org/some/path', '--json');
    t.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    t.equal(e.host, 'www.example.org');
    t.equal(e.served, true);
    t.equal(e.app, 'wordpress-community');
    t.equal(e.source, 'kv');
    t.equal(e.key, 'paas-router/domains/wordpress-community');
    t.match(e.reasons.join('\n'), /custom domain from Consul K\/V key paas-router\/domains\/wordpress-community \(CreateIndex \d+\)/);
    t.match(
      e.reasons.join('\n'),
      /conflict "www\.example\.org" of discourse-community \(key paas-router\/domains\/discourse-community\): host already claimed by service wordpress-community/,
    );
  });

  await t.test('a served app with a bad tag: the ignored input is named', async (t) => {
    const r = await explain('broken.production.mozilla.community');
    t.equal(r.code, 0);
    t.match(r.stdout, /served by app broken/);
    t.match(r.stdout, /inputs of this app that were ignored:\n\s+tag "router\.mode=carrier-pigeon" of broken: /);
  });

  await t.test('an app without a passing instance: served, but 503', async (t) => {
    const r = await explain('forum.example.org');
    t.equal(r.code, 0);
    t.match(r.stdout, /served by app discourse-community/);
    t.match(r.stdout, /no instance passes its checks: HAProxy answers 503/);
  });

  await t.test('unknown hosts, tcp apps, rejected services and unrouted claims say why not', async (t) => {
    const cases: [string, RegExp][] = [
      ['nothing.example.org', /no key under paas-router\/domains\/ claims it/],
      ['nope.production.mozilla.community', /no routed Consul service is named nope/],
      ['irc.production.mozilla.community', /service irc is a tcp app \(router\.mode=tcp\): it is reached on port 10001/],
      ['noport.production.mozilla.community', /tag "router\.mode=tcp" of noport: .*router\.port/],
      ['ghost.example.org', /service ghost is not routed/],
    ];
    const results = await Promise.all(cases.map(([host]) => explain(host)));
    cases.forEach(([host, why], i) => {
      const r = results[i]!;
      t.equal(r.code, 0, `${host}: ${r.stderr}`);
      t.match(r.stdout, new RegExp(`^${host.replace(/\./g, '\\.')} is not routed: HAProxy answers 404 from its default backend`), host);
      t.match(r.stdout, why, host);
    });
  });

  await t.test('an invalid host name: exit 2; Consul down: exit 1', async (t) => {
    const bad = await explain('bad host');
    t.equal(bad.code, 2);
    t.match(bad.stderr, /is not a valid host name/);
    const down = await cli(['explain', 'www.example.org', '--config', configFile, '--consul-addr', 'http://127.0.0.1:1']);
    t.equal(down.code, 1);
    t.match(down.stderr, /CONSUL_UNAVAILABLE/);
  });
});
