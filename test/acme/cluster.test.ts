// Two routers (two daemons, two HAProxies, one Consul agent, one Vault, one Pebble): exactly one
// holds the lock and orders, both serve the certificate from Vault; the holder is killed (SIGKILL:
// its session is left to expire), the other takes the lock and renews (short-lived certificates);
// a clean shutdown releases the lock at once.
import t from 'tap';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { acmeLog, startAcmeCluster, verifiedTls, type TestRouter } from './helpers.js';

const ordersIssued = async (r: TestRouter) => Number(/paas_router_acme_orders_total\{result="issued"\} (\d+)/.exec(await r.metrics())?.[1] ?? NaN);

t.test('two routers: one issuer, both serve; the holder dies, the other takes over and renews', { skip: consulAgentSkip() }, async (t) => {
  // 90 s certificates renewed 60 s before they expire: a renewal is due 30 s after each issue.
  const cluster = await startAcmeCluster(t, { validitySeconds: 90, acme: { renew_before: '60s' } });
  const r1 = await cluster.startRouter();
  await eventually('router-1 holds the lock', async () => (await r1.status()).acme?.lock.held, 60_000);
  const r2 = await cluster.startRouter();
  const holderName = (await r1.status()).acme!.lock.holder!;
  await eventually(
    'router-2 sees router-1 as the holder',
    async () => {
      const lock = (await r2.status()).acme?.lock;
      return lock && !lock.held && lock.holder === holderName;
    },
    60_000,
  );

  await cluster.putDomain('blog', 'shared.example.org');
  const root = await cluster.pebble.rootPem();
  const first = await eventually(
    'both routers serve the Pebble certificate',
    async () => {
      const [a, b] = await Promise.all([r1, r2].map((r) => verifiedTls(r.httpsPort, 'shared.example.org', root).catch(() => undefined)));
      return a?.authorized && b?.authorized && a.fingerprint256 === b.fingerprint256 ? a : undefined;
    },
    90_000,
  );

  await t.test('exactly one router ordered', async (t) => {
    t.equal(cluster.pebble.orderCount(), 1, 'one order reached Pebble');
    t.equal(await ordersIssued(r1), 1, 'router-1 (the holder) issued it');
    t.equal(await ordersIssued(r2), 0, 'router-2 ordered nothing');
    t.match(await r2.metrics(), /paas_router_acme_lock_held 0\n/);
    const lock = (await (await fetch(`${cluster.consul.url}/v1/kv/paas-router/acme/lock`)).json()) as { Session?: string }[];
    t.ok(lock[0]?.Session, 'the lock key is held by a session in Consul');
    const viewOf2 = (await r2.status()).acme!.hosts.find((h) => h.host === 'shared.example.org');
    t.match(viewOf2, { certificateSource: 'acme', lastResult: 'issued' }, "router-2 shows the holder's result (read from Consul)");
  });

  await t.test('the holder is killed: router-2 takes the lock and renews', async (t) => {
    const reloads = await r2.reloads();
    await r1.kill();
    await eventually('router-2 holds the lock', async () => (await r2.status()).acme?.lock.held, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${acmeLog(r2)}`);
    });
    const renewed = await eventually(
      'router-2 serves a renewed certificate',
      async () => {
        const r = await verifiedTls(r2.httpsPort, 'shared.example.org', root).catch(() => undefined);
        return r?.authorized && r.fingerprint256 !== first.fingerprint256 ? r : undefined;
      },
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${acmeLog(r2)}`);
    });
    t.ok(Date.parse(renewed.validTo) > Date.parse(first.validTo), 'the renewed certificate expires later');
    t.ok((await ordersIssued(r2)) >= 1, 'router-2 issued the renewal');
    t.equal(await r2.reloads(), reloads, 'router-2 took over and loaded the renewal with no HAProxy reload');
    t.equal(renewed.status, 200);
    t.equal(renewed.body.trim(), 'blog #1');
  });

  await t.test('a clean shutdown releases the lock at once; the restarted router takes it', async (t) => {
    await r2.stop();
    const lock = (await (await fetch(`${cluster.consul.url}/v1/kv/paas-router/acme/lock`)).json()) as { Session?: string }[];
    t.notOk(lock[0]?.Session, 'no session holds the lock after SIGTERM');
    await r1.start();
    await eventually('router-1 holds the lock again', async () => (await r1.status()).acme?.lock.held, 30_000);
  });
});
