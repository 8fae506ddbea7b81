// Errors of the Vault client. Their messages are built only from what is safe to print: the
// operation, the HTTP status, Vault's own error strings and the network error code. node-vault's
// errors (axios underneath) carry the request config, whose headers hold the Vault token and whose
// body holds the AppRole secret id, so they are never chained as `cause` and never logged.
import { RouterError } from '../../errors.js';

/** Vault is unreachable, sealed, or answered 5xx: retry later, keep the cached secrets. */
export class VaultUnavailableError extends RouterError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('VAULT_UNAVAILABLE', message);
  }
}

/** Vault refused the credentials (403, invalid AppRole, unreadable secret id file). */
export class VaultAuthError extends RouterError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('VAULT_AUTH_FAILED', message);
  }
}

/** Vault answered with something we cannot use (wrong shape, unexpected status). */
export class VaultResponseError extends RouterError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super('VAULT_BAD_RESPONSE', message);
  }
}

/** A check-and-set write lost: the secret changed in Vault since it was read (e.g. an operator's own certificate). */
export class VaultCasError extends RouterError {
  constructor(message: string) {
    super('VAULT_CAS', message);
  }
}

/** Removes every occurrence of the given secret values (and anything token-shaped) from a text. */
export function scrub(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // Vault token formats (hvs./hvb./hvr., s./b./r.) in case an unknown one slipped in.
  out = out.replace(/\b(hv[sbr]|[sbr])\.[A-Za-z0-9_-]{16,}/g, '[redacted]');
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}
