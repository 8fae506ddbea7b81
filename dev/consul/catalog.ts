// Nodes, services and checks, as PUT /v1/catalog/register and /v1/catalog/deregister manage
// them (Consul docs: api-docs/catalog, api-docs/health; state store: catalog.go).
//
// Index bookkeeping:
// - `servicesIndex` is the services table index: the last write that added, changed or
//   removed a service. /v1/catalog/services reports it; check flaps do not move it.
// - `serviceIndex[name]` is the last write that touched an instance of `name`, one of its
//   checks, its node, or a node-level check (serfHealth) of its node. /v1/health/service
//   reports it. It is kept after the last instance goes, so a watcher sees the removal.
// - A write that changes nothing (same record again) moves neither, like Consul's IsSame().
import { createHash } from 'node:crypto';
import { rpcError, type Deregistration, type ParsedCheck, type ParsedService, type Registration } from './registration.js';

interface Indexed {
  CreateIndex: number;
  ModifyIndex: number;
}

export interface CatalogNode extends Indexed {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
}

export interface CatalogService extends ParsedService, Indexed {
  Namespace: string;
}

interface StoredCheck extends ParsedCheck, Indexed {
  Node: string;
}

/** A check as /v1/health/service shows it: with its service's name and tags. */
export interface HealthCheck extends StoredCheck {
  ServiceName: string;
  ServiceTags: string[];
  Namespace: string;
}

export interface HealthEntry {
  Node: CatalogNode;
  Service: CatalogService;
  Checks: HealthCheck[];
}

export interface ServiceSummary {
  Name: string;
  Tags: string[];
  Nodes: string[];
  InstanceCount: number;
  ChecksPassing: number;
  ChecksWarning: number;
  ChecksCritical: number;
}

const NAMESPACE = 'default';

