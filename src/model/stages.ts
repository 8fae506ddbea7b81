// The per-service stage of the model (`serviceStage`: name, servers, tags → the app as if it won
// its name), the ownership inputs read once per change (`readOwnership`), and the default hosts.
import type { AppRoute, ModelInput, ModelSettings, Rejection } from './types.js';
import type { ServiceInstance } from '../sources/types.js';
import { readWeights, type Draft, type GroupWeights } from './groups.js';
import { backendName } from './backend.js';
import { readClaimRecords, DEFAULT_CLAIMS_PREFIX, DEFAULT_PATHS_PREFIX, type ClaimRecord } from './claims.js';
import { parseDelegations, type Delegations } from './delegations.js';
import { buildServers, compareInstances, firstCreateIndex, serviceVerdict, type ServiceVerdict } from './services.js';
import { resolveTags, type AppSettings } from './tags.js';
import { routeFields } from './tag-table.js';

/** Domain every default host lives under: `<cluster>.<baseDomain>` (an empty cluster is left out). */
export function clusterDomain(settings: Pick<ModelSettings, 'cluster' | 'baseDomain'>): string {
  return [settings.cluster, settings.baseDomain]
    .filter((part) => part !== '')
    .join('.')
    .toLowerCase();
}

/** `<name>.<cluster>.<baseDomain>`, lowercase. */
export function defaultHost(name: string, settings: Pick<ModelSettings, 'cluster' | 'baseDomain'>): string {
  return `${name.toLowerCase()}.${clusterDomain(settings)}`;
}

export const DEFAULT_WEIGHTS_PREFIX = 'paas-router/weights/';
export const DEFAULT_MAINTENANCE_PREFIX = 'paas-router/maintenance/';

/** One Consul service on its own. Depends on (name, instances, settings) only: memoized per service. */
export interface ServiceStage {
  verdict: ServiceVerdict;
  /** The app (hosts still empty) if this service wins its lowercase name; absent when not routable. */
  draft?: AppRoute;
  /** Instance and tag rejections: reported only for the service that wins its name. */
  appRejections: Rejection[];
  /** A tcp app's claim on its port. */
  tcp?: { app: string; port: number; createIndex: number };
  /** What the tags decided (router.group included): groups compare their members' settings. */
  tags?: AppSettings;
  /** min(instance.createIndex) of the usable instances. */
  createIndex?: number;
}

export function serviceStage(original: string, instances: ServiceInstance[], settings: ModelSettings): ServiceStage {
  const verdict = serviceVerdict(original, instances, settings, (name) => defaultHost(name, settings));
  const name = verdict.name;
  if (name === undefined) return { verdict, appRejections: [] };
  const sorted = [...instances].sort(compareInstances);
  const { servers, usable, rejections: serverRejections } = buildServers(name, sorted, settings);
  // A skipped instance (unusable address or port) takes no part in the tag vote or in the
  // app's claim on a tcp port: one bad registration cannot flip the app or take another's port.
  const tags = resolveTags(name, usable, settings);
  const appRejections = [...serverRejections, ...tags.rejections];
  if (!tags.routable) return { verdict, appRejections };
  const t = tags.settings;
  const draft: AppRoute = {
    name,
    backend: backendName(name),
    ...routeFields(t),
    ...(t.mode === 'http' ? { defaultHost: defaultHost(name, settings) } : {}),
    hosts: [],
    servers,
  };
  const createIndex = firstCreateIndex(usable);
  // A member of a router.group claims no port of its own: its group does.
  const tcp = draft.mode === 'tcp' && draft.port !== undefined && t.group === undefined ? { app: name, port: draft.port, createIndex } : undefined;
  return { verdict, draft, appRejections, tags: t, createIndex, ...(tcp ? { tcp } : {}) };
}

/** The ownership inputs of a build (K/V records, delegations, weights keys), parsed once per change. */
export interface Ownership {
  records: Map<string, ClaimRecord>;
  delegations: Delegations;
  weights: Map<string, GroupWeights>;
  /** Bad records, delegations and weights keys. */
  rejections: Rejection[];
}

/** `previous`: the last build's ownership (its unchanged records are kept as they are). */
export function readOwnership(input: Pick<ModelInput, 'claimRecords' | 'delegations' | 'weights'>, settings: ModelSettings, previous?: Ownership): Ownership {
  const records = readClaimRecords(input.claimRecords ?? [], settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX, previous?.records);
  const delegations = parseDelegations(input.delegations ?? [], settings.pathsPrefix ?? DEFAULT_PATHS_PREFIX);
  const weights = readWeights(input.weights ?? [], settings.weightsPrefix ?? DEFAULT_WEIGHTS_PREFIX);
  return {
    records: records.records,
    delegations: delegations.delegations,
    weights: weights.byGroup,
    rejections: [...records.rejections, ...delegations.rejections, ...weights.rejections],
  };
}

/** A service's app as a group member: its draft, its tags and when it was registered. */
export function toDraft(stage: ServiceStage): Draft {
  return { app: stage.draft!, tags: stage.tags!, createIndex: stage.createIndex ?? Infinity };
}
