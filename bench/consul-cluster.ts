// How long the router takes to read Consul again after an election or a restart of its client agent,
// on a real cluster (three servers, a client agent: dev/consul/real-cluster.ts) with the daemon
// in-process and a real HAProxy. Repeats each fault `--runs` times and prints, per fault, the time
// from "Consul answers again" (every agent agrees on a new leader / the client agent names a leader)
// to every consul-* source reading successfully, and to a new app registered then being served.
// Usage: npm run build:all && node dist/bench/consul-cluster.js [--runs 8]
import { startDevCluster } from '../dev/cluster.js';
import { registerMesosTask } from '../dev/consul/mesos.js';
import { httpGet, startConsulCluster } from '../dev/consul/real-cluster.js';
import { freeListenerPorts } from '../dev/net.js';
import { probeThrough } from '../dev/probe.js';
import { createLogger } from '../src/log.js';
import type { StatusDocument } from '../src/server/status.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 8;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const consul = await startConsulCluster({ net: '127.0.3' });
const ports = await freeListenerPorts();
const { httpPort } = ports;
const cluster = await startDevCluster({
  consul: { url: consul.url },
  ...ports,
  apps: [{ id: '/alpha', instances: 1, tags: [], mode: 'http' }],
  domains: {},
  log: createLogger('silent'),
  configOverrides: { consul: { min_interval: '100ms', retry_max: '10s' } },
});
const statusUrl = cluster.daemon.server.url;
const sourcesOk = () =>
  until('every consul source ok', async () => {
    const doc = (await (await fetch(`${statusUrl}/status`)).json()) as StatusDocument;
    return doc.sources.every((s) => !s.name.startsWith('consul-') || s.state === 'ok') ? Date.now() : undefined;
  });
let apps = 0;
const newAppServed = async () => {
  const name = `fresh${++apps}`;
  const backend = cluster.backends.get('/alpha')![0]!;
  await registerMesosTask(consul.url, { app: `/${name}`, agent: 'bench-agent', agentAddress: '127.0.0.1', ip: '127.0.0.1', port: backend.port });
  return until(`${name} served`, async () => ((await probeThrough(httpPort, `${name}.production.mozilla.community`)).status === 200 ? Date.now() : undefined));
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms (${s.join(', ')})`;
};

try {
  await sourcesOk();
  const leader = { sources: [] as number[], served: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const old = await consul.waitForLeader();
    await old.kill('SIGKILL');
    await consul.waitForLeader();
    const at = Date.now();
    leader.sources.push((await sourcesOk()) - at);
    leader.served.push((await newAppServed()) - at);
    await old.start();
    await until('three servers', async () => (await consul.leader()) && JSON.parse((await httpGet(`${consul.url}/v1/status/peers`)).body).length === 3);
    await sourcesOk();
  }
  const agent = { sources: [] as number[], served: [] as number[] };
  for (let i = 0; i < runs; i++) {
    await consul.client.kill('SIGTERM');
    await consul.client.start();
    await until('the client agent names a leader', async () => (await httpGet(`${consul.url}/v1/status/leader`)).body.length > 2);
    const at = Date.now();
    agent.sources.push((await sourcesOk()) - at);
    agent.served.push((await newAppServed()) - at);
  }
  console.log(
    `leader killed (${runs} runs), from the election:\n  every consul source reading: ${stats(leader.sources)}\n  a new app served: ${stats(leader.served)}`,
  );
  console.log(
    `client agent restarted (${runs} runs), from it answering:\n  every consul source reading: ${stats(agent.sources)}\n  a new app served: ${stats(agent.served)}`,
  );
} finally {
  await cluster.stop();
  await consul.stop();
}
