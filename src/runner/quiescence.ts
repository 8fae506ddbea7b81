// consul-template's quiescence: every trigger pushes the run back by `minMs`, but never past `maxMs`
// after the first pending trigger. A trigger during a run schedules exactly one more run.
// Leading edge (`leading`): a trigger that comes at least `minMs` after the trigger before it (the
// first of a burst) runs at once, marked as such, even right after a long run, and one that comes
// during a run runs as soon as that run ends; a run that answers 'wait' (its change needs a
// reload) is scheduled again the usual way, so `minMs`/`maxMs` keep coalescing whatever needs a
// reload. A burst still coalesces: triggers within `minMs` of one another wait as before, and
// several triggers during a run make one more run (at once if they stopped `minMs` before the run
// ended).
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';

export interface QuiescenceOptions {
  minMs: number;
  maxMs: number;
  /** `leading`: run at once on the first trigger after a quiet period. 'wait': not now, coalesce it. */
  run: (leading: boolean) => Promise<void | 'wait'>;
  leading?: boolean;
  /** A run that threw: nothing else reports it (the next trigger runs again). */
  onError: (err: unknown) => void;
  clock?: Clock;
}

export class Quiescence {
  private timer: TimerHandle | undefined;
  private firstPendingAt: number | undefined;
  private running = false;
  private dirty = false;
  /** The one trigger during the run came after a quiet period: it leads once the run ends. */
  private dirtyLeads = false;
  private idle: Promise<void> = Promise.resolve();
  /** When the last trigger came (leading edge: the first of a burst comes minMs after the one before). */
  private lastTriggerAt = -Infinity;
  private readonly clock: Clock;

  constructor(private readonly opts: QuiescenceOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  trigger(): void {
    const now = this.clock.now();
    const quietFor = now - this.lastTriggerAt;
    this.lastTriggerAt = now;
    if (this.running) {
      // The first of a burst, come while the last change's run finishes: it runs as soon as that
      // run ends, as it would have at once. A second trigger during the run makes it a burst.
      this.dirtyLeads = !this.dirty && quietFor >= this.opts.minMs;
      this.dirty = true;
      return;
    }
    this.request(quietFor);
  }

  /** A run is wanted; `quietFor`: how long no trigger came before the one that wants it. */
  private request(quietFor: number): void {
    if (this.opts.leading && this.timer === undefined && quietFor >= this.opts.minMs) {
      this.firstPendingAt = this.clock.now();
      this.fire(true);
      return;
    }
    this.schedule();
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

  private fire(leading = false): void {
    this.timer = undefined;
    const pendingSince = this.firstPendingAt;
    this.firstPendingAt = undefined;
    this.running = true;
    this.idle = this.opts
      .run(leading)
      .catch((err) => this.opts.onError(err))
      .then((answer) => {
        this.running = false;
        if (answer === 'wait') {
          // The usual schedule, counted from the trigger that led: as if it had not run.
          this.firstPendingAt = pendingSince;
          this.dirty = false;
          this.dirtyLeads = false;
          this.schedule();
        } else if (this.dirty) {
          this.dirty = false;
          const leads = this.dirtyLeads;
          this.dirtyLeads = false;
          this.request(leads ? Number.POSITIVE_INFINITY : this.clock.now() - this.lastTriggerAt);
        }
      });
  }

  private schedule(): void {
    const now = this.clock.now();
    this.firstPendingAt ??= now;
    const due = Math.min(now + this.opts.minMs, this.firstPendingAt + this.opts.maxMs);
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, due - now));
  }
}
