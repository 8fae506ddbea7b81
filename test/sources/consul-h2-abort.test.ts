// A read over HTTP/2 that is given up (its watch stopped) ends at once, whether it waits for a
// stream or holds one, and frees what it held: the real agent over HTTPS, one connection of one
// stream, so a second blocking read has to wait for the first one's stream.
import t from 'tap';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { WRITE_SOCKETS } from '../../src/sources/consul/http.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { register } from '../helpers/catalog-source.js';

t.test('an aborted read leaves the queue, or its stream, at once', { skip: consulAgentSkip() }, async (t) => {
  const agent = await startTestConsulAgent(t, { https: true });
  await register(agent.url, 'svc0', 0);
  // One HTTP/2 connection (the rest of the budget is the writes' sockets), of one stream.
  const client = new ConsulClient({
    address: agent.httpsUrl!,
    cacert: agent.cacertFile,
    token: () => '',
    maxConnections: WRITE_SOCKETS + 1,
    maxStreamsPerConnection: 1,
  });
  t.teardown(() => client.close());
  const { index } = await client.healthService('svc0', 0, 0);

  const holding = new AbortController();
  let held: 'pending' | 'rejected' | 'answered' = 'pending';
  const first = client.healthService('svc0', index, 60_000, holding.signal).then(
    () => (held = 'answered'),
    (err: { code?: string }) => {
      held = 'rejected';
      return err;
    },
  );
  await eventually('the first blocking read holds the only stream', () => client.traffic.streams === 1, 10_000);

  const waiting = new AbortController();
  const second = client.healthService('svc0', index, 60_000, waiting.signal);
  waiting.abort();
  await t.rejects(second, { code: 'CONSUL_UNAVAILABLE', message: /request aborted/ }, 'the read waiting for a stream ends when aborted');
  t.equal(held, 'pending', 'the read on the stream is still held');
  t.equal(client.traffic.streams, 1, 'the stream is still the first read’s');

  holding.abort();
  t.match(await first, { code: 'CONSUL_UNAVAILABLE', message: /request aborted/ }, 'the read on the stream ends when aborted');
  t.equal(held, 'rejected');
  t.equal(client.traffic.streams, 0, 'its stream is free');

  const after = await client.healthService('svc0', 0, 0);
  t.ok(Array.isArray(after.data) && after.data.length === 1, 'the next read gets the stream and its answer');
  t.equal(client.traffic.maxStreamsHeld, 1, 'never more than the one stream');
});
