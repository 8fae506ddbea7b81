// Keeps a valid Vault token: VAULT_TOKEN (looked up, renewed while it can be) or AppRole (login
// with the role id and the secret id read from its file at each login, renewal, and a fresh login
// when renewal stops extending the token — its max TTL — or the token was revoked).
//
// Timing: a token with TTL t is renewed `min(renew_before, t/3)` before it expires, asking for its
// original TTL again (Vault may cap it). A renewal whose answer does not move the expiry means the
// max TTL is reached: AppRole logs in again, a VAULT_TOKEN cannot be replaced and is reported.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { Backoff } from '../../util/backoff.js';
import type { AuthInfo, VaultClient } from './client.js';
import { VaultAuthError } from './errors.js';

export type VaultAuthMethod = { method: 'token'; token: string } | { method: 'approle'; roleId: string; secretIdFile: string; mount: string };

export interface VaultAuthOptions {
  client: VaultClient;
  auth: VaultAuthMethod;
  /** Renew this long before expiry at most (a third of the TTL when that is shorter). */
  renewBeforeMs: number;
  /** Upper bound of the backoff between failed logins/renewals. */
  retryMaxMs: number;
  log: Logger;
  now?: () => number;
  /** Jitter source of the backoff (tests); Math.random by default. */
  random?: () => number;
}

export interface VaultAuthEvents {
  login: [AuthInfo];
  renew: [AuthInfo];
  expiring: [{ expiresAt: number }];
}

export class VaultAuth extends EventEmitter<VaultAuthEvents> {
  /** ms since epoch; Infinity: no expiry; undefined: no token yet. */
  private expiresAt: number | undefined;
  /** Seconds to ask for at each renewal: the TTL the token was issued with. */
  private wantedTtl = 0;
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;
  /** Failed logins/renewals in a row (the shared backoff: exponential, equal jitter). */
  private readonly failures: Backoff;
  private stopped = false;
  /** A VAULT_TOKEN that Vault refused or that expired: nothing more can be done without a restart. */
  private tokenDead = false;
  readonly counters = { logins: 0, renewals: 0, failedRenewals: 0 };

  constructor(private readonly opts: VaultAuthOptions) {
    super();
    this.failures = new Backoff({ baseMs: 500, maxMs: opts.retryMaxMs, random: opts.random });
  }

  private get now(): number {
    return (this.opts.now ?? Date.now)();
  }

  get method(): 'token' | 'approle' {
    return this.opts.auth.method;
  }

  /** When the current token expires (ms since epoch; Infinity = never), if there is one. */
  get tokenExpiresAt(): number | undefined {
    return this.expiresAt;
  }

