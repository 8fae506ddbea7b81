// `haproxy.tcp_ports`: the ports tcp apps may take (`router.port`), as a list of ranges. The
// platform's load balancer forwards only these, and the master nodes' own services (ZooKeeper
// 2181, Mesos 5050, Consul 8500...) must never be taken by an app deployer.
import type { PortRange } from './types.js';

/** `10000-10999` or `10500` (one port) → a range; undefined when it is neither. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = /^([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?$/.exec(text.trim());
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from <= to && to <= 65535 ? { from, to } : undefined;
}

export function formatPortRanges(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(', ');
}

/** True when `ranges` is absent (no bound) or one of them holds `port`. */
export function inPortRanges(port: number, ranges: readonly PortRange[] | undefined): boolean {
  return ranges === undefined || ranges.some((r) => port >= r.from && port <= r.to);
}
