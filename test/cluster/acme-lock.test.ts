// The ACME issuer's lock on a real Consul cluster: two routers on two nodes (network namespaces,
// a client agent each); the holder's node is cut off from the servers, and the lock moves to the
// other router (its session was made on the holder's node: the servers invalidate it when that
// node fails, or when its TTL runs out unrenewed). After the heal, the first router does not take
// it back while the second holds it.
import t from 'tap';
import { startAcmeCluster } from '../acme/helpers.js';
import { consulClusterSkip, startTwoNodes } from '../helpers/consul-cluster.js';
import { eventually } from '../helpers/net.js';
import { netnsSkip } from '../helpers/netns.js';

t.test('the ACME lock moves when its holder is cut off from the Consul servers', { skip: consulClusterSkip() || netnsSkip() }, async (t) => {
  const { nodeA, agentA, agentB } = await startTwoNodes(t);
  const cluster = await startAcmeCluster(t, { consulUrl: agentA.url });
  const r1 = await cluster.startRouter({}, agentA.url);
  await eventually('router-1 holds the lock', async () => (await r1.status()).acme?.lock.held, 60_000);
  const r2 = await cluster.startRouter({}, agentB.url);
  const holder = (await r1.status()).acme!.lock.holder!;
  await eventually(
    'router-2 sees router-1 as the holder',
    async () => {
      const lock = (await r2.status()).acme?.lock;
      return lock && !lock.held && lock.holder === holder;
    },
    60_000,
  );

  await nodeA.cut();
  const cutAt = Date.now();
  await eventually('router-2 holds the lock', async () => (await r2.status()).acme?.lock.held, 90_000).catch((e: Error) => {
    throw new Error(`${e.message}\n--- router-2\n${r2.output().slice(-3000)}`);
  });
  const movedAt = Date.now();
  // The cut-off router cannot renew its session: it stops counting itself the holder.
  await eventually('router-1 no longer claims the lock', async () => (await r1.status()).acme?.lock.held === false, 60_000);
  t.comment(`the lock moved ${movedAt - cutAt} ms after node A was cut off`);
  t.pass('the lock moved to router-2');

  await nodeA.heal();
  const newHolder = (await r2.status()).acme!.lock.holder!;
  t.not(newHolder, holder, `the holder is router-2 now (${newHolder})`);
  // Router-1 reads the lock again through its healed node and sees router-2 holding it.
  await eventually(
    'router-1 sees router-2 as the holder',
    async () => {
      const lock = (await r1.status()).acme?.lock;
      return lock && !lock.held && lock.holder === newHolder;
    },
    60_000,
  );
  t.equal((await r2.status()).acme?.lock.held, true, 'router-2 still holds it');
});
