// Register Marathon tasks the way mesos-consul (CiscoCloud/mesos-consul) does, over plain
// HTTP, so the same helpers work against the dev server or a real Consul.
//
// What mesos-consul does (mesos/register.go, mesos/util.go):
// - Marathon names a task after its app id with the path reversed and joined by dots
//   (/community/wordpress -> wordpress.community); mesos-consul's cleanName() then turns
//   every character outside [A-Za-z0-9_-] into '-', drops '_' (default group separator is
//   empty) and lowercases: wordpress-community.
// - For a task with host ports the service ID is
//   `<prefix>:<agent>:<service>:<task address>:<port>`, prefix `mesos-consul`, where
//   <agent> is the Mesos agent's IP.
// - It registers through the Consul agent on that Mesos agent (PUT /v1/agent/service/register),
//   so the instance sits on that agent's node and its check gets the agent's default ID
//   `service:<service ID>` and name "Service '<service>' check". The helpers here write the
//   same catalog entries with PUT /v1/catalog/register, which the dev server implements.
// - The Marathon label `tags` is split on ',' into Consul tags (dev/marathon.ts reads it).
// Check status changes are made by registering the check again with the new status (the
// agent's /v1/agent/check/update endpoint is not part of the dev server).
import { isIP } from 'node:net';
import { consulCall } from './client.js';
import { mesosServiceName } from '../../src/model/marathon.js';

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface MesosTask {
  /** Marathon app id, e.g. /community/wordpress. */
  app: string;
  /** Mesos agent as mesos-consul names it (its IP); default: `ip`. Also the Consul node name. */
  agent?: string;
  /** Node address; default: `agent` when it is an IP, else `ip`. */
  agentAddress?: string;
  /** Task address (Service.Address). */
  ip: string;
  port: number;
  tags?: string[];
  status?: CheckStatus;
  /** Check output text. */
  output?: string;
  /** Consul ACL token, sent as X-Consul-Token. */
  token?: string;
}

export interface MesosRegistration {
  serviceName: string;
  serviceId: string;
}

export const MESOS_ID_PREFIX = 'mesos-consul';

// One definition of the name, shared with `paas-router explain --marathon`.
export { mesosServiceName };

export function mesosServiceId(task: Pick<MesosTask, 'app' | 'agent' | 'ip' | 'port'>): string {
  return `${MESOS_ID_PREFIX}:${task.agent ?? task.ip}:${mesosServiceName(task.app)}:${task.ip}:${task.port}`;
}

export async function registerMesosTask(consulUrl: string, task: MesosTask): Promise<MesosRegistration> {
  const ids = identify(task);
  await put(consulUrl, '/v1/catalog/register', task.token, {
    Node: task.agent ?? task.ip,
    Address: nodeAddress(task),
    Service: { ID: ids.serviceId, Service: ids.serviceName, Tags: task.tags ?? [], Address: task.ip, Port: task.port, Meta: {} },
    Check: serviceCheck(task, ids),
  });
  return ids;
}

/** Re-registers the task's check with a new status; the service itself is not touched. */
export async function setMesosTaskStatus(consulUrl: string, task: MesosTask & { status: CheckStatus }): Promise<MesosRegistration> {
  const ids = identify(task);
  await put(consulUrl, '/v1/catalog/register', task.token, {
    Node: task.agent ?? task.ip,
    Address: nodeAddress(task),
    SkipNodeUpdate: true,
    Check: serviceCheck(task, ids),
  });
  return ids;
}

export async function deregisterMesosTask(consulUrl: string, task: MesosTask): Promise<MesosRegistration> {
  const ids = identify(task);
  await put(consulUrl, '/v1/catalog/deregister', task.token, { Node: task.agent ?? task.ip, ServiceID: ids.serviceId });
  return ids;
}

/**
 * Sets the node-level serfHealth check of a Mesos agent's node, which every Consul agent
 * has and which counts for ?passing on every service of the node. Without `address` the
 * node must exist already (its record is left as it is).
 */
export async function setAgentHealth(consulUrl: string, agent: { agent: string; address?: string; status: CheckStatus; token?: string }): Promise<void> {
  await put(consulUrl, '/v1/catalog/register', agent.token, {
    Node: agent.agent,
    ...(agent.address ? { Address: agent.address } : { SkipNodeUpdate: true }),
    Check: {
      CheckID: 'serfHealth',
      Name: 'Serf Health Status',
      Status: agent.status,
      Output: agent.status === 'passing' ? 'Agent alive and reachable' : 'Agent not live or unreachable',
    },
  });
}

function identify(task: MesosTask): MesosRegistration {
  return { serviceName: mesosServiceName(task.app), serviceId: mesosServiceId(task) };
}

function nodeAddress(task: MesosTask): string {
  if (task.agentAddress) return task.agentAddress;
  return task.agent && isIP(task.agent) ? task.agent : task.ip;
}

function serviceCheck(task: MesosTask, ids: MesosRegistration): Record<string, string> {
  return {
    CheckID: `service:${ids.serviceId}`,
    Name: `Service '${ids.serviceName}' check`,
    Status: task.status ?? 'passing',
    Output: task.output ?? '',
    ServiceID: ids.serviceId,
  };
}

async function put(consulUrl: string, path: string, token: string | undefined, body: unknown): Promise<void> {
  const answer = await consulCall(consulUrl.replace(/\/+$/, ''), path, { method: 'PUT', body, token });
  if (answer.status !== 200) throw new Error(`consul PUT ${path}: ${answer.status} ${answer.text}`);
}
