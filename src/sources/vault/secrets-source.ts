// The Vault source: reads every secret paas-router needs from KV v2 (docs/vault-tls.md), emits them as
// one SecretsSnapshot, and polls again every `refresh` (Vault has no blocking queries for KV).
// The last good snapshot stays in memory: while Vault is down or sealed the runner keeps using it,
// and the source reports itself `degraded` (`down` while it has never read anything). A failure
// is retried with a growing, jittered, bounded backoff.
import { ACCOUNT_PATH, jwkThumbprint } from '../../acme/account.js';
import { RouterError, errorCode, errorMessage } from '../../errors.js';
import pLimit from 'p-limit';
import type { Logger } from '../../log.js';
import { Backoff } from '../../util/backoff.js';
import { setOwn } from '../../util/own-record.js';
import { StatusTracker, type Source, type SourceSink } from '../source.js';
import type { VaultAuth } from './auth.js';
import type { VaultClient } from './client.js';
import { VaultAuthError, VaultResponseError } from './errors.js';
import type { CertificateSecret, SecretsSnapshot } from './types.js';

export interface VaultSourceOptions {
  client: VaultClient;
  auth: VaultAuth;
  /** `<mount>/data/<path>/`, e.g. `secret/data/paas-router/`. */
  kvPrefix: string;
  /** Time between two reads while Vault answers, ms. */
  refreshMs: number;
  /** Upper bound of the backoff after failed reads, ms. */
  retryMaxMs: number;
  log: Logger;
  /** Jitter source of the backoff (tests); Math.random by default. */
  random?: () => number;
  /** ACME is on: the account key's thumbprint is read too (acmeThumbprint). */
  acme?: boolean;
}

const CONCURRENCY = 8;

/** `secret/data/paas-router/` → data prefix as is, metadata prefix `secret/metadata/paas-router/`. */
export function kvPaths(kvPrefix: string): { data: string; metadata: string } {
  const at = kvPrefix.indexOf('/data/');
  if (at <= 0 || !kvPrefix.endsWith('/')) {
    throw new VaultResponseError(`vault.kv_prefix ${JSON.stringify(kvPrefix)} is not a KV v2 data path (<mount>/data/<path>/)`);
  }
  return { data: kvPrefix, metadata: `${kvPrefix.slice(0, at)}/metadata/${kvPrefix.slice(at + '/data/'.length)}` };
}

/**
 * Reads every secret once (also used by one-shot commands). Throws when any read fails, except,
 * with `tolerateAuthDenied`, a refused listing of `auth/`: a policy written before router.auth
 * (no `list` on it) then leaves only the router.auth apps without users (503), not the whole router.
 */
export async function readSecrets(
  client: VaultClient,
  kvPrefix: string,
  opts: { tolerateAuthDenied?: boolean; acme?: boolean } = {},
): Promise<SecretsSnapshot> {
  const paths = kvPaths(kvPrefix);
  const problems: SecretsSnapshot['problems'] = [];
  const snapshot: SecretsSnapshot = { certificates: {}, auth: {}, problems };

  const consulPath = `${paths.data}consul`;
  const consul = await client.kvRead(consulPath);
  if (consul) {
    if (typeof consul.token === 'string' && consul.token !== '') snapshot.consulToken = consul.token;
    else problems.push({ path: consulPath, reason: 'has no non-empty "token" field' });
  }

  const haproxyPath = `${paths.data}haproxy`;
  const haproxy = await client.kvRead(haproxyPath);
  if (haproxy) {
    const { stats_user: user, stats_password: password } = haproxy;
    if (typeof user === 'string' && user !== '' && typeof password === 'string' && password !== '') snapshot.stats = { user, password };
    else problems.push({ path: haproxyPath, reason: 'needs non-empty "stats_user" and "stats_password" fields' });
  }

  const names = (await client.kvList(`${paths.metadata}tls/`)).filter((k) => !k.endsWith('/')).sort();
  // At most CONCURRENCY reads in flight, and a slow one does not hold back the next batch.
  const limit = pLimit(CONCURRENCY);
  const secrets = await Promise.all(names.map((name) => limit(() => client.kvRead(`${paths.data}tls/${name}`))));
  names.forEach((name, j) => {
    const secret = secrets[j];
    const path = `${paths.data}tls/${name}`;
    if (secret === undefined) return; // deleted between the list and the read
    const cert = certificateOf(secret);
    if (cert) setOwn(snapshot.certificates, name, cert);
    else problems.push({ path, reason: 'needs "certificate" and "private_key" fields (PEM text)' });
  });

  if (opts.acme) {
    const accountPath = `${paths.data}${ACCOUNT_PATH}`;
    const account = await client.kvRead(accountPath);
    if (account) {
      const thumbprint = typeof account.private_key === 'string' ? thumbprintOf(account.private_key) : undefined;
      if (thumbprint) snapshot.acmeThumbprint = thumbprint;
      else problems.push({ path: accountPath, reason: 'has no usable "private_key" field (PEM private key)' });
    }
  }

  // router.auth users: read for every entry (the model decides which apps use them, and how).
  let listed: string[] = [];
  try {
    listed = await client.kvList(`${paths.metadata}auth/`);
  } catch (err) {
    if (!(err instanceof VaultAuthError && opts.tolerateAuthDenied)) throw err;
    problems.push({
      path: `${paths.metadata}auth/`,
      reason: `cannot be listed (permission denied): the router policy needs "list" on ${paths.metadata}auth and ${paths.metadata}auth/*; apps with router.auth answer 503`,
    });
  }
  const authNames = listed.filter((k) => !k.endsWith('/')).sort();
  const authSecrets = await Promise.all(authNames.map((name) => limit(() => client.kvRead(`${paths.data}auth/${name}`))));
  authNames.forEach((name, j) => {
    const secret = authSecrets[j];
    if (secret === undefined) return;
    setOwn(snapshot.auth, name, typeof secret.users === 'string' ? secret.users : null);
  });
  return snapshot;
}

