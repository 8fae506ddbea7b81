// The catalog source over HTTPS against the real agent (TLS listener, HTTP/2 by ALPN): a blocking
// watch per service, multiplexed as streams on few connections. A change is seen through its own
// service's watch and reads no other service, no detector and no service summaries; a stream
// budget smaller than the number of services still routes every service; an agent restart in the
// middle of the watches is survived by every watch. Plain HTTP stays on the detectors.
import t, { type Test } from 'tap';
import type { CatalogReads } from '../../src/sources/consul/catalog-source.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import type { TransportEvent } from '../../src/sources/consul/http.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { deregister, fill, register, startCatalogSource } from '../helpers/catalog-source.js';

/** The client's reads, each one recorded by what it read (`service:<name>`, `catalog`, `state:critical`, `summaries`). */
function recording(client: ConsulClient): { reads: CatalogReads; calls: string[] } {
  const calls: string[] = [];
  const record = <T>(what: string, read: T): T => {
    calls.push(what);
    return read;
  };
  const reads: CatalogReads = {
    get transport() {
      return client.transport;
    },
    catalogServices: (...a) => record('catalog', client.catalogServices(...a)),
    healthService: (name, ...a) => record(`service:${name}`, client.healthService(name, ...a)),
    healthState: (state, ...a) => record(`state:${state}`, client.healthState(state, ...a)),
    serviceSummaries: (...a) => record('summaries', client.serviceSummaries(...a)),
    untilAnswering: (err, signal) => client.untilAnswering(err, signal),
  };
  return { reads, calls };
}

interface WatchOptions {
  address: string;
  cacert?: string;
  maxConnections?: number;
  maxStreamsPerConnection?: number;
  waitMs?: number;
}

function watch(t: Test, opts: WatchOptions) {
  const client = new ConsulClient({
    address: opts.address,
    cacert: opts.cacert,
    token: () => '',
    maxConnections: opts.maxConnections ?? 16,
    maxStreamsPerConnection: opts.maxStreamsPerConnection,
    refusalBackoff: { baseMs: 20, maxMs: 200 },
  });
  const events: TransportEvent[] = [];
  client.onTransport = (e) => events.push(e);
  const { reads, calls } = recording(client);
  const w = startCatalogSource(t, reads, { waitMs: opts.waitMs ?? 60_000, minIntervalMs: 10, maxBackoffMs: 500 });
  t.teardown(() => client.close());
  return { client, calls, events, ...w };
}

