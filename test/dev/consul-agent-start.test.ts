// The real agent starts on free ports, answers, and stops cleanly (exit 1 on SIGINT counts as normal).
import t from 'tap';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';

t.test('two agents side by side, each on its own ports, stopped cleanly', { skip: consulAgentSkip() }, async (t) => {
  const [a, b] = await Promise.all([startTestConsulAgent(t), startTestConsulAgent(t)]);
  t.not(a.port, b.port);
  for (const agent of [a, b]) {
    const res = await fetch(`${agent.url}/v1/catalog/services`);
    t.equal(res.status, 200);
    t.same(await res.json(), { consul: [] });
    t.ok(Number(res.headers.get('x-consul-index')) > 0, 'X-Consul-Index is set');
  }
  await a.stop();
  t.ok(a.proc.exitCode !== null || a.proc.signalCode !== null, 'the agent process is gone');
  await t.rejects(fetch(`${a.url}/v1/status/leader`), 'nothing listens on its port any more');
  await a.stop(); // twice is harmless
});
