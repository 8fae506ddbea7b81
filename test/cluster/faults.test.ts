// Faults on a real Consul cluster (three servers, one client agent on the router's node), under a
// steady load through a real HAProxy: the leader killed, the node's client agent restarted, a
// snapshot restored, and two of three servers killed (quorum lost). For each: 0 failed requests to
// the existing routes, every existing route still answered by its own app, and a change made after
// the fault ends is served. The waits are on states (a leader agreed by every agent, a host served);
// the times from the fault's end to the change served are measured and recorded
// (test-artifacts/faults.json, docs/consul.md), never asserted.
import t, { type Test } from 'tap';
import { registerMesosTask } from '../../dev/consul/mesos.js';
import type { MarathonApp } from '../../dev/marathon.js';
import { LoadLoop, faultLog, get, healthz, hostOf, recordFigure, servedAt, sleep, sourceOf, statusOf } from '../faults/helpers.js';
import { startTestCluster } from '../helpers/cluster.js';
import { consulClusterSkip, httpGet, startTestConsulCluster } from '../helpers/consul-cluster.js';
import { eventually } from '../helpers/net.js';

const apps: MarathonApp[] = ['alpha', 'beta'].map((name) => ({ id: `/${name}`, instances: 2, tags: [], mode: 'http' }));

