// One ACME order for one name with `acme-client` (RFC 8555): account (created once per key, then
// found again), order, HTTP-01 (HAProxy already answers `<token>.<thumbprint>` on every router, so
// nothing is put anywhere), finalize with a fresh P-256 key, download the full chain.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import acme from 'acme-client';
import { RouterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AccountKey } from './account.js';

export interface IssuedCertificate {
  /** Leaf then chain, PEM. */
  certificate: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** ISO time. */
  notAfter: string;
}

export interface IssuerOptions {
  directoryUrl: string;
  email: string;
  /** PEM CA bundle path for the ACME server's TLS ('' = system CAs). */
  cacert: string;
  account: AccountKey;
  log: Logger;
}

export class AcmeOrderError extends RouterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ACME_ORDER_FAILED', message, options);
  }
}

/** acme-client has one HTTP client per process: its TLS trust is set once, from `acme.cacert`. */
let trustedCa: string | undefined;
function trustCa(cacert: string): void {
  if (!cacert || trustedCa === cacert) return;
  acme.axios.defaults.httpsAgent = new Agent({ ca: readFileSync(cacert), keepAlive: true });
  trustedCa = cacert;
}

export class AcmeIssuer {
  private readonly client: acme.Client;
  private accountReady = false;

  constructor(private readonly opts: IssuerOptions) {
    trustCa(opts.cacert);
    acme.setLogger((message) => opts.log.trace({ acme: message }, 'acme-client'));
    this.client = new acme.Client({
      directoryUrl: opts.directoryUrl,
      accountKey: opts.account.privateKeyPem,
      backoffAttempts: 8,
      backoffMin: 1_000,
      backoffMax: 10_000,
    });
  }

  /** Orders a certificate for `host`; `stillHolder` is asked before the order is finalized. */
  async order(host: string, stillHolder: () => Promise<boolean>): Promise<IssuedCertificate> {
    try {
      if (!this.accountReady) {
        await this.client.createAccount({ termsOfServiceAgreed: true, ...(this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {}) });
        this.accountReady = true;
      }
      const order = await this.client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
      for (const authz of await this.client.getAuthorizations(order)) {
        if (authz.status === 'valid') continue;
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        if (!challenge) throw new AcmeOrderError(`the ACME server offers no http-01 challenge for ${host}`);
        const expected = `${challenge.token}.${this.opts.account.thumbprint}`;
        if ((await this.client.getChallengeKeyAuthorization(challenge)) !== expected) {
          throw new AcmeOrderError('the key authorization acme-client computed differs from the thumbprint HAProxy answers with');
        }
        await this.client.completeChallenge(challenge);
        await this.client.waitForValidStatus(challenge);
      }
      if (!(await stillHolder())) throw new LockLostError(host);
      const keyPem = await acme.crypto.createPrivateEcdsaKey('P-256');
      const [, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, keyPem);
      const finalized = await this.client.finalizeOrder(order, csr);
      const certificate = await this.client.getCertificate(finalized);
      const info = acme.crypto.readCertificateInfo(certificate);
      return { certificate, privateKey: keyPem.toString(), notAfter: info.notAfter.toISOString() };
    } catch (err) {
      if (err instanceof RouterError) throw err;
      throw new AcmeOrderError(`ACME order for ${host} failed: ${describe(err)}`, { cause: err });
    }
  }
}

export class LockLostError extends RouterError {
  constructor(host: string) {
    super('ACME_LOCK_LOST', `the ACME lock was lost during the order for ${host}; the next holder orders it again`);
  }
}

/** acme-client errors carry the ACME problem detail in their message; axios ones a code. */
function describe(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 400) + (e.code && !e.message?.includes(e.code) ? ` (${e.code})` : '');
}
