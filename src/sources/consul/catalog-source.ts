// The Consul catalog within a fixed number of connections, whatever the number of services
// (docs/consul.md has the measurements behind this design), in one of two modes, picked once the
// client knows its transport (the first catalog answer):
//
// Watches (HTTP/2, an https agent that speaks h2): every routed service has its own blocking query
// on /v1/health/service/<name>, a stream on a few shared connections, as consul-template watches.
// A change wakes only its service's watch and costs one small read. /v1/catalog/services only finds
// services that appear or disappear (their watches start and stop); each watch backs off on its own.
// At start every service is read once, without blocking; each watch then blocks from its read.
//
// Detectors (HTTP/1.1, where a blocking query holds a connection). Three blocking change detectors:
//   /v1/catalog/services        services added or removed, tags changed; its index also moves when an
//                               instance is registered or deregistered (with the same body);
//   /v1/health/state/critical   checks going critical or back (small while most checks pass);
//   /v1/health/state/warning    the same for warning.
// Each change they show is followed by a non-blocking read of just the services it names
// (/v1/health/service/<name>). When the catalog index moves and neither body shows what changed (an
// instance registered passing, or deregistered), one read of the service summaries tells which
// services' instance or check counts differ from what the router holds, and only those are read.
// That read also follows an answer whose body did change: one answer can hold a new service and,
// coalesced with it, an instance registered for another.
// A service whose read showed a change also gets a watch of its own while a slot of the connection
// budget is free (client.ts: recentWatchSlots), until a wait passes with no change: a rolling deploy
// changes one app several times, and its next changes wake that watch instead of waiting for a
// detector and the summaries.
// A service whose read fails keeps its last instances (or stays out of the snapshot if it was never
// read), is retried with backoff, is listed with its error in the status, and holds back no other.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../log.js';
import { errorCode, errorMessage } from '../../errors.js';
import { neverRouted } from '../../model/services.js';
import { backoffDelay } from '../../util/backoff.js';
import type { CatalogSnapshot, ServiceInstance } from '../types.js';
import { StatusTracker, type FailingRead, type Source, type SourceSink } from '../source.js';
import { BlockingWatch } from './blocking.js';
import type { ConsulClient } from './client.js';
import { parseCatalogServices, parseHealthService, sameCatalog, parseServiceSummaries, parseStateChecks, summarize, type StateCheck } from './parse.js';
import { setOwn } from '../../util/own-record.js';
import { sameItems } from '../../util/same-items.js';

export interface WatchTiming {
  waitMs: number;
  minIntervalMs: number;
  maxBackoffMs?: number;
}

/** The reads the catalog source makes (a ConsulClient; a scripted Consul in the unit tests). */
export type CatalogReads = Pick<ConsulClient, 'catalogServices' | 'healthState' | 'healthService' | 'serviceSummaries'> &
  Partial<Pick<ConsulClient, 'untilAnswering' | 'transport' | 'recentWatchSlots'>>;

/** How changes are found: a blocking watch per service (HTTP/2), or the three detectors (HTTP/1.1). */
export type CatalogMode = 'watches' | 'detectors';

/** A parsed /v1/catalog/services: service name → its tags, sorted. */
type Catalog = Readonly<Record<string, readonly string[]>>;

interface Known {
  tags: readonly string[];
  /** Last successful read and its X-Consul-Index; undefined until one worked. */
  instances?: ServiceInstance[];
  index?: number;
  failures: number;
  retry?: NodeJS.Timeout;
}

type Detector = 'catalog' | 'critical' | 'warning';

/** How far the first read is: services read (or failed once) of those listed. `done`: first snapshot delivered. */
export interface ReadProgress {
  read: number;
  total: number;
  done: boolean;
}
const STATES = ['critical', 'warning'] as const;
/**
 * The wait of a recent watch's reads ('detectors' mode): a watch ends after one wait with no change,
 * so a service keeps its watch while it changes at least once a minute (the steps of a rolling
 * deploy), and a quiet one gives its slot up within a minute.
 */
export const RECENT_WATCH_WAIT_MS = 60_000;

