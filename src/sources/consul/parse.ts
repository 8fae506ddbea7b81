// Turns raw Consul JSON into source snapshots. A body of the wrong shape is an error for the whole
// read (ConsulResponseError), so a garbled answer can never look like "no services".
import { ConsulResponseError } from '../../errors.js';
import type { DomainClaim, ServiceInstance } from '../types.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * GET /v1/catalog/services: `{ "<name>": ["tag", ...] }`, each service's tags sorted. Given the last
 * answer parsed, a service whose tags are the same (in any order) keeps its array, and an answer
 * that changes nothing is `previous` itself (the watch's comparison is then one identity check): the
 * catalog's index moves on every registration anywhere, so at 10 000 services this list is read again
 * on each, and a new record with every service's tags copied and sorted, compared with the last, cost
 * more than JSON.parse itself (bench/catalog-parse.ts).
 */
export function parseCatalogServices(body: unknown, previous?: Readonly<Record<string, readonly string[]>>): Readonly<Record<string, readonly string[]>> {
  if (!isObj(body)) throw new ConsulResponseError('catalog services: expected a JSON object of service name → tags');
  const names = Object.keys(body);
  // A first pass only reads: building a 10 000-key record is the dearest step, and most answers change nothing.
  let unchanged = previous !== undefined;
  for (const name of names) {
    const tags = body[name];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      throw new ConsulResponseError(`catalog services: tags of service "${name}" are not a list of strings`);
    }
    if (unchanged) {
      const before = Object.hasOwn(previous!, name) ? previous![name] : undefined;
      unchanged = before !== undefined && sameTagSet(tags as string[], before);
    }
  }
  if (unchanged && names.length === Object.keys(previous!).length) return previous!;
  // No prototype: a service named `__proto__` is an entry like any other (own-record.ts), and a
  // plain assignment is several times cheaper than defining 10 000 properties one by one.
  const out: Record<string, readonly string[]> = Object.create(null);
  for (const name of names) {
    const tags = body[name] as string[];
    const before = previous && Object.hasOwn(previous, name) ? previous[name] : undefined;
    out[name] = before && sameTagSet(tags, before) ? before : sortedTags(tags);
  }
  return out;
}

// Consul gathers a service's tags from all its instances through a Go map: their order changes
// from one answer to the next. Sorted, an answer differs only when something did.
function sortedTags(tags: readonly string[]): readonly string[] {
  return [...tags].sort();
}

/** Whether `tags` (as Consul sent them) hold what `sorted` holds; a copy is sorted only when their order differs. */
function sameTagSet(tags: readonly string[], sorted: readonly string[]): boolean {
  if (tags.length !== sorted.length) return false;
  if (tags.every((t, i) => t === sorted[i])) return true;
  return sortedTags(tags).every((t, i) => t === sorted[i]);
}