function thumbprintOf(pem: string): string | undefined {
  try {
    return jwkThumbprint(pem);
  } catch {
    return undefined;
  }
}

function certificateOf(secret: Record<string, unknown>): CertificateSecret | undefined {
  const { certificate, private_key: privateKey } = secret;
  if (typeof certificate !== 'string' || typeof privateKey !== 'string' || !certificate || !privateKey) return undefined;
  const { source } = secret;
  return typeof source === 'string' && source !== '' ? { certificate, privateKey, source } : { certificate, privateKey };
}

export class VaultSecretsSource implements Source<SecretsSnapshot> {
  readonly name = 'vault';
  private tracker!: StatusTracker;
  private sink!: SourceSink<SecretsSnapshot>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Failed reads in a row (the shared backoff: exponential, equal jitter). */
  private readonly failures: Backoff;
  private running: Promise<void> | undefined;
  private latestJson: string | undefined;
  private latestAt: number | undefined;
  /** The last snapshot read (the cache used while Vault is unavailable). */
  latest: SecretsSnapshot | undefined;

  constructor(private readonly opts: VaultSourceOptions) {
    kvPaths(opts.kvPrefix); // fail fast on a prefix that is not KV v2
    this.failures = new Backoff({ baseMs: 1000, maxMs: opts.retryMaxMs, random: opts.random });
  }

  start(sink: SourceSink<SecretsSnapshot>): void {
    this.sink = sink;
    this.tracker = new StatusTracker(this.name, (s) => sink.status(s));
    this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.auth.stop();
    await this.running;
  }

  /** The client with a valid token, for the writers of the secrets (the ACME issuer). */
  async authorizedClient(): Promise<VaultClient> {
    await this.opts.auth.ensure();
    return this.opts.client;
  }

  /** Reads now instead of at the next refresh (tests, and a future SIGHUP). */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.poll();
  }

  private poll(): void {
    if (this.stopped || this.running) return;
    this.running = this.readAndEmit().finally(() => (this.running = undefined));
  }

  private async read(): Promise<SecretsSnapshot> {
    const { auth, client, kvPrefix, acme } = this.opts;
    await auth.ensure();
    try {
      return await readSecrets(client, kvPrefix, { acme });
    } catch (err) {
      if (!(err instanceof VaultAuthError)) throw err;
      // 403. The policy may lack `list` on auth/ (written before router.auth): read the rest with
      // the same token. If that is refused too, the token was revoked or expired early: AppRole
      // logs in again and tries once more.
      try {
        return await readSecrets(client, kvPrefix, { tolerateAuthDenied: true, acme });
      } catch (again) {
        if (!(again instanceof VaultAuthError && auth.invalidate())) throw again;
        await auth.ensure();
        return readSecrets(client, kvPrefix, { tolerateAuthDenied: true, acme });
      }
    }
  }

  private async readAndEmit(): Promise<void> {
    let snapshot: SecretsSnapshot;
    try {
      snapshot = await this.read();
    } catch (err) {
      if (this.stopped) return;
      this.onFailure(err);
      return;
    }
    if (this.stopped) return;
    this.failures.reset();
    this.latestAt = Date.now();
    const json = JSON.stringify(snapshot);
    if (json !== this.latestJson) {
      const previous = this.latest;
      this.latest = snapshot;
      this.latestJson = json;
      this.logChanges(previous, snapshot);
      this.sink.snapshot(snapshot);
    }
    this.tracker.ok();
    this.schedule(this.opts.refreshMs);
  }

  private onFailure(err: unknown): void {
    const delay = Math.round(this.failures.next());
    const message = errorMessage(err);
    if (this.latest) {
      const since = new Date(this.latestAt ?? Date.now()).toISOString();
      this.tracker.degraded(new RouterError(errorCode(err), `${message}; using the secrets read at ${since}`));
    } else {
      this.tracker.failed(new RouterError(errorCode(err), `${message}; no configuration is written until Vault answers`));
    }
    this.opts.log.debug({ error: message, retryInMs: delay }, 'Vault read failed');
    this.schedule(delay);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.poll(), ms);
  }

  private logChanges(before: SecretsSnapshot | undefined, after: SecretsSnapshot): void {
    const { log } = this.opts;
    const names = (s?: SecretsSnapshot) => new Set(Object.keys(s?.certificates ?? {}));
    const was = names(before);
    const now = names(after);
    const added = [...now].filter((n) => !was.has(n));
    const removed = [...was].filter((n) => !now.has(n));
    const rotated = [...now].filter((n) => was.has(n) && JSON.stringify(before!.certificates[n]) !== JSON.stringify(after.certificates[n]));
    log.info(
      {
        certificateNames: [...now].sort(),
        added,
        removed,
        rotated,
        consulToken: after.consulToken !== undefined ? (before?.consulToken === after.consulToken ? 'unchanged' : 'set') : 'absent',
        statsCredentials: after.stats ? 'set' : 'absent',
        // Entry names only: the users are hashes, never logged.
        authEntries: Object.keys(after.auth).sort(),
        authChanged: Object.keys(after.auth)
          .filter((n) => before !== undefined && before.auth[n] !== after.auth[n])
          .sort(),
      },
      before ? 'secrets changed in Vault' : 'secrets read from Vault',
    );
    for (const p of after.problems) {
      if (!before?.problems.some((q) => q.path === p.path && q.reason === p.reason)) log.warn({ path: p.path }, `Vault secret ${p.path} ${p.reason}`);
    }
  }
}