export class ConsulCatalogSource implements Source<CatalogSnapshot> {
  readonly name = 'consul-catalog';
  private watches: BlockingWatch<unknown>[] = [];
  /** Undefined until the transport is known (over https, the first catalog answer tells). */
  private modeNow: CatalogMode | undefined;
  /**
   * Services with a blocking watch of their own: every routed service in 'watches' mode; in
   * 'detectors' mode services that changed, while a slot is free, until a wait passes with no change.
   */
  private readonly serviceWatches = new Map<string, BlockingWatch<ServiceInstance[]>>();
  private readonly known = new Map<string, Known>();
  /** Services neither read nor failed yet: the first snapshot waits for these only. */
  private readonly unattempted = new Set<string>();
  /** Reads in flight (queued in the client or running); 'again' = read once more when it ends. */
  private readonly reads = new Map<string, 'running' | 'again'>();
  private readonly nonPassing: Record<(typeof STATES)[number], Map<string, StateCheck> | undefined> = { critical: undefined, warning: undefined };
  private readonly failingDetectors = new Set<Detector>();
  /** Services whose last read failed, with the error (kept apart so a change costs no scan). */
  private readonly failingReads = new Map<string, FailingRead>();
  private catalogLoaded = false;
  /** The catalog's last answer, parsed: the next one keeps what did not change (parseCatalogServices). */
  private catalogRead: Catalog | undefined;
  private reconcile: 'idle' | 'running' | 'again' = 'idle';
  private emitScheduled = false;
  /** Bumped by reread() and stop(): answers of an older generation are dropped. */
  private generation = 0;
  private tracker!: StatusTracker;
  private sink!: SourceSink<CatalogSnapshot>;

  constructor(
    private readonly client: CatalogReads,
    private readonly timing: WatchTiming,
    private readonly log: Logger,
    /** Start-up progress, until the first snapshot (systemd STATUS=, /healthz, /status). */
    private readonly onProgress?: (progress: ReadProgress) => void,
  ) {}

  private firstDelivered = false;

  private reportProgress(): void {
    if (this.onProgress && !this.firstDelivered) this.onProgress({ read: this.known.size - this.unattempted.size, total: this.known.size, done: false });
  }

  start(sink: SourceSink<CatalogSnapshot>): void {
    this.sink = sink;
    this.tracker = new StatusTracker(this.name, (s) => sink.status(s));
    this.watchAll();
  }

  /** The mode in use, once known. */
  get mode(): CatalogMode | undefined {
    return this.modeNow;
  }

  /** The services that have a blocking watch of their own now (in 'detectors' mode: the recently changed ones, oldest first). */
  get watchedServices(): string[] {
    return [...this.serviceWatches.keys()];
  }

  /** How many services have a blocking watch of their own now (/metrics). */
  get watchCount(): number {
    return this.serviceWatches.size;
  }

  stop(): void {
    this.generation++;
    for (const watch of this.watches) watch.stop();
    this.watches = [];
    for (const watch of this.serviceWatches.values()) watch.stop();
    this.serviceWatches.clear();
    for (const k of this.known.values()) if (k.retry) clearTimeout(k.retry);
  }

  /** Starts again from scratch: every watch from index 0, every service read again. */
  reread(): void {
    this.stop();
    this.known.clear();
    this.unattempted.clear();
    this.reads.clear();
    this.nonPassing.critical = undefined;
    this.nonPassing.warning = undefined;
    this.failingDetectors.clear();
    this.failingReads.clear();
    this.catalogLoaded = false;
    this.reconcile = 'idle';
    this.watchAll();
  }

  /** Wakes a watch backed off after an error once Consul answers again (ConsulClient.untilAnswering). */
  private get recovered(): ((err: unknown, signal: AbortSignal) => Promise<void> | undefined) | undefined {
    const until = this.client.untilAnswering?.bind(this.client);
    return until ? (err: unknown, signal: AbortSignal) => until(err, signal) : undefined;
  }

  private watchAll(): void {
    // Over http the mode is known now; over https once the first answer has negotiated the protocol.
    const transport = this.client.transport ?? 'http1';
    this.modeNow = transport === 'unknown' ? undefined : transport === 'h2' ? 'watches' : 'detectors';
    const catalog = new BlockingWatch<Catalog>({
      ...this.timing,
      recovered: this.recovered,
      fetch: async (index, wait, signal) => {
        const r = await this.client.catalogServices(index, wait, signal);
        this.catalogRead = parseCatalogServices(r.data, this.catalogRead);
        return { index: r.index, data: this.catalogRead };
      },
      same: sameCatalog,
      onSuccess: () => this.detectorOk('catalog'),
      onData: (services) => {
        if (this.modeNow === undefined) this.pickMode();
        // An answer can carry several changes at once: a new service or new tags beside an
        // instance registered elsewhere. After the first answer, every moved index is reconciled.
        const loaded = this.catalogLoaded;
        this.onCatalog(services);
        if (loaded && this.modeNow === 'detectors') this.startReconcile();
      },
      // In 'watches' mode an instance registered or deregistered wakes its service's own watch.
      onSameData: () => this.modeNow === 'detectors' && this.startReconcile(),
      onError: (err) => this.detectorFailed('catalog', err),
    });
    this.watches = [catalog as BlockingWatch<unknown>];
    catalog.start();
    if (this.modeNow === 'detectors') this.watchStates();
  }

