// One consistent, non-blocking read of everything the model needs (for `render`, `check`, `explain`).
import type { CatalogSnapshot, DomainsSnapshot, ServiceInstance } from '../types.js';
import type { ConsulClient } from './client.js';
import { parseCatalogServices, parseHealthService, parseKvEntries } from './parse.js';

const CONCURRENCY = 16;

export async function readCatalogOnce(client: ConsulClient): Promise<CatalogSnapshot> {
  const catalog = parseCatalogServices((await client.catalogServices(0, 0)).data);
  const names = Object.keys(catalog)
    .filter((n) => n !== 'consul' && !catalog[n]!.includes('router.skip'))
    .sort();
  const services: Record<string, ServiceInstance[]> = {};
  for (let i = 0; i < names.length; i += CONCURRENCY) {
    const batch = names.slice(i, i + CONCURRENCY);
    const results = await Promise.all(batch.map(async (name) => parseHealthService(name, (await client.healthService(name, 0, 0)).data)));
    batch.forEach((name, j) => (services[name] = results[j]!));
  }
  return { services };
}

export async function readDomainsOnce(client: ConsulClient, prefix: string): Promise<DomainsSnapshot> {
  const claims = parseKvEntries(prefix, (await client.kvPrefix(prefix, 0, 0)).data);
  return { claims: claims.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
}
