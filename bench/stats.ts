// Small statistics and table helpers for the benchmark report.
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samples: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

export interface Row {
  measure: string;
  value: string;
  target: string;
  verdict: 'met' | 'MISSED' | '';
}

export function printTable(rows: Row[], out: NodeJS.WritableStream = process.stdout): void {
  const widths = [0, 0, 0, 0];
  const cells = rows.map((r) => [r.measure, r.value, r.target, r.verdict]);
  const header = ['measure', 'value', 'target', 'verdict'];
  for (const row of [header, ...cells]) row.forEach((c, i) => (widths[i] = Math.max(widths[i]!, c.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |\n`;
  out.write(line(header));
  out.write(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const row of cells) out.write(line(row));
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
