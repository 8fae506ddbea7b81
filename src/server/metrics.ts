// Prometheus metrics (prom-client) in a registry of their own, so several daemons can live in one
// process (tests) and a SIGHUP restart of the daemon keeps its counters: attach() moves the
// metrics to the new runner. Counters follow the runner's events; gauges read its state on scrape.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ORDER_RESULTS, type OrderResult } from '../acme/schedule.js';
import type { ApplyReport } from '../apply/applier.js';
import { runningChecksumOf } from '../apply/deployment.js';
import { modelCounts } from '../model/counts.js';
import type { Runner } from '../runner.js';
import type { RouterState } from '../state.js';
import type { ConsulTraffic } from '../sources/consul/http.js';

/** The Consul client's counters that only grow (carried over a SIGHUP restart). */
const CONSUL_TOTALS = ['requests', 'responseBytes', 'refused', 'goaway', 'streamResets', 'refusedStreams'] as const;
type ConsulTotal = (typeof CONSUL_TOTALS)[number];
import { REQUIRED_SOURCES, evaluateHealth } from './status.js';

export const METRIC_PREFIX = 'paas_router_';

/** 'reload' or 'runtime' for a report that changed what HAProxy serves, else undefined. */
export function applyMethod(report: ApplyReport): 'reload' | 'runtime' | undefined {
  const status = String(report.status);
  if (status === 'reloaded') return 'reload';
  if (status === 'runtime') return 'runtime';
  return undefined;
}

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class RouterMetrics {
  readonly registry = new Registry();
  private runner: Runner | undefined;
  private decisive: ApplyReport | undefined;
  private readonly listeners = {
    applied: (report: ApplyReport) => this.onApplied(report),
    rendered: (ms: number) => this.renderDuration.observe(ms / 1000),
    buildError: () => this.buildErrors.inc(),
    acmeOrder: (result: OrderResult) => this.acmeOrders.inc({ result }),
  };

  private readonly changesApplied: Counter<'method'>;
  private readonly reloadFailures: Counter;
  private readonly refused: Counter;
  private readonly writeFailures: Counter;
  private readonly buildErrors: Counter;
  private readonly renderDuration: Histogram;
  private readonly validateDuration: Histogram;
  private readonly reloadDuration: Histogram;
  private readonly acmeOrders: Counter<'result'>;

  constructor(opts: { version?: string; now?: () => number; defaultMetrics?: boolean } = {}) {
    const now = opts.now ?? Date.now;
    const registers = [this.registry];
    const state = (): RouterState | undefined => this.runner?.state;

    new Gauge({ name: `${METRIC_PREFIX}info`, help: 'Always 1; the version label names the running paas-router.', labelNames: ['version'], registers }).set(
      { version: opts.version ?? 'unknown' },
      1,
    );
    new Gauge({
      name: `${METRIC_PREFIX}source_up`,
      help: "1 when the source's last read succeeded, 0 when it is down or has not synced yet.",
      labelNames: ['source', 'required'],
      registers,
      collect() {
        this.reset();
        for (const [name, s] of sourceEntries(state())) this.set({ source: name, required: String(isRequired(name)) }, s?.state === 'ok' ? 1 : 0);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}source_sync_age_seconds`,
      help: "Seconds since the source's last successful sync (+Inf when it never synced).",
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        const t = now();
        for (const [name, s] of sourceEntries(state()))
          this.set({ source: name }, s?.lastSyncAt === undefined ? Infinity : Math.max(0, (t - s.lastSyncAt) / 1000));
      },
    });
    this.changesApplied = new Counter({
      name: `${METRIC_PREFIX}changes_applied_total`,
      help: 'Changes HAProxy now serves, by method: runtime (runtime API, no reload) or reload.',
      labelNames: ['method'],
      registers,
    });
    this.changesApplied.inc({ method: 'reload' }, 0);
    this.changesApplied.inc({ method: 'runtime' }, 0);
    this.reloadFailures = new Counter({
      name: `${METRIC_PREFIX}reload_failures_total`,
      help: 'Reloads HAProxy did not complete (the previous configuration kept running).',
      registers,
    });
    this.refused = new Counter({ name: `${METRIC_PREFIX}config_refused_total`, help: 'Candidate configurations refused by haproxy -c.', registers });
    this.writeFailures = new Counter({ name: `${METRIC_PREFIX}write_failures_total`, help: 'Configurations that could not be written to disk.', registers });
    this.buildErrors = new Counter({
      name: `${METRIC_PREFIX}build_errors_total`,
      help: 'Builds that failed to render (template errors); the running configuration stayed.',
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}rejected_inputs`,
      help: 'Inputs rejected by the latest build, by kind of reason: service, tag, domain (invalid), conflict.',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        const counts: Record<string, number> = { service: 0, tag: 0, domain: 0, conflict: 0 };
        for (const r of state()?.builtModel?.rejections ?? []) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
        for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
      },
    });
    this.renderDuration = new Histogram({
      name: `${METRIC_PREFIX}render_duration_seconds`,
      help: 'Time to render the candidate configuration from the templates.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.validateDuration = new Histogram({
      name: `${METRIC_PREFIX}validate_duration_seconds`,
      help: 'Time haproxy -c took to validate a candidate.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reloadDuration = new Histogram({
      name: `${METRIC_PREFIX}reload_duration_seconds`,
      help: 'Time a reload through the master CLI took until the new worker ran.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${METRIC_PREFIX}routes`,
      help: 'Host routes HAProxy serves (default hosts and custom domains).',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        const model = state()?.deployment?.model;
        const hosts = model ? modelCounts(model).hosts : { default: 0, kv: 0 };
        this.set({ source: 'default' }, hosts.default);
        this.set({ source: 'kv' }, hosts.kv);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}apps`,
      help: 'Apps HAProxy serves, by mode.',
      labelNames: ['mode'],
      registers,
      collect() {
        this.reset();
        const model = state()?.deployment?.model;
        const apps = model ? modelCounts(model).apps : { http: 0, tcp: 0 };
        this.set({ mode: 'http' }, apps.http);
        this.set({ mode: 'tcp' }, apps.tcp);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}servers`,
      help: 'Backend servers HAProxy serves, by state: up (all Consul checks passing) or down.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const model = state()?.deployment?.model;
        const servers = model ? modelCounts(model).servers : { up: 0, down: 0 };
        this.set({ state: 'up' }, servers.up);
        this.set({ state: 'down' }, servers.down);
      },
    });
    const timestamp = (name: string, help: string, read: (s: RouterState) => number | undefined) =>
      new Gauge({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          this.reset();
          const s = state();
          const at = s && read(s);
          if (at !== undefined) this.set(at / 1000);
        },
      });
    timestamp('last_reload_timestamp_seconds', 'When HAProxy was last reloaded by paas-router (unix time).', (s) => s.lastReloadAt);
    timestamp('last_runtime_change_timestamp_seconds', 'When a change was last applied through the runtime API (unix time).', (s) => s.lastRuntimeChangeAt);
    new Gauge({
      name: `${METRIC_PREFIX}running_config_info`,
      help: 'Always 1; the checksum label is the sha256 of the configuration HAProxy runs.',
      labelNames: ['checksum'],
      registers,
      collect() {
        this.reset();
        const sum = runningChecksumOf(state()?.deployment);
        if (sum) this.set({ checksum: sum }, 1);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}change_held`,
      help: '1 while the never-shrink guard holds a change back (the current routes keep serving).',
      registers,
      collect() {
        this.set(state()?.held ? 1 : 0);
      },
    });
    const self = this;
    new Gauge({
      name: `${METRIC_PREFIX}healthy`,
      help: '1 when /healthz answers 200 (every required source synced, HAProxy runs the latest good configuration).',
      registers,
      collect() {
        const s = state();
        this.set(s && evaluateHealth(s, now(), self.decisive).ok ? 1 : 0);
      },
    });
    this.registerConsulMetrics(registers);
    this.acmeOrders = acmeMetrics(registers, state, now);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** The Consul client's traffic; totals of the clients followed before it (a SIGHUP restart) carry over. */
  private consul: { traffic: () => ConsulTraffic; base: Record<ConsulTotal, number>; watches?: () => number } | undefined;

  /** Follows this Consul client's traffic (and its catalog source's per-service watches) from now on. */
  followConsul(traffic: () => ConsulTraffic, watches?: () => number): void {
    const base = Object.fromEntries(CONSUL_TOTALS.map((f) => [f, 0])) as Record<ConsulTotal, number>;
    if (this.consul) {
      const old = this.consul.traffic();
      for (const f of CONSUL_TOTALS) base[f] = this.consul.base[f] + old[f];
    }
    this.consul = { traffic, base, watches };
  }

  private registerConsulMetrics(registers: Registry[]): void {
    const self = this;
    const total = (name: string, help: string, field: ConsulTotal) =>
      new Counter({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          const c = self.consul;
          this.reset();
          if (c) this.inc(c.base[field] + c.traffic()[field]);
        },
      });
    total('consul_requests_total', 'HTTP requests sent to Consul (blocking or not, retries included).', 'requests');
    total('consul_response_bytes_total', 'Bytes of Consul answers read (bodies).', 'responseBytes');
    total('consul_refused_total', 'Connections Consul refused (reset before answering, or 429); each was retried with backoff.', 'refused');
    total('consul_goaway_total', 'HTTP/2 connections Consul closed with a GOAWAY; their unanswered streams were sent again on another.', 'goaway');
    total('consul_stream_resets_total', 'HTTP/2 streams Consul reset (RST_STREAM, refused ones apart); each was sent again.', 'streamResets');
    total('consul_refused_streams_total', 'HTTP/2 streams Consul refused (REFUSED_STREAM, or past a GOAWAY); each was sent again.', 'refusedStreams');
    const now = (name: string, help: string, field: 'streams' | 'connections' | 'maxConnectionsHeld') =>
      new Gauge({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          this.set(self.consul?.traffic()[field] ?? 0);
        },
      });
    now('consul_streams', 'HTTP/2 streams open to Consul now (one per blocking watch and read in flight; 0 over HTTP/1.1).', 'streams');
    now('consul_connections', 'Connections open to Consul now (at most consul.max_connections).', 'connections');
    now('consul_connections_max', 'The most connections open to Consul at once since the client started.', 'maxConnectionsHeld');
    new Gauge({
      name: `${METRIC_PREFIX}consul_service_watches`,
      help: 'Services with a blocking watch of their own now: every routed service over HTTP/2, over HTTP/1.1 the ones that changed within the last minute or so, as slots allow.',
      registers,
      collect() {
        this.set(self.consul?.watches?.() ?? 0);
      },
    });
  }

  /** The last apply report that was not 'already-refused' (for the health rules). */
  get lastDecisiveReport(): ApplyReport | undefined {
    return this.decisive;
  }

  /** Follows `runner` from now on (and stops following the previous one). */
  attach(runner: Runner): void {
    this.detach();
    this.runner = runner;
    this.decisive = undefined;
    runner.on('applied', this.listeners.applied);
    runner.on('rendered', this.listeners.rendered);
    runner.on('build-error', this.listeners.buildError);
    runner.on('acme-order', this.listeners.acmeOrder);
  }

  detach(): void {
    if (!this.runner) return;
    this.runner.off('applied', this.listeners.applied);
    this.runner.off('rendered', this.listeners.rendered);
    this.runner.off('build-error', this.listeners.buildError);
    this.runner.off('acme-order', this.listeners.acmeOrder);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private onApplied(report: ApplyReport): void {
    if (report.status !== 'already-refused') this.decisive = report;
    const method = applyMethod(report);
    if (method) this.changesApplied.inc({ method });
    if (report.status === 'reload-failed') this.reloadFailures.inc();
    if (report.status === 'refused') this.refused.inc();
    if (report.status === 'write-failed') this.writeFailures.inc();
    if (report.validateMs !== undefined) this.validateDuration.observe(report.validateMs / 1000);
    if (report.reloadMs !== undefined && report.status === 'reloaded') this.reloadDuration.observe(report.reloadMs / 1000);
  }
}

function isRequired(name: string): boolean {
  return (REQUIRED_SOURCES as readonly string[]).includes(name);
}

function sourceEntries(state: RouterState | undefined): [string, RouterState['sources'][string] | undefined][] {
  const names = [...new Set([...REQUIRED_SOURCES, ...Object.keys(state?.sources ?? {})])];
  return names.map((n) => [n, state?.sources[n]]);
}

/** ACME (src/acme/): certificate expiry per custom domain, orders by result. Returns the order counter. */
function acmeMetrics(registers: Registry[], state: () => RouterState | undefined, now: () => number): Counter<'result'> {
  new Gauge({
    name: `${METRIC_PREFIX}certificate_expiry_seconds`,
    help: 'Seconds until the certificate serving a custom domain expires (negative once expired); ACME on only.',
    labelNames: ['host'],
    registers,
    collect() {
      this.reset();
      for (const h of state()?.acme?.hosts ?? []) {
        if (h.notAfter) this.set({ host: h.host }, Math.round((Date.parse(h.notAfter) - now()) / 1000));
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}acme_lock_held`,
    help: '1 while this router holds the ACME lock (orders and renews for the cluster).',
    registers,
    collect() {
      const acme = state()?.acme;
      if (acme) this.set(acme.lock.held ? 1 : 0);
    },
  });
  const orders = new Counter({
    name: `${METRIC_PREFIX}acme_orders_total`,
    help: 'ACME attempts by result: issued, preflight-failed (no order sent), order-failed, store-failed, lock-lost.',
    labelNames: ['result'],
    registers,
  });
  for (const result of ORDER_RESULTS) orders.inc({ result }, 0);
  return orders;
}
