// The ACME lock against a real Consul agent: one holder at a time, the others see who holds it;
// SIGTERM-style stop releases it at once; an invalidated session (as when the holder dies and its
// TTL runs out) frees it for another router after the lock-delay; an order made under a session
// that was lost is never "still held", even once the lock is taken again.
import t from 'tap';
import { ConsulLock } from '../../src/acme/lock.js';
import { createLogger } from '../../src/log.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';

const KEY = 'paas-router/acme/lock';

t.test('ACME lock on a real Consul agent', { skip: consulAgentSkip() }, async (t) => {
  const agent = await startTestConsulAgent(t);
  const log = createLogger('silent');
  const client = new ConsulClient({ address: agent.url, token: () => '' });
  t.teardown(() => client.close());
  const lock = (holder: string) => new ConsulLock({ client, key: KEY, holder, ttlMs: 10_000, lockDelayMs: 1_000, log });
  const a = lock('router-a');
  const b = lock('router-b');
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  a.start();
  await eventually('a holds the lock', () => a.view.held);
  b.start();
  await eventually('b sees a as the holder', () => b.view.holder === 'router-a' && !b.view.held);
  const tokenA = a.token!;
  t.ok(await a.stillHeld(tokenA), 'a: still held under its session');
  t.notOk(await b.stillHeld(b.token), 'b: not held');

  const [entry] = (await (await fetch(`${agent.url}/v1/kv/${KEY}`)).json()) as { Session: string; Value: string }[];
  t.equal(entry!.Session, tokenA, 'Consul shows a\'s session on the key');
  t.match(JSON.parse(Buffer.from(entry!.Value, 'base64').toString()), { holder: 'router-a' });
  const [session] = (await (await fetch(`${agent.url}/v1/session/info/${tokenA}`)).json()) as { TTL: string; Behavior: string; LockDelay: number }[];
  t.match(session, { TTL: '10s', Behavior: 'release', LockDelay: 1_000_000_000 }, 'TTL, Behavior release and lock-delay as configured');

  await t.test('the holder\'s session is invalidated: b takes over after the lock-delay; a\'s old token is never held again', async (t) => {
    const lostAt = Date.now();
    await fetch(`${agent.url}/v1/session/destroy/${tokenA}`, { method: 'PUT' });
    await eventually('b holds the lock', () => b.view.held, 20_000);
    t.ok(Date.now() - lostAt >= 1_000, 'not before the lock-delay');
    await eventually('a sees b as the holder', () => !a.view.held && a.view.holder === 'router-b', 20_000);
    t.notOk(await a.stillHeld(tokenA), 'an order started under a\'s lost session is not still held');
  });

  await t.test('stop releases the lock at once: a takes it back', async (t) => {
    const tokenB = b.token;
    t.ok(tokenB);
    await b.stop();
    const [after] = (await (await fetch(`${agent.url}/v1/kv/${KEY}`)).json()) as { Session?: string }[];
    t.not(after?.Session, tokenB, 'released: b\'s session no longer holds the key');
    const sessions = (await (await fetch(`${agent.url}/v1/session/list`)).json()) as { ID: string }[];
    t.notOk(sessions.some((s) => s.ID === tokenB), 'and b\'s session is destroyed');
    await eventually('a holds the lock again', () => a.view.held, 20_000);
    t.not(a.token, tokenA, 'under a new session');
    t.ok(await a.stillHeld(a.token));
    t.notOk(await a.stillHeld(tokenA), 'the old session still does not count');
  });
});
