// A catalog source started for one test, its snapshots and statuses kept, stopped at teardown; and
// the catalog writes the tests make to the agent's plain HTTP API.
import { request } from 'node:http';
import { createLogger } from '../../src/log.js';
import { ConsulCatalogSource, type CatalogReads, type WatchTiming } from '../../src/sources/consul/catalog-source.js';
import type { SourceStatus } from '../../src/sources/source.js';
import type { CatalogSnapshot } from '../../src/sources/types.js';

export function startCatalogSource(t: { teardown(fn: () => unknown): void }, reads: CatalogReads, timing: WatchTiming) {
  const source = new ConsulCatalogSource(reads, timing, createLogger('silent'));
  const snapshots: CatalogSnapshot[] = [];
  const statuses: SourceStatus[] = [];
  source.start({ snapshot: (s) => snapshots.push(s), status: (s) => statuses.push(s) });
  t.teardown(() => source.stop());
  const latest = () => snapshots.at(-1)?.services;
  /** A service's instances as `<id>` or `<id> (failing)`, sorted. */
  const instancesOf = (name: string) =>
    latest()
      ?.[name]?.map((i) => `${i.id}${i.passing ? '' : ' (failing)'}`)
      .sort();
  return { source, snapshots, statuses, latest, instancesOf };
}

/** One request on a connection of its own, closed afterwards (no idle socket counts against the agent's limit). */
export function send(url: string, method: string, path: string, body?: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A Marathon task's registration as mesos-consul makes it: one instance on node-<n % 3> with one check. */
const instance = (service: string, n: number, status = 'passing', tags: string[] = []) => ({
  Node: `node-${n % 3}`,
  Address: '127.0.0.1',
  Service: { ID: `mesos-consul:${service}:${n}`, Service: service, Port: 31000 + n, Tags: tags },
  Check: { CheckID: `service:${service}:${n}`, ServiceID: `mesos-consul:${service}:${n}`, Name: 'task', Status: status },
});
export const register = (url: string, service: string, n: number, status?: string, tags?: string[]) =>
  send(url, 'PUT', '/v1/catalog/register', instance(service, n, status, tags));
export const deregister = (url: string, service: string, n: number) =>
  send(url, 'PUT', '/v1/catalog/deregister', { Node: `node-${n % 3}`, ServiceID: `mesos-consul:${service}:${n}` });

/** `services` services svc0.. with `instances` passing instances each. */
export async function fill(url: string, services: number, instances = 2): Promise<void> {
  for (let s = 0; s < services; s++) for (let i = 0; i < instances; i++) await register(url, `svc${s}`, i);
}
