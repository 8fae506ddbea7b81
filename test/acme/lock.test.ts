// The ACME lock against a real Consul agent: one holder at a time, the others see who holds it;
// SIGTERM-style stop releases it at once; an invalidated session (as when the holder dies and its
// TTL runs out) frees it for another router after the lock-delay; an order made under a session
// that was lost is never "still held", even once the lock is taken again.
import t from 'tap';
import { ConsulLock } from '../../src/acme/lock.js';
import { createLogger } from '../../src/log.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { startDevConsul } from '../../dev/consul/server.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';

const KEY = 'paas-router/acme/lock';

// The same assertions against the real agent and the dev stand-in (dev/consul), which must agree.
const targets: [string, (t: Tap) => Promise<{ url: string }>, string | false][] = [
  ['a real Consul agent', (t) => startTestConsulAgent(t), consulAgentSkip()],
  [
    'the dev Consul stand-in',
    async (t) => {
      const consul = await startDevConsul({ port: 0 });
      t.teardown(() => consul.close());
      return consul;
    },
    false,
  ],
];
type Tap = { teardown(fn: () => unknown): void };

for (const [name, start, skip] of targets)
  t.test(`ACME lock on ${name}`, { skip }, async (t) => {
    const agent = await start(t);
    const log = createLogger(process.env.LOCK_LOG ?? 'silent');
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
    t.equal(entry!.Session, tokenA, "Consul shows a's session on the key");
    t.match(JSON.parse(Buffer.from(entry!.Value, 'base64').toString()), { holder: 'router-a' });
    const [session] = (await (await fetch(`${agent.url}/v1/session/info/${tokenA}`)).json()) as { TTL: string; Behavior: string; LockDelay: number }[];
    t.match(session, { TTL: '10s', Behavior: 'release', LockDelay: 1_000_000_000 }, 'TTL, Behavior release and lock-delay as configured');

    await t.test("the holder's session is invalidated: the lock is taken again after the lock-delay, never under the lost session", async (t) => {
      const lostAt = Date.now();
      await fetch(`${agent.url}/v1/session/destroy/${tokenA}`, { method: 'PUT' });
      const holder = await eventually('a router holds the lock again', () => (a.view.held && a.token !== tokenA ? a : b.view.held ? b : undefined), 20_000);
      t.ok(Date.now() - lostAt >= 1_000, 'not before the lock-delay');
      t.not(holder.token, tokenA, 'under a new session');
      const other = holder === a ? b : a;
      await eventually('the other router sees the new holder', () => !other.view.held && other.view.holder === holder.view.holder, 20_000);
      t.notOk(await a.stillHeld(tokenA), 'an order started under the lost session is not still held');
    });

    await t.test('stop releases the lock at once: the other router takes it', async (t) => {
      const holder = a.view.held ? a : b;
      const other = holder === a ? b : a;
      const token = holder.token;
      t.ok(token);
      await holder.stop();
      const sessions = (await (await fetch(`${agent.url}/v1/session/list`)).json()) as { ID: string }[];
      t.notOk(
        sessions.some((s) => s.ID === token),
        "the stopped router's session is destroyed",
      );
      await eventually('the other router holds the lock', () => other.view.held, 5_000);
      const [entry] = (await (await fetch(`${agent.url}/v1/kv/${KEY}`)).json()) as { Session?: string }[];
      t.equal(entry?.Session, other.token, 'under its own session, with no lock-delay after a release');
      t.ok(await other.stillHeld(other.token));
      t.notOk(await other.stillHeld(tokenA), 'the lost session still does not count');
    });
  });
