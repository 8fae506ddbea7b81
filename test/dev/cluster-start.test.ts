// A dev cluster that cannot start stops what it started. Seen in CI: HAProxy could not bind its
// HTTPS port, the daemon, Consul and the backends kept running, and the test file hung until tap's
// timeout instead of failing at once with HAProxy's message.
import { createServer } from 'node:net';
import t from 'tap';
import { startDevCluster } from '../../dev/cluster.js';
import { createLogger } from '../../src/log.js';
import { eventually, freeListenerPorts } from '../helpers/net.js';

/** This process's open sockets, servers, child processes and watchers, counted by kind (timers left out). */
function openHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) if (kind !== 'Timeout' && kind !== 'Immediate') counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** The kinds of which there are more handles now than in `before`, with how many more. */
function leftOver(before: Map<string, number>): Record<string, number> {
  const more: Record<string, number> = {};
  for (const [kind, count] of openHandles()) if (count > (before.get(kind) ?? 0)) more[kind] = count - (before.get(kind) ?? 0);
  return more;
}

t.test('HAProxy cannot bind its HTTP port: the start fails with its message and leaves nothing running', async (t) => {
  const ports = await freeListenerPorts();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(ports.httpPort, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => holder.close(resolve)));
  const before = openHandles();

  const start = startDevCluster({
    ...ports,
    consul: 'stand-in',
    apps: [{ id: '/foo', instances: 1, tags: [], mode: 'http' }],
    domains: {},
    log: createLogger('silent'),
  });
  start.then((cluster) => cluster.stop()).catch(() => undefined); // should it start after all
  await t.rejects(start, /haproxy exited \(1\) at start[\s\S]*cannot bind socket/);
  // Closed sockets leave the list as their close completes: wait for the state, not for a time.
  await eventually('every part of the failed cluster stopped', () => Object.keys(leftOver(before)).length === 0, 15_000).catch(() => undefined);
  t.same(leftOver(before), {}, 'no socket, server, child process or watcher more than before the start');
});
