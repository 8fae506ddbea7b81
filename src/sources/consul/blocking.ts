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
  /** Called with data that differs from the last data delivered (deep comparison, or `same`). */
  onData: (data: T) => void;
  /** Whether two answers hold the same data; a deep comparison by default (a shaped one is faster on a large answer). */
  same?: (a: T, b: T) => boolean;
  /** Called after every successful request, changed or not (a sign of life for the source's status). */
  onSuccess?: () => void;
  /** Called when the index moved but the data is the same (something changed that the body does not show). */
  onSameData?: (index: number) => void;
  /** Called on every failed request; the watch keeps retrying with backoff. */
  onError: (err: unknown) => void;
  waitMs: number;
  /** Minimum time between the starts of two requests after an answer with no new data; jitter of up to half of it is added. */
  minIntervalMs: number;
  maxBackoffMs?: number;
  random?: () => number;
  /** Time for the rate limit and the backoff sleeps; the system clock by default (tests pass a manual one). */
  clock?: Clock;
  /**
   * After a failed read: resolves once Consul is seen answering again (ConsulClient.untilAnswering),
   * or undefined when the error is not an outage. The backoff sleep ends then, so a watch that
   * backed off during an election or an agent restart reads again at once instead of when its
   * (growing) delay runs out.
   */
  recovered?: (err: unknown, signal: AbortSignal) => Promise<void> | undefined;
  /** What a read made before the watch started: it blocks from that index at once, and delivers only what differs. */
  from?: BlockingResult<T>;
  /**
   * When set, the watch ends, and this is called, once a blocking read's whole wait passes with the
   * index unchanged (nothing happened for a wait). It ends between reads, so it never leaves a
   * query held at the agent. Without it the watch reads again.
   */
  onQuietWait?: () => void;
}

/** First retry step after an error (then doubling up to maxBackoffMs, equal jitter). */
export const FIRST_RETRY_MS = 100;
/**
 * The wait of the reads that follow a blocking read answered early with an unchanged index. Consul
 * 1.8 does that when a snapshot restore abandons its state store, then answers the next read from
 * the restored (older) state, whose index is below ours: that read would block for the whole wait
 * (5 min by default) before its lower index told us to start again. With a short wait it tells in ~1 s.
 * A restore also fails reads for a moment (the leader re-establishes itself): reads after an error
 * wait short too.
 */
export const SHORT_WAIT_MS = 1_000;
/** How many short waits follow one early answer (the restore finishes within a few seconds). */
const SHORT_WAITS = 5;

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
  /** Reads left with a short wait (after an early answer with an unchanged index). */
  private shortWaits = 0;

  constructor(private readonly opts: BlockingWatchOptions<T>) {
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
    // A short first step: most errors here are an election or an agent restart, over in a second or two.
    this.backoff = new Backoff({ baseMs: FIRST_RETRY_MS, maxMs: opts.maxBackoffMs ?? 30_000, random: this.random });
    if (opts.from) {
      this.index = Math.max(1, opts.from.index);
      this.last = { data: opts.from.data };
    }
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
        const waitMs = this.shortWaits > 0 ? Math.min(SHORT_WAIT_MS, this.opts.waitMs) : this.opts.waitMs;
        if (this.shortWaits > 0) this.shortWaits--;
        const result = await this.opts.fetch(index, waitMs, this.abort.signal);
        if (this.stopped) return;
        this.backoff.reset();
        this.opts.onSuccess?.();
        const early = index > 0 && result.index === index && this.clock.now() - startedAt < waitMs / 2;
        if (early) this.shortWaits = SHORT_WAITS;
        else if (index > 0 && result.index !== index) this.shortWaits = 0; // a blocking read saw its index move: settled
        // min_interval spaces reads only after an answer that brought nothing new: it stops a hot
        // loop (an index that moves with the same data, a timeout) and never delays a change.
        const delivered = this.last;
        if (this.accept(result)) continue;
        if (this.opts.onQuietWait && index > 0 && result.index === index && !early && this.last === delivered) {
          this.stopped = true;
          this.opts.onQuietWait();
          return;
        }
      } catch (err) {
        if (this.stopped) return;
        this.shortWaits = SHORT_WAITS;
        const delay = this.backoff.next();
        this.opts.onError(err);
        await this.sleepUntilRecovered(delay, err);
        continue;
      }
      await this.sleep(this.opts.minIntervalMs * (1 + this.random() / 2) - (this.clock.now() - startedAt));
    }
  }

  /** True when the answer brought new data on an index that moved forward (delivered with onData). */
  private accept(result: BlockingResult<T>): boolean {
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
    if (this.last && (this.opts.same ?? isDeepStrictEqual)(this.last.data, result.data)) {
      if (moved) this.opts.onSameData?.(index);
      return false;
    }
    this.last = { data: result.data };
    this.opts.onData(result.data);
    return moved;
  }

  /** The backoff sleep, cut short when `recovered` says Consul answers again. */
  private async sleepUntilRecovered(ms: number, err: unknown): Promise<void> {
    if (!this.opts.recovered || ms <= 0 || this.stopped) return this.sleep(ms);
    const probe = new AbortController();
    const recovered = this.opts.recovered(err, probe.signal);
    if (!recovered) return this.sleep(ms);
    const stopProbe = () => probe.abort();
    this.abort.signal.addEventListener('abort', stopProbe, { once: true });
    const sleeping = this.sleep(ms);
    const wake = this.wake;
    try {
      await Promise.race([
        sleeping,
        recovered.then(
          () => wake?.(),
          () => new Promise<void>(() => undefined), // a probe that fails leaves the backoff to run
        ),
      ]);
    } finally {
      this.clock.clearTimeout(this.timer);
      probe.abort();
      this.abort.signal.removeEventListener('abort', stopProbe);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = this.clock.setTimeout(resolve, ms);
    });
  }
}
