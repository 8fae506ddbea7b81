// Consul reached over HTTPS (the real agent with a TLS listener and a certificate made at setup):
// consul.cacert / CONSUL_CACERT is the CA the client trusts, for the reads and for the writes the
// `consul` package sends; a CA file that cannot be read is a config error naming the key; an
// agent whose certificate is not signed by that CA is refused (verification is always on).
import t from 'tap';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { consulClientFrom } from '../../src/daemon.js';
import { ConsulClient } from '../../src/sources/consul/client.js';
import { selfSignedCertificate } from '../../dev/vault/pki.js';
import { consulAgentSkip, startTestConsulAgent } from '../helpers/consul-agent.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('reads and writes over HTTPS with CONSUL_CACERT', { skip: consulAgentSkip() }, async (t) => {
  const agent = await startTestConsulAgent(t, { https: true });
  t.equal(validateConfig({}, 'test', {}).consul.cacert, '', 'no CA by default (the system CAs)');
  const client = consulClientFrom(validateConfig({ consul: { address: agent.httpsUrl, cacert: agent.cacertFile } }, 'test', {}));
  t.teardown(() => client.close());
  t.equal(await client.kvSetCas('paas-router/domains/web', 'www.example.org', 0), true, 'a write through the consul package, over TLS');
  const read = await client.kvGet('paas-router/domains/web');
  t.equal(read.entry?.Value, 'www.example.org', 'a read over TLS');
  const catalog = await client.catalogServices(0, 0);
  t.ok('consul' in (catalog.data as object));
});

t.test('CONSUL_CACERT from the environment lands in consul.cacert', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-cacert-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'consul: {}\n');
  const c = await loadConfig({ config: file }, { CONSUL_HTTP_ADDR: 'https://127.0.0.1:8501', CONSUL_CACERT: '/etc/consul/ca.pem' });
  t.equal(c.consul.cacert, '/etc/consul/ca.pem');
  t.equal(c.consul.address, 'https://127.0.0.1:8501');
});

t.test('a CA file that cannot be read is a config error naming the key', async (t) => {
  t.throws(() => new ConsulClient({ address: 'https://127.0.0.1:8501', cacert: '/nonexistent/ca.pem', token: () => '' }), {
    code: 'CONFIG_INVALID',
    message: /consul\.cacert \(CONSUL_CACERT\): cannot read the CA file "\/nonexistent\/ca\.pem"/,
  });
});

t.test('an agent certificate not signed by consul.cacert is refused', { skip: consulAgentSkip() }, async (t) => {
  const agent = await startTestConsulAgent(t, { https: true });
  const other = await selfSignedCertificate({ commonName: 'someone-else', altNames: ['127.0.0.1'] });
  const dir = await mkdtemp(join(tmpdir(), 'paas-router-cacert-'));
  const wrong = join(dir, 'ca.pem');
  await writeFile(wrong, other.certificate);
  const client = new ConsulClient({ address: agent.httpsUrl!, cacert: wrong, token: () => '' });
  t.teardown(() => client.close());
  await t.rejects(client.catalogServices(0, 0), {
    code: 'CONSUL_UNAVAILABLE',
    message: /TLS verification of Consul at https:.* failed \(.*\); set CONSUL_CACERT \/ consul\.cacert/,
  });
});

t.test(
  'over HTTP/2, a connection the agent refuses (past http_max_conns_per_client) is counted; the read waits for a stream of the admitted ones',
  { skip: consulAgentSkip() },
  async (t) => {
    const agent = await startTestConsulAgent(t, { https: true, maxConnsPerClient: 2 });
    // One stream per connection: a third blocking read needs a third connection, which the agent
    // resets; it then waits for one of the two the agent admitted (no retry budget to run out).
    const client = new ConsulClient({ address: agent.httpsUrl!, cacert: agent.cacertFile, token: () => '', maxConnections: 6, maxStreamsPerConnection: 1 });
    t.teardown(() => client.close());
    const first = await client.catalogServices(0, 0);
    t.equal(client.transport, 'h2');
    const answers = await Promise.all([1, 2, 3].map(() => client.catalogServices(first.index, 1_000)));
    t.equal(answers.length, 3, 'every read answered');
    t.ok(client.traffic.refused > 0, `${client.traffic.refused} refused connections counted`);
    t.equal(client.traffic.maxConnectionsHeld, 2, 'never more than the agent admits at once');
  },
);
