// `paas-router weights get|set` and `maintenance on|off` against a dev Consul: the daemon's
// validation (exit 2 with the reason, nothing written), check-and-set writes that survive a
// concurrent editor, and the group's members taken from the live catalog.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import { startDevConsul } from '../../dev/consul/server.js';
import { maintenanceOff, maintenanceOn } from '../../src/cli/maintenance.js';
import { weightsGet, weightsSet } from '../../src/cli/weights.js';
import { validateConfig } from '../../src/config/load.js';
import { kvGet, kvPut, startInterposer } from './helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (s: string) => out.push(s) } as never, err: { write: (s: string) => err.push(s) } as never } };
}

t.test('weights and maintenance CLI against a dev Consul', async (t) => {
  const consul = await startDevConsul({ port: 0 });
  const work = await mkdtemp(join(tmpdir(), 'paas-router-weights-'));
  t.teardown(async () => {
    await consul.close();
    await rm(work, { recursive: true, force: true });
  });
  await registerMesosTask(consul.url, { app: '/web-blue', agent: 'a1', ip: '10.0.0.5', port: 31000, tags: ['router.group=web'] });
  await registerMesosTask(consul.url, { app: '/web-green', agent: 'a1', ip: '10.0.0.6', port: 31001, tags: ['router.group=web'] });
  await registerMesosTask(consul.url, { app: '/site', agent: 'a1', ip: '10.0.0.7', port: 31002 });
  await registerMesosTask(consul.url, { app: '/irc', agent: 'a1', ip: '10.0.0.8', port: 31003, tags: ['router.mode=tcp', 'router.port=10001'] });
  const config = validateConfig({ consul: { address: consul.url } }, 'test', {});
  const value = async (key: string) => (await kvGet(consul.url, key))?.value;

  await t.test('weights set: validated, written, merged with the apps it does not name', async (t) => {
    const c = capture();
    t.equal(await weightsSet(config, 'web', ['web-blue=90', 'web-green=10'], c.io), 0, c.err.join(''));
    t.equal(await value('paas-router/weights/web'), 'web-blue=90 web-green=10');
    t.equal(await weightsSet(config, 'WEB', ['web-green=0'], c.io), 0);
    t.equal(await value('paas-router/weights/web'), 'web-blue=90 web-green=0', 'the other app keeps its weight');
    t.equal(await weightsSet(config, 'web', ['web-green=0'], c.io), 0);
    t.match(c.out.join(''), /already web-blue=90 web-green=0; nothing to do/);
  });

  await t.test('weights set: bad input exits 2 with the reason and writes nothing', async (t) => {
    const before = await value('paas-router/weights/web');
    for (const [group, args, reason] of [
      ['web', ['web-blue=300'], /bad token "web-blue=300": expected <app>=<weight> with weight 0\.\.256/],
      ['web', ['web-blue=1', 'web-blue=2'], /web-blue is given twice/],
      ['web', ['web-blue'], /bad token "web-blue"/],
      ['web', ['site=5'], /site is not in group web \(its apps: web-blue, web-green\)/],
      ['shop', ['a=1'], /no app has router\.group=shop/],
      ['bad_group', ['a=1'], /group "bad_group" is not a valid service name/],
      ['web', [], /at least one <app>=<0\.\.256>/],
    ] as const) {
      const c = capture();
      t.equal(await weightsSet(config, group, [...args], c.io), 2, `${group} ${args.join(' ')}`);
      t.match(c.err.join(''), reason);
    }
    t.equal(await value('paas-router/weights/web'), before, 'nothing written');
  });

  await t.test('weights set: a concurrent edit is read again (check-and-set), not overwritten', async (t) => {
    let raced = 0;
    const proxy = await startInterposer(consul, async (key) => {
      if (raced > 0) return false;
      raced += 1;
      await kvPut(consul.url, key, 'web-blue=7 web-green=0');
      return true;
    });
    t.teardown(() => proxy.close());
    const racing = validateConfig({ consul: { address: proxy.url } }, 'test', {});
    const c = capture();
    t.equal(await weightsSet(racing, 'web', ['web-green=3'], c.io), 0);
    t.equal(raced, 1);
    t.match(c.err.join(''), /changed meanwhile \(check-and-set\); reading it again/);
    t.equal(await value('paas-router/weights/web'), 'web-blue=7 web-green=3', "the other editor's web-blue=7 survived");
  });

  await t.test('weights get: the members, their weights and where they come from', async (t) => {
    const c = capture();
    t.equal(await weightsGet(config, 'web', {}, c.io), 0);
    const text = c.out.join('');
    t.match(text, /group web: paas-router\/weights\/web = "web-blue=7 web-green=3"/);
    t.match(text, /web-blue\s+7\s+kv\s+1/);
    t.match(text, /web-green\s+3\s+kv\s+1/);
    const j = capture();
    await weightsGet(config, 'web', { json: true }, j.io);
    t.match(JSON.parse(j.out.join('')), {
      group: 'web',
      routed: true,
      members: [
        { app: 'web-blue', weight: 7 },
        { app: 'web-green', weight: 3 },
      ],
    });
  });

  await t.test('maintenance on/off: validated, written with check-and-set, deleted', async (t) => {
    const c = capture();
    t.equal(await maintenanceOn(config, 'site', 'Back at 10:00 UTC', c.io), 0, c.err.join(''));
    t.equal(await value('paas-router/maintenance/site'), 'Back at 10:00 UTC');
    t.equal(await maintenanceOn(config, 'web', '', c.io), 0, 'a group, default message');
    t.equal(await value('paas-router/maintenance/web'), '');
    t.equal(await maintenanceOff(config, 'site', c.io), 0);
    t.equal(await value('paas-router/maintenance/site'), undefined);
    t.equal(await maintenanceOff(config, 'site', c.io), 0);
    t.match(c.err.join(''), /site is not in maintenance .*nothing to do/);
    t.equal(await maintenanceOff(config, 'web', c.io), 0);
  });

  await t.test('maintenance on: bad input exits 2 with the reason and writes nothing', async (t) => {
    for (const [name, message, reason] of [
      ['web-blue', 'x', /web-blue is served as part of group web: put the group in maintenance/],
      ['irc', 'x', /irc is a tcp app/],
      ['ghost', 'x', /no app or group named ghost is routed/],
      ['site', 'x'.repeat(1025), /message is 1025 bytes long \(max 1024\)/],
      ['site', 'bell\u0007', /control characters/],
      ['Site/x', 'x', /has no "\/"/],
    ] as const) {
      const c = capture();
      t.equal(await maintenanceOn(config, name, message, c.io), 2, name);
      t.match(c.err.join(''), reason);
    }
    t.equal(await value('paas-router/maintenance/site'), undefined);
    t.equal(await value('paas-router/maintenance/web-blue'), undefined);
  });
});
