// `haproxy.*` edge keys (docs/edge.md): defaults, accepted values, and bad values rejected with
// an error naming the key.
import t from 'tap';
import { validateConfig } from '../../src/config/load.js';
import { DEFAULT_SSL_CIPHERS, DEFAULT_SSL_CIPHERSUITES } from '../../src/config/edge-defaults.js';
import { modelSettingsFrom, renderSettingsFrom } from '../../src/daemon.js';

const load = (haproxy: Record<string, unknown>) => validateConfig({ haproxy }, 'test.yaml', {});

t.test('defaults', async (t) => {
  const { haproxy } = load({});
  t.equal(haproxy.statsBindAddress, '127.0.0.1');
  t.same(haproxy.trustedProxies, []);
  t.equal(haproxy.acceptProxy, false);
  t.same(haproxy.tcpPorts, [{ from: 10000, to: 10999 }]);
  t.equal(haproxy.maxconn, 4096);
  t.equal(haproxy.sslMinVer, 'TLSv1.2');
  t.equal(haproxy.sslCiphers, DEFAULT_SSL_CIPHERS);
  t.equal(haproxy.sslCiphersuites, DEFAULT_SSL_CIPHERSUITES);
  t.same(haproxy.backendNetworks, [], 'instances may be in any network');
  t.equal(haproxy.user, 'haproxy', 'the workers drop privileges by default');
  t.equal(haproxy.group, 'haproxy');
});

t.test('haproxy.user and haproxy.group reach the render settings; "" keeps the starting user', async (t) => {
  t.match(renderSettingsFrom(load({})), { user: 'haproxy', group: 'haproxy' });
  t.match(renderSettingsFrom(load({ user: 'www-data', group: 'www-data' })), { user: 'www-data', group: 'www-data' });
  const unprivileged = renderSettingsFrom(load({ user: '', group: '' }));
  t.equal(unprivileged.user, undefined);
  t.equal(unprivileged.group, undefined);
});

t.test('values reach the model and render settings', async (t) => {
  const config = load({
    stats_bind_address: '10.0.0.2',
    trusted_proxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
    accept_proxy: true,
    tcp_ports: ['10000-10999', 12000, '13000'],
    maxconn: 20000,
    ssl_min_ver: 'TLSv1.3',
    ssl_ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
    ssl_ciphersuites: 'TLS_AES_256_GCM_SHA384',
  });
  t.same(modelSettingsFrom(config).tcpPorts, [
    { from: 10000, to: 10999 },
    { from: 12000, to: 12000 },
    { from: 13000, to: 13000 },
  ]);
  const render = renderSettingsFrom(config);
  t.equal(render.maxconn, 20000);
  t.same(render.edge, {
    statsBindAddress: '10.0.0.2',
    trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
    acceptProxy: true,
    sslMinVer: 'TLSv1.3',
    sslCiphers: 'ECDHE-RSA-AES256-GCM-SHA384',
    sslCiphersuites: 'TLS_AES_256_GCM_SHA384',
  });
});

t.test("the model gets the node's own endpoints, its addresses and haproxy.backend_networks", async (t) => {
  const config = validateConfig(
    {
      listen: '127.0.0.1:9107',
      consul: { address: 'http://localhost:8500' },
      vault: { address: 'https://[fd00::5]' },
      haproxy: { bind_address: '::', http_port: 80, https_port: 443, stats_port: 8404, stats_bind_address: '10.0.0.2', backend_networks: ['10.0.0.0/8'] },
    },
    'test.yaml',
    { VAULT_TOKEN: 't' },
  );
  const model = modelSettingsFrom(config);
  t.same(model.ownEndpoints, [
    { address: '127.0.0.1', port: 9107, what: "paas-router's status listener (listen)" },
    { address: '::', port: 80, what: "HAProxy's HTTP frontend (haproxy.bind_address, http_port)" },
    { address: '::', port: 443, what: "HAProxy's HTTPS frontend (haproxy.bind_address, https_port)" },
    { address: '10.0.0.2', port: 8404, what: "HAProxy's stats listener (haproxy.stats_bind_address, stats_port)" },
    { address: 'localhost', port: 8500, what: "the Consul agent's HTTP API (consul.address)" },
    { address: 'fd00::5', port: 443, what: 'Vault (vault.address)' },
  ]);
  t.ok(model.localAddresses?.includes('127.0.0.1'), "the node's interface addresses");
  t.same(model.backendNetworks, ['10.0.0.0/8']);
  const ephemeral = modelSettingsFrom(validateConfig({ listen: '127.0.0.1:0' }, 'test.yaml', {}));
  t.notOk(
    ephemeral.ownEndpoints?.some((e) => e.port === 0),
    'a listener on port 0 has no port known in advance',
  );
  t.notOk(
    ephemeral.ownEndpoints?.some((e) => e.what.startsWith('Vault')),
    'no Vault endpoint without vault.address',
  );
});

