// `paas-router domains owners` and `domains transfer` against the real Consul agent: the operator
// sees who holds each shared name, as the daemon decides it, and gives one to another app; a host
// recorded for another app is refused by `domains add`.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { cli, kvGet, kvPut } from './helpers.js';

t.test('owners and transfer', { skip: consulAgentSkip() }, async (t) => {
  const consul = await startTestConsulAgent(t);
  const work = await mkdtemp(join(tmpdir(), 'paas-router-owners-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await registerMesosTask(consul.url, { app: '/site', agent: 'a1', ip: '10.0.0.5', port: 31000 });
  await registerMesosTask(consul.url, { app: '/blog', agent: 'a1', ip: '10.0.0.6', port: 31001 });
  const configFile = join(work, 'config.yaml');
  await writeFile(configFile, 'cluster: production\nbase_domain: mozilla.community\n');
  const base = ['--config', configFile, '--consul-addr', consul.url];
  await kvPut(consul.url, 'paas-router/domains/site', 'www.example.org');
  await kvPut(consul.url, 'paas-router/claims/hosts/www.example.org', JSON.stringify({ owner: 'site' }));

  await t.test('owners lists every shared name with its state', async (t) => {
    const r = await cli(['domains', 'owners', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^KIND\s+NAME\s+OWNER\s+STATE$/m);
    t.match(r.stdout, /^host\s+www\.example\.org\s+site\s+recorded$/m);
    t.match(r.stdout, /^name\s+blog\s+blog\s+pending$/m, 'not recorded yet: no daemon ran');
    const json = JSON.parse((await cli(['domains', 'owners', '--kind', 'host', '--json', ...base])).stdout) as { name: string; owner: string }[];
    t.same(
      json.map((e) => [e.name, e.owner]),
      [['www.example.org', 'site']],
    );
    const bad = await cli(['domains', 'owners', '--kind', 'hosts', ...base]);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /--kind "hosts": expected one of host, name, port/);
  });

  await t.test('domains add refuses a host recorded for another app, naming the owner and the way out', async (t) => {
    const r = await cli(['domains', 'add', 'blog', 'www.example.org', ...base]);
    t.equal(r.code, 2);
    t.match(r.stderr, /www\.example\.org is already claimed by paas-router\/domains\/site/);
    await kvPut(consul.url, 'paas-router/domains/site', 'other.example.org');
    const again = await cli(['domains', 'add', 'blog', 'www.example.org', ...base]);
    t.equal(again.code, 2, 'the record holds even when the owner dropped the host from its key');
    t.match(
      again.stderr,
      /www\.example\.org belongs to app site \(recorded in paas-router\/claims\/hosts\/www\.example\.org\).*paas-router domains transfer host www\.example\.org blog/,
    );
  });

  await t.test('transfer gives the host to another app with check-and-set', async (t) => {
    const r = await cli(['domains', 'transfer', 'host', 'WWW.example.org', 'blog', ...base]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /host www\.example\.org transferred from site to blog/);
    t.same(JSON.parse((await kvGet(consul.url, 'paas-router/claims/hosts/www.example.org'))!.value), { owner: 'blog' });
    const add = await cli(['domains', 'add', 'blog', 'www.example.org', ...base]);
    t.equal(add.code, 0, add.stderr);
    const owners = await cli(['domains', 'owners', 'www', ...base]);
    t.match(owners.stdout, /^host\s+www\.example\.org\s+blog\s+recorded$/m);
  });

  await t.test('bad transfers are refused with exit 2', async (t) => {
    for (const [args, re] of [
      [['hostname', 'x.example.org', 'blog'], /expected one of host, name, port/],
      [['port', '70000', 'blog'], /not a port/],
      [['host', 'bad_host', 'blog'], /not a valid host name/],
      [['host', 'x.example.org', 'bad app'], /not a Consul service or app name/],
      [['port', '10001', 'blog', '--group'], /--group applies to names only/],
    ] as const) {
      const r = await cli(['domains', 'transfer', ...args, ...base]);
      t.equal(r.code, 2, args.join(' '));
      t.match(r.stderr, re);
    }
  });
});
