// consul-template's quiescence: every trigger pushes the run back by `minMs`, but never past `maxMs`
// after the first pending trigger. A trigger during a run schedules exactly one more run.
export class Quiescence {
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt: number | undefined;
  private running = false;
  private dirty = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly run: () => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  trigger(): void {
    if (this.running) {
      this.dirty = true;
      return;
    }
    const now = this.now();
    this.firstPendingAt ??= now;
    const due = Math.min(now + this.minMs, this.firstPendingAt + this.maxMs);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - now));
  }

  /** Resolves when no run is in progress or scheduled. */
  async settled(): Promise<void> {
    while (this.running || this.timer) await this.idle.then(() => new Promise((r) => setTimeout(r, 10)));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
  }

  private fire(): void {
    this.timer = undefined;
    this.firstPendingAt = undefined;
    this.running = true;
    this.idle = this.run().catch(() => undefined).finally(() => {
      this.running = false;
      if (this.dirty) {
        this.dirty = false;
        this.trigger();
      }
    });
  }
}
