// Two routers on two "nodes" (network namespaces, each with its own Consul client agent; each
// router with its own HAProxy) on one real three-server cluster: both reach the same routes after
// each change, and a node cut off from the servers keeps serving its last good routes, then catches
// up when healed. The skew between the routers is measured and recorded, never asserted.
import t from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { LoadLoop, faultLog, get, hostOf, recordFigure, servedAt, sourceOf, statusOf } from '../faults/helpers.js';
import { startTestCluster } from '../helpers/cluster.js';
import { consulClusterSkip, httpGet, startTwoNodes } from '../helpers/consul-cluster.js';
import { eventually } from '../helpers/net.js';
import { netnsSkip } from '../helpers/netns.js';
import { startSecondRouter } from '../helpers/second-router.js';

const apps: MarathonApp[] = ['alpha', 'beta'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));

t.test('two routers on two nodes of a real Consul cluster', { skip: consulClusterSkip() || netnsSkip() }, async (t) => {
  const { nodeA, agentA, agentB } = await startTwoNodes(t);
  const a = await startTestCluster(t, {
    consul: { url: agentA.url },
    apps,
    domains: { beta: 'www.beta.example' },
    log: faultLog(),
    // A short blocking wait: a read held on a connection the partition broke ends within it.
    // No HAProxy peers: they bind the agent's node address, which lives in the node's namespace,
    // not in this one where the routers run.
    configOverrides: { consul: { min_interval: '100ms', retry_max: '10s', wait: '10s' }, haproxy: { peers: { port: 0 } } },
  });
  const b = await startSecondRouter(t, { ...a.config, consul: { ...a.config.consul, address: agentB.url } }, { peers: false });
  const routers = [
    { name: 'A', port: a.httpPort },
    { name: 'B', port: b.httpPort },
  ];
  const existing: Record<string, RegExp> = { [hostOf('alpha')]: /\/alpha #/, [hostOf('beta')]: /\/beta #/, 'www.beta.example': /\/beta #/ };
  for (const r of routers) for (const [host, body] of Object.entries(existing)) await servedAt(r.port, host, body);
  const loadA = new LoadLoop(a.httpPort, Object.keys(existing)).start();
  const loadB = new LoadLoop(b.httpPort, Object.keys(existing)).start();
  t.teardown(() => Promise.all([loadA.stop(), loadB.stop()]));
  await Promise.all([loadA.warmUp(), loadB.warmUp()]);

  let count = 0;
  const newApp = async (through: string) => {
    const name = `fresh${++count}`;
    const backend = a.backends.get('/alpha')![0]!;
    await registerMesosTask(through, { app: `/${name}`, agent: 'dev-agent-9', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
    return hostOf(name);
  };
  const newDomain = async (through: string, name: string) => {
    const host = `${name}.example.org`;
    const res = await fetch(`${through}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: host });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}: ${await res.text()}`);
    return host;
  };
  /** Both routers serve `host`; returns how far apart (ms). */
  const bothServe = async (host: string) => {
    const [ta, tb] = await Promise.all(
      routers.map((r) =>
        servedAt(r.port, host, /\/alpha #/).catch(async (e: Error) => {
          const last = await get(r.port, host);
          throw new Error(`router ${r.name}: ${e.message} (last answer ${last.status} ${last.body.slice(0, 100)})`);
        }),
      ),
    );
    return Math.abs(ta! - tb!);
  };

  await t.test('each change reaches both routers', async (t) => {
    const from = Date.now();
    const skews: number[] = [];
    skews.push(await bothServe(await newApp(agentA.url)));
    skews.push(await bothServe(await newDomain(agentB.url, 'both-1')));
    skews.push(await bothServe(await newApp(agentB.url)));
    skews.push(await bothServe(await newDomain(agentA.url, 'both-2')));
    for (const load of [loadA, loadB]) {
      const w = load.window(from);
      t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    }
    await recordFigure(t, {
      fault: 'cluster-two-routers',
      requests: loadA.window(from).requests + loadB.window(from).requests,
      failedExisting: loadA.window(from).failed + loadB.window(from).failed,
      recoveryMs: null,
      reported: `router A and router B served each change ${skews.join(', ')} ms apart (new app via node A, domain via node B, app via B, domain via A)`,
    });
  });

  await t.test("node A's agent cut off from the servers, then healed", async (t) => {
    const from = Date.now();
    await nodeA.cut();
    // The partition is real: node A's agent cannot read through the servers any more.
    await eventually('node A cannot read the catalog', async () => (await httpGet(`${agentA.url}/v1/catalog/services`, 20_000)).status !== 200, 60_000);
    // The cluster goes on without node A: a change through node B reaches router B only.
    const host = await newApp(agentB.url);
    await servedAt(b.httpPort, host, /\/alpha #/);
    t.not((await get(a.httpPort, host)).status, 200, 'router A has not seen the change made while its node is cut off');
    const doc = await statusOf(a.daemon.server.url);
    const catalog = sourceOf(doc, 'consul-catalog')!;
    for (const [h, body] of Object.entries(existing)) {
      const r = await get(a.httpPort, h);
      t.ok(r.status === 200 && body.test(r.body), `router A still serves ${h} from its app`);
    }
    await nodeA.heal();
    const healed = Date.now();
    const name = host.split('.')[0]!;
    const [agentSees, served] = await Promise.all([
      eventually(
        "node A's agent lists the change",
        async () => ((await httpGet(`${agentA.url}/v1/catalog/services`)).body.includes(`"${name}"`) ? Date.now() : undefined),
        60_000,
      ),
      servedAt(a.httpPort, host, /\/alpha #/, 60_000),
    ]);
    for (const [name, load] of [
      ['A', loadA],
      ['B', loadB],
    ] as const) {
      const w = load.window(from);
      t.equal(w.failed, 0, `router ${name}: no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    }
    await recordFigure(t, {
      fault: 'cluster-node-partitioned',
      requests: loadA.window(from).requests,
      failedExisting: loadA.window(from).failed,
      recoveryMs: served - healed,
      reported: `router A during the cut: consul-catalog ${catalog.state}${catalog.lastError ? ` (${catalog.lastError.message})` : ''}; the change made through node B meanwhile was listed by node A's agent ${agentSees - healed} ms and served by router A ${served - healed} ms after the heal`,
    });
  });
});
