// The bounded in-memory history of per-app traffic: one slot per sample, `capacity` slots
// (traffic.window / traffic.interval), shared timestamps, and per backend three Float32 series
// (request rate, 5xx rate, response time). Memory is capacity × 12 bytes per app plus the latest
// counters; backends gone from HAProxy are dropped at the next sample. Pure: samples in, views out.
import { ConfigError } from '../errors.js';
import type { BackendStat, ServerStat, StatSample } from './stat.js';

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

/** Series slots per entry: rate, 5xx rate, response time. */
const SERIES = 3;

interface Entry {
  latest: BackendStat;
  rate: number | null;
  servers: ServerTraffic[];
  /** SERIES × capacity values, slot-major: [slot * SERIES + k]. NaN where nothing was sampled. */
  series: Float32Array;
  /** What the sample being recorded brings, applied when it is published. */
  next: { latest: BackendStat; rate: number | null; errors: number | null; servers: ServerTraffic[] } | undefined;
}

export class TrafficRing {
  private readonly at: Float64Array;
  private head = 0;
  private count = 0;
  private readonly entries = new Map<string, Entry>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new ConfigError(`traffic ring capacity must be a positive integer, got ${capacity}`);
    this.at = new Float64Array(capacity);
  }

  /** Backends in the latest sample. */
  get size(): number {
    return this.entries.size;
  }

  /** Time of the latest sample (unix ms), undefined before the first. */
  get lastAt(): number | undefined {
    return this.count === 0 ? undefined : this.at[(this.head - 1 + this.capacity) % this.capacity];
  }

  record(at: number, sample: StatSample): void {
    for (const _ of this.recordInSteps(at, sample));
  }

  /**
   * record() in steps of `step` backends (the caller gives the event loop a turn at each yield:
   * 10 000 apps in one go blocked the daemon). Nothing is visible before the last step, which
   * publishes the whole sample at once, so a reader in between sees the previous sample.
   */
  *recordInSteps(at: number, sample: StatSample, step = 1000): Generator<void, void> {
    const previousAt = this.lastAt;
    const dt = previousAt === undefined ? 0 : (at - previousAt) / 1000;
    const servers = new Map<string, ServerTraffic[]>();
    let n = 0;
    for (const s of sample.servers) {
      let list = servers.get(s.backend);
      if (!list) servers.set(s.backend, (list = []));
      list.push({ name: s.server, requests: s.requests, state: s.status, check: s.check });
      if (++n % (step * 3) === 0) yield;
    }
    const fresh = new Map<string, Entry>();
    for (const b of sample.backends) {
      const entry = this.entries.get(b.backend);
      let rate: number | null = null;
      let errors: number | null = null;
      if (entry && dt > 0) {
        rate = perSecond(b.requests, entry.latest.requests, dt);
        errors = perSecond(b.responses['5xx'], entry.latest.responses['5xx'], dt);
      }
      const next = { latest: b, rate, errors, servers: servers.get(b.backend) ?? [] };
      if (entry) entry.next = next;
      else fresh.set(b.backend, { latest: b, rate: null, servers: [], series: new Float32Array(SERIES * this.capacity).fill(Number.NaN), next });
      if (++n % step === 0) yield;
    }
    // Published in one go: the new slot, every backend's figures, the backends gone dropped.
    const slot = this.head;
    this.at[slot] = at;
    this.head = (slot + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    for (const [name, e] of fresh) this.entries.set(name, e);
    const base = slot * SERIES;
    for (const [name, e] of this.entries) {
      const next = e.next;
      if (!next) {
        this.entries.delete(name);
        continue;
      }
      e.next = undefined;
      e.latest = next.latest;
      e.rate = next.rate;
      e.servers = next.servers;
      e.series[base] = next.rate ?? Number.NaN;
      e.series[base + 1] = next.errors ?? Number.NaN;
      e.series[base + 2] = next.latest.responseMs;
    }
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
      const v = e.series[((this.head - this.count + i + this.capacity) % this.capacity) * SERIES + 1]!;
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
      const base = slot * SERIES;
      out.at.push(this.at[slot]!);
      out.rate.push(value(e.series[base]!));
      out.errors.push(value(e.series[base + 1]!));
      out.responseMs.push(value(e.series[base + 2]!));
    }
    return out;
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

const round = (v: number): number => Math.round(v * 1000) / 1000;
const value = (v: number): number | null => (Number.isNaN(v) ? null : round(v));
