// The I/O edge of traffic: every `intervalMs`, one `show stat` over HAProxy's runtime socket
// into the ring. A failed sample (HAProxy reloading, socket gone) is counted and logged once per
// change of state; the ring keeps what it has and the next interval tries again.
import { streamSocketCommand } from '../apply/socket.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { TrafficRing, type SpareOfApp } from './ring.js';
import { SHOW_STAT_COMMAND, ShowStatParser } from './stat.js';

export interface TrafficSamplerOptions {
  runtimeSocket: string;
  intervalMs: number;
  windowMs: number;
  log: Logger;
  now?: () => number;
  /** Apps HAProxy serves from spare backends now: their traffic is recorded under their own backend. */
  spares?: () => readonly SpareOfApp[];
  /** Sends one runtime API command, its answer to `onChunk` as it arrives (default: the shared socket client). */
  send?: (socket: string, command: string, onChunk: (chunk: string) => void) => Promise<void>;
}

export interface SamplerStatus {
  intervalMs: number;
  windowMs: number;
  lastSampleAt: number | undefined;
  samples: number;
  failures: number;
  lastError: { message: string; at: number } | undefined;
  /** Duration of the last `show stat` and its parsing, ms. */
  lastSampleMs: number | undefined;
}

export class TrafficSampler {
  readonly ring: TrafficRing;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly state: SamplerStatus;

  constructor(private readonly opts: TrafficSamplerOptions) {
    this.ring = new TrafficRing(Math.max(1, Math.ceil(opts.windowMs / opts.intervalMs)));
    this.state = {
      intervalMs: opts.intervalMs,
      windowMs: opts.windowMs,
      lastSampleAt: undefined,
      samples: 0,
      failures: 0,
      lastError: undefined,
      lastSampleMs: undefined,
    };
  }

  get status(): Readonly<SamplerStatus> {
    return this.state;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Takes one sample now (a sample already running is awaited instead of overlapping). */
  sample(): Promise<void> {
    if (!this.running) this.running = this.takeSample().finally(() => (this.running = undefined));
    return this.running;
  }

  private async takeSample(): Promise<void> {
    const now = this.opts.now ?? Date.now;
    const send = this.opts.send ?? ((socket, command, onChunk) => streamSocketCommand(socket, command, onChunk));
    const started = performance.now();
    try {
      // Parsed as it arrives, a chunk per turn of the event loop, straight into the ring: at
      // 10 000 apps the answer is 11 MB, and parsing it whole blocked the daemon for over a
      // second (docs/traffic.md); objects made per line and kept to the end of the sample were
      // what the daemon's heap grew on (docs/benchmarks.md).
      const parser = new ShowStatParser(this.ring);
      try {
        await send(this.opts.runtimeSocket, SHOW_STAT_COMMAND, (chunk) => parser.push(chunk));
        parser.end();
      } catch (err) {
        this.ring.discard();
        throw err;
      }
      this.ring.publish(now(), this.opts.spares?.() ?? []);
      this.state.samples += 1;
      this.state.lastSampleAt = now();
      this.state.lastSampleMs = performance.now() - started;
      if (this.state.lastError) this.opts.log.info({ apps: this.ring.size }, 'traffic sampling works again');
      this.state.lastError = undefined;
    } catch (err) {
      this.state.failures += 1;
      const message = `show stat on ${this.opts.runtimeSocket}: ${errorMessage(err)}`;
      // Before the first sample HAProxy may simply not run yet (its first start follows the daemon's first write).
      const level = this.state.samples === 0 ? 'info' : 'warn';
      if (this.state.lastError?.message !== message) this.opts.log[level]({ error: message }, 'traffic sample failed; the traffic history keeps what it has');
      this.state.lastError = { message, at: now() };
    }
  }
}
