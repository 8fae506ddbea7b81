// The bounded in-memory history of per-app traffic: one slot per sample, `capacity` slots
// (traffic.window / traffic.interval), shared timestamps, and per backend three Float32 series
// (request rate, 5xx rate, response time). Memory is capacity × 12 bytes per app that has had
// traffic since it appeared, plus the latest counters: an app with none yet holds no series (most
// of a big cluster, 2.1 KB each at the defaults). Backends gone from HAProxy are dropped at the next
// sample. Pure: samples in, views out.
import { ConfigError } from '../errors.js';
import { emptyRow, type BackendStat, type ServerStat, type StatRow, type StatSample, type StatSink } from './stat.js';
import { StringPool } from '../util/string-pool.js';

export interface AppTraffic {
  /** Requests HAProxy counted since its worker started (a reload starts a new count). */
  requests: number;
  /** Requests per second over the last interval; null until two samples. */
  rate: number | null;
  responses: BackendStat['responses'];
  responseMs: number;
  sessions: number;
  /**
   * router.cache: requests looked up in the app's cache (those without a Cookie or Authorization),
   * answered from it (hits) and passed to the app (misses = lookups - hits), since the worker started.
   */
  cache: { lookups: number; hits: number; misses: number };
}

export interface ServerTraffic {
  name: string;
  requests: number;
  state: string;
  check: ServerStat['check'];
}

export interface TrafficSeries {
  /** Sample times, unix ms, oldest first. */
  at: number[];
  /** Requests per second, 5xx responses per second, average response time (ms); null = no data. */
  rate: (number | null)[];
  errors: (number | null)[];
  responseMs: (number | null)[];
}

/** An app HAProxy serves from a spare backend until the next reload (apply/runtime/spares.ts). */
export interface SpareOfApp {
  spare: string;
  /** The app's own backend (`app_<name>`): what its series are keyed by. */
  backend: string;
}

/** Series slots per entry: rate, 5xx rate, response time. */
const SERIES = 3;

/**
 * One backend. What a sample brings is written into `next` and `nextServers` (the objects of the
 * sample before last, reused), then swapped with `latest` and `servers` when the sample is
 * published: a sample allocates nothing per backend or server once the ring knows them, so the
 * sampler does not feed V8's old generation 30 000 objects every 5 s.
 */
interface Entry {
  /** The backend's name (the ring's own copy). */
  readonly name: string;
  latest: BackendStat;
  rate: number | null;
  servers: ServerTraffic[];
  /**
   * SERIES × capacity values, slot-major: [slot * SERIES + k]. NaN where nothing was sampled.
   * Undefined while every sample of the backend was quiet (no rate, no 5xx, response time 0): its
   * values are then known without storing them (quietValue()), until the first sample that is not.
   */
  series: Float32Array | undefined;
  /** Time of the first sample that had the backend. */
  firstAt: number;
  /** Not published yet: no rate at its first sample. */
  fresh: boolean;
  /** The sample being recorded: its backend line (when `nextIn` is that sample's number), its servers (`serversIn`). */
  next: BackendStat;
  nextIn: number;
  nextServers: ServerTraffic[];
  nextServerCount: number;
  serversIn: number;
}

/**
 * The ring is the sink of the `show stat` parser: lines go in as they are read (row()), and the
 * sample shows all at once when published (publish()), or not at all (discard()).
 */
