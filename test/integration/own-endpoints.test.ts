// A tenant registers `router.expose` services on the router's own node services, through a real
// Consul agent, and asks the real HAProxy for them: the status listener and the Consul agent's
// HTTP API must never be reachable on the public port (src/model/own-endpoints.ts). A service on
// an ordinary loopback port next to them stays routed.
import t from 'tap';
import { requestThrough } from '../../dev/probe.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually, freePort } from '../helpers/net.js';

async function expose(cluster: TestCluster, name: string, address: string, port: number): Promise<void> {
  const res = await fetch(`${cluster.consul.url}/v1/agent/service/register`, {
    method: 'PUT',
    body: JSON.stringify({ ID: `${name}-1`, Name: name, Address: address, Port: port, Tags: ['router.expose'] }),
  });
  if (!res.ok) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
}

const host = (app: string) => `${app}.production.mozilla.community`;

t.test("router.expose services at the node's own endpoints are skipped, not published", async (t) => {
  const listenPort = await freePort();
  const cluster = await startTestCluster(t, {
    apps: [{ id: '/plain', instances: 1, mode: 'http', tags: [] }],
    consul: 'agent',
    configOverrides: { listen: `127.0.0.1:${listenPort}` },
  });
  const consulPort = Number(new URL(cluster.consul.url).port);
  const sample = cluster.backends.get('/plain')![0]!.port;
  await expose(cluster, 'status-page', '127.0.0.1', listenPort);
  await expose(cluster, 'consul-api', 'localhost', consulPort);
  await expose(cluster, 'honest', '127.0.0.1', sample);

  await eventually('the honest service is routed', async () => (await requestThrough(cluster.httpPort, host('honest'))).status === 200, 20_000);
  const rejections = await eventually('both skipped with a reason', () => {
    const all = cluster.daemon.runner.state.deployment?.model?.rejections ?? [];
    const of = (service: string) => all.filter((r) => r.service === service);
    return of('status-page').length && of('consul-api').length ? { status: of('status-page'), consul: of('consul-api') } : undefined;
  });
  t.match(rejections.status, [
    {
      subject: 'status-page-1',
      reason: `instance skipped: 127.0.0.1:${listenPort} is paas-router's status listener (listen) on the router's own node; routing to it would publish it`,
    },
  ]);
  t.match(rejections.consul, [{ reason: new RegExp(`localhost:${consulPort} is the Consul agent's HTTP API \\(consul\\.address\\)`) }]);
  await cluster.daemon.runner.settled();

  for (const [app, leak] of [
    ['status-page', /paas-router/i],
    ['consul-api', /consul|Consul Agent/],
  ] as const) {
    for (const path of ['/', '/status', '/v1/agent/self', '/v1/kv/?recurse']) {
      const r = await requestThrough(cluster.httpPort, host(app), path);
      t.equal(r.status, 503, `${app}${path}: no server to reach`);
      t.notMatch(r.body, leak, `${app}${path}: nothing of the node's service leaks`);
    }
  }
  // The same app still answers from the loopback sample backend on another port.
  t.equal((await requestThrough(cluster.httpPort, host('honest'), '/')).body, '/plain #1\n');
});
