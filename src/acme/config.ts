// The `acme:` block of the config file as the ACME issuer reads it (docs/acme.md). ACME needs
// Vault: the account key and the certificates are secrets, and Vault is where every router reads
// its certificates from.
import type { Config } from '../config/config.js';
import { parseDuration } from '../config/duration.js';
import type { FileConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';

export interface AcmeConfig {
  /** ACME directory; '' = ACME off. */
  directoryUrl: string;
  /** Contact address of the ACME account ('' = none). */
  email: string;
  /** CA bundle trusted for the ACME server's own TLS ('' = the system's CAs). */
  cacert: string;
  /** Renew once less than this much validity remains, ms. */
  renewBeforeMs: number;
  /** At most this many orders in any hour, across the cluster. */
  maxOrdersPerHour: number;
  /** Consul K/V prefix of the lock (`<prefix>lock`) and per-name status (`<prefix>status/<fqdn>`). */
  consulPrefix: string;
  /** Port the pre-flight request connects to (where ACME validates HTTP-01: 80). */
  challengePort: number;
  /** `host:port` of the DNS server the pre-flight asks; '' = the system's resolver. */
  dnsResolver: string;
  /** Delay after the first failure of a name; doubles per failure up to 24 h, ms. */
  retryBaseMs: number;
  /** TTL of the Consul session that holds the lock, ms. */
  sessionTtlMs: number;
  /** Consul lock-delay after the holder's session is invalidated, ms. */
  lockDelayMs: number;
}

/** Longest wait between two tries of one name (the cap). */
export const MAX_RETRY_MS = 24 * 3_600_000;

const ms = (text: string): number => parseDuration(text)!; // the schema proved it parses

export function acmeConfigFrom(f: FileConfig['acme']): AcmeConfig {
  return {
    directoryUrl: f.directory_url,
    email: f.email,
    cacert: f.cacert,
    renewBeforeMs: ms(f.renew_before),
    maxOrdersPerHour: f.max_orders_per_hour,
    consulPrefix: f.consul_prefix,
    challengePort: f.challenge_port,
    dnsResolver: f.dns_resolver,
    retryBaseMs: ms(f.retry_base),
    sessionTtlMs: ms(f.session_ttl),
    lockDelayMs: ms(f.lock_delay),
  };
}

export function acmeEnabled(config: Pick<Config, 'acme'>): boolean {
  return config.acme.directoryUrl !== '';
}

/** ACME on without Vault is a configuration error (exit 2), never a silent fallback. */
export function checkAcmeConfig(config: Config, origin: string): void {
  if (!acmeEnabled(config)) return;
  if (!config.vault.address) {
    throw new ConfigError(
      `invalid configuration (${origin}):\n  acme.directory_url is set but vault.address is empty: ACME needs Vault (the account key and the certificates are stored there, and every router reads its certificates from it)`,
    );
  }
}
