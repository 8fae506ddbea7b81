// What the Vault source hands to the runner: every credential paas-router needs, as one whole
// snapshot (docs/vault-tls.md). Never logged: see REDACT_PATHS in src/log.ts.

export interface CertificateSecret {
  /** PEM: the leaf certificate, optionally followed by its chain. */
  certificate: string;
  /** PEM private key (unencrypted). */
  privateKey: string;
  /** `source` field: "acme" when the ACME issuer wrote it; absent or other = placed by hand (wins). */
  source?: string;
}

export interface SecretsSnapshot {
  /** `consul` → `token`: the Consul ACL token for every Consul request (absent: none in Vault). */
  consulToken?: string;
  /** `haproxy` → `stats_user`, `stats_password` (absent: the stats page is read-only). */
  stats?: { user: string; password: string };
  /** `tls/<fqdn>` and `tls/default` → certificate and key, keyed by `<fqdn>` or `default`. */
  certificates: Record<string, CertificateSecret>;
  /**
   * `auth/<app or group>` → its `users` field (`user:<crypt hash>` lines, router.auth), or null when
   * the entry has no text `users`. Validated by the model (a bad entry makes that app answer 503).
   */
  auth: Record<string, string | null>;
  /**
   * With ACME on: the JWK thumbprint of the account key (`acme/account`) HAProxy answers HTTP-01
   * challenges with; absent until the issuer has created the key. Read with the rest, so the
   * first build already has it (a restart must not render without it, then reload).
   */
  acmeThumbprint?: string;
  /** Secrets that exist but could not be used (wrong fields): path and reason, no values. */
  problems: { path: string; reason: string }[];
}
