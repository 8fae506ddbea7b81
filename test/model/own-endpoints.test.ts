// Instances at the router's own node services are skipped, and haproxy.backend_networks bounds
// where instances may be: tables of the addresses a tenant would try, then the whole build.
import t from 'tap';
import { buildModel } from '../../src/model/build.js';
import { canonicalAddress, endpointProblem } from '../../src/model/own-endpoints.js';
import type { ModelSettings } from '../../src/model/types.js';
import { mc, settings } from './helpers.js';

const STATUS = "paas-router's status listener (listen)";
const HTTP = "HAProxy's HTTP frontend (haproxy.bind_address, http_port)";
const STATS = "HAProxy's stats listener (haproxy.stats_bind_address, stats_port)";
const CONSUL = "the Consul agent's HTTP API (consul.address)";
const VAULT = 'Vault (vault.address)';

// A production node: HAProxy on every address, the rest on loopback or one interface.
const node: Pick<ModelSettings, 'ownEndpoints' | 'localAddresses'> = {
  ownEndpoints: [
    { address: '127.0.0.1', port: 9107, what: STATUS },
    { address: '*', port: 80, what: HTTP },
    { address: '127.0.0.1', port: 8404, what: STATS },
    { address: 'localhost', port: 8500, what: CONSUL },
    { address: '10.0.1.5', port: 8200, what: VAULT },
  ],
  localAddresses: ['127.0.0.1', '::1', '10.0.1.5', 'fe80::1', 'master-1'],
};

t.test('canonical addresses: every spelling the resolver accepts', async (t) => {
  const table: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FD00::1', 'fd00::1'],
    ['LocalHost.', 'localhost'],
    ['Node-1.example', 'node-1.example'],
  ];
  for (const [input, expected] of table) t.equal(canonicalAddress(input), expected, input);
});

t.test("the node's own endpoints are refused, naming what they would expose", async (t) => {
  const table: [string, number, string | undefined][] = [
    // The status listener (127.0.0.1:9107), however the address is spelt.
    ['127.0.0.1', 9107, STATUS],
    ['127.1', 9107, STATUS],
    ['2130706433', 9107, STATUS],
    ['::ffff:127.0.0.1', 9107, STATUS],
    ['localhost', 9107, STATUS],
    ['0.0.0.0', 9107, STATUS],
    ['127.0.0.2', 9107, undefined], // another loopback address: nothing listens there
    ['10.0.1.5', 9107, undefined], // bound to loopback only: not reachable on the interface
    // HAProxy's HTTP frontend binds "*": loopback, the interfaces and the host name all reach it.
    ['127.0.0.1', 80, HTTP],
    ['127.9.9.9', 80, HTTP],
    ['::1', 80, HTTP],
    ['::', 80, HTTP],
    ['10.0.1.5', 80, HTTP],
    ['FE80::1', 80, HTTP],
    ['master-1', 80, HTTP],
    ['foo.localhost', 80, HTTP],
    ['10.0.1.6', 80, undefined], // another node's HAProxy is a backend like any other
    ['127.0.0.1', 8404, STATS],
    // Consul at http://localhost:8500: its name stands for 127.0.0.1 and ::1.
    ['127.0.0.1', 8500, CONSUL],
    ['::1', 8500, CONSUL],
    ['localhost', 8500, CONSUL],
    ['10.0.1.5', 8500, undefined],
    // Vault on the interface address only.
    ['10.0.1.5', 8200, VAULT],
    ['127.0.0.1', 8200, undefined],
    // The sample backends of the dev cluster: loopback, other ports.
    ['127.0.0.1', 31001, undefined],
    ['10.0.0.7', 31005, undefined],
  ];
  for (const [address, port, what] of table) {
    const problem = endpointProblem(address, port, node);
    if (what === undefined) t.equal(problem, undefined, `${address}:${port} is routable`);
    else t.equal(problem, `${address}:${port} is ${what} on the router's own node; routing to it would publish it`, `${address}:${port}`);
  }
});

t.test('haproxy.backend_networks: instances outside are refused; host names cannot be placed', async (t) => {
  const networks = { backendNetworks: ['10.0.0.0/16', 'fd00::/8'] };
  const table: [string, RegExp | undefined][] = [
    ['10.0.3.4', undefined],
    ['fd00::7', undefined],
    ['::ffff:10.0.3.4', undefined],
    ['10.1.0.1', /^10\.1\.0\.1 is outside haproxy\.backend_networks \(10\.0\.0\.0\/16 fd00::\/8\)$/],
    ['169.254.169.254', /is outside haproxy\.backend_networks/], // the cloud metadata service
    ['127.0.0.1', /is outside/],
    ['2001:db8::1', /is outside/],
    ['agent1.example', /^agent1\.example is a host name; haproxy\.backend_networks .* admits IP addresses only$/],
  ];
  for (const [address, reason] of table) {
    const problem = endpointProblem(address, 31000, networks);
    if (reason === undefined) t.equal(problem, undefined, address);
    else t.match(problem, reason, address);
  }
  t.equal(endpointProblem('192.0.2.1', 31000, { backendNetworks: [] }), undefined, 'empty: any network');
  const many = { backendNetworks: Array.from({ length: 6 }, (_, i) => `10.${i}.0.0/16`) };
  t.match(endpointProblem('192.0.2.1', 1, many), /\(10\.0\.0\.0\/16 10\.1\.0\.0\/16 10\.2\.0\.0\/16 10\.3\.0\.0\/16 and 2 more\)$/, 'a long list is shortened');
});

t.test('build: the instance is skipped with a reason naming the service; the rest of the app is served', async (t) => {
  const model = buildModel({
    services: {
      // A tenant exposes the status listener (router.expose) next to a real backend.
      sneaky: [
        { ...mc('sneaky', 1), id: 'sneaky-1', address: '127.0.0.1', port: 9107, tags: ['router.expose'] },
        { ...mc('sneaky', 2), id: 'sneaky-2', address: '127.0.0.1', port: 31002, tags: ['router.expose'] },
      ],
      'kv-ui': [{ ...mc('kv-ui', 3), id: 'kv-ui-1', address: 'localhost', port: 8500, tags: ['router.expose'] }],
      outside: [mc('outside', 4, { address: '192.168.7.7' })],
      web: [mc('web', 5)],
    },
    claims: [],
    settings: { ...settings, ...node, backendNetworks: ['10.0.0.0/8', '127.0.0.0/8', '::1'] },
  });
  const rejection = (service: string) => model.rejections.filter((r) => r.service === service).map((r) => `${r.subject}: ${r.reason}`);
  t.same(rejection('sneaky'), [`sneaky-1: instance skipped: 127.0.0.1:9107 is ${STATUS} on the router's own node; routing to it would publish it`]);
  t.same(
    model.apps.find((a) => a.name === 'sneaky')?.servers.map((s) => `${s.address}:${s.port}`),
    ['127.0.0.1:31002'],
    'the app keeps its other instance',
  );
  t.same(rejection('kv-ui'), [`kv-ui-1: instance skipped: localhost:8500 is ${CONSUL} on the router's own node; routing to it would publish it`]);
  t.same(model.apps.find((a) => a.name === 'kv-ui')?.servers, [], 'no instance left: the app answers 503, nothing is published');
  t.match(rejection('outside')[0], /instance skipped: 192\.168\.7\.7 is outside haproxy\.backend_networks/);
  t.same(rejection('web'), []);
  t.equal(model.apps.find((a) => a.name === 'web')?.servers.length, 1);
});
