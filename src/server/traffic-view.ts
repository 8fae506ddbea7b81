// What /status says about traffic (per app, per server, the sampler's own state), the change
// timeline, and the series behind the page's charts (/traffic). Pure: documents in, documents out.
import type { RoutingModel } from '../model/types.js';
import type { AppTraffic, ServerTraffic, TrafficRing } from '../traffic/ring.js';
import type { SamplerStatus } from '../traffic/sampler.js';
import type { StatusDocument } from './status.js';
import type { TimelineEvent } from './timeline.js';

export interface TrafficSource {
  readonly ring: TrafficRing;
  readonly status: Readonly<SamplerStatus>;
}

export interface TrafficStatusView {
  intervalSeconds: number;
  windowSeconds: number;
  lastSampleAt: string | null;
  samples: number;
  failures: number;
  lastError: { message: string; at: string } | null;
}

export interface TimelineView {
  at: string;
  kind: TimelineEvent['kind'];
  apps: string[];
  message: string;
}

/** `cache` is `null` for an app without router.cache (HAProxy counts no lookups there). */
export type AppTrafficView = Omit<AppTraffic, 'cache'> & { cache: AppTraffic['cache'] | null };
export type ServerTrafficView = Omit<ServerTraffic, 'name'>;

const iso = (ms: number): string => new Date(ms).toISOString();

/** Adds `traffic` to every app and server of `doc`, the sampler's state, and the timeline. */
export function withTraffic(doc: StatusDocument, traffic: TrafficSource | undefined, timeline: TimelineEvent[] | undefined): StatusDocument {
  if (traffic) {
    const { ring, status } = traffic;
    for (const app of doc.apps) {
      // An app on a spare backend: the sampler records the spare's traffic under the app's backend.
      const t = ring.traffic(app.backend);
      app.traffic = t ? { ...t, cache: app.cache ? t.cache : null } : null;
      const servers = new Map(ring.servers(app.backend).map((s) => [s.name, s]));
      for (const server of app.servers) {
        const s = servers.get(server.name);
        server.traffic = s ? { requests: s.requests, state: s.state, check: s.check } : null;
      }
    }
    doc.traffic = {
      intervalSeconds: status.intervalMs / 1000,
      windowSeconds: status.windowMs / 1000,
      lastSampleAt: status.lastSampleAt === undefined ? null : iso(status.lastSampleAt),
      samples: status.samples,
      failures: status.failures,
      lastError: status.lastError ? { message: status.lastError.message, at: iso(status.lastError.at) } : null,
    };
  }
  if (timeline) doc.timeline = timeline.map((e) => ({ at: iso(e.at), kind: e.kind, apps: e.apps, message: e.message }));
  return doc;
}

export interface TrafficSeriesDocument {
  intervalSeconds: number;
  windowSeconds: number;
  /** Sample times (unix ms) after `since`, oldest first; every app's arrays align with it. */
  at: number[];
  apps: Record<string, { rate: (number | null)[]; errors: (number | null)[]; responseMs: (number | null)[] }>;
}

/**
 * The series of every served app after `since` (unix ms): the page asks for the whole window
 * once, then only for the samples it has not seen.
 */
export function trafficSeriesDocument(traffic: TrafficSource, model: RoutingModel | undefined, since: number): TrafficSeriesDocument {
  const { ring, status } = traffic;
  const apps: TrafficSeriesDocument['apps'] = {};
  const at = ring.times(since);
  for (const app of model?.apps ?? []) {
    const s = ring.series(app.backend, since);
    if (s) apps[app.name] = { rate: s.rate, errors: s.errors, responseMs: s.responseMs };
  }
  return { intervalSeconds: status.intervalMs / 1000, windowSeconds: status.windowMs / 1000, at, apps };
}