export class TrafficRing implements StatSink {
  private readonly at: Float64Array;
  private head = 0;
  private count = 0;
  private readonly entries = new Map<string, Entry>();
  /** The number of the sample being recorded; entries it has not reached are not in it. */
  private recording = 1;
  /** Backends new in the sample being recorded (not shown before it is published). */
  private readonly arriving = new Map<string, Entry>();
  /** The entry of the last line (a backend's servers come one after the other). */
  private lastEntry: Entry | undefined;
  /** Names and states kept: own copies, not slices of the answer (util/string-pool.ts). */
  private readonly strings = new StringPool();
  /** What record() hands to row() (reused). */
  private readonly recordRow = emptyRow();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new ConfigError(`traffic ring capacity must be a positive integer, got ${capacity}`);
    this.at = new Float64Array(capacity);
  }

  /** Backends in the latest sample. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes of series the ring holds (backends with traffic since they appeared). */
  get seriesBytes(): number {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.series?.byteLength ?? 0;
    return bytes;
  }

  /** Time of the latest sample (unix ms), undefined before the first. */
  get lastAt(): number | undefined {
    return this.count === 0 ? undefined : this.at[(this.head - 1 + this.capacity) % this.capacity];
  }

  /** One line of the sample being recorded (StatSink). */
  row(r: Readonly<StatRow>): void {
    const e = this.entryOf(r.backend);
    if (r.type === 1) {
      e.nextIn = this.recording;
      this.copyStat(r, e.next);
      return;
    }
    if (e.serversIn !== this.recording) {
      e.serversIn = this.recording;
      e.nextServerCount = 0;
    }
    let s = e.nextServers[e.nextServerCount];
    if (!s) {
      s = { name: '', requests: 0, state: '', check: { status: '', code: null, description: '' } };
      e.nextServers.push(s);
    }
    e.nextServerCount += 1;
    s.name = this.own(s.name, r.server);
    s.requests = r.requests;
    s.state = this.own(s.state, r.status);
    s.check.status = this.own(s.check.status, r.checkStatus);
    // While a check is under way HAProxy shows the last result's status but the new check's code
    // (0 until it ends): the server keeps its last result's code.
    s.check.code = r.checkInProgress ? (e.servers.find((last) => last.name === s.name)?.check.code ?? null) : r.checkCode;
    s.check.description = this.own(s.check.description, r.checkDescription);
  }

  /**
   * Shows the sample recorded since the last publish() at once: the new slot, every backend's
   * figures, the backends gone dropped. `spares`: apps HAProxy serves from a spare backend; the
   * spare's lines count as the app's own backend until HAProxy has that (the consolidation reload),
   * so the app's series run on; after it the spare is left as it is (its counters are no longer the app's).
   */
  publish(at: number, spares: readonly SpareOfApp[] = []): void {
    for (const s of spares) this.attribute(s);
    const previousAt = this.lastAt;
    const dt = previousAt === undefined ? 0 : (at - previousAt) / 1000;
    const slot = this.head;
    this.at[slot] = at;
    this.head = (slot + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    for (const [name, e] of this.arriving) this.entries.set(name, e);
    const base = slot * SERIES;
    for (const [name, e] of this.entries) {
      if (e.nextIn !== this.recording) {
        this.entries.delete(name);
        continue;
      }
      const next = e.next;
      let errors: number | null = null;
      e.rate = null;
      if (!e.fresh && dt > 0) {
        e.rate = perSecond(next.requests, e.latest.requests, dt);
        errors = perSecond(next.responses['5xx'], e.latest.responses['5xx'], dt);
      }
      if (e.fresh) e.firstAt = at;
      e.fresh = false;
      e.next = e.latest;
      e.latest = next;
      const servers = e.nextServers;
      servers.length = e.serversIn === this.recording ? e.nextServerCount : 0;
      e.nextServers = e.servers;
      e.servers = servers;
      if (!e.series) {
        if (this.quietSample(e, at, e.rate, errors, next.responseMs)) continue;
        e.series = this.seriesUpTo(e);
      }
      e.series[base] = e.rate ?? Number.NaN;
      e.series[base + 1] = errors ?? Number.NaN;
      e.series[base + 2] = next.responseMs;
    }
    this.endRecording();
  }

  /** Drops what was recorded since the last publish() (an answer cut short): the ring shows what it had. */
  discard(): void {
    this.endRecording();
  }

  record(at: number, sample: StatSample, spares: readonly SpareOfApp[] = []): void {
    for (const _ of this.recordInSteps(at, sample, 1000, spares));
  }

  /**
   * record() in steps of `step` lines (the caller gives the event loop a turn at each yield).
   * Nothing is visible before the last step, which publishes the whole sample at once, so a reader
   * in between sees the previous sample.
   */
  *recordInSteps(at: number, sample: StatSample, step = 1000, spares: readonly SpareOfApp[] = []): Generator<void, void> {
    const r = this.recordRow;
    let n = 0;
    for (const s of sample.servers) {
      r.type = 2;
      r.backend = s.backend;
      r.server = s.server;
      r.requests = s.requests;
      r.status = s.status;
      r.checkStatus = s.check.status;
      r.checkCode = s.check.code;
      r.checkInProgress = false;
      r.checkDescription = s.check.description;
      this.row(r);
      if (++n % step === 0) yield;
    }
    for (const b of sample.backends) {
      r.type = 1;
      r.backend = b.backend;
      r.requests = b.requests;
      Object.assign(r.responses, b.responses);
      r.responseMs = b.responseMs;
      r.sessions = b.sessions;
      r.status = b.status;
      r.cacheLookups = b.cache.lookups;
      r.cacheHits = b.cache.hits;
      this.row(r);
      if (++n % step === 0) yield;
    }
    this.publish(at, spares);
  }

  /** The latest traffic of a backend, undefined when the latest sample did not have it. */
  traffic(backend: string): AppTraffic | undefined {
    const e = this.entries.get(backend);
    if (!e) return undefined;
    const { requests, responses, responseMs, sessions, cache } = e.latest;
    return {
      requests,
      rate: e.rate === null ? null : round(e.rate),
      responses: { ...responses },
      responseMs,
      sessions,
      cache: { lookups: cache.lookups, hits: cache.hits, misses: Math.max(0, cache.lookups - cache.hits) },
    };
  }

  servers(backend: string): ServerTraffic[] {
    return this.entries.get(backend)?.servers ?? [];
  }

  /**
   * The backend's mean 5xx rate (per second) over its last `samples` samples, or undefined when
   * none was sampled. A mean, because one short interval of an app answering some 5xx often has none.
   */
  recentErrors(backend: string, samples: number): number | undefined {
    const e = this.entries.get(backend);
    if (!e) return undefined;
    let sum = 0;
    let n = 0;
    for (let i = this.count - 1; i >= Math.max(0, this.count - samples); i--) {
      const v = this.valueAt(e, (this.head - this.count + i + this.capacity) % this.capacity, 1);
      if (Number.isNaN(v)) continue;
      sum += v;
      n += 1;
    }
    return n === 0 ? undefined : round(sum / n);
  }

  /** Sample times after `since` (unix ms), oldest first. */
  times(since = -Infinity): number[] {
    const out: number[] = [];
    for (const slot of this.slots(since)) out.push(this.at[slot]!);
    return out;
  }

  /** The series of one backend for the samples after `since`, aligned with `times(since)`. */
  series(backend: string, since = -Infinity): TrafficSeries | undefined {
    const e = this.entries.get(backend);
    if (!e) return undefined;
    const out: TrafficSeries = { at: [], rate: [], errors: [], responseMs: [] };
    for (const slot of this.slots(since)) {
      out.at.push(this.at[slot]!);
      out.rate.push(value(this.valueAt(e, slot, 0)));
      out.errors.push(value(this.valueAt(e, slot, 1)));
      out.responseMs.push(value(this.valueAt(e, slot, 2)));
    }
    return out;
  }

  /** The entry a line of the sample being recorded goes to (a new one when the ring does not know the backend). */
  private entryOf(backend: string): Entry {
    const last = this.lastEntry;
    if (last && last.name === backend) return last;
    let e = this.entries.get(backend) ?? this.arriving.get(backend);
    if (!e) {
      const name = this.strings.get(backend);
      e = {
        name,
        latest: emptyStat(name),
        rate: null,
        servers: [],
        series: undefined,
        firstAt: Number.NaN,
        fresh: true,
        next: emptyStat(name),
        nextIn: 0,
        nextServers: [],
        nextServerCount: 0,
        serversIn: 0,
      };
      this.arriving.set(name, e);
    }
    this.lastEntry = e;
    return e;
  }

  /** Series value `k` of a backend in a slot, stored or (no series yet) known from when it appeared. */
  private valueAt(e: Entry, slot: number, k: number): number {
    return e.series ? e.series[slot * SERIES + k]! : this.quietValue(e, slot, k);
  }

  /**
   * What a backend that has been quiet since it appeared has in a slot: nothing before it appeared,
   * at its first sample no rates (no earlier count) and a response time of 0, then 0 everywhere.
   */
  private quietValue(e: Entry, slot: number, k: number): number {
    const at = this.at[slot]!;
    if (!(at >= e.firstAt)) return Number.NaN;
    if (at === e.firstAt) return k === 2 ? 0 : Number.NaN;
    return 0;
  }

  /** True when a sample's values are what quietValue() gives for it, so nothing needs storing. */
  private quietSample(e: Entry, at: number, rate: number | null, errors: number | null, responseMs: number): boolean {
    if (responseMs !== 0) return false;
    return at === e.firstAt ? rate === null && errors === null : rate === 0 && errors === 0;
  }

  /** The series a quiet backend had so far, stored at its first sample with traffic. */
  private seriesUpTo(e: Entry): Float32Array {
    const series = new Float32Array(SERIES * this.capacity).fill(Number.NaN);
    for (const slot of this.slots(-Infinity)) {
      for (let k = 0; k < SERIES; k++) series[slot * SERIES + k] = this.quietValue(e, slot, k);
    }
    return series;
  }

  /** The app's lines are its spare's when HAProxy has the spare and not yet the app's own backend. */
  private attribute({ spare, backend }: SpareOfApp): void {
    const from = this.entries.get(spare) ?? this.arriving.get(spare);
    if (!from || from.nextIn !== this.recording) return;
    const own = this.entries.get(backend) ?? this.arriving.get(backend);
    if (own && own.nextIn === this.recording) return;
    const to = this.entryOf(backend);
    to.nextIn = this.recording;
    this.copyStat(from.next, to.next);
    to.serversIn = this.recording;
    to.nextServerCount = 0;
    const count = from.serversIn === this.recording ? from.nextServerCount : 0;
    for (const s of from.nextServers.slice(0, count)) {
      to.nextServers[to.nextServerCount++] = { name: s.name, requests: s.requests, state: s.state, check: { ...s.check } };
    }
    from.nextIn = 0;
  }

  private copyStat(from: Readonly<StatRow> | BackendStat, to: BackendStat): void {
    to.requests = from.requests;
    Object.assign(to.responses, from.responses);
    to.responseMs = from.responseMs;
    to.sessions = from.sessions;
    to.status = this.own(to.status, from.status);
    if ('cache' in from) Object.assign(to.cache, from.cache);
    else Object.assign(to.cache, { lookups: from.cacheLookups, hits: from.cacheHits });
  }

  /** `value` as the ring keeps it: the string it holds when equal, else the pool's copy. */
  private own(held: string, value: string): string {
    return held === value ? held : this.strings.get(value);
  }

  private endRecording(): void {
    this.recording += 1;
    this.arriving.clear();
    this.lastEntry = undefined;
    this.strings.rotate();
  }

  private *slots(since: number): Generator<number> {
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head - this.count + i + this.capacity) % this.capacity;
      if (this.at[slot]! > since) yield slot;
    }
  }
}

/** A counter's increase per second; a counter that went down was reset (HAProxy reloaded). */
function perSecond(now: number, before: number, dt: number): number {
  return (now >= before ? now - before : now) / dt;
}

function emptyStat(backend: string): BackendStat {
  return {
    backend,
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    responseMs: 0,
    sessions: 0,
    status: '',
    cache: { lookups: 0, hits: 0 },
  };
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
const value = (v: number): number | null => (Number.isNaN(v) ? null : round(v));
