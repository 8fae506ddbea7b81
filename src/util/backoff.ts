// One backoff for every retry loop (Consul watches, Vault logins and reads, ACME orders):
// exponential from `baseMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random) so
// routers that failed together do not retry together.
export interface BackoffOptions {
  /** Delay after the first failure, ms. */
  baseMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
  /** Injected for tests; Math.random by default. */
  random?: () => number;
}

/** The delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(failures: number, opts: BackoffOptions): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const base = Math.min(opts.maxMs, opts.baseMs * 2 ** exponent);
  const random = opts.random ?? Math.random;
  return base / 2 + (random() * base) / 2;
}

/** Counts failures and hands out the next delay; `reset()` after a success. */
export class Backoff {
  private failures = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** Records one more failure and returns how long to wait before the next try. */
  next(): number {
    this.failures += 1;
    return backoffDelay(this.failures, this.opts);
  }

  reset(): void {
    this.failures = 0;
  }

  get count(): number {
    return this.failures;
  }
}
