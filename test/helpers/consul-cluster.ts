// A real Consul cluster for one test (dev/consul/real-cluster.ts: three servers and a client agent on
// loopback addresses of their own), stopped at teardown even when the test fails. Where the agent is
// not installed the test is skipped with a message saying how to install it; under CI (CI=true) a
// missing agent is an error.
import { CONSUL_AGENT_MISSING, consulAgentInstalled } from '../../dev/consul/agent.js';
import { startConsulCluster, type ClusterAgent, type ConsulCluster, type ConsulClusterOptions } from '../../dev/consul/real-cluster.js';
import { startTestNetwork, type NodeNamespace } from './netns.js';

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

/**
 * Two "nodes" (network namespaces, netns.ts), each with its own client agent of one real cluster
 * whose servers stay on the host: what the two-router and the ACME-lock tests start from.
 */
export async function startTwoNodes(t: {
  teardown(fn: () => unknown): void;
}): Promise<{ consul: ConsulCluster; nodeA: NodeNamespace; nodeB: NodeNamespace; agentA: ClusterAgent; agentB: ClusterAgent }> {
  const net = await startTestNetwork(t, 2);
  const [nodeA, nodeB] = net.nodes as [NodeNamespace, NodeNamespace];
  const consul = await startTestConsulCluster(t, {
    serverIps: net.serverIps,
    clients: { client: { ip: nodeA.ip, wrap: nodeA.wrap }, 'client-b': { ip: nodeB.ip, wrap: nodeB.wrap } },
  });
  const [agentA, agentB] = consul.clients as [ClusterAgent, ClusterAgent];
  return { consul, nodeA, nodeB, agentA, agentB };
}