  /** Over https, after the first answer: per-service watches when it came over HTTP/2. */
  private pickMode(): void {
    this.modeNow = this.client.transport === 'h2' ? 'watches' : 'detectors';
    this.log.info(
      { mode: this.modeNow },
      this.modeNow === 'watches' ? 'consul: a blocking watch per service, over HTTP/2' : 'consul: change detectors over HTTP/1.1',
    );
    if (this.modeNow === 'detectors') this.watchStates();
  }

  /** The critical and warning detectors ('detectors' mode only: in 'watches' mode each service's watch sees its checks). */
  private watchStates(): void {
    const recovered = this.recovered;
    const states = STATES.map(
      (state) =>
        new BlockingWatch<StateCheck[]>({
          ...this.timing,
          recovered,
          fetch: async (index, wait, signal) => {
            const r = await this.client.healthState(state, index, wait, signal);
            return { index: r.index, data: parseStateChecks(`${state} checks`, r.data) };
          },
          onSuccess: () => this.detectorOk(state),
          onData: (checks) => this.onStateChecks(state, checks),
          onError: (err) => this.detectorFailed(state, err),
        }),
    );
    this.watches.push(...(states as BlockingWatch<unknown>[]));
    for (const watch of states) watch.start();
  }

  /**
   * 'watches' mode: the service's own blocking query; its answers and failures are the service's
   * reads. `from`: the first read, made before (at start): the watch blocks from its index.
   */
  private watchService(name: string, from?: { index: number; data: ServiceInstance[] }): void {
    const recent = this.modeNow === 'detectors';
    const watch = new BlockingWatch<ServiceInstance[]>({
      ...this.timing,
      ...(recent && { waitMs: Math.min(this.timing.waitMs, RECENT_WATCH_WAIT_MS), onQuietWait: () => this.quietWatchEnded(name, watch) }),
      from,
      recovered: this.recovered,
      // Not async: the read is held for minutes, and a suspended async function keeps its frame (ConsulClient.readJson).
      fetch: (index, wait, signal) =>
        this.client.healthService(name, index, wait, signal).then((r) => ({ index: r.index, data: parseHealthService(name, r.data) })),
      onSuccess: () => {
        if (this.failingReads.delete(name)) this.reportFailing();
      },
      onData: (instances) => this.readDone(name, instances),
      onError: (err) => {
        if (this.modeNow === 'watches') return this.recordFailure(name, err);
        // A recent watch that fails hands its service back to the detectors and the retried reads.
        this.unwatch(name);
        this.readFailed(name, err);
      },
    });
    this.serviceWatches.set(name, watch);
    watch.start();
  }

  /**
   * 'detectors' mode: a read showed `name` changed. It gets a watch of its own, blocking from that
   * read, if a slot of the budget is free; else the detectors keep it. A watch is never cut to free
   * its slot for another: the agent would hold the abandoned query, and count its connection, until
   * the wait ends (http.ts). Slots free as watches end (quietWatchEnded).
   */
  private watchRecent(name: string, from: { index: number; data: ServiceInstance[] }): void {
    const slots = this.client.recentWatchSlots ?? 0;
    if (this.serviceWatches.has(name) || this.serviceWatches.size >= slots) return;
    this.log.debug({ service: name, watched: this.serviceWatches.size + 1 }, 'consul: a watch for a service that changed');
    this.watchService(name, from);
  }

  /**
   * A recent watch whose service did not change for a whole wait ends, and gives its slot up. Its
   * service is read once: a change the detectors skipped while it had a watch, made after the
   * watch's last answer, would be lost otherwise.
   */
  private quietWatchEnded(name: string, watch: BlockingWatch<ServiceInstance[]>): void {
    if (this.serviceWatches.get(name) !== watch) return;
    this.serviceWatches.delete(name);
    this.queueRead(name);
  }

  private unwatch(name: string): void {
    this.serviceWatches.get(name)?.stop();
    this.serviceWatches.delete(name);
  }

