// The ACME issuer of one router: reads (or creates) the account key, hands its thumbprint to the
// renderer (HAProxy then answers HTTP-01 itself), competes for the cluster's lock and, while it
// holds it, orders and renews certificates: pre-flight, order, write to Vault `tls/<fqdn>`, status
// to Consul. Every router, holder or not, serves what Vault holds and shows the same view.
import { errorCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { RoutingModel } from '../model/types.js';
import type { ConsulClient } from '../sources/consul/client.js';
import type { VaultClient } from '../sources/vault/client.js';
import type { CertificateSecret, SecretsSnapshot } from '../sources/vault/types.js';
import { VaultCasError } from '../sources/vault/errors.js';
import { Backoff } from '../util/backoff.js';
import { loadOrCreateAccount, type AccountKey } from './account.js';
import type { AcmeConfig } from './config.js';
import { AcmeIssuer, type IssuedCertificate } from './issue.js';
import { ConsulLock } from './lock.js';
import { ACME_SOURCE, planNames, renewAt, type NamePlan } from './names.js';
import { preflight } from './preflight.js';
import { budgetFreeAt, HOUR_MS, ordersInLastHour, recordAttempt, selectDue, type NameStatus, type OrderResult } from './schedule.js';
import { AcmeStatusStore } from './status-store.js';
import { acmeView, type AcmeView } from './view.js';

/** What the manager needs of the runner (the daemon's Runner). */
export interface AcmeRunner {
  readonly state: { builtModel?: RoutingModel; readonly deployment?: { readonly model?: RoutingModel }; acme?: AcmeView };
  on(event: 'applied', listener: () => void): unknown;
  off(event: 'applied', listener: () => void): unknown;
  emit(event: 'acme-order', result: OrderResult): boolean;
  setAcmeThumbprint(thumbprint: string): void;
}

export interface AcmeManagerOptions {
  config: AcmeConfig;
  /** vault.kv_prefix. */
  kvPrefix: string;
  clusterDomain: string;
  consul: ConsulClient;
  /** A Vault client with a valid token (the secrets source's). */
  vault: () => Promise<VaultClient>;
  secrets: { readonly latest: SecretsSnapshot | undefined; refresh(): void };
  runner: AcmeRunner;
  /** This router, as shown to operators when it holds the lock. */
  holder: string;
  log: Logger;
  random?: () => number;
}

/** Longest sleep between two passes: the view and the renewals are looked at least this often. */
const MAX_IDLE_MS = HOUR_MS;
/** How long a written certificate stands in for Vault's copy at most (Vault is read every 30 s by default). */
const WRITTEN_KEPT_MS = 10 * 60_000;
/** How long shutdown waits for a pass in progress. */
const STOP_WAIT_MS = 5_000;

export class AcmeManager {
  private readonly lock: ConsulLock;
  private readonly statusStore: AcmeStatusStore;
  private account: AccountKey | undefined;
  private accountError: string | undefined;
  private issuer: AcmeIssuer | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly onApplied = () => this.schedule(0);
  /**
   * Certificates this router wrote to Vault that its secrets snapshot does not show yet: planned
   * with, so a name is never ordered twice while Vault is read again.
   */
  private readonly written = new Map<string, { secret: CertificateSecret; at: number }>();

  constructor(private readonly opts: AcmeManagerOptions) {
    this.lock = new ConsulLock({
      client: opts.consul,
      key: `${opts.config.consulPrefix}lock`,
      holder: opts.holder,
      ttlMs: opts.config.sessionTtlMs,
      lockDelayMs: opts.config.lockDelayMs,
      log: opts.log,
    });
    this.statusStore = new AcmeStatusStore(opts.consul, opts.config.consulPrefix, opts.log);
  }

  start(): void {
    this.opts.runner.on('applied', this.onApplied);
    this.lock.on('change', (view) => {
      this.opts.log.info(
        { held: view.held, holder: view.holder || undefined },
        view.held ? 'this router holds the ACME lock' : `ACME lock held by ${view.holder || 'nobody'}`,
      );
      this.schedule(0);
    });
    void this.loadAccount();
    this.lock.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.runner.off('applied', this.onApplied);
    if (this.timer) clearTimeout(this.timer);
    // An order in flight may wait on the CA for minutes: shutdown does not. Releasing the lock
    // below makes that order's result be dropped (its session is gone).
    await Promise.race([this.running, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    await this.lock.stop();
  }

  private async loadAccount(): Promise<void> {
    const backoff = new Backoff({ baseMs: 1_000, maxMs: 60_000 });
    while (!this.stopped && !this.account) {
      try {
        const vault = await this.opts.vault();
        const { account, created } = await loadOrCreateAccount(vault, this.opts.kvPrefix, this.opts.config.directoryUrl);
        this.account = account;
        this.accountError = undefined;
        this.issuer = new AcmeIssuer({
          directoryUrl: this.opts.config.directoryUrl,
          email: this.opts.config.email,
          cacert: this.opts.config.cacert,
          account,
          log: this.opts.log,
        });
        this.opts.log.info({ thumbprint: account.thumbprint }, created ? 'ACME account key created in Vault' : 'ACME account key read from Vault');
        this.opts.runner.setAcmeThumbprint(account.thumbprint);
        this.schedule(0);
      } catch (err) {
        this.accountError = errorMessage(err);
        const delay = backoff.next();
        this.opts.log.warn({ error: this.accountError, retryInMs: Math.round(delay) }, 'cannot read or create the ACME account key in Vault');
        this.publish([], new Map());
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Runs a pass after `ms` (the earliest asked for wins); passes never overlap. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.running) {
      if (ms === 0) this.again = true;
      return;
    }
    const at = Date.now() + Math.max(0, Math.min(ms, MAX_IDLE_MS));
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      let next = MAX_IDLE_MS;
      this.running = this.pass()
        .then((ms) => {
          next = ms;
        })
        .catch((err) => {
          this.opts.log.error({ error: errorMessage(err) }, 'ACME pass failed');
          next = 30_000;
        })
        .finally(() => {
          this.running = undefined;
          const again = this.again;
          this.again = false;
          this.schedule(again ? 0 : next);
        });
    }, at - Date.now());
  }

  private plans(now: number): NamePlan[] {
    const { runner, secrets, config, clusterDomain } = this.opts;
    const model = runner.state.deployment?.model ?? runner.state.builtModel;
    if (!model || !secrets.latest) return [];
    const certificates = { ...secrets.latest.certificates };
    for (const [host, { secret, at }] of this.written) {
      if (certificates[host]?.certificate === secret.certificate || now - at > WRITTEN_KEPT_MS) this.written.delete(host);
      else certificates[host] = secret;
    }
    return planNames({ model, certificates, clusterDomain, renewBeforeMs: config.renewBeforeMs, now });
  }

  /** One look at every name; returns how long until the next pass is needed, ms. */
  private async pass(): Promise<number> {
    const { config, log } = this.opts;
    let statuses: Map<string, NameStatus>;
    try {
      statuses = await this.statusStore.readAll();
    } catch (err) {
      log.warn({ error: errorMessage(err) }, 'cannot read the ACME status from Consul');
      this.publish(this.plans(Date.now()), new Map());
      return 30_000;
    }
    let plans = this.plans(Date.now());
    this.publish(plans, statuses);
    if (!this.lock.view.held || !this.account || !this.issuer) return MAX_IDLE_MS;

    const { due } = selectDue(plans, statuses, Date.now());
    for (const plan of due) {
      if (this.stopped || !this.lock.view.held) break;
      const now = Date.now();
      if (budgetFreeAt(ordersInLastHour(statuses.values(), now), config.maxOrdersPerHour, now) > now) {
        log.warn({ maxOrdersPerHour: config.maxOrdersPerHour, waiting: due.length }, 'ACME: max_orders_per_hour reached; the other names wait');
        break;
      }
      const status = await this.attempt(plan, statuses.get(plan.host));
      if (status) {
        statuses.set(plan.host, status);
        this.publish((plans = this.plans(Date.now())), statuses);
      }
    }
    return this.nextPassIn(this.plans(Date.now()), statuses);
  }

  /** One name: pre-flight, order, store. Returns the status written (undefined: nothing attempted). */
  private async attempt(plan: NamePlan, prev: NameStatus | undefined): Promise<NameStatus | undefined> {
    const { config, log } = this.opts;
    const { host } = plan;
    let result: OrderResult;
    let error: string | undefined;
    let ordered = false;
    const token = this.lock.token;
    const check = await preflight(host, { dnsResolver: config.dnsResolver, challengePort: config.challengePort, thumbprint: this.account!.thumbprint });
    if (!check.ok) {
      result = 'preflight-failed';
      error = check.reason;
    } else {
      ordered = true;
      log.info({ host, action: plan.action, reason: plan.reason }, `ACME: ordering a certificate for ${host}`);
      try {
        const issued = await this.issuer!.order(host, () => this.lock.stillHeld(token));
        result = (await this.store(host, issued, token)) ? 'issued' : 'lock-lost';
        if (result === 'lock-lost') error = 'the ACME lock was lost before the certificate was written';
      } catch (err) {
        result = orderResultOf(err);
        error = errorMessage(err);
      }
    }
    this.opts.runner.emit('acme-order', result);
    const status = recordAttempt(
      prev,
      { host, result, error, ordered, holder: this.opts.holder, now: Date.now() },
      { baseMs: config.retryBaseMs, random: this.opts.random },
    );
    if (result === 'issued') log.info({ host }, `ACME: certificate for ${host} issued and stored in Vault`);
    else log.warn({ host, result, error, nextTryAt: new Date(status.nextTryAt!).toISOString() }, `ACME: no certificate for ${host} (${result}): ${error}`);
    // Only the holder writes the status: after a lost lock the next holder decides.
    if (result === 'lock-lost' || !(await this.lock.stillHeld(token))) return status;
    try {
      await this.statusStore.write(status);
    } catch (err) {
      log.warn({ host, error: errorMessage(err) }, 'cannot write the ACME status to Consul');
    }
    return status;
  }

  /**
   * Writes the certificate to Vault `tls/<fqdn>` with check-and-set: a certificate placed there
   * by hand in the meantime is never overwritten. False when the lock was lost first.
   */
  private async store(host: string, issued: IssuedCertificate, token: string | undefined): Promise<boolean> {
    const path = `${this.opts.kvPrefix}tls/${host}`;
    const vault = await this.opts.vault();
    const current = await vault.kvReadVersioned(path);
    if (current && current.data.source !== ACME_SOURCE) {
      this.opts.log.warn({ host }, `ACME: a certificate was placed by hand at tls/${host} during the order; it wins, the issued one is dropped`);
      return true;
    }
    if (!(await this.lock.stillHeld(token))) return false;
    const data = {
      certificate: issued.certificate,
      private_key: issued.privateKey,
      source: ACME_SOURCE,
      not_after: issued.notAfter,
      issued_at: new Date().toISOString(),
      issued_by: this.opts.holder,
    };
    if (!(await vault.kvWrite(path, data, current?.version ?? 0))) {
      throw new VaultCasError(`tls/${host} changed in Vault during the write`);
    }
    this.written.set(host, { secret: { certificate: issued.certificate, privateKey: issued.privateKey, source: ACME_SOURCE }, at: Date.now() });
    this.opts.secrets.refresh(); // served by this router now; the others at their next Vault read
    return true;
  }

  private nextPassIn(plans: NamePlan[], statuses: Map<string, NameStatus>): number {
    const now = Date.now();
    const { waiting, due } = selectDue(plans, statuses, now);
    const times = waiting.map((w) => w.until);
    for (const p of plans) {
      const at = renewAt(p, this.opts.config.renewBeforeMs);
      if (at !== undefined && p.action === 'none') times.push(at);
    }
    if (due.length > 0) times.push(budgetFreeAt(ordersInLastHour(statuses.values(), now), this.opts.config.maxOrdersPerHour, now));
    return times.length ? Math.max(1_000, Math.min(...times) - now) : MAX_IDLE_MS;
  }

  private publish(plans: NamePlan[], statuses: Map<string, NameStatus>): void {
    const { config } = this.opts;
    this.opts.runner.state.acme = acmeView({
      directoryUrl: config.directoryUrl,
      thumbprint: this.account?.thumbprint,
      accountError: this.accountError,
      lock: this.lock.view,
      lockKey: `${config.consulPrefix}lock`,
      plans,
      statuses,
      maxOrdersPerHour: config.maxOrdersPerHour,
      now: Date.now(),
    });
  }
}

/** How a failed order is counted: a lost lock, a failed store in Vault (every VAULT_* code), or the order itself. */
export function orderResultOf(err: unknown): OrderResult {
  const code = errorCode(err);
  return code === 'ACME_LOCK_LOST' ? 'lock-lost' : code.startsWith('VAULT_') ? 'store-failed' : 'order-failed';
}