/** Stable node UUID derived from the name, so restarts and golden files agree. */
function nodeUuid(node: string): string {
  const h = createHash('sha256').update(node).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const sameRecord = (a: Indexed, b: Indexed): boolean =>
  JSON.stringify({ ...a, CreateIndex: 0, ModifyIndex: 0 }) === JSON.stringify({ ...b, CreateIndex: 0, ModifyIndex: 0 });

/** What one write changed: any data, the service set, and whose health results. */
class Change {
  data = false;
  services = false;
  checks = false;
  readonly names = new Set<string>();

  touch(names: Iterable<string>): void {
    this.data = true;
    for (const n of names) this.names.add(n);
  }

  touchServices(names: Iterable<string>): void {
    this.services = true;
    this.touch(names);
  }
}

export class Catalog {
  private readonly nodes = new Map<string, CatalogNode>();
  private readonly services = new Map<string, Map<string, CatalogService>>(); // node -> service ID ->
  private readonly checks = new Map<string, Map<string, StoredCheck>>(); // node -> check ID ->
  private servicesIndex = 0;
  /** The checks table index: the last write that added, changed or removed a check. */
  private checksIndex = 0;
  private readonly serviceIndex = new Map<string, number>();

  constructor(private readonly datacenter: string) {}

  /** PUT /v1/catalog/register. Checks everything against the state before changing anything. */
  register(reg: Registration, index: number): boolean {
    const { Node: node, Service: service, Checks: checks } = reg;
    this.checkDatacenter(reg.Datacenter);
    const existingNode = this.nodes.get(node);
    if (reg.SkipNodeUpdate && !existingNode) throw rpcError('Missing node registration');
    for (const check of checks) {
      if (check.ServiceID && check.ServiceID !== service?.ID && !this.services.get(node)?.has(check.ServiceID)) {
        throw rpcError('Missing service registration');
      }
    }

    const change = new Change();
    if (!reg.SkipNodeUpdate) {
      const record: CatalogNode = {
        ID: reg.ID || existingNode?.ID || nodeUuid(node),
        Node: node,
        Address: reg.Address,
        Datacenter: this.datacenter,
        TaggedAddresses: reg.TaggedAddresses,
        Meta: reg.NodeMeta,
        CreateIndex: existingNode?.CreateIndex ?? index,
        ModifyIndex: index,
      };
      if (!existingNode || !sameRecord(existingNode, record)) {
        this.nodes.set(node, record);
        change.touch(this.serviceNamesOn(node));
      }
    }
    if (service) {
      const byId = this.mapFor(this.services, node);
      const existing = byId.get(service.ID);
      const record: CatalogService = {
        ...service,
        Namespace: NAMESPACE,
        CreateIndex: existing?.CreateIndex ?? index,
        ModifyIndex: index,
      };
      if (!existing || !sameRecord(existing, record)) {
        byId.set(service.ID, record);
        change.touchServices([record.Service, ...(existing ? [existing.Service] : [])]);
      }
    }
    for (const check of checks) {
      const byId = this.mapFor(this.checks, node);
      const existing = byId.get(check.CheckID);
      const record: StoredCheck = {
        Node: node,
        ...check,
        CreateIndex: existing?.CreateIndex ?? index,
        ModifyIndex: index,
      };
      if (!existing || !sameRecord(existing, record)) {
        byId.set(check.CheckID, record);
        change.checks = true;
        change.touch(this.namesAffectedBy(node, record));
        if (existing) change.touch(this.namesAffectedBy(node, existing));
      }
    }
    return this.apply(change, index);
  }

  /** PUT /v1/catalog/deregister: a service, else a check, else the whole node. */
  deregister(req: Deregistration, index: number): boolean {
    const { Node: node, ServiceID: serviceId, CheckID: checkId } = req;
    this.checkDatacenter(req.Datacenter);
    const change = new Change();
    if (serviceId) {
      const service = this.services.get(node)?.get(serviceId);
      if (service) {
        this.services.get(node)?.delete(serviceId);
        const checks = this.checks.get(node);
        for (const [id, check] of checks ?? []) {
          if (check.ServiceID !== serviceId) continue;
          checks?.delete(id);
          change.checks = true;
        }
        change.touchServices([service.Service]);
      }
    } else if (checkId) {
      const check = this.checks.get(node)?.get(checkId);
      if (check) {
        change.touch(this.namesAffectedBy(node, check));
        change.checks = true;
        this.checks.get(node)?.delete(checkId);
      }
    } else if (this.nodes.has(node)) {
      const names = this.serviceNamesOn(node);
      if (names.length > 0) change.touchServices(names);
      else change.touch([]);
      if ((this.checks.get(node)?.size ?? 0) > 0) change.checks = true;
      this.nodes.delete(node);
      this.services.delete(node);
      this.checks.delete(node);
    }
    return this.apply(change, index);
  }

  /** GET /v1/catalog/services: every service name with the union of its instances' tags. */
  listServices(): { index: number; body: Record<string, string[]> } {
    const tags = new Map<string, Set<string>>();
    for (const byId of this.services.values()) {
      for (const s of byId.values()) {
        const set = tags.get(s.Service) ?? new Set<string>();
        s.Tags.forEach((t) => set.add(t));
        tags.set(s.Service, set);
      }
    }
    const body: Record<string, string[]> = {};
    for (const name of [...tags.keys()].sort()) body[name] = [...(tags.get(name) ?? [])].sort();
    return { index: this.servicesIndex, body };
  }

  /** GET /v1/health/service/<name>, optionally only instances whose checks all pass. */
  /** The index `listServices` reports, without building its body. */
  servicesTableIndex(): number {
    return this.servicesIndex;
  }

  /** The index `healthService(name)` reports, without building its body. */
  healthIndex(name: string): number {
    return this.serviceIndex.get(name) ?? this.servicesIndex;
  }

  healthService(name: string, filter: { passing: boolean; tags: string[] }): { index: number; body: HealthEntry[] } {
    const body: HealthEntry[] = [];
    for (const nodeName of [...this.services.keys()].sort()) {
      const node = this.nodes.get(nodeName);
      const byId = this.services.get(nodeName);
      if (!node || !byId) continue;
      // Filter before sorting: with 10 000 services a node holds thousands of entries.
      const matching = [...byId.entries()]
        .filter(([, s]) => s.Service === name && filter.tags.every((t) => s.Tags.includes(t)))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [id, service] of matching) {
        // Node-level checks (serfHealth, maintenance) first, then the service's own,
        // as Consul's parseCheckServiceNodes collects them.
        const stored = [...(this.checks.get(nodeName)?.values() ?? [])]
          .filter((c) => c.ServiceID === '' || c.ServiceID === id)
          .sort((a, b) => a.CheckID.localeCompare(b.CheckID));
        const checks = [...stored.filter((c) => c.ServiceID === ''), ...stored.filter((c) => c.ServiceID === id)];
        if (filter.passing && !checks.every((c) => c.Status === 'passing')) continue;
        body.push({
          Node: { ...node, TaggedAddresses: { ...node.TaggedAddresses }, Meta: { ...node.Meta } },
          Service: structuredClone(service),
          Checks: checks.map((c) => this.healthCheck(c, nodeName)),
        });
      }
    }
    return { index: this.serviceIndex.get(name) ?? this.servicesIndex, body };
  }

  /** GET /v1/health/state/<state>: every check in that state (`any`: all), reporting the checks table index. */
  checksInState(state: string): { index: number; body: HealthCheck[] } {
    const body: HealthCheck[] = [];
    for (const nodeName of [...this.checks.keys()].sort()) {
      for (const c of this.checks.get(nodeName)!.values()) if (state === 'any' || c.Status === state) body.push(this.healthCheck(c, nodeName));
    }
    return { index: this.checksIndex, body };
  }

  /** The index `checksInState` reports, without building its body. */
  checksTableIndex(): number {
    return this.checksIndex;
  }

  /**
   * GET /v1/internal/ui/services: one summary per service (Consul 1.8's ServiceSummary fields the
   * router reads), counting every check of each instance, node checks included. Reports the services
   * table index, as the real agent does (check flaps do not move it).
   */
  serviceSummaries(): { index: number; body: ServiceSummary[] } {
    const byName = new Map<string, ServiceSummary>();
    for (const [nodeName, byId] of this.services) {
      const checks = [...(this.checks.get(nodeName)?.values() ?? [])];
      for (const [id, s] of byId) {
        let sum = byName.get(s.Service);
        if (!sum)
          byName.set(s.Service, (sum = { Name: s.Service, Tags: [], Nodes: [], InstanceCount: 0, ChecksPassing: 0, ChecksWarning: 0, ChecksCritical: 0 }));
        sum.InstanceCount += 1;
        if (!sum.Nodes.includes(nodeName)) sum.Nodes.push(nodeName);
        for (const t of s.Tags) if (!sum.Tags.includes(t)) sum.Tags.push(t);
        for (const c of checks) {
          if (c.ServiceID !== '' && c.ServiceID !== id) continue;
          if (c.Status === 'passing') sum.ChecksPassing += 1;
          else if (c.Status === 'warning') sum.ChecksWarning += 1;
          else sum.ChecksCritical += 1;
        }
      }
    }
    const body = [...byName.values()].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    return { index: this.servicesIndex, body };
  }

  /** Snapshot restore: no stored index may stay above the restored raft index. */
  lowerIndexes(to: number): void {
    const lower = (r: Indexed): void => {
      r.CreateIndex = Math.min(r.CreateIndex, to);
      r.ModifyIndex = Math.min(r.ModifyIndex, to);
    };
    this.nodes.forEach(lower);
    this.services.forEach((m) => m.forEach(lower));
    this.checks.forEach((m) => m.forEach(lower));
    this.servicesIndex = Math.min(this.servicesIndex, to);
    this.checksIndex = Math.min(this.checksIndex, to);
    for (const [name, idx] of this.serviceIndex) this.serviceIndex.set(name, Math.min(idx, to));
  }

  private healthCheck(c: StoredCheck, node: string): HealthCheck {
    const service = c.ServiceID ? this.services.get(node)?.get(c.ServiceID) : undefined;
    return {
      Node: c.Node,
      CheckID: c.CheckID,
      Name: c.Name,
      Status: c.Status,
      Notes: c.Notes,
      Output: c.Output,
      ServiceID: c.ServiceID,
      ServiceName: service?.Service ?? '',
      ServiceTags: [...(service?.Tags ?? [])],
      Namespace: NAMESPACE,
      CreateIndex: c.CreateIndex,
      ModifyIndex: c.ModifyIndex,
    };
  }

  /** Moves the indexes a write touched; true when any data changed. */
  private apply(change: Change, index: number): boolean {
    for (const name of change.names) this.serviceIndex.set(name, index);
    if (change.services) this.servicesIndex = index;
    if (change.checks) this.checksIndex = index;
    return change.data;
  }

  private checkDatacenter(dc: string | undefined): void {
    if (dc && dc !== this.datacenter) throw rpcError('No path to datacenter');
  }

  private serviceNamesOn(node: string): string[] {
    return [...(this.services.get(node)?.values() ?? [])].map((s) => s.Service);
  }

  /** Service names whose health a check changes: its own service, or all on the node. */
  private namesAffectedBy(node: string, check: StoredCheck): string[] {
    if (!check.ServiceID) return this.serviceNamesOn(node);
    const service = this.services.get(node)?.get(check.ServiceID);
    return service ? [service.Service] : [];
  }

  private mapFor<T>(maps: Map<string, Map<string, T>>, node: string): Map<string, T> {
    let m = maps.get(node);
    if (!m) maps.set(node, (m = new Map()));
    return m;
  }
}
