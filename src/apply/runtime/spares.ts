// Brand-new apps served from spare backends (docs/incremental.md, "Spare backends"). The files
// and the plans always name an app's own backend (`app_<name>`); HAProxy serves an app from the
// spare it took until the next reload loads its own backend. These helpers rename what goes to
// the runtime API and what its state is checked against: the model stays pure, the assignment
// is part of the applier's Deployment (it knows when a reload has consolidated them).
import { BACKEND_PREFIX } from '../../model/backend.js';
import { MAINTENANCE_MAP_FILE, SPARE_PREFIX } from '../../render/views.js';
import type { DesiredState } from './execute.js';
import type { RuntimeOp } from './plan.js';
import { renamedValues } from './map-view.js';

/** A brand-new app served from a spare backend until the next reload (ops name its own backend). */
export interface SpareClaim {
  app: string;
  /** The app's own backend (`app_<name>`): what the files and the plan's ops say. */
  backend: string;
  /** The spare (`spare_<n>`) HAProxy serves it from until the next reload. */
  spare: string;
}

/** An app HAProxy serves from a spare backend, and since when (ms since epoch). */
export interface AppOnSpare extends SpareClaim {
  since: number;
}

/**
 * The spare backends in use, by the app backend they stand for. Never changed once made: taking
 * spares makes a new set (a Deployment holds one, and a record is never changed).
 */
export class SpareAssignments {
  /** No app on a spare: what HAProxy holds after loading the files. */
  static readonly NONE = new SpareAssignments(new Map());
  private readonly spares: ReadonlySet<string>;

  private constructor(private readonly byBackend: ReadonlyMap<string, AppOnSpare>) {
    this.spares = new Set([...byBackend.values()].map((a) => a.spare));
  }

  get size(): number {
    return this.byBackend.size;
  }

  /** Spare backend names HAProxy serves an app from now. */
  get inUse(): ReadonlySet<string> {
    return this.spares;
  }

  /** Sorted by app. */
  list(): AppOnSpare[] {
    return [...this.byBackend.values()].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
  }

  /** App backend → spare, with `claims` (not made yet) added. */
  names(claims: readonly SpareClaim[] = []): Map<string, string> {
    const names = new Map<string, string>();
    for (const [backend, a] of this.byBackend) names.set(backend, a.spare);
    for (const c of claims) names.set(c.backend, c.spare);
    return names;
  }

  /** Whether `claims` can be made: every spare free, every app not on one already. */
  canTake(claims: readonly SpareClaim[]): boolean {
    return claims.every((c) => !this.spares.has(c.spare) && !this.byBackend.has(c.backend));
  }

  /** These assignments with `claims` made at `now`. */
  with(claims: readonly SpareClaim[], now: number): SpareAssignments {
    if (claims.length === 0) return this;
    const byBackend = new Map(this.byBackend);
    for (const c of claims) byBackend.set(c.backend, { ...c, since: now });
    return new SpareAssignments(byBackend);
  }
}

/** The ops with every app backend on a spare renamed to the spare (server ops, map values, maintenance keys). */
export function onSpares(ops: RuntimeOp[], names: ReadonlyMap<string, string>): RuntimeOp[] {
  if (names.size === 0) return ops;
  const rename = (backend: string) => names.get(backend) ?? backend;
  return ops.map((op): RuntimeOp => {
    switch (op.op) {
      case 'map-add':
      case 'map-set':
        if (op.map === undefined) return { ...op, value: rename(op.value) };
        return op.map === MAINTENANCE_MAP_FILE ? { ...op, key: rename(op.key) } : op;
      case 'map-del':
        return op.map === MAINTENANCE_MAP_FILE ? { ...op, key: rename(op.key) } : op;
      default:
        return { ...op, backend: rename(op.backend) };
    }
  });
}

/** What HAProxy must hold, with the same renaming. */
export function desiredOnSpares(desired: DesiredState, names: ReadonlyMap<string, string>): DesiredState {
  if (names.size === 0) return desired;
  const rename = (backend: string) => names.get(backend) ?? backend;
  const servers = new Map([...desired.servers].map(([backend, lines]) => [rename(backend), lines]));
  const hosts = renamedValues(desired.hosts, rename);
  const maps =
    desired.maps &&
    new Map(
      [...desired.maps].map(([file, entries]) => [file, file === MAINTENANCE_MAP_FILE ? new Map([...entries].map(([k, v]) => [rename(k), v])) : entries]),
    );
  return { servers, hosts, ...(maps ? { maps } : {}) };
}

/** What HAProxy reports at runtime about the spares: its hosts map, and how many servers each spare has. */
export interface RuntimeSpares {
  hosts: ReadonlyMap<string, string>;
  servers: ReadonlyMap<string, number>;
}

/** The spare backends of a configuration (`spare_1` ...), from its proxies. */
export function spareNames(proxies: Iterable<string>): string[] {
  return [...proxies].filter((name) => name.startsWith(SPARE_PREFIX));
}

/**
 * Which spares hold which app, from HAProxy's runtime state and the files it was started on (a
 * daemon restart: the files name each app's own backend, HAProxy's map points its hosts at the
 * spare). `reason` when the two do not tell one story: no spare is taken until a reload then.
 */
export function sparesFromRuntime(fileHosts: ReadonlyMap<string, string>, runtime: RuntimeSpares): { claims: SpareClaim[] } | { reason: string } {
  const bySpare = new Map<string, string>();
  for (const [host, served] of runtime.hosts) {
    if (!runtime.servers.has(served)) continue;
    const backend = fileHosts.get(host);
    if (backend === undefined || !backend.startsWith(BACKEND_PREFIX))
      return { reason: `HAProxy maps ${host} to spare backend ${served}, which hosts.map does not route to an app` };
    const other = bySpare.get(served);
    if (other !== undefined && other !== backend) return { reason: `HAProxy serves both ${other} and ${backend} from spare backend ${served}` };
    bySpare.set(served, backend);
  }
  const claims: SpareClaim[] = [];
  for (const [spare, count] of runtime.servers) {
    const backend = bySpare.get(spare);
    if (backend === undefined) {
      if (count > 0) return { reason: `spare backend ${spare} has servers but no host points at it` };
      continue;
    }
    if (claims.some((c) => c.backend === backend)) return { reason: `HAProxy serves ${backend} from more than one spare backend` };
    claims.push({ app: backend.slice(BACKEND_PREFIX.length), backend, spare });
  }
  return { claims };
}
