// A real Consul agent for one test (dev/consul/agent.ts), stopped at teardown. Where the agent is not
// installed the test is skipped with a message saying how to install it; under CI (CI=true) a missing
// agent is an error, so a CI run can never pass by skipping everything that needs Consul.
import { CONSUL_AGENT_MISSING, consulAgentInstalled, startConsulAgent, type ConsulAgent, type ConsulAgentOptions } from '../../dev/consul/agent.js';

export type { ConsulAgent } from '../../dev/consul/agent.js';

/** For `t.test(name, { skip: consulAgentSkip() }, ...)`: false when the agent is there, else why not. */
export function consulAgentSkip(): string | false {
  if (consulAgentInstalled()) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${CONSUL_AGENT_MISSING}`);
  return CONSUL_AGENT_MISSING;
}

export async function startTestConsulAgent(t: { teardown(fn: () => unknown): void }, opts: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  const agent = await startConsulAgent(opts);
  t.teardown(() => agent.stop());
  return agent;
}
