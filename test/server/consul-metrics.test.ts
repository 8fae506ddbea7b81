// The Consul client's counters in /metrics: the HTTP/2 ones (GOAWAY, stream resets, refused
// streams, streams open) beside the connection ones, and every total carried over when the
// daemon follows a new client (a SIGHUP restart).
import t from 'tap';
import { RouterMetrics } from '../../src/server/metrics.js';
import type { ConsulTraffic } from '../../src/sources/consul/http.js';

const traffic = (n: number): ConsulTraffic => ({
  requests: 10 * n,
  responseBytes: 100 * n,
  refused: n,
  connections: 2,
  maxConnectionsHeld: 3,
  goaway: n,
  streamResets: 2 * n,
  refusedStreams: 3 * n,
  streams: 40,
  maxStreamsHeld: 41,
});

t.test('HTTP/2 counters, carried over a new client', async (t) => {
  const metrics = new RouterMetrics({ defaultMetrics: false });
  metrics.followConsul(() => traffic(1));
  metrics.followConsul(
    () => traffic(2),
    () => 8,
  );
  const text = await metrics.metrics();
  t.match(text, /^paas_router_consul_goaway_total 3$/m);
  t.match(text, /^paas_router_consul_stream_resets_total 6$/m);
  t.match(text, /^paas_router_consul_refused_streams_total 9$/m);
  t.match(text, /^paas_router_consul_refused_total 3$/m);
  t.match(text, /^paas_router_consul_requests_total 30$/m);
  t.match(text, /^paas_router_consul_streams 40$/m);
  t.match(text, /^paas_router_consul_connections 2$/m);
  t.match(text, /^paas_router_consul_service_watches 8$/m, "the catalog source's per-service watches");
});