t.test('real agent over HTTPS', { skip: consulAgentSkip() }, async (t) => {
  t.test('a watch per service: each change read through its own watch, no other service read', async (t) => {
    const agent = await startTestConsulAgent(t, { https: true });
    await fill(agent.url, 30);
    const w = watch(t, { address: agent.httpsUrl!, cacert: agent.cacertFile });
    await eventually('the first snapshot', () => Object.keys(w.latest() ?? {}).length === 30, 30_000);
    t.equal(w.source.mode, 'watches');
    t.same(w.events, [{ kind: 'h2', connections: 14 }], 'HTTP/2 negotiated once');
    // Every service's watch blocks as a stream, beside the catalog's: all on one connection.
    await eventually('every watch blocking', () => w.client.traffic.streams === 31);
    t.equal(w.client.traffic.connections, 1, '31 blocking queries on one connection');
    const perService = w.calls.filter((c) => c === 'service:svc0').length;
    t.equal(perService, 2, 'a service is read once at start, then its watch blocks from that read’s index');
    t.equal(w.statuses.at(-1)?.state, 'ok');

    const mark = w.calls.length;
    const changes: [string, () => Promise<unknown>, () => boolean][] = [
      ['a new passing instance', () => register(agent.url, 'svc7', 5), () => w.instancesOf('svc7')?.length === 3],
      ['a check going critical', () => register(agent.url, 'svc8', 0, 'critical'), () => w.instancesOf('svc8')?.some((i) => i.endsWith('(failing)')) === true],
      ['an instance deregistered', () => deregister(agent.url, 'svc9', 1), () => w.instancesOf('svc9')?.length === 1],
      ['a brand-new service', () => register(agent.url, 'fresh', 0), () => w.instancesOf('fresh')?.length === 1],
      [
        'a tag change',
        () => register(agent.url, 'svc3', 0, 'passing', ['router.sticky']),
        () => w.latest()?.svc3?.some((i) => i.tags.includes('router.sticky')) === true,
      ],
      ['router.skip: the service leaves', () => register(agent.url, 'svc4', 0, 'passing', ['router.skip']), () => w.latest()?.svc4 === undefined],
    ];
    for (const [what, change, seen] of changes) {
      await change();
      await eventually(what, seen, 10_000);
    }
    const read = [...new Set(w.calls.slice(mark))].filter((c) => c.startsWith('service:')).sort();
    // svc4's watch is stopped by the catalog answer; whether its own answer came first is a race.
    t.same(
      read.filter((c) => c !== 'service:svc4'),
      ['service:fresh', 'service:svc3', 'service:svc7', 'service:svc8', 'service:svc9'],
      `only the changed services were read (${read.join(' ')})`,
    );
    t.notOk(
      w.calls.some((c) => c.startsWith('state:') || c === 'summaries'),
      'no health-state detector and no service summaries, ever',
    );
    await eventually('the skipped service’s watch stopped, the new one blocking', () => w.client.traffic.streams === 31);
    t.equal(w.client.traffic.refused + w.client.traffic.refusedStreams + w.client.traffic.streamResets, 0);
  });

  t.test('fewer streams than services: every service is still read, within the budget', async (t) => {
    const agent = await startTestConsulAgent(t, { https: true });
    await fill(agent.url, 12, 1);
    // 4 connections: 2 for the writes' HTTP/1.1 agent, 2 HTTP/2 connections of 3 streams: 6 streams for 13 watches.
    const w = watch(t, { address: agent.httpsUrl!, cacert: agent.cacertFile, maxConnections: 4, maxStreamsPerConnection: 3, waitMs: 1_000 });
    await eventually('every service read', () => Object.keys(w.latest() ?? {}).length === 12, 30_000);
    // The first reads do not block, and can all finish on the first connection while the second
    // one opens: the streams run out once the 13 watches block, which can come after every read.
    await eventually('saturation reported', () => w.events.some((e) => e.kind === 'saturated'), 30_000);
    await register(agent.url, 'svc5', 7);
    await eventually('a change with every stream taken', () => w.instancesOf('svc5')?.length === 2, 30_000);
    t.equal(w.client.traffic.maxStreamsHeld, 6, 'never more than 2 × 3 streams');
    t.equal(w.client.traffic.maxConnectionsHeld, 2, 'two HTTP/2 connections');
  });

  t.test('the agent restarted in the middle of the watches: every watch resumes, a change after it is seen', async (t) => {
    const agent = await startTestConsulAgent(t, { https: true, persistent: true });
    await fill(agent.url, 10);
    const w = watch(t, { address: agent.httpsUrl!, cacert: agent.cacertFile });
    await eventually('the first snapshot', () => Object.keys(w.latest() ?? {}).length === 10, 30_000);
    await eventually('every watch blocking', () => w.client.traffic.streams === 11);
    const before = w.client.traffic.requests;
    await agent.restart();
    await eventually('every watch blocking again after the restart', () => w.client.traffic.streams === 11 && w.client.traffic.requests > before + 11, 30_000);
    await register(agent.url, 'svc2', 9);
    await eventually('a new instance after the restart', () => w.instancesOf('svc2')?.length === 3, 10_000);
    await deregister(agent.url, 'svc6', 0);
    await eventually('a deregistration after the restart', () => w.instancesOf('svc6')?.length === 1, 10_000);
    t.equal(Object.keys(w.latest() ?? {}).length, 10, 'no service lost');
    // The source says ok once every watch has answered again, which can come after the change it read.
    await eventually('the source ok again', () => w.statuses.at(-1)?.state === 'ok', 10_000);
    t.equal(w.statuses.at(-1)?.state, 'ok');
  });
});

t.test('real agent over plain HTTP: the change detectors', { skip: consulAgentSkip() }, async (t) => {
  const agent = await startTestConsulAgent(t);
  await fill(agent.url, 5);
  const w = watch(t, { address: agent.url });
  t.equal(w.source.mode, 'detectors', 'known at once over http');
  await eventually('the first snapshot', () => Object.keys(w.latest() ?? {}).length === 5, 30_000);
  await register(agent.url, 'svc1', 4);
  await eventually('a new instance', () => w.instancesOf('svc1')?.length === 3, 10_000);
  t.ok(w.calls.includes('summaries') && w.calls.includes('state:critical'), 'through the detectors and the summaries');
  t.same(w.events, [], 'no HTTP/2 over http');
});
