// The catalog source against a real Consul agent: a bounded number of connections whatever the
// number of services, refused connections retried and counted without the source going down,
// changes that cost reads of just the changed service, watches of the services changed last (a
// rolling deploy), and (on the stand-in, the only one that can
// fail one service's reads) a failing read that holds no other service back.
import t, { type Test } from 'tap';
import { startDevConsul, type DevConsul } from '../../dev/consul/server.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { deregister, fill, register, startCatalogSource } from '../helpers/catalog-source.js';

function watch(t: Test, url: string, opts: { maxConnections?: number; waitMs?: number } = {}) {
  const client = new ConsulClient({ address: url, token: () => '', maxConnections: opts.maxConnections ?? 16, refusalBackoff: { baseMs: 20, maxMs: 200 } });
  const w = startCatalogSource(t, client, { waitMs: opts.waitMs ?? 30_000, minIntervalMs: 10, maxBackoffMs: 200 });
  t.teardown(() => client.close());
  return { client, ...w };
}

t.test('real agent', { skip: consulAgentSkip() }, async (t) => {
  t.test('every change shows, and costs reads of the changed service only', async (t) => {
    const agent = await startTestConsulAgent(t);
    await fill(agent.url, 60);
    const w = watch(t, agent.url);
    await eventually('the first snapshot', () => Object.keys(w.latest() ?? {}).length === 60, 30_000);
    t.equal(w.statuses.at(-1)?.state, 'ok');
    const requests = () => w.client.traffic.requests;
    const settle = async () => {
      // Quiet: nothing in flight but the three blocked detectors.
      let last = -1;
      await eventually('quiet', async () => {
        await new Promise((r) => setTimeout(r, 150));
        const now = requests();
        const quiet = now === last;
        last = now;
        return quiet;
      });
    };
    await settle();
    const cost = async (what: string, change: () => Promise<unknown>, done: () => boolean) => {
      const before = requests();
      await change();
      await eventually(what, done, 10_000);
      await settle();
      const spent = requests() - before;
      // A detector wake and its next blocking call, the summaries, the targeted read(s): a handful,
      // never one per service (60 here).
      t.ok(spent <= 12, `${what}: ${spent} requests to Consul`);
    };
    await cost(
      'a new passing instance',
      () => register(agent.url, 'svc7', 5),
      () => w.instancesOf('svc7')?.length === 3,
    );
    await cost(
      'a check going critical',
      () => register(agent.url, 'svc8', 0, 'critical'),
      () => w.instancesOf('svc8')?.some((i) => i.endsWith('(failing)')) === true,
    );
    await cost(
      'the check passing again',
      () => register(agent.url, 'svc8', 0),
      () => w.instancesOf('svc8')?.every((i) => !i.endsWith('(failing)')) === true,
    );
    await cost(
      'an instance deregistered',
      () => deregister(agent.url, 'svc9', 1),
      () => w.instancesOf('svc9')?.length === 1,
    );
    await cost(
      'a brand-new service',
      () => register(agent.url, 'fresh', 0),
      () => w.instancesOf('fresh')?.length === 1,
    );
    await cost(
      'a tag change',
      () => register(agent.url, 'svc3', 0, 'passing', ['router.sticky']),
      () => w.latest()?.svc3?.some((i) => i.tags.includes('router.sticky')) === true,
    );
    await cost(
      'router.skip set: the service leaves the snapshot',
      () => register(agent.url, 'svc4', 0, 'passing', ['router.skip']),
      () => w.latest()?.svc4 === undefined,
    );
    await cost(
      'a service gone',
      async () => {
        await deregister(agent.url, 'svc5', 0);
        await deregister(agent.url, 'svc5', 1);
      },
      () => w.latest()?.svc5 === undefined,
    );
    t.notOk(
      w.statuses.some((s) => s.state === 'down'),
      'never down',
    );
  });

  t.test('a rolling deploy: services that change get watches of their own while slots are free, within max_connections', async (t) => {
    const agent = await startTestConsulAgent(t);
    await fill(agent.url, 20);
    // The recent watches then wait a minute (RECENT_WATCH_WAIT_MS): none ends quiet during the test.
    const w = watch(t, agent.url, { maxConnections: 32, waitMs: 300_000 });
    t.equal(w.client.recentWatchSlots, 8, 'at max_connections 32: 16 for the reads, 8 standing watches, 8 for recently changed services');
    await eventually('the first snapshot', () => Object.keys(w.latest() ?? {}).length === 20, 30_000);
    for (let n = 2; n < 5; n++) {
      await register(agent.url, 'svc7', n);
      await eventually(`svc7 with ${n + 1} instances`, () => w.instancesOf('svc7')?.length === n + 1, 10_000);
      t.same(w.source.watchedServices, ['svc7'], `change ${n - 1}: svc7 has its own watch`);
    }
    for (let s = 0; s < 12; s++) {
      await register(agent.url, `svc${s}`, 9);
      await eventually(`svc${s}'s new instance`, () => w.instancesOf(`svc${s}`)?.length === (s === 7 ? 6 : 3), 10_000);
    }
    t.same(
      w.source.watchedServices,
      ['svc7', 'svc0', 'svc1', 'svc2', 'svc3', 'svc4', 'svc5', 'svc6'],
      'the 8 slots went to the first 8 services that changed; svc8-svc11 were served by the detectors, and no watch was cut for them',
    );
    t.equal(w.source.watchCount, 8, 'paas_router_consul_service_watches');
    // Quiet once the changes are served: no watch answers in a loop on the agent's per-service index.
    let last = -1;
    await eventually('no request for 300 ms', async () => {
      await new Promise((r) => setTimeout(r, 300));
      const quiet = w.client.traffic.requests === last;
      last = w.client.traffic.requests;
      return quiet;
    });
    t.ok(w.client.traffic.maxConnectionsHeld <= 32, `at most 32 sockets (${w.client.traffic.maxConnectionsHeld})`);
    t.notOk(
      w.statuses.some((s) => s.state === 'down'),
      'never down',
    );
  });

  t.test('at most consul.max_connections sockets; an agent refusing the rest is retried, counted, and never takes the source down', async (t) => {
    // The agent admits 8 connections from this address; the router may open 16: it will be refused.
    const agent = await startTestConsulAgent(t, { maxConnsPerClient: 8 });
    await fill(agent.url, 120, 1);
    const w = watch(t, agent.url, { maxConnections: 16 });
    await eventually('every service read', () => Object.keys(w.latest() ?? {}).length === 120, 60_000);
    t.ok(w.client.traffic.refused > 0, `${w.client.traffic.refused} connections refused by the agent and retried`);
    t.ok(w.client.traffic.maxConnectionsHeld <= 16, `at most 16 sockets (${w.client.traffic.maxConnectionsHeld})`);
    t.notOk(
      w.statuses.some((s) => s.state === 'down'),
      'the source never went down: every retry worked',
    );
    t.same(w.statuses.at(-1)?.failing, undefined, 'no read left failing');
  });

  t.test('within an agent at its default limit: 300 services, 8 connections', async (t) => {
    const agent = await startTestConsulAgent(t);
    await fill(agent.url, 300, 1);
    const w = watch(t, agent.url, { maxConnections: 8 });
    await eventually('every service read', () => Object.keys(w.latest() ?? {}).length === 300, 60_000);
    t.ok(w.client.traffic.maxConnectionsHeld <= 8, `at most 8 sockets (${w.client.traffic.maxConnectionsHeld})`);
    t.equal(w.client.traffic.refused, 0);
  });
});