  private onCatalog(services: Catalog): void {
    const wanted = new Set<string>();
    for (const [name, tags] of Object.entries(services)) if (!neverRouted(name, tags)) wanted.add(name);
    for (const [name, k] of this.known) {
      if (wanted.has(name)) continue;
      if (k.retry) clearTimeout(k.retry);
      this.unwatch(name);
      this.known.delete(name);
      this.unattempted.delete(name);
      this.reads.delete(name);
      this.failingReads.delete(name);
    }
    for (const name of wanted) {
      const tags = services[name]!;
      const k = this.known.get(name);
      if (!k) {
        this.known.set(name, { tags, failures: 0 });
        this.unattempted.add(name);
        // At start every service is read once before any watch blocks (below: emit): a blocking
        // query costs the agent a read too, and the first snapshot waits for the reads only.
        if (this.modeNow === 'watches' && this.firstDelivered) this.watchService(name);
        else this.queueRead(name);
      } else if (!sameItems(k.tags, tags)) {
        k.tags = tags;
        // A service with its own watch has seen its instances' new tags there.
        if (!this.serviceWatches.has(name)) this.queueRead(name);
      }
    }
    this.catalogLoaded = true;
    this.reportFailing();
    this.reportProgress();
    this.scheduleEmit();
  }

  /** Checks that entered, left or changed a state name the services to read again. */
  private onStateChecks(state: (typeof STATES)[number], checks: StateCheck[]): void {
    const now = new Map(checks.map((c) => [`${c.node}\u0000${c.checkId}`, c]));
    const before = this.nonPassing[state];
    this.nonPassing[state] = now;
    // The first answer: every check in it may be newer than a service read already made.
    const changed: StateCheck[] = before ? [] : checks;
    if (before) {
      for (const [key, c] of now) if (before.get(key)?.service !== c.service) changed.push(c);
      for (const [key, c] of before) if (!now.has(key)) changed.push(c);
    }
    // A service with its own watch is woken by it (its checks are in its answer).
    const nodes = new Set<string>();
    for (const c of changed) {
      if (c.service) {
        if (this.known.has(c.service) && !this.serviceWatches.has(c.service)) this.queueRead(c.service);
      } else nodes.add(c.node);
    }
    // A node check (serfHealth) counts for every instance on its node.
    if (nodes.size > 0) {
      for (const [name, k] of this.known) if (!this.serviceWatches.has(name) && k.instances?.some((i) => nodes.has(i.node))) this.queueRead(name);
    }
  }

  /** The catalog index moved with the same body: find which services' counts differ, read those. */
  private startReconcile(): void {
    if (this.reconcile !== 'idle') {
      this.reconcile = 'again';
      return;
    }
    this.reconcile = 'running';
    const generation = this.generation;
    void (async () => {
      do {
        this.reconcile = 'running';
        try {
          const summaries = parseServiceSummaries((await this.client.serviceSummaries()).data);
          if (generation !== this.generation) return;
          for (const [name, k] of this.known) {
            if (k.instances && !this.serviceWatches.has(name) && summaries.get(name) !== summarize(k.instances)) this.queueRead(name);
          }
        } catch (err) {
          if (generation !== this.generation) return;
          // Without summaries the only safe answer is to read every service (rare: Consul without the endpoint).
          this.log.warn({ error: errorMessage(err) }, 'consul service summaries unreadable; reading every service again');
          for (const name of this.known.keys()) this.queueRead(name);
        }
      } while ((this.reconcile as string) === 'again' && generation === this.generation);
      if (generation === this.generation) this.reconcile = 'idle';
    })();
  }

  private queueRead(name: string): void {
    const state = this.reads.get(name);
    if (state === 'again') return;
    if (state === 'running') {
      this.reads.set(name, 'again');
      return;
    }
    const k = this.known.get(name);
    if (k?.retry) {
      clearTimeout(k.retry);
      k.retry = undefined;
    }
    // The client queues non-blocking reads (a bounded number in flight): from here it is running.
    this.reads.set(name, 'running');
    const generation = this.generation;
    void (async () => {
      try {
        const r = await this.client.healthService(name, 0, 0);
        const instances = parseHealthService(name, r.data);
        if (generation === this.generation) this.readDone(name, instances, r.index);
      } catch (err) {
        if (generation === this.generation) this.readFailed(name, err);
      } finally {
        if (generation === this.generation) {
          const again = this.reads.get(name) === 'again';
          this.reads.delete(name);
          if (again) this.queueRead(name);
        }
      }
    })();
  }