t.test('bad values are rejected naming the key', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ stats_bind_address: 'localhost' }, /haproxy\.stats_bind_address: must be "\*" or an IP address/],
    [{ stats_bind_address: '' }, /haproxy\.stats_bind_address/],
    [{ trusted_proxies: ['10.0.0.0/33'] }, /haproxy\.trusted_proxies\.0: "10\.0\.0\.0\/33": the prefix length must be 0-32/],
    [{ trusted_proxies: ['fd00::/129'] }, /haproxy\.trusted_proxies\.0: .*0-128/],
    [{ trusted_proxies: ['proxy.example.org'] }, /haproxy\.trusted_proxies\.0: "proxy\.example\.org" is not an IP address or CIDR block/],
    [{ trusted_proxies: ['10.0.0.0/8', '10.0.0.0/08'] }, /haproxy\.trusted_proxies\.1/],
    [{ trusted_proxies: '10.0.0.0/8' }, /haproxy\.trusted_proxies/],
    [{ accept_proxy: 'yes' }, /haproxy\.accept_proxy/],
    [{ tcp_ports: [] }, /haproxy\.tcp_ports: must list at least one port range/],
    [{ tcp_ports: ['10999-10000'] }, /haproxy\.tcp_ports\.0: must be a port or a range of ports/],
    [{ tcp_ports: ['10000-70000'] }, /haproxy\.tcp_ports\.0/],
    [{ tcp_ports: [0] }, /haproxy\.tcp_ports\.0/],
    [{ tcp_ports: '10000-10999' }, /haproxy\.tcp_ports/],
    [{ maxconn: 0 }, /haproxy\.maxconn/],
    [{ maxconn: 1.5 }, /haproxy\.maxconn/],
    [{ ssl_min_ver: 'TLSv1.0' }, /haproxy\.ssl_min_ver/],
    [{ ssl_ciphers: 'AES128 GCM' }, /haproxy\.ssl_ciphers: must be an OpenSSL cipher list/],
    [{ ssl_ciphersuites: 'TLS_AES_128_GCM_SHA256#x' }, /haproxy\.ssl_ciphersuites/],
    [{ trusted_proxy: [] }, /haproxy\.trusted_proxy: unknown key/],
    [{ backend_networks: ['10.0.0.0/33'] }, /haproxy\.backend_networks\.0: "10\.0\.0\.0\/33": the prefix length must be 0-32/],
    [{ backend_networks: ['agents.example.org'] }, /haproxy\.backend_networks\.0: "agents\.example\.org" is not an IP address or CIDR block/],
    [{ backend_networks: '10.0.0.0/8' }, /haproxy\.backend_networks/],
    [{ user: 'root\n    lua-load /tmp/x.lua' }, /haproxy\.user: must be a user name/],
    [{ user: 0 }, /haproxy\.user/],
    [{ group: 'ha proxy' }, /haproxy\.group: must be a group name/],
  ];
  for (const [haproxy, message] of cases) {
    t.throws(() => load(haproxy), { name: 'ConfigError', message }, JSON.stringify(haproxy));
  }
});
