// One Consul blocking-query loop, following the documented rules (features/blocking.mdx) and
// consul-template's watch/view.go: keep the last index, ignore an unchanged index, start again when
// the index goes backwards, never send index 0 after the first answer, rate-limit the loop (the npm
// `consul` watch re-requests at once), and back off on errors. A failed read never becomes "empty".
import { isDeepStrictEqual } from 'node:util';
import { Backoff } from '../../util/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';

export interface BlockingResult<T> {
  data: T;
  /** X-Consul-Index of the answer. */
  index: number;
}

export type BlockingFetch<T> = (index: number, waitMs: number, signal: AbortSignal) => Promise<BlockingResult<T>>;

export interface BlockingWatchOptions<T> {
  fetch: BlockingFetch<T>;
  /** Called with data that differs from the last data delivered (deep comparison). */
  onData: (data: T) => void;
  /** Called after every successful request, changed or not (a sign of life for the source's status). */
  onSuccess?: () => void;
  /** Called when the index moved but the data is the same (something changed that the body does not show). */
  onSameData?: (index: number) => void;
  /** Called on every failed request; the watch keeps retrying with backoff. */
  onError: (err: unknown) => void;
  waitMs: number;
  /** Minimum time between the starts of two requests; jitter of up to half of it is added. */
  minIntervalMs: number;
  maxBackoffMs?: number;
  random?: () => number;
  /** Time for the rate limit and the backoff sleeps; the system clock by default (tests pass a manual one). */
  clock?: Clock;
}

export class BlockingWatch<T> {
  private index = 0;
  private last: { data: T } | undefined;
  private readonly backoff: Backoff;
  private stopped = false;
  private readonly abort = new AbortController();
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  private readonly random: () => number;
  private readonly clock: Clock;

  constructor(private readonly opts: BlockingWatchOptions<T>) {
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
    this.backoff = new Backoff({ baseMs: 250, maxMs: opts.maxBackoffMs ?? 30_000, random: this.random });
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.clock.clearTimeout(this.timer);
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const startedAt = this.clock.now();
      try {
        // After a failure, read once without blocking: the source reports "up" as soon as Consul
        // answers, instead of when the next change (or the wait) ends a blocking query.
        const index = this.backoff.count > 0 ? 0 : this.index;
        const result = await this.opts.fetch(index, this.opts.waitMs, this.abort.signal);
        if (this.stopped) return;
        this.backoff.reset();
        this.opts.onSuccess?.();
        this.accept(result);
      } catch (err) {
        if (this.stopped) return;
        const delay = this.backoff.next();
        this.opts.onError(err);
        await this.sleep(delay);
        continue;
      }
      await this.sleep(this.opts.minIntervalMs * (1 + this.random() / 2) - (this.clock.now() - startedAt));
    }
  }

  private accept(result: BlockingResult<T>): void {
    const index = Number.isFinite(result.index) ? result.index : 0;
    const moved = index > this.index;
    if (index < this.index) {
      // Snapshot restore, upgrade or deleted KV keys: the docs say start again from scratch.
      this.index = 0;
    } else {
      // Clamp to 1: an index of 0 would turn the next call into a non-blocking busy loop.
      this.index = Math.max(1, index);
    }
    // A returned blocking call does not mean a change (timeout or idempotent write): compare.
    if (this.last && isDeepStrictEqual(this.last.data, result.data)) {
      if (moved) this.opts.onSameData?.(index);
      return;
    }
    this.last = { data: result.data };
    this.opts.onData(result.data);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = this.clock.setTimeout(resolve, ms);
    });
  }
}
