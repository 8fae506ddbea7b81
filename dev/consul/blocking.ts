// Blocking queries (Consul docs: features/blocking; source: agent/blockingquery).
// - `?index=N` > 0 makes the read wait until its index is above N, or until the wait ends.
// - `?wait=` is a Go duration, default 5m, capped at 10m; a random extra of up to wait/16
//   is added so that many watchers do not all come back at once.
// - While the answer stays "not found" (an empty KV prefix), Consul moves its own minimum up
//   to the current index, so writes elsewhere do not wake the watcher.
// - A snapshot restore abandons the state store: every blocked query returns at once with
//   the (now lower) index.
import { systemClock, type Clock } from '../../src/util/clock.js';
import { parseGoDuration } from './duration.js';
import { HttpError, type QueryResult } from './reply.js';

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
const JITTER_FRACTION = 16;

export interface BlockingParams {
  minIndex: number;
  /** Requested wait after defaulting and capping, before jitter. */
  waitMs: number;
}

/** Reads `?index` and `?wait` the way Consul's HTTP layer does (400 on bad values). */
export function parseBlockingParams(query: URLSearchParams): BlockingParams {
  let waitMs = 0;
  const wait = query.get('wait');
  if (wait) {
    const parsed = parseGoDuration(wait);
    if (parsed === undefined) throw new HttpError(400, 'Invalid wait time');
    waitMs = parsed;
  }
  let minIndex = 0;
  const index = query.get('index');
  if (index) {
    // Go's strconv.ParseUint: digits only, no sign, fits in 64 bits.
    if (!/^\d+$/.test(index) || BigInt(index) > 0xffff_ffff_ffff_ffffn) {
      throw new HttpError(400, 'Invalid index');
    }
    minIndex = Number(index);
  }
  if (waitMs > MAX_WAIT_MS) waitMs = MAX_WAIT_MS;
  else if (waitMs === 0) waitMs = DEFAULT_WAIT_MS;
  return { minIndex, waitMs: Math.max(0, waitMs) };
}

export function withJitter(waitMs: number, random: () => number = Math.random): number {
  return waitMs + random() * (waitMs / JITTER_FRACTION);
}

/** Time for the waits (a manual clock in the tests) and the jitter's randomness. */
export interface WaitTime {
  clock: Clock;
  random: () => number;
}

/** The change feed a blocked query listens to; `abandoned` is true after an index reset. */
export type Subscribe = (listener: (abandoned: boolean) => void) => () => void;

/**
 * Runs `query` until its index passes `minIndex`, the wait (with jitter) ends, the state is
 * abandoned or `signal` fires (client gone). Resolves with the last evaluation.
 */
export function blockingQuery(
  query: () => QueryResult,
  params: BlockingParams,
  subscribe: Subscribe,
  signal: AbortSignal,
  peek?: () => number,
  time: WaitTime = { clock: systemClock, random: Math.random },
): Promise<QueryResult> {
  let minIndex = params.minIndex;
  let result = query();
  if (minIndex === 0 || result.index > minIndex) return Promise.resolve(result);

  let notFoundBefore = result.notFound;
  return new Promise((resolve) => {
    const finish = (): void => {
      time.clock.clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', finish);
      resolve(result);
    };
    const timer = time.clock.setTimeout(
      () => {
        result = query();
        finish();
      },
      withJitter(params.waitMs, time.random),
    );
    const unsubscribe = subscribe((abandoned) => {
      // Cheap check first: most writes do not touch what this query reads.
      if (!abandoned && peek && peek() <= minIndex) return;
      result = query();
      if (abandoned) return finish();
      if (result.notFound && notFoundBefore) minIndex = result.index;
      notFoundBefore = result.notFound;
      if (result.index > minIndex) finish();
    });
    signal.addEventListener('abort', finish);
  });
}