  /** Makes sure a token believed valid is set on the client (logs in or looks it up once). */
  async ensure(): Promise<void> {
    if (this.stopped) throw new VaultAuthError('Vault authentication stopped');
    if (this.expiresAt !== undefined && this.expiresAt > this.now) return;
    if (this.tokenDead) throw new VaultAuthError('the Vault token from VAULT_TOKEN was refused or has expired; give the daemon a new one and restart it');
    this.pending ??= this.authenticate().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * A request answered 403 with the current token (revoked, or expired earlier than we thought).
   * Returns true when a retry can help (AppRole: the next ensure() logs in again).
   */
  invalidate(): boolean {
    this.clearTimer();
    this.expiresAt = undefined;
    this.opts.client.setToken(undefined);
    if (this.opts.auth.method === 'token') {
      this.tokenDead = true;
      return false;
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async authenticate(): Promise<void> {
    const { auth, client, log } = this.opts;
    if (auth.method === 'token') {
      if (!auth.token) throw new VaultAuthError('vault.auth.method is "token" but VAULT_TOKEN is not set');
      client.setToken(auth.token);
      let info: Awaited<ReturnType<VaultClient['lookupSelf']>>;
      try {
        info = await client.lookupSelf();
      } catch (err) {
        if (err instanceof VaultAuthError) this.tokenDead = true;
        client.setToken(undefined);
        throw err;
      }
      this.wantedTtl = info.creationTtl || info.ttl;
      this.setExpiry(info.ttl);
      log.info({ ttl: info.ttl, renewable: info.renewable, policies: info.policies }, 'Vault token (VAULT_TOKEN) accepted');
      if (info.ttl > 0 && info.renewable) this.schedule('renew', info.ttl);
      else if (info.ttl > 0) this.scheduleExpiryWarning();
      return;
    }
    await this.login();
  }

  private async login(): Promise<void> {
    const { auth, client, log } = this.opts;
    if (auth.method !== 'approle') return;
    let secretId: string;
    try {
      secretId = (await readFile(auth.secretIdFile, 'utf8')).trim();
    } catch (err) {
      throw new VaultAuthError(`cannot read the AppRole secret id file ${auth.secretIdFile}: ${errorMessage(err)}`);
    }
    if (!secretId) throw new VaultAuthError(`the AppRole secret id file ${auth.secretIdFile} is empty`);
    const info = await client.approleLogin(auth.roleId, secretId, auth.mount);
    this.counters.logins += 1;
    this.failures.reset();
    this.wantedTtl = info.leaseDuration;
    this.setExpiry(info.leaseDuration);
    log.info({ ttl: info.leaseDuration, renewable: info.renewable }, 'logged in to Vault with AppRole');
    this.emit('login', info);
    if (info.leaseDuration > 0) this.schedule(info.renewable ? 'renew' : 'login', info.leaseDuration);
  }

  private setExpiry(ttlSeconds: number): void {
    this.expiresAt = ttlSeconds > 0 ? this.now + ttlSeconds * 1000 : Infinity;
  }

  /** Run `action` min(renew_before, ttl/3) before the token expires. */
  private schedule(action: 'renew' | 'login', ttlSeconds: number): void {
    const ttlMs = ttlSeconds * 1000;
    const delay = Math.max(100, ttlMs - Math.min(this.opts.renewBeforeMs, ttlMs / 3));
    this.setTimer(delay, () => (action === 'renew' ? this.renew() : this.relogin('the token is not renewable')));
  }

  private setTimer(delay: number, fn: () => Promise<void>): void {
    this.clearTimer();
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void fn();
    }, delay);
    this.timer.unref();
  }

  private backoff(): number {
    return this.failures.next();
  }

  private async renew(): Promise<void> {
    const { client, log } = this.opts;
    const before = this.expiresAt ?? this.now;
    let info: AuthInfo;
    try {
      info = await client.renewSelf(this.wantedTtl);
    } catch (err) {
      this.counters.failedRenewals += 1;
      if (this.stopped) return;
      if (err instanceof VaultAuthError) {
        // Revoked (or already expired): only a new login helps.
        log.warn({ error: errorMessage(err) }, 'Vault refused to renew the token');
        if (this.invalidate()) await this.relogin('the token was refused');
        return;
      }
      const left = (this.expiresAt ?? 0) - this.now;
      if (left <= 0) {
        log.warn({ error: errorMessage(err) }, 'Vault token renewal failed and the token has expired');
        if (this.invalidate()) await this.relogin('the token expired while Vault was unreachable');
        return;
      }
      const delay = Math.min(this.backoff(), Math.max(100, left / 2));
      log.warn({ error: errorMessage(err), retryInMs: delay }, 'Vault token renewal failed; retrying');
      this.setTimer(delay, () => this.renew());
      return;
    }
    this.counters.renewals += 1;
    this.failures.reset();
    this.setExpiry(info.leaseDuration);
    this.emit('renew', info);
    const extended = info.leaseDuration > 0 && (this.expiresAt ?? 0) > before + 1000;
    if (!extended || !info.renewable) {
      // Vault docs: a renewal that no longer extends the token means renewal has stopped working.
      if (this.opts.auth.method === 'approle') {
        log.info({ ttl: info.leaseDuration }, 'Vault token reached its max TTL; logging in again');
        await this.relogin('max TTL reached');
      } else {
        log.warn({ ttl: info.leaseDuration }, 'the Vault token (VAULT_TOKEN) reached its max TTL and cannot be renewed further; replace it before it expires');
        this.scheduleExpiryWarning();
      }
      return;
    }
    const capped = info.leaseDuration < this.wantedTtl;
    log.debug({ ttl: info.leaseDuration, capped }, 'Vault token renewed');
    // Capped: the max TTL is in sight. AppRole logs in again shortly before it; a plain token
    // keeps renewing until Vault stops extending it.
    this.schedule(capped && this.opts.auth.method === 'approle' ? 'login' : 'renew', info.leaseDuration);
  }

  private async relogin(reason: string): Promise<void> {
    if (this.stopped || this.opts.auth.method !== 'approle') return;
    try {
      await this.login();
    } catch (err) {
      const delay = this.backoff();
      this.opts.log.warn({ error: errorMessage(err), reason, retryInMs: delay }, 'Vault AppRole login failed; retrying');
      this.setTimer(delay, () => this.relogin(reason));
    }
  }

  private scheduleExpiryWarning(): void {
    const at = this.expiresAt;
    if (at === undefined || at === Infinity) return;
    this.setTimer(Math.max(0, at - this.now), async () => {
      this.emit('expiring', { expiresAt: at });
      this.opts.log.error({ expiredAt: new Date(at).toISOString() }, 'the Vault token (VAULT_TOKEN) has expired; the cached secrets stay in use');
      this.expiresAt = undefined;
      this.tokenDead = true;
    });
  }
}
