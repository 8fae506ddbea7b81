// mesos-consul style registration helpers, run against the dev Consul over HTTP.
import t from 'tap';
import { consulCall } from '../../dev/consul/client.js';
import { deregisterMesosTask, mesosServiceId, mesosServiceName, registerMesosTask, setAgentHealth, setMesosTaskStatus } from '../../dev/consul/mesos.js';
import type { DevConsul } from '../../dev/consul/server.js';
import { withConsul } from './support.js';

type HealthEntry = {
  Node: { Node: string; Address: string };
  Service: { ID: string; Service: string; Tags: string[]; Address: string; Port: number; ModifyIndex: number };
  Checks: { CheckID: string; Name: string; Status: string; ServiceID: string; ServiceName: string }[];
};

const healthOf = async (c: DevConsul, query: string) => (await consulCall(c.url, `/v1/health/service/${query}`)).json<HealthEntry[]>();

t.test('service names: Marathon id reversed, joined with "-", cleaned like mesos-consul', async (t) => {
  t.equal(mesosServiceName('/community/wordpress'), 'wordpress-community');
  t.equal(mesosServiceName('/foo'), 'foo');
  t.equal(mesosServiceName('/a/b/c'), 'c-b-a');
  t.equal(mesosServiceName('/Team/My_App.v2'), 'myapp-v2-team');
});

t.test('service IDs: mesos-consul:<agent>:<service>:<address>:<port>', async (t) => {
  t.equal(
    mesosServiceId({ app: '/community/wordpress', agent: '10.0.0.9', ip: '172.17.0.3', port: 31005 }),
    'mesos-consul:10.0.0.9:wordpress-community:172.17.0.3:31005',
  );
  t.equal(mesosServiceId({ app: '/foo', ip: '10.0.0.1', port: 80 }), 'mesos-consul:10.0.0.1:foo:10.0.0.1:80', 'agent defaults to the task address');
});

t.test('registerMesosTask: service, node and service:<id> check as mesos-consul leaves them', async (t) => {
  const c = await withConsul(t);
  const tags = ['router.balance=leastconn', 'router.sticky=true'];
  const ids = await registerMesosTask(c.url, { app: '/community/wordpress', agent: 'mesos-agent-1', ip: '10.0.0.5', port: 31000, tags });
  t.strictSame(ids, { serviceName: 'wordpress-community', serviceId: 'mesos-consul:mesos-agent-1:wordpress-community:10.0.0.5:31000' });
  const services = (await consulCall(c.url, '/v1/catalog/services')).json<Record<string, string[]>>();
  t.strictSame(services['wordpress-community'], tags);
  const [entry] = await healthOf(c, 'wordpress-community');
  t.equal(entry?.Node.Node, 'mesos-agent-1');
  t.equal(entry?.Node.Address, '10.0.0.5');
  t.match(entry?.Service, { ID: ids.serviceId, Service: 'wordpress-community', Address: '10.0.0.5', Port: 31000, Tags: tags });
  t.strictSame(
    entry?.Checks.map((ch) => [ch.CheckID, ch.Name, ch.Status, ch.ServiceID, ch.ServiceName]),
    [[`service:${ids.serviceId}`, "Service 'wordpress-community' check", 'passing', ids.serviceId, 'wordpress-community']],
  );
});

t.test('setMesosTaskStatus flips the check only; setAgentHealth fails every task on the agent', async (t) => {
  const c = await withConsul(t);
  const a = { app: '/community/wordpress', agent: 'agent-a', ip: '10.0.0.5', port: 31000 };
  const b = { app: '/community/wordpress', agent: 'agent-b', ip: '10.0.0.6', port: 31001 };
  await registerMesosTask(c.url, a);
  await registerMesosTask(c.url, b);
  const passing = async () => (await healthOf(c, 'wordpress-community?passing')).map((e) => e.Node.Node);
  t.strictSame(await passing(), ['agent-a', 'agent-b']);
  const serviceIndex = (await healthOf(c, 'wordpress-community'))[0]?.Service.ModifyIndex;

  await setMesosTaskStatus(c.url, { ...a, status: 'warning' });
  t.strictSame(await passing(), ['agent-b'], 'a warning task is not passing');
  t.equal((await healthOf(c, 'wordpress-community'))[0]?.Service.ModifyIndex, serviceIndex, 'service record untouched');
  await setMesosTaskStatus(c.url, { ...a, status: 'passing' });
  t.strictSame(await passing(), ['agent-a', 'agent-b']);

  await setAgentHealth(c.url, { agent: 'agent-b', address: '10.0.0.6', status: 'critical' });
  t.strictSame(await passing(), ['agent-a']);
  await setAgentHealth(c.url, { agent: 'agent-b', status: 'passing' });
  t.strictSame(await passing(), ['agent-a', 'agent-b']);
  t.equal((await healthOf(c, 'wordpress-community'))[1]?.Node.Address, '10.0.0.6', 'node address kept');
  await t.rejects(setAgentHealth(c.url, { agent: 'agent-z', status: 'passing' }), /Missing node registration/);
});

t.test('deregisterMesosTask removes only that instance', async (t) => {
  const c = await withConsul(t);
  const a = { app: '/foo', agent: 'agent-a', ip: '10.0.0.5', port: 31000 };
  await registerMesosTask(c.url, a);
  await registerMesosTask(c.url, { ...a, port: 31001 });
  await deregisterMesosTask(c.url, a);
  t.strictSame(
    (await healthOf(c, 'foo')).map((e) => e.Service.Port),
    [31001],
  );
});

t.test('helpers send the ACL token and report refusals', async (t) => {
  const c = await withConsul(t, { aclToken: 'tok' });
  const task = { app: '/foo', ip: '10.0.0.5', port: 31000 };
  await t.rejects(registerMesosTask(c.url, task), /403 Permission denied/);
  await registerMesosTask(c.url, { ...task, token: 'tok' });
  await setMesosTaskStatus(c.url, { ...task, token: 'tok', status: 'critical' });
  const res = await consulCall(c.url, '/v1/health/service/foo', { token: 'tok' });
  t.equal(res.json<HealthEntry[]>()[0]?.Checks[0]?.Status, 'critical');
  await t.rejects(setMesosTaskStatus(`${c.url}/`, { ...task, token: 'tok', app: '/ghost', status: 'passing' }), /Missing service registration/);
});
