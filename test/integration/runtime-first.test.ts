// Runtime first (issue 20): a change the runtime API can make goes to HAProxy before its files are
// rendered. A template that then fails on the new input must not leave HAProxy serving what no file
// says, and must not cost a reload for every later build while it keeps failing.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import type { ApplyReport } from '../../src/apply/applier.js';
import { showProc } from '../../src/apply/reload.js';
import { startTestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/net.js';

const web: MarathonApp = { id: '/web', instances: 1, tags: [], mode: 'http' };
const HOST = 'web.production.mozilla.community';
const MARK = '# hosts.map of the runtime-first test';
// Renders every host but fails on one (the `eq` helper refuses a single argument).
const FAILING_ON_BOOM = `${MARK}\n{{#each hosts}}\n{{#if (eq host "boom.example.org")}}{{eq host}}{{/if}}{{host}} {{backend}}\n{{/each}}\n`;

t.test('a template failing after the commands went: undone by one reload, then rendered before sending', async (t) => {
  const cluster = await startTestCluster(t, { apps: [web] });
  const { httpPort, templatesDir, consul, config } = cluster;
  const state = cluster.daemon.runner.state;
  const settle = () => cluster.daemon.runner.settled();
  const wait = (what: string, check: () => Promise<boolean> | boolean) => eventually(what, check, 15_000);
  const reloads = () => eventually('master CLI', async () => (await showProc(config.haproxy.masterSocket)).master.reloads + 1).then((n) => n - 1);
  const served = async (host: string) => (await requestThrough(httpPort, host)).body.startsWith('/web');
  const putDomains = (value: string) => fetch(`${consul.url}/v1/kv/paas-router/domains/web`, { method: 'PUT', body: value });
  const hostsMap = () => readFile(join(config.haproxy.configDir, 'hosts.map'), 'utf8');
  // What the last apply that changed something did (the ownership records' read-back builds answer 'unchanged').
  const applied: string[] = [];
  cluster.daemon.runner.on('applied', (r: ApplyReport) => r.status !== 'unchanged' && applied.push(r.status));

  await wait('web served', () => served(HOST));
  await writeFile(join(templatesDir, 'hosts.map.hbs'), FAILING_ON_BOOM);
  await wait('the new hosts.map template in use', async () => (await hostsMap()).startsWith(MARK));
  await putDomains('www.example.org');
  await wait('a custom domain served (through the runtime API)', () => served('www.example.org'));
  await settle();
  t.equal(applied.at(-1), 'runtime');
  const before = await reloads();

  await putDomains('www.example.org boom.example.org');
  await wait('the build error', () => /eq takes two defined arguments/.test(state.lastBuildError?.message ?? ''));
  await settle();
  t.equal(await reloads(), before + 1, 'one reload: the undo of the map entry sent first');
  t.notOk(await served('boom.example.org'), 'boom is not routed: HAProxy runs the last good files');
  t.ok(await served('www.example.org'), 'the routes of the last good files serve');
  t.ok(await served(HOST));
  t.notMatch(await hostsMap(), /boom/);

  // The input still fails: later builds render before they send, so nothing reaches HAProxy.
  const builds = state.counters.builds;
  await putDomains('boom.example.org www.example.org');
  await wait('another build', () => state.counters.builds > builds);
  await settle();
  t.match(state.lastBuildError?.message, /eq takes two defined arguments/);
  t.equal(await reloads(), before + 1, 'no reload more');
  t.notOk(await served('boom.example.org'));

  // Fixed input: applied as usual, and the next change goes first again.
  await putDomains('www.example.org www2.example.org');
  await wait('www2 served', () => served('www2.example.org'));
  await settle();
  t.equal(state.lastBuildError, undefined);
  t.equal(applied.at(-1), 'runtime');
  t.equal(await reloads(), before + 1, 'through the runtime API');
});
