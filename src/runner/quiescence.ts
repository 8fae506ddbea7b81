// consul-template's quiescence: every trigger pushes the run back by `minMs`, but never past `maxMs`
// after the first pending trigger. A trigger during a run schedules exactly one more run.
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';

export interface QuiescenceOptions {
  minMs: number;
  maxMs: number;
  run: () => Promise<void>;
  /** A run that threw: nothing else reports it (the next trigger runs again). */
  onError: (err: unknown) => void;
  clock?: Clock;
}

export class Quiescence {
  private timer: TimerHandle | undefined;
  private firstPendingAt: number | undefined;
  private running = false;
  private dirty = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly clock: Clock;

  constructor(private readonly opts: QuiescenceOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  trigger(): void {
    if (this.running) {
      this.dirty = true;
      return;
    }
    const now = this.clock.now();
    this.firstPendingAt ??= now;
    const due = Math.min(now + this.opts.minMs, this.firstPendingAt + this.opts.maxMs);
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, due - now));
  }

  /** Resolves when no run is in progress or scheduled. */
  async settled(): Promise<void> {
    while (this.running || this.timer) await this.idle.then(() => new Promise((r) => setTimeout(r, 10)));
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
  }

  private fire(): void {
    this.timer = undefined;
    this.firstPendingAt = undefined;
    this.running = true;
    this.idle = this.opts
      .run()
      .catch((err) => this.opts.onError(err))
      .finally(() => {
        this.running = false;
        if (this.dirty) {
          this.dirty = false;
          this.trigger();
        }
      });
  }
}
