// ACME failures never break what is served, and the issuer resumes: Pebble failing validation
// (its HTTP-01 connections refused), Pebble refusing a name, Vault sealed when the certificate is
// to be stored, the Consul lock lost while an order is in flight. Pebble validates through a gate
// the test controls; the pre-flight goes to the router directly, so it passes.
import t from 'tap';
import { requestThrough } from '../../dev/probe.js';
import { consulAgentSkip } from '../helpers/consul-agent.js';
import { eventually } from '../helpers/net.js';
import { acmeHost, acmeLog, startAcmeCluster, verifiedTls, type TestRouter } from './helpers.js';

const counter = async (r: TestRouter, result: string) =>
  Number(new RegExp(`paas_router_acme_orders_total\\{result="${result}"\\} (\\d+)`).exec(await r.metrics())?.[1] ?? NaN);

t.test('ACME faults: nothing served breaks, the issuer resumes', { skip: consulAgentSkip() }, async (t) => {
  const cluster = await startAcmeCluster(t, { gate: true, domainBlocklist: ['blocked.example.org'] });
  const gate = cluster.gate!;
  const router = await cluster.startRouter();
  const domains = ['ok.example.org'];
  const put = (name: string) => cluster.putDomain('blog', [...domains, name].join(' ')).then(() => domains.push(name));
  await cluster.putDomain('blog', domains.join(' '));
  const root = await cluster.pebble.rootPem();
  const baseline = await eventually(
    'ok.example.org served with a Pebble certificate',
    async () => {
      const r = await verifiedTls(router.httpsPort, 'ok.example.org', root).catch(() => undefined);
      return r?.authorized ? r : undefined;
    },
    90_000,
  );
  const stillServing = async (t: { ok: (v: unknown, m: string) => void; equal: (a: unknown, b: unknown, m: string) => void }) => {
    const r = await verifiedTls(router.httpsPort, 'ok.example.org', root);
    t.ok(r.authorized && r.fingerprint256 === baseline.fingerprint256 && r.status === 200, 'ok.example.org still served over HTTPS with its certificate');
    t.equal((await requestThrough(router.httpPort, 'ok.example.org')).status, 200, 'and over HTTP');
  };
  const waitResult = (host: string, result: string) =>
    eventually(
      `${host}: ${result}`,
      async () => {
        const h = await acmeHost(router, host);
        return h?.lastResult === result ? h : undefined;
      },
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${acmeLog(router)}`);
    });
  const waitIssued = (host: string) =>
    eventually(`${host} issued and served`, async () => (await verifiedTls(router.httpsPort, host, root).catch(() => undefined))?.authorized, 90_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${acmeLog(router)}`);
      },
    );

  await t.test('Pebble fails validation: order-failed with its reason, backoff, served on HTTP meanwhile; then issued', async (t) => {
    gate.setMode('refuse');
    await put('fail.example.org');
    const failed = await waitResult('fail.example.org', 'order-failed');
    t.match(failed.lastError, /ACME order for fail\.example\.org failed/);
    t.ok(failed.nextTryAt, 'a next try is set');
    t.ok(gate.seen > 0, 'Pebble did try to validate');
    await stillServing(t);
    t.equal((await requestThrough(router.httpPort, 'fail.example.org')).status, 200, 'the new domain is routed on plain HTTP');
    gate.setMode('open');
    await waitIssued('fail.example.org');
    t.ok((await counter(router, 'order-failed')) >= 1);
  });

  await t.test('Pebble refuses the name: order-failed, nothing else affected', async (t) => {
    await put('blocked.example.org');
    const refused = await waitResult('blocked.example.org', 'order-failed');
    t.match(refused.lastError, /forbidden by policy: "blocked.example.org"/);
    await stillServing(t);
  });

  await t.test('Vault sealed when the certificate is to be stored: store-failed, cached certificates keep serving; unsealed: issued', async (t) => {
    cluster.vault.vault.seal();
    await put('sealed.example.org');
    const failed = await waitResult('sealed.example.org', 'store-failed');
    t.match(failed.lastError, /sealed|503/);
    await stillServing(t);
    cluster.vault.vault.unseal();
    await waitIssued('sealed.example.org');
  });

  await t.test('the lock is lost while an order is in flight: nothing is written; the next holder orders again', async (t) => {
    gate.setMode('hold');
    const seen = gate.seen;
    await put('lost.example.org');
    await eventually('Pebble validating lost.example.org (held at the gate)', () => gate.held > 0 && gate.seen > seen, 60_000);
    const [entry] = (await (await fetch(`${cluster.consul.url}/v1/kv/paas-router/acme/lock`)).json()) as { Session: string }[];
    const destroyed = await fetch(`${cluster.consul.url}/v1/session/destroy/${entry!.Session}`, { method: 'PUT' });
    t.ok(destroyed.ok, "the holder's session destroyed in Consul (as when it expires)");
    gate.setMode('open');
    await eventually('lock-lost counted', async () => (await counter(router, 'lock-lost')) >= 1, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${acmeLog(router)}`);
    });
    await waitIssued('lost.example.org');
    const meta = cluster.vault.vault.state.kvRead('secret', 'paas-router/tls/lost.example.org')?.metadata as { version?: number } | undefined;
    t.equal(meta?.version, 1, 'only the order of the new lock holder was written to Vault');
    t.ok((await router.status()).acme?.lock.held, 'the router holds the lock again under a new session');
    await stillServing(t);
  });
});
