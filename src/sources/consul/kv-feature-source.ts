// Watches one feature K/V prefix (group weights, maintenance pages) with the domains source's own
// blocking loop on the shared Consul client, so these watches fall under the same rate limit,
// backoff and connection budget. Adds what the domains source does not need: the time the router
// first saw each key (the status page's "in maintenance since ...").
import type { Logger } from '../../log.js';
import type { KvEntry } from '../../model/types.js';
import type { Source, SourceSink } from '../source.js';
import type { WatchTiming } from './catalog-source.js';
import type { ConsulClient } from './client.js';
import { ConsulDomainsSource } from './domains-source.js';

export interface KvFeatureSnapshot {
  /** Sorted by key; a missing prefix (404) is no entry. */
  entries: KvEntry[];
}

export class ConsulKvFeatureSource implements Source<KvFeatureSnapshot> {
  private readonly inner: ConsulDomainsSource;
  /** key → CreateIndex and first sight; a key deleted and created again starts a new period. */
  private readonly seen = new Map<string, { createIndex: number; at: number }>();
  /** Each entry as stamped, while the domains source hands out the same entry object. */
  private readonly stamped = new WeakMap<KvEntry, KvEntry>();

  constructor(
    readonly name: string,
    client: ConsulClient,
    prefix: string,
    timing: WatchTiming,
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.inner = new ConsulDomainsSource(client, prefix, timing, log);
  }

  start(sink: SourceSink<KvFeatureSnapshot>): void {
    this.inner.start({
      snapshot: (data) => sink.snapshot({ entries: this.stamp(data.claims) }),
      status: (status) => sink.status({ ...status, name: this.name }),
    });
  }

  reread(): void {
    this.inner.reread();
  }

  stop(): void {
    this.inner.stop();
  }

  private stamp(claims: KvEntry[]): KvEntry[] {
    const keys = new Set(claims.map((c) => c.key));
    for (const key of this.seen.keys()) if (!keys.has(key)) this.seen.delete(key);
    return claims.map((c) => {
      let seen = this.seen.get(c.key);
      if (!seen || seen.createIndex !== c.createIndex) {
        seen = { createIndex: c.createIndex, at: this.now() };
        this.seen.set(c.key, seen);
      }
      const kept = this.stamped.get(c);
      if (kept?.firstSeenAt === seen.at) return kept;
      const entry = { ...c, firstSeenAt: seen.at };
      this.stamped.set(c, entry);
      return entry;
    });
  }
}