t.test('faults on a real Consul cluster', { skip: consulClusterSkip() }, async (t) => {
  const consul = await startTestConsulCluster(t);
  const cluster = await startTestCluster(t, {
    consul: { url: consul.url },
    apps,
    domains: { beta: 'www.beta.example' },
    log: faultLog(),
    // The production defaults for the retry loop (the dev cluster shortens them).
    configOverrides: { consul: { min_interval: '100ms', retry_max: '10s' } },
  });
  const { httpPort } = cluster;
  const statusUrl = cluster.daemon.server.url;
  // host → the app whose backends must answer it
  const existing: Record<string, RegExp> = { [hostOf('alpha')]: /\/alpha #/, [hostOf('beta')]: /\/beta #/, 'www.beta.example': /\/beta #/ };
  for (const [host, body] of Object.entries(existing)) await servedAt(httpPort, host, body);
  await eventually('/healthz ok', async () => (await healthz(statusUrl)).status === 200, 30_000);
  const load = new LoadLoop(httpPort, Object.keys(existing)).start();
  t.teardown(() => load.stop());
  await load.warmUp();

  /** Every existing route answered by its own app (not only "some 2xx"). */
  const routesRight = async (t: Test) => {
    for (const [host, body] of Object.entries(existing)) {
      const r = await get(httpPort, host);
      t.ok(r.status === 200 && body.test(r.body), `${host} still served by its app (${r.status} ${r.body.trim().slice(0, 60)})`);
    }
  };
  let count = 0;
  /** A brand-new app, registered through the client agent (a validated reload). */
  const newApp = async () => {
    const name = `fresh${++count}`;
    const backend = cluster.backends.get('/alpha')![0]!;
    await registerMesosTask(consul.url, { app: `/${name}`, agent: 'dev-agent-9', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
    return hostOf(name);
  };
  /** A new custom domain for alpha through K/V (the runtime API, no reload). */
  const newDomain = async (name: string) => {
    const host = `${name}.example.org`;
    const res = await fetch(`${consul.url}/v1/kv/paas-router/domains/alpha`, { method: 'PUT', body: host });
    if (res.status !== 200) throw new Error(`K/V put answered ${res.status}: ${await res.text()}`);
    return host;
  };
  /** When every Consul source of the router has read successfully again (ms since epoch). */
  const sourcesOkAt = () =>
    eventually(
      'every consul source ok',
      async () => ((await statusOf(statusUrl)).sources.every((s) => !s.name.startsWith('consul-') || s.state === 'ok') ? Date.now() : undefined),
      60_000,
    );
  /** Every server running and agreeing on one leader (after a restart). */
  const allServersBack = async () => {
    await Promise.all(consul.servers.map((s) => s.start()));
    await eventually(
      'every server back and one leader',
      async () => {
        const leader = await consul.leader();
        if (!leader) return false;
        const peers = await httpGet(`${consul.url}/v1/status/peers`);
        return peers.status === 200 && (JSON.parse(peers.body) as string[]).length === 3;
      },
      60_000,
    );
  };

  await t.test('the leader is killed: routing holds, a change after the election is served', async (t) => {
    const from = Date.now();
    const old = await consul.waitForLeader();
    await old.kill('SIGKILL');
    const killedAt = Date.now();
    const leader = await consul.waitForLeader();
    const electedAt = Date.now();
    t.not(leader.name, old.name, `a new leader: ${leader.name} (was ${old.name})`);
    const sourcesOk = await sourcesOkAt();
    const host = await newApp();
    const app = await servedAt(httpPort, host, /\/alpha #/);
    const domain = await newDomain('after-election');
    const domainServed = await servedAt(httpPort, domain, /\/alpha #/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await routesRight(t);
    await recordFigure(t, {
      fault: 'cluster-leader-killed',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: app - electedAt,
      reported: `election seen ${electedAt - killedAt} ms after the kill; every consul source reading again ${sourcesOk - electedAt} ms after it; a new app registered then served ${app - electedAt} ms after the election, then a new domain ${domainServed - app} ms after`,
    });
    await allServersBack();
  });

  await t.test("the node's client agent restarts: a change is served once it answers", async (t) => {
    const from = Date.now();
    await consul.client.kill('SIGTERM');
    await consul.client.start();
    // Answering again: the agent knows the servers and their leader.
    await eventually('the client agent answers with a leader', async () => (await httpGet(`${consul.url}/v1/status/leader`)).body.length > 2, 60_000);
    const answeredAt = Date.now();
    const sourcesOk = await sourcesOkAt();
    const host = await newApp();
    const served = await servedAt(httpPort, host, /\/alpha #/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await routesRight(t);
    await recordFigure(t, {
      fault: 'cluster-client-agent-restart',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - answeredAt,
      reported: `every consul source reading again ${sourcesOk - answeredAt} ms after the agent answered (status/leader with a leader); a new app registered then served ${served - answeredAt} ms after it answered`,
    });
  });

  await t.test('a snapshot is restored: the routes follow the restored state', async (t) => {
    const from = Date.now();
    const file = `${cluster.workDir}/cluster.snap`;
    await consul.cli(['snapshot', 'save', file]);
    const lost = await newDomain('before-restore');
    await servedAt(httpPort, lost, /\/alpha #/);
    await consul.cli(['snapshot', 'restore', file]);
    const restoredAt = Date.now();
    // The domain written after the snapshot is gone from Consul, so from the routes.
    await eventually('the domain written after the snapshot no longer served', async () => (await get(httpPort, lost)).status !== 200, 30_000);
    const host = await newDomain('after-restore');
    const served = await servedAt(httpPort, host, /\/alpha #/);
    const app = await newApp();
    await servedAt(httpPort, app, /\/alpha #/);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await routesRight(t);
    await recordFigure(t, {
      fault: 'cluster-snapshot-restore',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - restoredAt,
      reported: 'the domain written after the snapshot was removed; a domain and an app written after the restore were served',
    });
  });

  await t.test('two of three servers die: quorum lost, the last good routes stay, /healthz says why', async (t) => {
    const from = Date.now();
    // HAProxy serves a reload's new worker a moment before the daemon has confirmed it: settle first.
    await cluster.daemon.runner.settled();
    const appsBefore = cluster.daemon.runner.state.deployment?.model?.apps.length ?? 0;
    const leader = await consul.waitForLeader();
    const follower = consul.servers.find((s) => s !== leader)!;
    await Promise.all([leader.kill('SIGKILL'), follower.kill('SIGKILL')]);
    await consul.waitForNoLeader();
    const doc = await eventually(
      'consul-catalog down in /status',
      async () => {
        const d = await statusOf(statusUrl);
        return sourceOf(d, 'consul-catalog')?.state === 'down' ? d : undefined;
      },
      60_000,
    );
    const reason = sourceOf(doc, 'consul-catalog')!.lastError!.message;
    t.match(reason, /leader|EOF|rpc error|HTTP 500/i, `the reason names the cluster's state: ${reason}`);
    t.match(doc.health.reasons.join('\n'), /consul-catalog is down/, 'the status (and the page) say why');
    const health = await healthz(statusUrl);
    t.equal(health.status, 503, '/healthz answers 503');
    t.match(health.body, /consul-catalog is down/, `/healthz says why: ${health.body.slice(0, 300)}`);
    await sleep(1_000); // the outage lasts: the watches keep failing
    t.equal(cluster.daemon.runner.state.deployment?.model?.apps.length, appsBefore, 'an error is never "no services": every app is still served');
    await routesRight(t);
    const t0 = Date.now();
    await allServersBack();
    const electedAt = Date.now();
    const host = await newApp();
    const served = await servedAt(httpPort, host, /\/alpha #/);
    await eventually('consul-catalog ok again', async () => sourceOf(await statusOf(statusUrl), 'consul-catalog')?.state === 'ok', 30_000);
    await eventually('/healthz ok again', async () => (await healthz(statusUrl)).status === 200, 30_000);
    const w = load.window(from);
    t.equal(w.failed, 0, `no failed request to existing routes (${w.requests} requests) ${JSON.stringify(w.sample)}`);
    await routesRight(t);
    await recordFigure(t, {
      fault: 'cluster-quorum-lost',
      requests: w.requests,
      failedExisting: w.failed,
      recoveryMs: served - electedAt,
      reported: `consul-catalog down: ${reason}; /healthz 503; quorum back ${electedAt - t0} ms after the restart`,
    });
  });

  t.equal(load.window().failed, 0, 'no failed request to existing routes over the whole run');
});
