// A blocking read the router gives up (a watch stopped, a source stopped) is still held by the
// agent until its wait passes, and the agent counts its connection against
// limits.http_max_conns_per_client until then, closed or not (Consul 1.8.7: the closed socket sits
// in CLOSE-WAIT). Closing it would free a socket in the router's budget and open one more at the
// agent: a router churning watches would push itself, and every other local client, past the
// agent's limit. So an aborted read keeps its socket until the agent answers it.
import t from 'tap';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { clientPortsTo, serverHasRead } from '../helpers/sockets.js';

t.test(
  'an aborted blocking read keeps its socket until the agent answers it: the agent never counts more than consul.max_connections',
  { skip: consulAgentSkip() },
  async (t) => {
    // The agent admits 5 connections from this address; the router may hold 4.
    const agent = await startTestConsulAgent(t, { maxConnsPerClient: 5 });
    const serverPort = Number(new URL(agent.url).port);
    const before = await clientPortsTo(serverPort);
    const client = new ConsulClient({ address: agent.url, token: () => '', maxConnections: 4, refusalBackoff: { baseMs: 1, maxMs: 5 } });
    t.teardown(() => client.close());
    // A key of its own: nothing else moves its index, so the agent holds the reads for their whole wait.
    await client.kvPut('pinned', 'x');
    const { index } = await client.kvGet('pinned');

    // Four blocking reads take the four sockets; once the agent holds all four, they are aborted.
    const aborts = Array.from({ length: 4 }, () => new AbortController());
    const held = aborts.map((a) =>
      client.kvGet('pinned', index, 3_000, a.signal).then(
        () => 'answered',
        (err: Error) => (err.cause as Error | undefined)?.name ?? err.name,
      ),
    );
    const ours = async () => [...(await clientPortsTo(serverPort))].filter((p) => !before.has(p));
    await eventually(
      'the agent holds the four reads',
      async () => {
        const ports = await ours();
        return ports.length === 4 && (await serverHasRead(serverPort, ports));
      },
      20_000,
    );
    for (const a of aborts) a.abort();
    t.same(await Promise.all(held), ['AbortError', 'AbortError', 'AbortError', 'AbortError'], 'each read gives up at once');

    // Four more reads (two at a time: the non-blocking reads' half of the budget): had the aborted
    // ones been closed, the agent would count 4 + 2 connections of 5.
    const reads = await Promise.all(Array.from({ length: 4 }, () => client.kvGet('pinned')));
    t.ok(reads.length === 4 && reads.every((r) => r.index >= index), 'every read answered');
    t.equal(client.traffic.refused, 0, 'the agent refused no connection');
    t.ok(client.traffic.maxConnectionsHeld <= 4, `at most 4 sockets (${client.traffic.maxConnectionsHeld})`);
  },
);
