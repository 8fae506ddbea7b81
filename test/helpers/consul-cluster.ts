// A real Consul cluster for one test (dev/consul/real-cluster.ts: three servers and a client agent on
// loopback addresses of their own), stopped at teardown even when the test fails. Where the agent is
// not installed the test is skipped with a message saying how to install it; under CI (CI=true) a
// missing agent is an error.
import { CONSUL_AGENT_MISSING, consulAgentInstalled } from '../../dev/consul/agent.js';
import { startConsulCluster, type ConsulCluster, type ConsulClusterOptions } from '../../dev/consul/real-cluster.js';

export { httpGet, type ClusterAgent, type ConsulCluster } from '../../dev/consul/real-cluster.js';

/** For `t.test(name, { skip: consulClusterSkip() }, ...)`: false when it can run, else why not. */
export function consulClusterSkip(): string | false {
  if (consulAgentInstalled()) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${CONSUL_AGENT_MISSING}`);
  return CONSUL_AGENT_MISSING;
}

export async function startTestConsulCluster(t: { teardown(fn: () => unknown): void }, opts: ConsulClusterOptions = {}): Promise<ConsulCluster> {
  const cluster = await startConsulCluster(opts);
  t.teardown(() => cluster.stop());
  return cluster;
}
