// Prometheus series for traffic, in the router's registry. Always: the sampler's own health and
// each certificate's expiry. Per app (one series set per app, so only with `metrics.per_app:
// true`): requests, responses by class, response time, sessions, servers up. Without per-app
// series, HAProxy's own exporter on the stats listener (/metrics) has the same per backend.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RouterState } from '../state.js';
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
  const registers = [registry];
  const traffic = () => holder.target.traffic();
  const state = () => holder.target.state();

  new Counter({
    name: `${METRIC_PREFIX}traffic_samples_total`,
    help: 'Traffic samples taken from HAProxy (show stat over the runtime socket).',
    registers,
    collect() {
      this.reset();
      this.inc(traffic()?.status.samples ?? 0);
    },
  });
  new Counter({
    name: `${METRIC_PREFIX}traffic_sample_failures_total`,
    help: 'Traffic samples that failed (HAProxy not answering on the runtime socket).',
    registers,
    collect() {
      this.reset();
      this.inc(traffic()?.status.failures ?? 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}traffic_last_sample_timestamp_seconds`,
    help: 'When traffic was last sampled from HAProxy (unix time).',
    registers,
    collect() {
      this.reset();
      const at = traffic()?.status.lastSampleAt;
      if (at !== undefined) this.set(at / 1000);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}certificate_not_after_timestamp_seconds`,
    help: 'When each certificate in use expires (unix time); name is its key under tls/ in Vault.',
    labelNames: ['name'],
    registers,
    collect() {
      this.reset();
      for (const c of state()?.tls?.certificates ?? []) {
        const at = Date.parse(c.notAfter);
        if (Number.isFinite(at)) this.set({ name: c.name }, at / 1000);
      }
    },
  });
  if (!perApp) return;

  /** (app name, backend) of every app HAProxy serves. */
  const apps = (): [string, string][] => (state()?.liveModel?.apps ?? []).map((a) => [a.name, a.backend]);
  new Counter({
    name: `${METRIC_PREFIX}app_requests_total`,
    help: 'Requests (tcp: sessions) HAProxy counted per app since its worker started (metrics.per_app).',
    labelNames: ['app'],
    registers,
    collect() {
      this.reset();
      const ring = traffic()?.ring;
      for (const [app, backend] of apps()) {
        const t = ring?.traffic(backend);
        if (t) this.inc({ app }, t.requests);
      }
    },
  });
  new Counter({
    name: `${METRIC_PREFIX}app_responses_total`,
    help: 'HTTP responses per app by class: 2xx, 3xx, 4xx, 5xx (metrics.per_app).',
    labelNames: ['app', 'code'],
    registers,
    collect() {
      this.reset();
      const ring = traffic()?.ring;
      for (const [app, backend] of apps()) {
        const t = ring?.traffic(backend);
        if (!t) continue;
        for (const [code, n] of Object.entries(t.responses)) this.inc({ app, code }, n);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}app_response_time_seconds`,
    help: 'Average response time per app over its last 1024 requests, as HAProxy computes it (metrics.per_app).',
    labelNames: ['app'],
    registers,
    collect() {
      this.reset();
      const ring = traffic()?.ring;
      for (const [app, backend] of apps()) {
        const t = ring?.traffic(backend);
        if (t) this.set({ app }, t.responseMs / 1000);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}app_sessions`,
    help: 'Current sessions per app (metrics.per_app).',
    labelNames: ['app'],
    registers,
    collect() {
      this.reset();
      const ring = traffic()?.ring;
      for (const [app, backend] of apps()) {
        const t = ring?.traffic(backend);
        if (t) this.set({ app }, t.sessions);
      }
    },
  });
}
