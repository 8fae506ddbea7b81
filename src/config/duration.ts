// Go-style durations as used by Consul and HAProxy users: `50ms`, `1s`, `5m`, `1h30m`.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

/** Consul's `wait=` wants a Go duration; whole milliseconds are always accepted. */
export function formatMs(ms: number): string {
  return `${Math.round(ms)}ms`;
}