/** Whether two parsed catalogs list the same services with the same tags (BlockingWatch `same`). */
export function sameCatalog(a: Readonly<Record<string, readonly string[]>>, b: Readonly<Record<string, readonly string[]>>): boolean {
  if (a === b) return true;
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  for (const name of names) {
    const x = a[name]!;
    const y = Object.hasOwn(b, name) ? b[name] : undefined;
    if (!y || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

/** GET /v1/health/service/<name>: one entry per instance with its node and checks. */
export function parseHealthService(name: string, body: unknown): ServiceInstance[] {
  if (!Array.isArray(body)) throw new ConsulResponseError(`health of service "${name}": expected a JSON array`);
  const instances: ServiceInstance[] = [];
  for (const [i, entry] of body.entries()) {
    if (!isObj(entry) || !isObj(entry.Service) || !isObj(entry.Node)) {
      throw new ConsulResponseError(`health of service "${name}": entry ${i} lacks Service or Node`);
    }
    // Consul matches the name case-insensitively: `appa`'s read also returns `Appa`'s instances.
    // Names are exact here; the model rejects a case variant of a name another service holds.
    if (typeof entry.Service.Service === 'string' && entry.Service.Service !== name) continue;
    const service = entry.Service;
    const node = entry.Node;
    const checks = Array.isArray(entry.Checks) ? entry.Checks.filter(isObj) : [];
    const tags = Array.isArray(service.Tags) ? service.Tags.filter((t): t is string => typeof t === 'string') : [];
    const instance: ServiceInstance = {
      id: str(service.ID),
      node: str(node.Node),
      // The docs: an empty Service.Address means "use the node's address".
      address: str(service.Address) || str(node.Address),
      port: typeof service.Port === 'number' ? service.Port : Number.NaN,
      tags,
      // Same rule as `?passing`: every check, node checks like serfHealth included, must pass.
      passing: checks.every((c) => c.Status === 'passing'),
      checks: checks.map((c) => ({ id: str(c.CheckID), status: str(c.Status) })),
    };
    if (typeof service.CreateIndex === 'number') instance.createIndex = service.CreateIndex;
    instances.push(instance);
  }
  return instances;
}

/** GET /v1/kv/<prefix>?recurse (values already base64-decoded by the client). */
export function parseKvEntries(prefix: string, body: unknown, previous?: ReadonlyMap<string, DomainClaim>): DomainClaim[] {
  if (!Array.isArray(body)) throw new ConsulResponseError(`K/V prefix "${prefix}": expected a JSON array`);
  return body.map((entry, i) => {
    if (!isObj(entry) || typeof entry.Key !== 'string') {
      throw new ConsulResponseError(`K/V prefix "${prefix}": entry ${i} has no Key`);
    }
    const createIndex = typeof entry.CreateIndex === 'number' ? entry.CreateIndex : 0;
    const modifyIndex = typeof entry.ModifyIndex === 'number' ? entry.ModifyIndex : 0;
    // Every write moves a key's ModifyIndex: an entry read before at the same indexes is the same
    // entry, and keeps its object (a write under a prefix of 10 000 keys decodes one value).
    const kept = previous?.get(entry.Key);
    if (kept && kept.createIndex === createIndex && kept.modifyIndex === modifyIndex && modifyIndex !== 0) return kept;
    const value = entry.Value;
    return { key: entry.Key, value: typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '', createIndex, modifyIndex };
  });
}

/** One entry of /v1/health/state/<state>. */
export interface StateCheck {
  node: string;
  checkId: string;
  status: string;
  /** Empty for a node check (serfHealth): it counts for every service on the node. */
  service: string;
}

/** GET /v1/health/state/<state>: the checks currently in that state. */
export function parseStateChecks(what: string, body: unknown): StateCheck[] {
  if (!Array.isArray(body)) throw new ConsulResponseError(`${what}: expected a JSON array`);
  return body.map((entry, i) => {
    if (!isObj(entry) || typeof entry.Node !== 'string' || typeof entry.CheckID !== 'string') {
      throw new ConsulResponseError(`${what}: entry ${i} lacks Node or CheckID`);
    }
    return { node: entry.Node, checkId: entry.CheckID, status: str(entry.Status), service: str(entry.ServiceName) };
  });
}

/** What a service summary says: enough to tell that a service's instances or checks changed. */
export type ServiceSummary = string;

/** The summary of instances read from /v1/health/service/<name>, comparable with parseServiceSummaries'. */
export function summarize(instances: ServiceInstance[]): ServiceSummary {
  let passing = 0;
  let warning = 0;
  let critical = 0;
  for (const i of instances) {
    for (const c of i.checks) {
      if (c.status === 'passing') passing++;
      else if (c.status === 'warning') warning++;
      else critical++;
    }
  }
  return `${instances.length}/${passing}/${warning}/${critical}`;
}

/** GET /v1/internal/ui/services: name → summary (instance count and checks by status). */
export function parseServiceSummaries(body: unknown): Map<string, ServiceSummary> {
  if (!Array.isArray(body)) throw new ConsulResponseError('service summaries: expected a JSON array');
  const out = new Map<string, ServiceSummary>();
  for (const [i, entry] of body.entries()) {
    if (!isObj(entry) || typeof entry.Name !== 'string' || typeof entry.InstanceCount !== 'number') {
      throw new ConsulResponseError(`service summaries: entry ${i} lacks Name or InstanceCount`);
    }
    const n = (v: unknown) => (typeof v === 'number' ? v : 0);
    out.set(entry.Name, `${entry.InstanceCount}/${n(entry.ChecksPassing)}/${n(entry.ChecksWarning)}/${n(entry.ChecksCritical)}`);
  }
  return out;
}
