// One ACME issuer across the cluster: a Consul session (TTL, `Behavior: release`, lock-delay) and
// a lock on `<consul_prefix>lock` (`PUT /v1/kv/<key>?acquire=<session>`). The session is renewed
// every third of its TTL while the router runs; when the router dies the session expires, Consul
// releases the lock, and after the lock-delay another router acquires it. Released on shutdown.
import { EventEmitter } from 'node:events';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConsulClient } from '../sources/consul/client.js';
import { Backoff } from '../util/backoff.js';

export interface LockOptions {
  client: ConsulClient;
  /** `<consul_prefix>lock`. */
  key: string;
  /** Who this router is (shown to operators as the holder). */
  holder: string;
  ttlMs: number;
  lockDelayMs: number;
  log: Logger;
}

export interface LockView {
  /** This router holds the lock. */
  held: boolean;
  /** Who holds it, as the holder wrote it ('' = nobody, undefined = not known yet). */
  holder: string | undefined;
  since: number | undefined;
}

export class ConsulLock extends EventEmitter<{ change: [LockView] }> {
  private session: string | undefined;
  private held = false;
  private holder: string | undefined;
  private since: number | undefined;
  private lastRenewAt = 0;
  /** The last read showed the key with no session holding it. */
  private free = false;
  private stopped = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;

  constructor(private readonly opts: LockOptions) {
    super();
    this.backoff = new Backoff({ baseMs: 500, maxMs: Math.max(1_000, opts.ttlMs / 2) });
  }

  get view(): LockView {
    return { held: this.held, holder: this.holder, since: this.since };
  }

  start(): void {
    this.loop = this.run();
  }

  /** Releases the lock and destroys the session (another router takes over after no lock-delay). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.renewTimer) clearInterval(this.renewTimer);
    await this.loop;
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      if (this.held) await this.opts.client.kvRelease(this.opts.key, session);
      await this.opts.client.sessionDestroy(session);
    } catch (err) {
      this.opts.log.warn({ error: errorMessage(err) }, 'cannot release the ACME lock; it is freed when its session expires');
    }
    this.setHeld(false, '');
  }

  /** The session holding the lock now (undefined: not held): what an order is made under. */
  get token(): string | undefined {
    return this.held ? this.session : undefined;
  }

  /**
   * Asked before anything is written: true only while the lock is still held by the session of
   * `token` (a lock lost and taken again since is not the same: another router may have ordered
   * meanwhile), that session was renewed within its TTL, and a consistent read agrees.
   */
  async stillHeld(token: string | undefined): Promise<boolean> {
    if (!token || !this.held || this.session !== token || Date.now() - this.lastRenewAt > this.opts.ttlMs) return false;
    try {
      const { entry } = await this.opts.client.kvGet(this.opts.key);
      if (entry?.Session === token) return true;
    } catch (err) {
      this.opts.log.warn({ error: errorMessage(err) }, 'cannot check the ACME lock');
      return false;
    }
    this.setHeld(false, undefined);
    return false;
  }

  private async run(): Promise<void> {
    let index = 0;
    while (!this.stopped) {
      try {
        if (!this.session) {
          this.session = await this.opts.client.sessionCreate({
            name: `paas-router acme ${this.opts.holder}`,
            ttlMs: this.opts.ttlMs,
            lockDelayMs: this.opts.lockDelayMs,
          });
          this.lastRenewAt = Date.now();
          this.startRenewing();
        }
        if (!this.held) {
          const value = JSON.stringify({ holder: this.opts.holder, since: new Date().toISOString() });
          if (await this.opts.client.kvAcquire(this.opts.key, this.session, value)) {
            this.opts.log.info({ key: this.opts.key }, 'ACME lock acquired: this router orders and renews the certificates');
            this.setHeld(true, this.opts.holder, Date.now());
            index = 0;
          } else if (this.free) {
            // Free but refused: Consul's lock-delay after the last holder's session was invalidated.
            await this.sleep(Math.max(250, Math.min(this.opts.lockDelayMs, 5_000)));
            this.free = false;
            continue;
          }
        }
        // Wait for the key to change (the holder lets go, or we lose it), at most one TTL.
        const read = await this.opts.client.kvGet(this.opts.key, Math.max(index, 1), this.opts.ttlMs, this.abort.signal);
        index = read.index < index ? 0 : read.index;
        this.observe(read.entry);
        this.backoff.reset();
      } catch (err) {
        if (this.stopped) return;
        const delay = this.backoff.next();
        this.opts.log.warn({ error: errorMessage(err), retryInMs: Math.round(delay) }, 'ACME lock: Consul request failed');
        if (this.held && Date.now() - this.lastRenewAt > this.opts.ttlMs) this.setHeld(false, undefined);
        await this.sleep(delay);
      }
    }
  }

  private observe(entry: { Value?: unknown; Session?: string } | undefined): void {
    const session = entry?.Session;
    let holder = '';
    let since: number | undefined;
    if (session) {
      try {
        const value = JSON.parse(String(entry?.Value ?? '')) as { holder?: unknown; since?: unknown };
        holder = typeof value.holder === 'string' ? value.holder : `session ${session}`;
        since = typeof value.since === 'string' ? Date.parse(value.since) : undefined;
      } catch {
        holder = `session ${session}`;
      }
    }
    this.free = !session;
    const held = Boolean(session) && session === this.session;
    if (this.held && !held) this.opts.log.warn({ key: this.opts.key, holder: holder || undefined }, 'ACME lock lost: another router orders now');
    this.setHeld(held, holder, since);
  }

  private setHeld(held: boolean, holder: string | undefined, since?: number): void {
    const changed = held !== this.held || holder !== this.holder;
    this.held = held;
    this.holder = holder;
    this.since = held || holder ? (since ?? this.since) : undefined;
    if (changed) this.emit('change', this.view);
  }

  private startRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = setInterval(() => void this.renew(), Math.max(1_000, this.opts.ttlMs / 3));
  }

  private async renew(): Promise<void> {
    const session = this.session;
    if (!session || this.stopped) return;
    try {
      if (await this.opts.client.sessionRenew(session)) {
        this.lastRenewAt = Date.now();
        return;
      }
      // The session is gone (expired while Consul was unreachable, or destroyed): start again.
      this.opts.log.warn({ session }, 'ACME lock: the Consul session expired; creating a new one');
      if (this.session === session) this.session = undefined;
      if (this.renewTimer) clearInterval(this.renewTimer);
      this.setHeld(false, undefined);
    } catch (err) {
      this.opts.log.warn({ error: errorMessage(err) }, 'ACME lock: cannot renew the Consul session');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