t.test('dev stand-in: a service whose reads fail keeps its last instances, is listed with its error, and holds back nobody', async (t) => {
  const consul: DevConsul = await startDevConsul();
  t.teardown(() => consul.close());
  await fill(consul.url, 5);
  // Never read: svc0 fails from the start; the others are routed all the same.
  consul.setServiceFault('svc0', 'http500');
  const w = watch(t, consul.url);
  await eventually('the first snapshot without svc0', () => Object.keys(w.latest() ?? {}).length === 4);
  t.equal(w.latest()?.svc0, undefined, 'a service never read stays out (unrouted)');
  t.match(w.statuses.at(-1), { state: 'ok', failing: [{ subject: 'svc0', code: 'CONSUL_UNAVAILABLE', message: /HTTP 500/ }] });
  // Read once, then failing: its last instances stay while another service changes.
  consul.setServiceFault('svc0', 'none');
  await eventually('svc0 read once its reads work', () => w.instancesOf('svc0')?.length === 2, 10_000);
  t.same(w.statuses.at(-1)?.failing, undefined, 'no longer listed');
  consul.setServiceFault('svc1', 'garbage');
  await register(consul.url, 'svc1', 2);
  await eventually('svc1 listed as failing', () => w.statuses.at(-1)?.failing?.[0]?.subject === 'svc1');
  t.match(w.statuses.at(-1)?.failing?.[0]?.message, /not valid JSON/);
  t.equal(w.instancesOf('svc1')?.length, 2, 'its last known instances are kept');
  await register(consul.url, 'svc2', 2);
  await eventually('svc2 changes while svc1 keeps failing', () => w.instancesOf('svc2')?.length === 3);
  t.equal(w.instancesOf('svc1')?.length, 2);
  consul.setServiceFault('svc1', 'none');
  await eventually('svc1 recovers with its new instance', () => w.instancesOf('svc1')?.length === 3, 10_000);
  t.notOk(
    w.statuses.some((s) => s.state === 'down'),
    'one service failing never takes the source down',
  );
});
