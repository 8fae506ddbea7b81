// Public surface of the pure routing model.
export { buildModel, defaultHost, clusterDomain, backendName } from './build.js';
export { parseDomainValue, validateFqdn, isUnderDomain } from './fqdn.js';
export type { FqdnResult } from './fqdn.js';
export { BALANCE_ALGORITHMS, parseRouterTag } from './tags.js';
export type * from './types.js';
