// The Vault part of the dev cluster: a dev Vault prepared as an operator prepares a real one
// (router policy, AppRole with its secret id in a 0600 file, the Consul token, stats credentials,
// a generated default certificate for every default host and one for a custom domain), and the
// `vault:` config section that makes the daemon use it.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { selfSignedCertificate, type CertificatePair } from './pki.js';
import { routerAppRole, writeRouterSecrets } from './router.js';
import { startDevVault, type DevVault } from './server.js';

export interface DevVaultSetupOptions {
  /** Directory for the AppRole secret id file. */
  workDir: string;
  /** `<cluster>.<base_domain>`: the default certificate covers `*.<clusterDomain>`. */
  clusterDomain: string;
  /** Custom FQDNs that get a certificate of their own (default `www.example.org`). */
  customDomains?: string[];
  tokenTtl?: number;
  tokenMaxTtl?: number;
  /** How often the daemon reads Vault again (default 1s in dev). */
  refresh?: string;
  /** The AppRole also gets the ACME issuer's policy (write tls/*, acme/*). */
  acme?: boolean;
}

export interface DevVaultSetup {
  vault: DevVault;
  consulToken: string;
  stats: { user: string; password: string };
  /** `default` and every custom domain → certificate and key. */
  certificates: Record<string, CertificatePair>;
  roleId: string;
  secretIdFile: string;
  /** The `vault:` section for the daemon's config. */
  config: Record<string, unknown>;
}

export async function setUpDevVault(opts: DevVaultSetupOptions): Promise<DevVaultSetup> {
  const vault = await startDevVault();
  const consulToken = randomBytes(16).toString('hex');
  const stats = { user: 'admin', password: randomBytes(12).toString('base64url') };
  const certificates: Record<string, CertificatePair> = {
    default: await selfSignedCertificate({ commonName: `*.${opts.clusterDomain}`, altNames: [`*.${opts.clusterDomain}`] }),
  };
  for (const fqdn of opts.customDomains ?? ['www.example.org']) certificates[fqdn] = await selfSignedCertificate({ commonName: fqdn });
  writeRouterSecrets(vault, { consulToken, stats, certificates });
  const { roleId, secretId } = routerAppRole(vault, { tokenTtl: opts.tokenTtl ?? 3600, tokenMaxTtl: opts.tokenMaxTtl, acme: opts.acme });
  const secretIdFile = join(opts.workDir, 'vault-secret-id');
  await writeFile(secretIdFile, `${secretId}\n`, { mode: 0o600 });
  return {
    vault,
    consulToken,
    stats,
    certificates,
    roleId,
    secretIdFile,
    config: {
      address: vault.url,
      auth: { method: 'approle', role_id: roleId, secret_id_file: secretIdFile },
      refresh: opts.refresh ?? '1s',
      retry_max: '2s',
    },
  };
}
