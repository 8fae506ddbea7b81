// The daemon against the real agent over HTTPS (HTTP/2): apps routed through per-service watches,
// a new instance, a failing check and a custom domain served, the K/V watches on the same
// connections, and the HTTP/2 counters in /metrics; the connections within the default budget.
import t from 'tap';
import type { MarathonApp } from '../../dev/marathon.js';
import { requestThrough } from '../../dev/probe.js';
import { setMesosTaskStatus } from '../../dev/consul/mesos.js';
import { startTestCluster } from '../helpers/cluster.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';

const foo: MarathonApp = { id: '/foo', instances: 1, tags: [], mode: 'http' };
const bar: MarathonApp = { id: '/team/bar', instances: 1, tags: [], mode: 'http' };

t.test('daemon over HTTPS to the real agent', { skip: consulAgentSkip() }, async (t) => {
  const cluster = await startTestCluster(t, { apps: [foo, bar], consul: 'agent', consulHttps: true });
  const served = (host: string, body: RegExp) =>
    eventually(`${host} → ${body}`, async () => {
      const r = await requestThrough(cluster.httpPort, host);
      return r.status === 200 && body.test(r.body) ? r : undefined;
    });
  t.match(cluster.config.consul.address, /^https:/);
  await served('foo.production.mozilla.community', /\/foo #1/);
  await served('bar-team.production.mozilla.community', /\/team\/bar #1/);

  const second = await cluster.addTask(foo);
  await eventually('the new instance served', async () => {
    for (let i = 0; i < 8; i++) if ((await requestThrough(cluster.httpPort, 'foo.production.mozilla.community')).body.trim() === '/foo #2') return true;
    return false;
  });
  await setMesosTaskStatus(cluster.consul.url, { ...second.task, status: 'critical' });
  await eventually('the failing instance left', async () => {
    for (let i = 0; i < 8; i++) if ((await requestThrough(cluster.httpPort, 'foo.production.mozilla.community')).body.trim() === '/foo #2') return false;
    return true;
  });
  await fetch(`${cluster.consul.url}/v1/kv/paas-router/domains/foo`, { method: 'PUT', body: 'www.foo.example' });
  await served('www.foo.example', /\/foo #1/);

  const metrics = await cluster.daemon.metrics.metrics();
  const value = (name: string) => Number(new RegExp(`^paas_router_${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.ok(value('consul_streams') >= 3, `blocking watches as streams (${value('consul_streams')})`);
  t.ok(value('consul_service_watches') >= 1, `a watch per routed service (${value('consul_service_watches')})`);
  t.ok(value('consul_connections_max') <= 4, `few connections (${value('consul_connections_max')}; budget 64)`);
  t.equal(value('consul_refused_total'), 0);
  t.equal(cluster.config.consul.maxConnections, 64, 'the https default');
});
