// The ACME account key: one for the whole cluster, kept in Vault at `<kv_prefix>acme/account`.
// Every router derives the same JWK thumbprint from it, which is what HAProxy answers HTTP-01
// challenges with (`<token>.<thumbprint>`), so no challenge state is ever shared.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { RouterError } from '../errors.js';
import type { VaultClient } from '../sources/vault/client.js';

export const ACCOUNT_PATH = 'acme/account';

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public part of a PEM key. */
export function jwkThumbprint(keyPem: string): string {
  const jwk = createPublicKey(keyPem).export({ format: 'jwk' }) as Record<string, string>;
  // Only the required members, in lexicographic order, no whitespace (RFC 7638 §3.2).
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : jwk.kty === 'OKP' ? ['crv', 'kty', 'x'] : undefined;
  if (!members) throw new RouterError('ACME_ACCOUNT_INVALID', `the ACME account key has an unsupported key type ${JSON.stringify(jwk.kty)}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

export interface AccountKey {
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  thumbprint: string;
}

function accountFrom(data: Record<string, unknown>, path: string): AccountKey {
  const pem = data.private_key;
  if (typeof pem !== 'string' || pem === '') throw new RouterError('ACME_ACCOUNT_INVALID', `Vault secret ${path} has no "private_key" field`);
  try {
    createPrivateKey(pem);
  } catch {
    throw new RouterError('ACME_ACCOUNT_INVALID', `Vault secret ${path}: "private_key" is not an unencrypted PEM private key`);
  }
  return { privateKeyPem: pem, thumbprint: jwkThumbprint(pem) };
}

/**
 * Reads the account key from Vault, or creates it when there is none. The creation is a
 * check-and-set write of version 0: when two routers start at once, one key wins and the other
 * router reads it back.
 */
export async function loadOrCreateAccount(vault: VaultClient, kvPrefix: string, directoryUrl: string): Promise<{ account: AccountKey; created: boolean }> {
  const path = `${kvPrefix}${ACCOUNT_PATH}`;
  const existing = await vault.kvRead(path);
  if (existing) return { account: accountFrom(existing, path), created: false };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const written = await vault.kvWrite(path, { private_key: pem, directory_url: directoryUrl, created_at: new Date().toISOString() }, 0);
  if (written) return { account: accountFrom({ private_key: pem }, path), created: true };
  const winner = await vault.kvRead(path);
  if (!winner) throw new RouterError('ACME_ACCOUNT_INVALID', `Vault secret ${path} was written by another router and then removed`);
  return { account: accountFrom(winner, path), created: false };
}
