// One non-blocking read of everything the model needs (for `render`, `check`, `explain`): the same
// reads the daemon makes, through the client's one queue of non-blocking reads.
import { neverRouted } from '../../model/services.js';
import type { CatalogSnapshot, DomainsSnapshot, ServiceInstance } from '../types.js';
import type { ConsulClient } from './client.js';
import { parseCatalogServices, parseHealthService, parseKvEntries } from './parse.js';
import { setOwn } from '../../util/own-record.js';

export async function readCatalogOnce(client: ConsulClient): Promise<CatalogSnapshot> {
  const catalog = parseCatalogServices((await client.catalogServices(0, 0)).data);
  const names = Object.keys(catalog)
    .filter((n) => !neverRouted(n, catalog[n]!))
    .sort();
  const lists = await Promise.all(names.map(async (name) => parseHealthService(name, (await client.healthService(name, 0, 0)).data)));
  const services: Record<string, ServiceInstance[]> = {};
  names.forEach((name, i) => setOwn(services, name, lists[i]!));
  return { services };
}

export async function readDomainsOnce(client: ConsulClient, prefix: string): Promise<DomainsSnapshot> {
  const claims = parseKvEntries(prefix, (await client.kvPrefix(prefix, 0, 0)).data);
  return { claims: claims.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
}
