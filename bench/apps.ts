// The in-process benches' cluster: N apps `app<a>-bench` of 3 passing instances each, no tags.
import type { ServiceInstance } from '../src/sources/types.js';

/** Instance `i` of app `a`. */
export const instance = (a: number, i: number): ServiceInstance => ({
  id: `mesos-consul:agent-${i}:app${a}:${31000 + i}`,
  node: `agent-${i}`,
  address: '127.0.0.1',
  port: 31000 + i + (a % 1000) * 3,
  tags: [],
  passing: true,
  checks: [],
});

/** Consul's services of `apps` apps × 3 instances: service name → instances. */
export function benchServices(apps: number): Record<string, ServiceInstance[]> {
  const services: Record<string, ServiceInstance[]> = {};
  for (let a = 0; a < apps; a++) services[`app${a}-bench`] = [0, 1, 2].map((i) => instance(a, i));
  return services;
}
