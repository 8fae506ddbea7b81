// HTTP/2 faults the real agent cannot produce on demand, through an HTTP/2 front (dev/consul/h2-front.ts)
// to the real agent: the server's advertised stream limit is followed; a refused or reset stream is
// sent again and counted; a GOAWAY in the middle of the watches moves every watch to a new
// connection without any service failing or the source going down.
import { constants } from 'node:http2';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startH2Front, type H2Front } from '../../dev/consul/h2-front.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { register, startCatalogSource } from '../helpers/catalog-source.js';

async function setup(t: Test, services: number, maxConcurrentStreams?: number) {
  const agent = await startTestConsulAgent(t);
  for (let s = 0; s < services; s++) await register(agent.url, `svc${s}`, 0);
  const front: H2Front = await startH2Front({ upstream: agent.url, maxConcurrentStreams });
  t.teardown(() => front.close());
  const ca = join(await mkdtemp(join(tmpdir(), 'paas-router-h2-')), 'ca.pem');
  await writeFile(ca, front.certificate);
  return { agent, front, ca };
}

function client(t: Test, address: string, cacert: string, maxConnections = 16): ConsulClient {
  const c = new ConsulClient({ address, cacert, token: () => '', maxConnections });
  t.teardown(() => c.close());
  return c;
}

function watchCatalog(t: Test, c: ConsulClient) {
  const w = startCatalogSource(t, c, { waitMs: 60_000, minIntervalMs: 10, maxBackoffMs: 500 });
  return { ...w, latest: () => w.latest() ?? {} };
}

t.test('HTTP/2 faults through a front to the real agent', { skip: consulAgentSkip() }, async (t) => {
  t.test('the advertised stream limit is followed: 2 streams per connection', async (t) => {
    const { front, ca } = await setup(t, 5, 2);
    // 6 connections: 2 for the writes, 4 HTTP/2 connections of 2 streams: 8 streams for 6 watches.
    const c = client(t, front.url, ca, 6);
    const w = watchCatalog(t, c);
    await eventually('every service read', () => Object.keys(w.latest()).length === 5, 30_000);
    await eventually('every watch blocking', () => c.traffic.streams === 6);
    t.equal(front.maxStreamsPerSession, 2, 'never more than 2 streams on one connection');
    t.equal(c.traffic.connections, 3, 'three HTTP/2 connections for 6 streams');
    t.equal(c.traffic.refusedStreams, 0, 'no stream refused: the limit was followed, not found out');
  });

  t.test('refused and reset streams are sent again and counted', async (t) => {
    const { front, ca } = await setup(t, 1);
    const c = client(t, front.url, ca);
    await c.catalogServices(0, 0); // negotiates h2
    front.resetStreams(2, constants.NGHTTP2_REFUSED_STREAM);
    t.ok('svc0' in ((await c.catalogServices(0, 0)).data as object), 'answered after two refused streams');
    t.equal(c.traffic.refusedStreams, 2);
    front.resetStreams(1, constants.NGHTTP2_INTERNAL_ERROR);
    t.ok('svc0' in ((await c.catalogServices(0, 0)).data as object), 'answered after a reset stream');
    t.equal(c.traffic.streamResets, 1);
    front.resetStreams(4, constants.NGHTTP2_INTERNAL_ERROR);
    await t.rejects(
      c.catalogServices(0, 0),
      { code: 'CONSUL_UNAVAILABLE', message: /closed the stream 4 times in a row/ },
      'a stream reset every time fails the read',
    );
  });

  t.test('a GOAWAY in the middle of the watches: every watch moves to a new connection, nothing fails', async (t) => {
    const { agent, front, ca } = await setup(t, 8);
    const c = client(t, front.url, ca);
    const w = watchCatalog(t, c);
    await eventually('every service read', () => Object.keys(w.latest()).length === 8, 30_000);
    await eventually('every watch blocking', () => c.traffic.streams === 9 && front.streams === 9);
    const opened = front.sessionsOpened;
    front.goaway();
    await eventually('every watch blocking on a new connection', () => front.sessionsOpened > opened && front.streams === 9 && c.traffic.streams === 9);
    t.equal(c.traffic.goaway, 1, 'the GOAWAY counted');
    t.ok(c.traffic.refusedStreams >= 9, `the ${c.traffic.refusedStreams} streams it cut were sent again`);
    t.notOk(
      w.statuses.some((s) => s.state === 'down' || (s.failing?.length ?? 0) > 0),
      'no watch failed',
    );
    await register(agent.url, 'svc3', 1);
    await eventually('a change after the GOAWAY', () => w.latest().svc3?.length === 2, 10_000);
  });
});
