// What one service's watch costs in memory over HTTP/2 (issue 23): the catalog source in 'watches'
// mode against the real Consul agent's HTTPS listener, with --services services × 1 instance
// registered (default 2 000). The live heap (after a full collection) is read before the source
// starts (after a first round of the same watches on another client: what that loads and compiles
// is not per service) and once every service's blocking query is held at the agent; the difference per service
// is what a watch keeps alive: its instances, the BlockingWatch, and the request in flight down to
// the HTTP/2 stream. --snapshot <dir> also writes V8 heap snapshots there, before.heapsnapshot and
// held.heapsnapshot (`node dist/bench/heap-summary.js <file>` on each: the difference is the watches).
//   node --expose-gc dist/bench/watch-memory.js [--services N] [--snapshot DIR]
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { startConsulAgent } from '../dev/consul/agent.js';
import { createLogger } from '../src/log.js';
import { ConsulClient } from '../src/sources/consul/client.js';
import { ConsulCatalogSource } from '../src/sources/consul/catalog-source.js';
import { appTasks, registerMany, until } from './harness.js';

const { values } = parseArgs({ options: { services: { type: 'string', default: '2000' }, snapshot: { type: 'string' } } });
const services = Number(values.services);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function liveHeapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const agent = await startConsulAgent({ https: true });
try {
  await registerMany(agent.url, appTasks(services, 1, [40000]));
  // The defaults a user gets (config.ts): a 5 min wait, 100 ms min_interval.
  const watchAll = async (client: ConsulClient): Promise<ConsulCatalogSource> => {
    const source = new ConsulCatalogSource(client, { waitMs: 300_000, minIntervalMs: 100 }, createLogger('silent'));
    let snapshots = 0;
    source.start({ snapshot: () => void snapshots++, status: () => undefined });
    // Every service's watch, and the catalog's, blocks at the agent: one stream each.
    await until('every watch held', () => snapshots > 0 && source.watchCount === services && client.traffic.streams >= services + 1, 600_000, 50);
    return source;
  };
  const newClient = () => new ConsulClient({ address: agent.httpsUrl!, cacert: agent.cacertFile, token: () => '' });
  // A first round, on a client closed after it, loads and compiles what the watches run (TLS,
  // HTTP/2, the parsers): not per service. The second counts its connections, a few per 250 services.
  const first = newClient();
  (await watchAll(first)).stop();
  first.close();
  // Its cancelled reads settle, and its streams close, in the turns of the event loop that follow.
  for (let turn = 0; turn < 5; turn++) await new Promise((r) => setImmediate(r));
  const client = newClient();
  const before = liveHeapMb();
  if (values.snapshot) writeHeapSnapshot(join(values.snapshot, 'before.heapsnapshot'));
  const source = await watchAll(client);
  const held = liveHeapMb();
  const perWatch = ((held - before) * 2 ** 20) / services;
  process.stdout.write(
    `${services} services watched over HTTP/2: live heap ${before.toFixed(1)} → ${held.toFixed(1)} MB, ${(perWatch / 1024).toFixed(2)} KB per service` +
      ` (${cpus().length} × ${cpus()[0]?.model}, node ${process.version}, load ${loadavg()[0]!.toFixed(1)})\n`,
  );
  if (values.snapshot) process.stdout.write(`heap snapshots: ${writeHeapSnapshot(join(values.snapshot, 'held.heapsnapshot'))} and before.heapsnapshot\n`);
  source.stop();
  client.close();
} finally {
  await agent.stop();
}
