// Watches /v1/catalog/services and, for every service in it, /v1/health/service/<name>, each as its
// own blocking query. Emits the whole catalog once every watched service has answered at least once,
// then again on every change. A service whose health read fails keeps its last known instances.
import type { Logger } from '../../log.js';
import type { CatalogSnapshot, ServiceInstance } from '../types.js';
import { StatusTracker, type Source, type SourceSink } from '../source.js';
import { BlockingWatch } from './blocking.js';
import type { ConsulClient } from './client.js';
import { parseCatalogServices, parseHealthService } from './parse.js';

export interface WatchTiming {
  waitMs: number;
  minIntervalMs: number;
  maxBackoffMs?: number;
}

/** Consul's own service, and services tagged router.skip, are never routed: do not watch them. */
function worthWatching(name: string, tags: string[]): boolean {
  return name !== 'consul' && !tags.some((t) => t === 'router.skip' || t === 'router.skip=true');
}

export class ConsulCatalogSource implements Source<CatalogSnapshot> {
  readonly name = 'consul-catalog';
  private catalogWatch: BlockingWatch<Record<string, string[]>> | undefined;
  private readonly healthWatches = new Map<string, BlockingWatch<ServiceInstance[]>>();
  private readonly instances = new Map<string, ServiceInstance[]>();
  private readonly failing = new Set<string>();
  /** Watched services that have not answered yet (kept so a check is O(1), not a scan). */
  private readonly unanswered = new Set<string>();
  private tracker!: StatusTracker;
  private sink!: SourceSink<CatalogSnapshot>;
  private catalogLoaded = false;

  constructor(
    private readonly client: ConsulClient,
    private readonly timing: WatchTiming,
    private readonly log: Logger,
  ) {}

  start(sink: SourceSink<CatalogSnapshot>): void {
    this.sink = sink;
    this.tracker = new StatusTracker(this.name, (s) => sink.status(s));
    this.watchCatalog();
  }

  private watchCatalog(): void {
    this.catalogWatch = new BlockingWatch({
      ...this.timing,
      fetch: async (index, wait, signal) => {
        const r = await this.client.catalogServices(index, wait, signal);
        return { index: r.index, data: parseCatalogServices(r.data) };
      },
      onSuccess: () => this.onSuccess('catalog'),
      onData: (services) => this.onCatalog(services),
      onError: (err) => this.onError('catalog', err),
    });
    this.catalogWatch.start();
  }

  stop(): void {
    this.catalogWatch?.stop();
    for (const watch of this.healthWatches.values()) watch.stop();
    this.healthWatches.clear();
  }

  /** Starts every watch again from index 0: the next snapshot is a complete, fresh read. */
  reread(): void {
    this.stop();
    this.instances.clear();
    this.unanswered.clear();
    this.failing.clear();
    this.catalogLoaded = false;
    this.watchCatalog();
  }

  private onCatalog(services: Record<string, string[]>): void {
    const wanted = new Set(Object.keys(services).filter((name) => worthWatching(name, services[name]!)));
    for (const [name, watch] of this.healthWatches) {
      if (wanted.has(name)) continue;
      watch.stop();
      this.healthWatches.delete(name);
      this.instances.delete(name);
      this.failing.delete(name);
      this.unanswered.delete(name);
    }
    for (const name of wanted) {
      if (!this.healthWatches.has(name)) this.watchHealth(name);
    }
    this.catalogLoaded = true;
    this.maybeEmit();
  }

  private watchHealth(name: string): void {
    const watch = new BlockingWatch<ServiceInstance[]>({
      ...this.timing,
      fetch: async (index, wait, signal) => {
        const r = await this.client.healthService(name, index, wait, signal);
        return { index: r.index, data: parseHealthService(name, r.data) };
      },
      onSuccess: () => this.onSuccess(name),
      onData: (list) => {
        this.instances.set(name, list);
        this.unanswered.delete(name);
        this.maybeEmit();
      },
      onError: (err) => this.onError(name, err),
    });
    this.healthWatches.set(name, watch);
    this.unanswered.add(name);
    watch.start();
  }

  private onSuccess(what: string): void {
    this.failing.delete(what);
    if (this.failing.size === 0 && this.catalogLoaded) this.tracker.ok();
  }

  private onError(what: string, err: unknown): void {
    this.failing.add(what);
    // Every failure at debug; the runner logs the source going down (and back up) once.
    this.log.debug({ error: (err as Error).message, watch: what }, 'consul read failed; keeping the last known state');
    this.tracker.failed(err);
  }

  private maybeEmit(): void {
    if (!this.catalogLoaded) return;
    // Wait until every watched service has answered once: a half-read catalog is not the catalog.
    if (this.unanswered.size > 0) return;
    if (this.failing.size === 0) this.tracker.ok();
    // The model does not depend on key order: no sort on this path, which runs on every change.
    this.sink.snapshot({ services: Object.fromEntries(this.instances) });
  }
}
