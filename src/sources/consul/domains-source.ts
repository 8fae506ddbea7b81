// Watches the custom-domains K/V prefix with a blocking ?recurse query. A 404 (no key under the
// prefix yet) is "no custom domains"; any failure keeps the last claims.
import type { Logger } from '../../log.js';
import type { DomainClaim, DomainsSnapshot } from '../types.js';
import { StatusTracker, type Source, type SourceSink } from '../source.js';
import { BlockingWatch } from './blocking.js';
import type { WatchTiming } from './catalog-source.js';
import type { ConsulClient } from './client.js';
import { parseKvEntries } from './parse.js';
import { sameItems } from '../../util/same-items.js';

export class ConsulDomainsSource implements Source<DomainsSnapshot> {
  readonly name = 'consul-domains';
  private watch: BlockingWatch<DomainsSnapshot> | undefined;
  /** The entries of the last answer by key: the next answer keeps the objects of those it has unchanged. */
  private entries = new Map<string, DomainClaim>();

  constructor(
    private readonly client: ConsulClient,
    private readonly prefix: string,
    private readonly timing: WatchTiming,
    private readonly log: Logger,
  ) {}

  private sink: SourceSink<DomainsSnapshot> | undefined;
  private tracker: StatusTracker | undefined;

  start(sink: SourceSink<DomainsSnapshot>): void {
    this.sink = sink;
    this.tracker = new StatusTracker(this.name, (s) => sink.status(s));
    this.watchPrefix();
  }

  /** A fresh watch from index 0: its first answer is delivered even when nothing changed. */
  reread(): void {
    this.watch?.stop();
    this.watchPrefix();
  }

  private watchPrefix(): void {
    const sink = this.sink!;
    const tracker = this.tracker!;
    this.watch = new BlockingWatch<DomainsSnapshot>({
      ...this.timing,
      recovered: (err, signal) => this.client.untilAnswering(err, signal),
      fetch: async (index, wait, signal) => {
        const r = await this.client.kvPrefix(this.prefix, index, wait, signal);
        const claims = parseKvEntries(this.prefix, r.data, this.entries).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        this.entries = new Map(claims.map((c) => [c.key, c]));
        return { index: r.index, data: { claims } };
      },
      // Unchanged entries are the same objects (parseKvEntries): compared by identity.
      same: (a, b) => sameItems(a.claims, b.claims),
      onSuccess: () => tracker.ok(),
      onData: (snapshot) => sink.snapshot(snapshot),
      onError: (err) => {
        this.log.debug({ error: (err as Error).message, prefix: this.prefix }, 'consul K/V read failed; keeping the last known domains');
        tracker.failed(err);
      },
    });
    this.watch.start();
  }

  stop(): void {
    this.watch?.stop();
  }
}
