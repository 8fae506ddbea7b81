// The routing model: pure composition of services → apps, tags → settings, K/V → custom hosts.
//
// Built in stages so that a change costs what changed:
// - per service (`serviceStage`, stages.ts): name, servers, tags → the app as if it won its name;
// - per K/V key (`parseClaim`, domains.ts): the service the key names and the FQDNs of its value;
// - global (`resolveStructure`, structure.ts): names, groups, tcp ports, domain claims, the hosts;
// - assembly (here): the apps with their hosts and features, the rejections.
// A ModelMemo (incremental.ts) reuses every stage whose input did not change; without one,
// buildModel starts from an empty memo: one implementation, from scratch or incremental.
import type { AppRoute, ModelInput, Rejection, RoutingModel } from './types.js';
import type { ServiceInstance } from '../sources/types.js';
import { parseClaim } from './domains.js';
import { applyAuth } from './auth.js';
import { applyMaintenance, checkRedirects } from './features.js';
import { applyCacheBudget, DEFAULT_CACHE_MAX_MB } from './cache-budget.js';
import { groupRoute } from './groups.js';
import { backendName } from './backend.js';
import { DEFAULT_CLAIMS_PREFIX } from './claims.js';
import { ModelMemo } from './incremental.js';
import { finishRejections } from './rejections.js';
import { defaultHost, readOwnership, serviceStage, toDraft, DEFAULT_MAINTENANCE_PREFIX } from './stages.js';
import { resolveStructure } from './structure.js';

export { backendName };
export { clusterDomain, defaultHost } from './stages.js';

/**
 * The routing model of `input`. With a `memo` kept from the previous build, only the stages whose
 * input changed run again; the result is the same as without one (a property test holds it).
 */
export function buildModel(input: ModelInput, memo: ModelMemo = new ModelMemo()): RoutingModel {
  const { settings } = input;
  memo.begin(settings);
  const compute = (original: string, instances: ServiceInstance[]) => serviceStage(original, instances, settings);
  const stages = memo.sortedNames(input.services).map((original) => memo.service(original, input.services[original] ?? [], compute));
  const claims = memo.claims(input.claims, (claim) => parseClaim(claim, settings));
  const own = memo.ownership(input, (previous) => readOwnership(input, settings, previous));
  const structure = memo.structure(stages, claims, own, () => resolveStructure(stages, claims, settings, own, memo.decisions));
  // Group routes are assembled on every build from their members' current servers and the weights
  // (cheap, and only for groups); their structure (members, hosts) comes from the memoized stage.
  const featureRejections: Rejection[] = [];
  const groupOf = (name: string, members: number[], reference: number): AppRoute => {
    const built = groupRoute(
      name,
      members.map((i) => toDraft(stages[i]![1])),
      toDraft(stages[reference]![1]),
      own.weights.get(name),
      defaultHost(name, settings),
    );
    featureRejections.push(...built.rejections);
    return built.route.app;
  };
  const assembled = structure.apps.map(({ name, index, members, reference, hosts }) =>
    members ? memo.app(name, groupOf(name, members, reference!), hosts) : memo.app(name, stages[index]![1].draft!, hosts),
  );
  // Redirect targets, caches, auth users and maintenance pages: each pass replaces the apps it
  // changes by copies (copy on write); the memo's objects stay as they are.
  const apps = [...assembled];
  featureRejections.push(...checkRedirects(apps));
  featureRejections.push(
    ...applyCacheBudget(apps, settings.cacheMaxSize ?? DEFAULT_CACHE_MAX_MB, structure.owners, settings.claimsPrefix ?? DEFAULT_CLAIMS_PREFIX),
  );
  featureRejections.push(...applyAuth(apps, settings.authPrefix, input.auth));
  featureRejections.push(...applyMaintenance(apps, input.maintenance ?? [], settings.maintenancePrefix ?? DEFAULT_MAINTENANCE_PREFIX, structure.memberOf));
  // Only lists with something in them: most services have nothing to report.
  const lists: Rejection[][] = [structure.rejections];
  if (featureRejections.length > 0) lists.push(featureRejections);
  for (const [, stage] of stages) if (stage.verdict.rejections.length > 0) lists.push(stage.verdict.rejections);
  for (const index of structure.winners) {
    const found = stages[index]![1].appRejections;
    if (found.length > 0) lists.push(found);
  }
  return { apps: memo.shared(apps), hosts: structure.hosts, rejections: memo.rejections(lists, finishRejections), owners: structure.owners };
}
