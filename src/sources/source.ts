// The contract between a source and the runner: a source delivers whole snapshots and reports its
// own health; the runner keeps the latest snapshot of each.
import { errorCode, errorMessage } from '../errors.js';

/**
 * `degraded`: the source cannot be read, but what it read before is still in use (the Vault source
 * while Vault is down or sealed: its cached secrets keep working). `down`: nothing usable.
 */
export type SourceState = 'starting' | 'ok' | 'degraded' | 'down';

export interface SourceStatus {
  name: string;
  state: SourceState;
  /** ms since epoch of the last successful read. */
  lastSyncAt?: number;
  lastError?: { code: string; message: string; at: number };
  /** Parts that fail to read while the source as a whole works (one Consul service's health read). */
  failing?: FailingRead[];
}

/** One part of a source that cannot be read: its last known data stays in use, nothing else waits. */
export interface FailingRead {
  /** What failed, e.g. the Consul service name. */
  subject: string;
  code: string;
  message: string;
  at: number;
}

export interface SourceSink<T> {
  snapshot(data: T): void;
  status(status: SourceStatus): void;
}

export interface Source<T> {
  readonly name: string;
  start(sink: SourceSink<T>): void;
  stop(): Promise<void> | void;
  /** Reads everything again from scratch (no index, no dedupe) and delivers a fresh snapshot. */
  reread?(): void;
}

/** Tracks one source's status and tells the sink only when something changed. */
export class StatusTracker {
  private current: SourceStatus;

  constructor(
    name: string,
    private readonly report: (s: SourceStatus) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.current = { name, state: 'starting' };
  }

  get status(): SourceStatus {
    return this.current;
  }

  ok(): void {
    // Reported every time: the sync age on the status page and in metrics depends on it.
    this.current = { ...this.current, state: 'ok', lastSyncAt: this.now() };
    this.report(this.current);
  }

  /** The parts failing now (reported when the list changes; an empty list clears it). */
  setFailing(failing: FailingRead[]): void {
    const before = this.current.failing ?? [];
    const same = before.length === failing.length && before.every((f, i) => f.subject === failing[i]!.subject && f.message === failing[i]!.message);
    if (same) return;
    const { failing: _dropped, ...rest } = this.current;
    this.current = failing.length > 0 ? { ...rest, failing } : rest;
    this.report(this.current);
  }

  failed(err: unknown): void {
    this.fail('down', err);
  }

  /** Failed to read, but the last snapshot it delivered is still good to use. */
  degraded(err: unknown): void {
    this.fail('degraded', err);
  }

  private fail(state: 'down' | 'degraded', err: unknown): void {
    const message = errorMessage(err);
    const changed = this.current.state !== state || this.current.lastError?.message !== message;
    this.current = { ...this.current, state, lastError: { code: errorCode(err), message, at: this.now() } };
    if (changed) this.report(this.current);
  }
}
