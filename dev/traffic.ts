// `paas-router dev --traffic`: requests through HAProxy to every http host of the dev cluster, so
// the status page has live numbers to show. Each host gets its own steady rate (so the sort by
// rate has an order) and one app in five answers some 5xx (so the error charts move); the load
// moves between calm and busy every minute.
import { Agent } from 'node:http';
import { probeThrough } from './probe.js';

export interface TrafficGenerator {
  /** Requests sent so far, by status (0 = no answer). */
  readonly sent: Map<number, number>;
  stop(): Promise<void>;
}

export interface TrafficTarget {
  host: string;
  /** Requests per second (busy phase; half in the calm phase). */
  rate: number;
  /** Share of requests sent to `/status/503` (the backend answers 503). */
  errorRatio: number;
}

/** A rate and error share per host: deterministic from the host's position. */
export function trafficPlan(hosts: string[], baseRate: number): TrafficTarget[] {
  return hosts.map((host, i) => ({ host, rate: baseRate * (1 + (i % 4)), errorRatio: i % 5 === 1 ? 0.2 : 0 }));
}

export function startTrafficGenerator(port: number, targets: TrafficTarget[], now: () => number = Date.now): TrafficGenerator {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const sent = new Map<number, number>();
  const inFlight = new Set<Promise<unknown>>();
  let stopped = false;
  let tick = 0;
  const TICK_MS = 100;
  const timer = setInterval(() => {
    tick += 1;
    const busy = Math.floor(now() / 60_000) % 2 === 0;
    for (const t of targets) {
      // Requests due this tick, spread so fractional rates still send (rate 0.5 = every 2 s).
      const perTick = (t.rate * (busy ? 1 : 0.5) * TICK_MS) / 1000;
      const due = Math.floor(tick * perTick) - Math.floor((tick - 1) * perTick);
      for (let i = 0; i < due && !stopped; i++) {
        const path = Math.random() < t.errorRatio ? '/status/503' : '/';
        const p = probeThrough(port, t.host, path, agent).then((r) => sent.set(r.status, (sent.get(r.status) ?? 0) + 1));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    }
  }, TICK_MS);
  return {
    sent,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(inFlight);
      agent.destroy();
    },
  };
}