  private readDone(name: string, instances: ServiceInstance[], index?: number): void {
    const k = this.known.get(name);
    if (!k) return;
    // Once a service has its watch, the watch alone says what it holds: a one-off read that was
    // in flight when it started may answer older data than the watch has delivered.
    if (index !== undefined && this.serviceWatches.has(name)) return;
    const before = k.instances;
    k.instances = instances;
    k.index = index;
    // A first read that came after the start (it failed then): its watch starts from it.
    if (this.modeNow === 'watches' && this.firstDelivered && index !== undefined && !this.serviceWatches.has(name)) {
      this.watchService(name, { index, data: instances });
    }
    // A change found by the detectors: the service's next change (a rolling deploy) wakes its own watch.
    if (this.modeNow === 'detectors' && this.firstDelivered && index !== undefined && (!before || !isDeepStrictEqual(before, instances))) {
      this.watchRecent(name, { index, data: instances });
    }
    k.failures = 0;
    if (this.unattempted.delete(name)) this.reportProgress();
    if (this.failingReads.delete(name)) this.reportFailing();
    this.scheduleEmit();
  }

  /** A failed one-off read (any read in 'detectors' mode, a first read in 'watches' mode) is retried with backoff; a watch backs off on its own. */
  private readFailed(name: string, err: unknown): void {
    const k = this.known.get(name);
    if (!k) return;
    k.failures += 1;
    const delay = backoffDelay(k.failures, { baseMs: 250, maxMs: this.timing.maxBackoffMs ?? 30_000 });
    k.retry = setTimeout(() => {
      k.retry = undefined;
      if (this.known.get(name) === k) this.queueRead(name);
    }, delay);
    k.retry.unref?.();
    this.recordFailure(name, err);
  }

  /** The service keeps its last instances; its error shows in the status; the first snapshot no longer waits for it. */
  private recordFailure(name: string, err: unknown): void {
    if (!this.known.has(name)) return;
    const failure: FailingRead = { subject: name, code: errorCode(err), message: errorMessage(err), at: Date.now() };
    this.failingReads.set(name, failure);
    this.log.debug({ error: failure.message, service: name }, 'consul read of one service failed; keeping its last known instances');
    const first = this.unattempted.delete(name);
    if (first) this.reportProgress();
    this.reportFailing();
    if (first) this.scheduleEmit();
  }

  private detectorOk(what: Detector): void {
    // Consul answers again: the services whose reads failed meanwhile are read now, not when
    // their own backoff (up to consul.retry_max) ends.
    // ('watches' mode: each service's watch is woken by the probe on its own.)
    if (this.failingDetectors.delete(what) && this.modeNow === 'detectors') for (const name of this.failingReads.keys()) this.queueRead(name);
    if (this.failingDetectors.size === 0 && this.catalogLoaded) this.tracker.ok();
  }

  private detectorFailed(what: Detector, err: unknown): void {
    this.failingDetectors.add(what);
    // Every failure at debug; the runner logs the source going down (and back up) once.
    this.log.debug({ error: errorMessage(err), watch: what }, 'consul read failed; keeping the last known state');
    this.tracker.failed(err);
  }

  private reportFailing(): void {
    this.tracker.setFailing([...this.failingReads.values()]);
  }

  /** One snapshot per burst of answers (a cold start answers thousands of reads). */
  private scheduleEmit(): void {
    if (this.emitScheduled) return;
    this.emitScheduled = true;
    const generation = this.generation;
    setImmediate(() => {
      this.emitScheduled = false;
      if (generation === this.generation) this.emit();
    });
  }

  private emit(): void {
    // Wait until every service has been tried once: a half-read catalog is not the catalog. A read
    // that failed does not hold the others back: that service is left out until it reads.
    if (!this.catalogLoaded || this.unattempted.size > 0) return;
    if (this.failingDetectors.size === 0) this.tracker.ok();
    const services: Record<string, ServiceInstance[]> = {};
    for (const [name, k] of this.known) if (k.instances) setOwn(services, name, k.instances);
    this.sink.snapshot({ services });
    if (!this.firstDelivered && this.onProgress) this.onProgress({ read: this.known.size, total: this.known.size, done: true });
    if (!this.firstDelivered && this.modeNow === 'watches') {
      // Every service read once: each one's watch blocks from the index of that read.
      for (const [name, k] of this.known) {
        if (k.instances && k.index !== undefined && !this.serviceWatches.has(name)) this.watchService(name, { index: k.index, data: k.instances });
      }
    }
    this.firstDelivered = true;
  }
}
