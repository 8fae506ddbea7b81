// router.rate-limit through a real HAProxy: 429 with Retry-After past the limit, the path scope of
// router.rate-limit-path, and two routers on one Consul sharing one counter through HAProxy peers:
// a client alternating between them is limited at n requests, not 2n. A router joining (and
// leaving) is one validated reload of the other.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { showProc } from '../../src/apply/reload.js';
import { sendSocketCommand } from '../../src/apply/socket.js';
import { startTestCluster } from '../helpers/cluster.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { startSecondRouter } from '../helpers/second-router.js';

const app = (id: string, tags: string[]): MarathonApp => ({ id, instances: 1, tags, mode: 'http' });
const zone = 'production.mozilla.community';

t.test('router.rate-limit', { skip: consulAgentSkip() }, async (t) => {
  const cluster = await startTestCluster(t, {
    consul: 'agent',
    apps: [
      app('/wp', ['router.rate-limit=3/1m', 'router.rate-limit-path=/wp-login.php']),
      app('/site', ['router.rate-limit=5/1m']),
      app('/api', ['router.rate-limit=4/1m']),
    ],
  });
  const { httpPort, config } = cluster;
  const wait = <T>(what: string, check: () => Promise<T> | T) => eventually(what, check, 30_000);
  const get = (port: number, host: string, path = '/') => requestThrough(port, host, path);
  await wait('served', async () => (await get(httpPort, `wp.${zone}`, '/')).status === 200);

  await t.test('past the limit: 429 with Retry-After; only under the path when scoped', async (t) => {
    // /wp-login.php is limited, the rest of the site is not.
    for (let i = 0; i < 6; i++) t.equal((await get(httpPort, `wp.${zone}`, '/')).status, 200, `wp / #${i + 1}`);
    for (let i = 1; i <= 3; i++) t.equal((await get(httpPort, `wp.${zone}`, '/wp-login.php')).status, 200, `login #${i}`);
    const over = await get(httpPort, `wp.${zone}`, '/wp-login.php');
    t.equal(over.status, 429);
    t.equal(over.headers['retry-after'], '60');
    t.match(over.body, /Too many requests: at most 3 per 1m/);
    t.equal((await get(httpPort, `wp.${zone}`, '/wp-login.phpx')).status, 200, 'not under the prefix');
    t.equal((await get(httpPort, `wp.${zone}`, '/wp-admin/')).status, 200, 'the site is not limited');
    // The whole site of another app; one bad client does not limit another app.
    for (let i = 1; i <= 5; i++) t.equal((await get(httpPort, `site.${zone}`, '/')).status, 200, `site #${i}`);
    t.equal((await get(httpPort, `site.${zone}`, '/x')).status, 429, 'site #6');
  });

  await t.test('two routers share one counter through HAProxy peers; joining is one reload', async (t) => {
    const reloads = async () => (await showProc(config.haproxy.masterSocket)).master.reloads;
    await cluster.daemon.runner.settled();
    const before = await reloads();
    const second = await startSecondRouter(t, config);
    const cfg = (dir: string) => readFile(join(dir, 'haproxy.cfg'), 'utf8');
    // Both run a configuration with both peers.
    await wait(
      'router-1 runs the peers section',
      async () => /peer router-2 /.test(await cfg(config.haproxy.configDir)) && cluster.daemon.runner.state.lastApply?.status === 'reloaded',
    );
    await wait(
      'router-2 runs the peers section',
      async () => /peer router-1 /.test(await cfg(second.config.haproxy.configDir)) && (await get(second.httpPort, `api.${zone}`, '/')).status === 200,
    );
    await cluster.daemon.runner.settled();
    t.equal((await reloads()) - before, 1, 'router-2 joining cost router-1 one reload');

    // router-2's probe above counted once; the table of each router must say so before going on.
    const rate = async (socket: string) => Number(/http_req_rate\(60000\)=(\d+)/.exec(await sendSocketCommand(socket, 'show table app_api'))?.[1] ?? 0);
    const sockets = [config.haproxy.runtimeSocket, second.config.haproxy.runtimeSocket];
    await wait('router-1 learned router-2’s request', async () => (await rate(sockets[0]!)) === 1);
    const ports = [httpPort, second.httpPort];
    for (let n = 2; n <= 4; n++) {
      const r = n % 2;
      t.equal((await get(ports[r]!, `api.${zone}`, '/')).status, 200, `request ${n} on router-${r + 1}`);
      await wait(`both routers count ${n}`, async () => (await rate(sockets[0]!)) === n && (await rate(sockets[1]!)) === n);
    }
    const fifth = await get(ports[1]!, `api.${zone}`, '/');
    t.equal(fifth.status, 429, 'the 5th request is refused: limited at n, not 2n');
    t.equal((await get(ports[0]!, `api.${zone}`, '/')).status, 429, 'on either router');

    // Leaving: router-2 deregisters at a clean stop; router-1 drops the peers section with one reload.
    const beforeLeave = await reloads();
    await second.stop();
    await wait(
      'router-1 alone again',
      async () => !/peers paas_router/.test(await cfg(config.haproxy.configDir)) && cluster.daemon.runner.state.lastApply?.status === 'reloaded',
    );
    await cluster.daemon.runner.settled();
    t.equal((await reloads()) - beforeLeave, 1, 'router-2 leaving cost router-1 one reload');
  });
});
