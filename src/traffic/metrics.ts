// Prometheus series for traffic, in the router's registry. Always: the sampler's own health,
// each certificate's expiry, and the cache hits and misses of the apps with router.cache. Per app (one series set per app, so only with `metrics.per_app:
// true`): requests, responses by class, response time, sessions. Without per-app
// series, HAProxy's own exporter on the stats listener (/metrics) has the same per backend.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RouterState } from '../state.js';
import type { AppTraffic } from './ring.js';
import type { TrafficSource } from '../server/traffic-view.js';
import { METRIC_PREFIX } from '../server/metrics.js';

export interface TrafficMetricsTarget {
  state: () => RouterState | undefined;
  traffic: () => TrafficSource | undefined;
}

const targets = new WeakMap<Registry, { target: TrafficMetricsTarget }>();

/**
 * Registers the series once per registry; a later call (a SIGHUP restart keeps the registry)
 * only points them at the new daemon's state and sampler.
 */
export function registerTrafficMetrics(registry: Registry, target: TrafficMetricsTarget, perApp: boolean): void {
  const known = targets.get(registry);
  if (known) {
    known.target = target;
    return;
  }
  const holder = { target };
  targets.set(registry, holder);
  const traffic = () => holder.target.traffic();
  const state = () => holder.target.state();
  const cacheSamples = (pick: (c: AppTraffic['cache']) => number): Sample[] => {
    const ring = traffic()?.ring;
    if (!ring) return [];
    return (state()?.deployment?.model?.apps ?? []).flatMap((a): Sample[] => {
      if (a.cache === undefined) return [];
      const t = ring.traffic(a.backend);
      return t ? [[{ app: a.name }, pick(t.cache)]] : [];
    });
  };
  const series: Series[] = [
    {
      name: 'traffic_samples_total',
      kind: 'counter',
      help: 'Traffic samples taken from HAProxy (show stat over the runtime socket).',
      samples: () => [[{}, traffic()?.status.samples ?? 0]],
    },
    {
      name: 'traffic_sample_failures_total',
      kind: 'counter',
      help: 'Traffic samples that failed (HAProxy not answering on the runtime socket).',
      samples: () => [[{}, traffic()?.status.failures ?? 0]],
    },
    {
      name: 'traffic_last_sample_timestamp_seconds',
      kind: 'gauge',
      help: 'When traffic was last sampled from HAProxy (unix time).',
      samples: () => {
        const at = traffic()?.status.lastSampleAt;
        return at === undefined ? [] : [[{}, at / 1000]];
      },
    },
    {
      name: 'traffic_series_bytes',
      kind: 'gauge',
      help: 'Bytes of traffic history held in memory (the apps that have had traffic since they appeared).',
      samples: () => [[{}, traffic()?.ring.seriesBytes ?? 0]],
    },
    {
      name: 'certificate_not_after_timestamp_seconds',
      kind: 'gauge',
      help: 'When each certificate in use expires (unix time); name is its key under tls/ in Vault.',
      labelNames: ['name'],
      samples: () =>
        (state()?.tls?.certificates ?? []).flatMap((c): Sample[] => {
          const at = Date.parse(c.notAfter);
          return Number.isFinite(at) ? [[{ name: c.name }, at / 1000]] : [];
        }),
    },
    // router.cache: per app, but always (not only with metrics.per_app): only apps with a cache
    // have these series, and haproxy.cache_max_size bounds how many there can be (a cache is at least 1m).
    {
      name: 'app_cache_hits_total',
      kind: 'counter',
      help: "Requests answered from the app's HAProxy cache (router.cache) since its worker started.",
      labelNames: ['app'],
      samples: () => cacheSamples((c) => c.hits),
    },
    {
      name: 'app_cache_misses_total',
      kind: 'counter',
      help: "Requests looked up in the app's HAProxy cache and passed to the app (lookups - hits; requests with a Cookie or Authorization are not looked up).",
      labelNames: ['app'],
      samples: () => cacheSamples((c) => c.misses),
    },
  ];
  if (perApp) {
    /** One app's samples for every app HAProxy serves and the latest sample has. */
    const eachApp = (pick: (app: string, t: AppTraffic) => Sample[]) => (): Sample[] => {
      const ring = traffic()?.ring;
      return (state()?.deployment?.model?.apps ?? []).flatMap((a) => {
        const t = ring?.traffic(a.backend);
        return t ? pick(a.name, t) : [];
      });
    };
    series.push(
      {
        name: 'app_requests_total',
        kind: 'counter',
        help: 'Requests (tcp: sessions) HAProxy counted per app since its worker started (metrics.per_app).',
        labelNames: ['app'],
        samples: eachApp((app, t) => [[{ app }, t.requests]]),
      },
      {
        name: 'app_responses_total',
        kind: 'counter',
        help: 'HTTP responses per app by class: 2xx, 3xx, 4xx, 5xx (metrics.per_app).',
        labelNames: ['app', 'code'],
        samples: eachApp((app, t) => Object.entries(t.responses).map(([code, n]): Sample => [{ app, code }, n])),
      },
      {
        name: 'app_response_time_seconds',
        kind: 'gauge',
        help: 'Average response time per app over its last 1024 requests, as HAProxy computes it (metrics.per_app).',
        labelNames: ['app'],
        samples: eachApp((app, t) => [[{ app }, t.responseMs / 1000]]),
      },
      {
        name: 'app_sessions',
        kind: 'gauge',
        help: 'Current sessions per app (metrics.per_app).',
        labelNames: ['app'],
        samples: eachApp((app, t) => [[{ app }, t.sessions]]),
      },
    );
  }
  for (const s of series) register(registry, s);
}

type Sample = [labels: Record<string, string>, value: number];

/** One series: what it is, and its samples read at each scrape. */
interface Series {
  name: string;
  kind: 'counter' | 'gauge';
  help: string;
  labelNames?: string[];
  samples: () => Sample[];
}

/** Each scrape starts from nothing and sets every sample (counters as HAProxy's totals). */
function register(registry: Registry, s: Series): void {
  const config = { name: `${METRIC_PREFIX}${s.name}`, help: s.help, labelNames: s.labelNames ?? [], registers: [registry] };
  if (s.kind === 'counter')
    new Counter({
      ...config,
      collect() {
        this.reset();
        for (const [labels, value] of s.samples()) this.inc(labels, value);
      },
    });
  else
    new Gauge({
      ...config,
      collect() {
        this.reset();
        for (const [labels, value] of s.samples()) this.set(labels, value);
      },
    });
}
