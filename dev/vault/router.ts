// Seeds a dev Vault the way an operator prepares a real one for paas-router (README "Vault"):
// the read-only policy, an AppRole bound to it, and the secrets under the KV v2 prefix.
import type { DevVault } from './server.js';
import type { CertificatePair } from './pki.js';

export const ROUTER_POLICY = 'paas-router';

export interface RouterSecrets {
  consulToken?: string;
  stats?: { user: string; password: string };
  /** FQDN (or `default`) → certificate and key. */
  certificates?: Record<string, CertificatePair>;
}

/** `secret/data/paas-router/` → mount `secret`, path `paas-router/`. */
export function splitKvPrefix(kvPrefix: string): { mount: string; path: string } {
  const at = kvPrefix.indexOf('/data/');
  if (at <= 0) throw new Error(`kv prefix ${kvPrefix} is not <mount>/data/<path>/`);
  return { mount: kvPrefix.slice(0, at), path: kvPrefix.slice(at + '/data/'.length) };
}

/** The policy paas-router needs: read its secrets, list its certificates and router.auth entries. Nothing else. */
export function routerPolicy(kvPrefix = 'secret/data/paas-router/'): { path: string; capabilities: ('read' | 'list')[] }[] {
  const { mount, path } = splitKvPrefix(kvPrefix);
  return [
    { path: `${mount}/data/${path}*`, capabilities: ['read'] },
    { path: `${mount}/metadata/${path}tls`, capabilities: ['list'] },
    { path: `${mount}/metadata/${path}tls/*`, capabilities: ['list'] },
    { path: `${mount}/metadata/${path}auth`, capabilities: ['list'] },
    { path: `${mount}/metadata/${path}auth/*`, capabilities: ['list'] },
  ];
}

export const ACME_POLICY = 'paas-router-acme';

/** What the ACME issuer adds (docs/acme.md): write certificates under tls/, the account key under acme/. */
export function acmeIssuerPolicy(kvPrefix = 'secret/data/paas-router/'): { path: string; capabilities: ('create' | 'read' | 'update')[] }[] {
  const { mount, path } = splitKvPrefix(kvPrefix);
  return [
    { path: `${mount}/data/${path}tls/*`, capabilities: ['create', 'read', 'update'] },
    { path: `${mount}/data/${path}acme/*`, capabilities: ['create', 'read', 'update'] },
  ];
}

export function writeRouterSecrets(vault: DevVault, secrets: RouterSecrets, kvPrefix = 'secret/data/paas-router/'): void {
  const { mount, path } = splitKvPrefix(kvPrefix);
  if (secrets.consulToken !== undefined) vault.kvPut(mount, `${path}consul`, { token: secrets.consulToken });
  if (secrets.stats) vault.kvPut(mount, `${path}haproxy`, { stats_user: secrets.stats.user, stats_password: secrets.stats.password });
  for (const [name, pair] of Object.entries(secrets.certificates ?? {})) {
    putCertificate(vault, name, pair, kvPrefix);
  }
}

export function putCertificate(vault: DevVault, name: string, pair: CertificatePair, kvPrefix = 'secret/data/paas-router/'): void {
  const { mount, path } = splitKvPrefix(kvPrefix);
  vault.kvPut(mount, `${path}tls/${name}`, { certificate: pair.certificate, private_key: pair.privateKey });
}

/** `auth/<app or group>` → `{ users }` (router.auth): `user:<crypt hash>` lines. */
export function putAuthUsers(vault: DevVault, name: string, users: string, kvPrefix = 'secret/data/paas-router/'): void {
  const { mount, path } = splitKvPrefix(kvPrefix);
  vault.kvPut(mount, `${path}auth/${name}`, { users });
}

export function removeAuthUsers(vault: DevVault, name: string, kvPrefix = 'secret/data/paas-router/'): void {
  const { mount, path } = splitKvPrefix(kvPrefix);
  vault.kvDestroy(mount, `${path}auth/${name}`);
}

export function removeCertificate(vault: DevVault, name: string, kvPrefix = 'secret/data/paas-router/'): void {
  const { mount, path } = splitKvPrefix(kvPrefix);
  vault.kvDestroy(mount, `${path}tls/${name}`);
}

/** Installs the router policy and an AppRole for it; returns the role id and a secret id. */
export function routerAppRole(
  vault: DevVault,
  opts: { tokenTtl?: number; tokenMaxTtl?: number; kvPrefix?: string; acme?: boolean } = {},
): { roleId: string; secretId: string } {
  vault.addPolicy(ROUTER_POLICY, routerPolicy(opts.kvPrefix));
  if (opts.acme) vault.addPolicy(ACME_POLICY, acmeIssuerPolicy(opts.kvPrefix));
  const tokenPolicies = opts.acme ? [ROUTER_POLICY, ACME_POLICY] : [ROUTER_POLICY];
  return vault.addAppRole('paas-router', { tokenTtl: opts.tokenTtl, tokenMaxTtl: opts.tokenMaxTtl, tokenPolicies });
}
