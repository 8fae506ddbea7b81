// Shared by the status listener tests: a Prometheus text-format parser from npm (prom2json shapes)
// and small HTTP helpers.
import { createRequire } from 'node:module';

export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

const require = createRequire(import.meta.url);
const parser = require('parse-prometheus-text-format') as ((text: string) => MetricFamily[]) | { default: (text: string) => MetricFamily[] };
export const parsePrometheus = typeof parser === 'function' ? parser : parser.default;

export function families(text: string): Map<string, MetricFamily> {
  return new Map(parsePrometheus(text).map((f) => [f.name, f]));
}

/** The value of the sample of `name` whose labels include `labels`. */
export function sample(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const fam = fams.get(name);
  const m = fam?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  if (!m) return undefined;
  if (m.value !== undefined) return Number(m.value);
  return m.count !== undefined ? Number(m.count) : undefined;
}

export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
