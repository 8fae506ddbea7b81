// The never-shrink guard's state machine. A candidate that drops too many routes at once (see
// shrink.ts) is held; it applies only when a fresh read, asked for `confirmAfterMs` later, gives
// the same candidate again, when the routes come back (the hold is dropped), or when an operator
// releases it (SIGUSR2).
import type { Logger } from '../log.js';
import type { RenderedFiles } from '../render/types.js';
import type { HeldChange, RouterState } from '../state.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { assessShrink, type RouteCounts } from './shrink.js';

export interface ShrinkGuardOptions {
  maxShrink: number;
  confirmAfterMs: number;
  log: Logger;
  /** Where the hold and its counter are shown (`held`, `counters.heldChanges`). */
  state: RouterState;
  /** Asks every Consul watch to read again from scratch (the confirming read). */
  reread: () => void;
  /** Called when a change is newly held. */
  onHeld: (held: HeldChange) => void;
  clock?: Clock;
}

export class ShrinkGuard {
  private releaseRequested = false;
  private timer: TimerHandle | undefined;
  /** When the confirming fresh read was asked for, and when its catalog snapshot arrived. */
  private rereadAskedAt: number | undefined;
  private freshSnapshotAt: number | undefined;
  private stopped = false;
  private readonly clock: Clock;

  constructor(private readonly opts: ShrinkGuardOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** A catalog snapshot arrived: after a reread was asked for, it is the fresh read. */
  catalogSnapshot(): void {
    if (this.rereadAskedAt !== undefined) this.freshSnapshotAt = this.clock.now();
  }

  /**
   * Whether a candidate with these counts would be held now, asked before its files are rendered
   * (runtime first): counted from the models, so the files are not needed. passes() does the rest.
   */
  holds(running: RenderedFiles | undefined, known: { before?: RouteCounts; after: RouteCounts }): boolean {
    return !this.releaseRequested && assessShrink(running, {}, this.opts.maxShrink, known).shrink;
  }

  /** True when `candidate` may be applied over `running` (identified by `checksum`). */
  passes(running: RenderedFiles | undefined, candidate: RenderedFiles, checksum: string, known?: { before?: RouteCounts; after?: RouteCounts }): boolean {
    const { state, log } = this.opts;
    const verdict = assessShrink(running, candidate, this.opts.maxShrink, known);
    const held = state.held;
    if (!verdict.shrink) {
      if (held) log.info({ reason: held.reason }, 'the held change is no longer pending: the routes came back');
      this.clear('routes-back');
      return true;
    }
    if (this.releaseRequested) {
      this.clear('released');
      return true;
    }
    const confirmed =
      held?.checksum === checksum && this.rereadAskedAt !== undefined && this.freshSnapshotAt !== undefined && this.freshSnapshotAt >= this.rereadAskedAt;
    if (confirmed) {
      log.warn({ reason: held.reason }, 'a fresh read confirmed the held change; applying it');
      this.clear('confirmed');
      return true;
    }
    if (held?.checksum !== checksum) {
      state.held = { since: this.clock.now(), reason: verdict.reason!, checksum, routesBefore: verdict.before.routes, routesAfter: verdict.after.routes };
      state.counters.heldChanges += 1;
      log.warn({ reason: verdict.reason, confirmAfterMs: this.opts.confirmAfterMs }, 'change held by the never-shrink guard until a fresh read confirms it');
      this.opts.onHeld(state.held);
      this.clock.clearTimeout(this.timer);
      this.rereadAskedAt = undefined;
      this.timer = this.clock.setTimeout(() => this.confirmWithFreshRead(), this.opts.confirmAfterMs);
    }
    return false;
  }

  /** The operator's override: the held change applies at the next build. False when nothing is held. */
  release(): boolean {
    if (!this.opts.state.held) return false;
    this.releaseRequested = true;
    this.opts.log.warn({ reason: this.opts.state.held.reason }, 'held change released by the operator');
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private confirmWithFreshRead(): void {
    this.timer = undefined;
    if (!this.opts.state.held || this.stopped) return;
    this.rereadAskedAt = this.clock.now();
    this.opts.reread();
  }

  private clear(resolution: NonNullable<RouterState['lastHold']>['resolution']): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const { state } = this.opts;
    if (state.held) state.lastHold = { ...state.held, resolution, resolvedAt: this.clock.now() };
    state.held = undefined;
    this.releaseRequested = false;
    this.rereadAskedAt = undefined;
  }
}
