// Table tests in the style of traefik's consulcatalog config_test.go: Consul data → routes + rejections.
import t from 'tap';
import { buildModel, defaultHost } from '../../src/model/build.js';
import type { DomainClaim, ServiceInstance } from '../../src/sources/types.js';
import type { AppRoute, HostRoute, ModelSettings } from '../../src/model/types.js';
import { CLUSTER, type Rej, checkRejections, claim, httpApp, mc, plain, server, settings, tcpApp } from './helpers.js';

interface Case {
  name: string;
  services: Record<string, ServiceInstance[]>;
  claims?: DomainClaim[];
  settings?: Partial<ModelSettings>;
  apps: AppRoute[];
  /** Only the K/V hosts; default hosts are derived from `apps` and checked too. */
  customHosts?: HostRoute[];
  rejections?: Rej[];
}

const kv = (host: string, app: string, key = `paas-router/domains/${app}`): HostRoute => ({
  host,
  backend: `app_${app}`,
  app,
  source: 'kv',
  key,
});

const wp = (n: number, opts = {}) => mc('wordpress', n, opts);
const wpServer = (n: number, passing = true) => server('wordpress', n, passing);
const WORDPRESS = { wordpress: [wp(1), wp(2)] };
const WORDPRESS_APP = httpApp('wordpress', [wpServer(1), wpServer(2)]);

const long63 = 'a'.repeat(63);
// Service names whose default host (`+ .production.mozilla.community`, 29 chars) is 253 and 254 long.
const AT_LIMIT = `${long63}.${long63}.${long63}.${'c'.repeat(32)}`;
const OVER = `${AT_LIMIT}c`;

const routing: Case[] = [
  { name: 'empty catalog', services: {}, apps: [] },
  {
    name: 'bridge-registered service is routed with defaults',
    services: WORDPRESS,
    apps: [WORDPRESS_APP],
  },
  {
    name: 'service without prefix or expose is not routed and not reported',
    services: { redis: [plain('redis', { tags: ['primary'] })] },
    apps: [],
  },
  {
    name: 'service with no instances is not routed',
    services: { ghost: [] },
    apps: [],
  },
  {
    name: 'one bridge instance is enough',
    services: { web: [plain('web-manual', { address: '10.0.0.9', port: 8080 }), mc('web', 1)] },
    apps: [httpApp('web', [server('web', 1), { name: '10.0.0.9:8080', id: 'web-manual', address: '10.0.0.9', port: 8080, passing: true }])],
  },
  {
    name: 'router.expose routes a plain Consul service',
    services: { grafana: [plain('grafana-1', { tags: ['router.expose'] })] },
    apps: [httpApp('grafana', [{ ...server('x', 1), id: 'grafana-1' }])],
  },
  {
    name: 'router.expose=true routes; router.expose=false does not',
    services: {
      a: [plain('a-1', { tags: ['router.expose=true'] })],
      b: [plain('b-1', { tags: ['router.expose=false'] })],
    },
    apps: [httpApp('a', [{ ...server('x', 1), id: 'a-1' }])],
  },
  {
    name: 'a malformed router.expose on an unrouted service is reported',
    services: { b: [plain('b-1', { tags: ['router.expose=yes'] })] },
    apps: [],
    rejections: [['tag', 'b', 'router.expose=yes', /router\.expose: bad value "yes".*service not routed/]],
  },
  {
    name: 'router.skip on any instance wins over the prefix',
    services: {
      wordpress: [wp(1), wp(2, { tags: ['router.skip'] })],
      discourse: [mc('discourse', 1, { tags: ['router.skip=true', 'router.mode=bogus'] })],
      blog: [mc('blog', 1, { tags: ['router.skip=false'] })],
    },
    apps: [httpApp('blog', [server('blog', 1)])],
  },
  {
    name: 'router.skip wins over router.expose',
    services: { a: [plain('a-1', { tags: ['router.expose', 'router.skip'] })] },
    apps: [],
  },
  {
    name: 'a malformed router.skip is reported and the app keeps its default (routed)',
    services: { blog: [mc('blog', 1, { tags: ['router.skip=yes'] })] },
    apps: [httpApp('blog', [server('blog', 1)])],
    rejections: [['tag', 'blog', 'router.skip=yes', /router\.skip: bad value "yes"/]],
  },
  {
    name: 'the consul service is never routed',
    services: {
      consul: [mc('consul', 1, { tags: ['router.expose'] })],
      Consul: [mc('Consul', 2)],
    },
    apps: [],
  },
  {
    name: 'configured prefixes replace the default',
    settings: { serviceIdPrefixes: ['marathon-consul_', 'other:'] },
    services: {
      wordpress: [wp(1)],
      discourse: [plain('marathon-consul_discourse.1', { address: '10.0.0.7', port: 31007 })],
      irc: [plain('other:irc', { address: '10.0.0.8', port: 31008 })],
    },
    apps: [
      httpApp('discourse', [{ name: '10.0.0.7:31007', id: 'marathon-consul_discourse.1', address: '10.0.0.7', port: 31007, passing: true }]),
      httpApp('irc', [{ name: '10.0.0.8:31008', id: 'other:irc', address: '10.0.0.8', port: 31008, passing: true }]),
    ],
  },
  {
    name: 'an empty prefix does not route everything',
    settings: { serviceIdPrefixes: [''] },
    services: { redis: [plain('redis')] },
    apps: [],
  },
];

const names: Case[] = [
  {
    name: 'service names are lowercased',
    services: { WordPress: [mc('WordPress', 1)] },
    apps: [httpApp('wordpress', [server('WordPress', 1)])],
  },
  {
    // The routers register themselves there for HAProxy peers: a tenant's app of that name would serve them.
    name: 'an app named paas-router is refused: the name is the routers’ own service',
    services: { 'paas-router': [mc('paas-router', 1), { ...mc('paas-router', 2), id: 'paas-router-peer:master-1' }], web: [mc('web', 3)] },
    apps: [httpApp('web', [server('web', 3)])],
    rejections: [['service', 'paas-router', 'paas-router', /the name paas-router is the routers' own service in Consul/]],
  },
  {
    name: 'marathon-consul dotted names are valid',
    services: { 'community.wordpress': [mc('community.wordpress', 1)] },
    apps: [httpApp('community.wordpress', [server('community.wordpress', 1)])],
  },
  {
    name: 'case collision, no CreateIndex: the code-unit-first original name holds it',
    services: {
      wordpress: [wp(1)],
      WordPress: [mc('WordPress', 2)],
      WORDPRESS: [mc('WORDPRESS', 3)],
    },
    apps: [httpApp('wordpress', [server('WORDPRESS', 3)])],
    rejections: [
      [
        'service',
        'WordPress',
        'WordPress',
        /"WordPress" is the same as "WORDPRESS" to Consul \(service names are case-insensitive\), which was registered first; "WORDPRESS" is routed as wordpress/,
      ],
      ['service', 'wordpress', 'wordpress', /"wordpress" is the same as "WORDPRESS" to Consul/],
    ],
  },
  {
    name: 'case collision: the service registered first (lowest CreateIndex) holds the name',
    services: {
      Web: [mc('Web', 2, { createIndex: 20 })],
      web: [mc('web', 1, { createIndex: 10 })],
    },
    apps: [httpApp('web', [server('web', 1, true, { createIndex: 10 })])],
    rejections: [['service', 'Web', 'Web', /"Web" is the same as "web" to Consul .*registered first; "web" is routed as web/]],
  },
  {
    // fuzz seed 709235299: an unusable instance of `Web` (routed by its ServiceID) took the name from `web`.
    name: 'case collision: an unusable instance does not count as a registration',
    services: {
      web: [mc('web', 1, { createIndex: 10 })],
      Web: [mc('Web', 2, { port: 0, createIndex: 1 })],
    },
    apps: [httpApp('web', [server('web', 1, true, { createIndex: 10 })])],
    rejections: [['service', 'Web', 'Web', /"Web" is the same as "web" to Consul .*registered first/]],
  },
  {
    name: 'case collision with a service that is not routed: it takes no part',
    services: {
      Web: [mc('Web', 2, { id: 'web-by-hand', createIndex: 5 })],
      web: [mc('web', 1, { createIndex: 10 })],
    },
    apps: [httpApp('web', [server('web', 1, true, { createIndex: 10 })])],
    rejections: [],
  },
  {
    name: 'case collision, no CreateIndex: the service with usable instances holds the name',
    services: {
      web: [mc('web', 1)],
      Web: [mc('Web', 2, { port: 0 })],
    },
    apps: [httpApp('web', [server('web', 1)])],
    rejections: [['service', 'Web', 'Web', /"Web" is the same as "web" to Consul .*registered first/]],
  },
  {
    name: 'invalid service names are rejected, the others still route',
    services: {
      my_app: [mc('my_app', 1)],
      '-app': [mc('-app', 2)],
      'app-': [mc('app-', 3)],
      'a..b': [mc('a..b', 4)],
      'my app': [mc('my app', 5)],
      'tab\tapp': [mc('tab', 6)],
      bücher: [mc('bucher', 7)],
      [`${long63}b`]: [mc('long', 8)],
      [long63]: [mc('ok63', 9)],
      [OVER]: [mc('over', 12)],
      [AT_LIMIT]: [mc('atlimit', 13)],
      ok: [mc('ok', 11)],
    },
    apps: [httpApp(long63, [server('ok63', 9)]), httpApp(AT_LIMIT, [server('atlimit', 13)]), httpApp('ok', [server('ok', 11)])],
    rejections: [
      ['service', '-app', '-app', /not usable as a host name: label "-app" starts or ends with a hyphen; service not routed/],
      ['service', 'a..b', 'a..b', /empty label/],
      ['service', OVER, OVER, /default host a+\.a+\.a+\.c+\.production\.mozilla\.community is 254 characters long \(max 253\)/],
      ['service', `${long63}b`, `${long63}b`, /64 characters long \(max 63\)/],
      ['service', 'app-', 'app-', /hyphen/],
      ['service', 'bücher', 'bücher', /character "ü" is not allowed/],
      ['service', 'my app', 'my app', /whitespace/],
      ['service', 'my_app', 'my_app', /character "_" is not allowed/],
      ['service', 'tab\\tapp', 'tab\\tapp', /whitespace or control/],
    ],
  },
  {
    // Regression (property tests): "\u212aafka" was routed as the app "kafka".
    name: 'a name that is ASCII only after lowercasing (U+212A KELVIN SIGN) is rejected',
    services: { '\u212aafka': [mc('kelvin', 1)] },
    apps: [],
    rejections: [['service', '\u212aafka', '\u212aafka', /non-ASCII characters/]],
  },
];

const servers: Case[] = [
  {
    name: 'duplicate address:port: one server, first ServiceID kept, passing if any passes',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:b', passing: false }),
        mc('web', 1, { id: 'mesos-consul:a', passing: false }),
        mc('web', 1, { id: 'mesos-consul:c', passing: true }),
      ],
    },
    apps: [httpApp('web', [{ name: '10.0.0.1:31001', id: 'mesos-consul:a', address: '10.0.0.1', port: 31001, passing: true }])],
  },
  {
    name: 'address dedupe is case-insensitive',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:2', address: 'node1.dc', port: 80 }),
        mc('web', 1, { id: 'mesos-consul:1', address: 'Node1.dc', port: 80, passing: false }),
      ],
    },
    apps: [httpApp('web', [{ name: 'Node1.dc:80', id: 'mesos-consul:1', address: 'Node1.dc', port: 80, passing: true }])],
  },
  {
    name: 'same address on different ports: two servers, sorted by name',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:x', address: '10.0.0.10', port: 31000 }),
        mc('web', 1, { id: 'mesos-consul:y', address: '10.0.0.9', port: 31000 }),
        mc('web', 1, { id: 'mesos-consul:z', address: '10.0.0.10', port: 30999 }),
      ],
    },
    apps: [
      httpApp('web', [
        { name: '10.0.0.10:30999', id: 'mesos-consul:z', address: '10.0.0.10', port: 30999, passing: true },
        { name: '10.0.0.10:31000', id: 'mesos-consul:x', address: '10.0.0.10', port: 31000, passing: true },
        { name: '10.0.0.9:31000', id: 'mesos-consul:y', address: '10.0.0.9', port: 31000, passing: true },
      ]),
    ],
  },
  {
    name: 'IPv6 and host-name addresses',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:v6', address: 'fe80::1', port: 31000 }),
        mc('web', 1, { id: 'mesos-consul:host', address: 'agent-1.example.org', port: 31000 }),
      ],
    },
    apps: [
      httpApp('web', [
        { name: 'agent-1.example.org:31000', id: 'mesos-consul:host', address: 'agent-1.example.org', port: 31000, passing: true },
        { name: 'fe80::1:31000', id: 'mesos-consul:v6', address: 'fe80::1', port: 31000, passing: true },
      ]),
    ],
  },
  {
    name: 'invalid addresses and ports skip the instance, not the app',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:empty', address: '' }),
        mc('web', 1, { id: 'mesos-consul:space', address: ' ' }),
        mc('web', 1, { id: 'mesos-consul:trailing', address: '10.0.0.1 ' }),
        mc('web', 1, { id: 'mesos-consul:inject', address: '10.0.0.1\nserver evil 1.2.3.4:80' }),
        mc('web', 1, { id: 'mesos-consul:semicolon', address: '10.0.0.1;' }),
        mc('web', 1, { id: 'mesos-consul:slash', address: '10.0.0.0/8' }),
        mc('web', 1, { id: 'mesos-consul:bracket', address: '[fe80::1]' }),
        mc('web', 1, { id: 'mesos-consul:port0', port: 0 }),
        mc('web', 1, { id: 'mesos-consul:port65536', port: 65536 }),
        mc('web', 1, { id: 'mesos-consul:portfloat', port: 31000.5 }),
        mc('web', 1, { id: 'mesos-consul:portneg', port: -1 }),
        mc('web', 2),
      ],
    },
    apps: [httpApp('web', [server('web', 2)])],
    rejections: [
      ['service', 'web', 'mesos-consul:bracket', /instance skipped: invalid address "\[fe80::1\]"/],
      ['service', 'web', 'mesos-consul:empty', /instance skipped: empty address/],
      ['service', 'web', 'mesos-consul:inject', /invalid address "10\.0\.0\.1\\nserver evil/],
      ['service', 'web', 'mesos-consul:port0', /port 0 outside 1\.\.65535/],
      ['service', 'web', 'mesos-consul:port65536', /port 65536 outside/],
      ['service', 'web', 'mesos-consul:portfloat', /port 31000\.5 outside/],
      ['service', 'web', 'mesos-consul:portneg', /port -1 outside/],
      ['service', 'web', 'mesos-consul:semicolon', /invalid address/],
      ['service', 'web', 'mesos-consul:slash', /invalid address/],
      ['service', 'web', 'mesos-consul:space', /invalid address/],
      ['service', 'web', 'mesos-consul:trailing', /invalid address/],
    ],
  },
  {
    name: 'an app with no passing instance is still routed (answers 503)',
    services: { wordpress: [wp(1, { passing: false }), wp(2, { passing: false })] },
    apps: [httpApp('wordpress', [wpServer(1, false), wpServer(2, false)])],
  },
  {
    name: 'an app whose every instance is invalid is still routed with no servers',
    services: { web: [mc('web', 1, { address: '' })] },
    apps: [httpApp('web', [])],
    rejections: [['service', 'web', 'mesos-consul:agent1:web::31001', /empty address/]],
  },
  {
    // Regression (property tests): "-a" and "a:b" made renderFiles throw; "a..b" failed haproxy -c.
    name: 'addresses that are neither an IP nor a usable host name skip the instance',
    services: {
      web: [
        mc('web', 1, { id: 'mesos-consul:colon', address: 'a:b' }),
        mc('web', 1, { id: 'mesos-consul:dash', address: '-a' }),
        mc('web', 1, { id: 'mesos-consul:dots', address: 'a..b' }),
        mc('web', 1, { id: 'mesos-consul:lead', address: '.a' }),
        mc('web', 1, { id: 'mesos-consul:withport', address: '10.0.0.1:80' }),
        mc('web', 1, { id: 'mesos-consul:mapped', address: '::ffff:10.0.0.1', port: 31001 }),
        mc('web', 1, { id: 'mesos-consul:trailing', address: 'node1.', port: 31001 }),
        mc('web', 2),
      ],
    },
    apps: [
      httpApp('web', [
        server('web', 2),
        { name: '::ffff:10.0.0.1:31001', id: 'mesos-consul:mapped', address: '::ffff:10.0.0.1', port: 31001, passing: true },
        { name: 'node1.:31001', id: 'mesos-consul:trailing', address: 'node1.', port: 31001, passing: true },
      ]),
    ],
    rejections: [
      ['service', 'web', 'mesos-consul:colon', /invalid address "a:b": neither an IP address nor a host name/],
      ['service', 'web', 'mesos-consul:dash', /invalid address "-a": neither an IP address nor a host name/],
      ['service', 'web', 'mesos-consul:dots', /invalid address "a\.\.b": neither/],
      ['service', 'web', 'mesos-consul:lead', /invalid address "\.a": neither/],
      ['service', 'web', 'mesos-consul:withport', /invalid address "10\.0\.0\.1:80": neither/],
    ],
  },
];

const tags: Case[] = [
  {
    name: 'every valid http tag',
    services: {
      wordpress: [
        wp(1, {
          tags: [
            'router.balance=leastconn',
            'router.healthcheck=/wp-login.php',
            'router.https-only=true',
            'router.sticky',
            'router.maxconn=200',
            'router.timeout-server=120s',
            'router.mode=http',
            'primary',
            'traefik.enable=true',
          ],
        }),
      ],
    },
    apps: [
      httpApp('wordpress', [wpServer(1)], {
        balance: 'leastconn',
        healthcheck: '/wp-login.php',
        httpsOnly: true,
        sticky: true,
        maxconn: 200,
        timeoutServer: '120s',
      }),
    ],
  },
  {
    name: 'unknown keys and bad values are rejected; the app keeps defaults',
    services: {
      wordpress: [
        wp(1, {
          tags: [
            'router.',
            'router.foo=bar',
            'router.mode',
            'router.mode=udp',
            'router.balance=hdr(host)',
            'router.healthcheck=/a;b',
            'router.healthcheck=/a b',
            'router.https-only=yes',
            'router.sticky=1',
            'router.maxconn=0',
            'router.timeout-server=25h',
            'router.mode=http\u001b[2J',
          ],
        }),
      ],
    },
    apps: [httpApp('wordpress', [wpServer(1)])],
    rejections: [
      ['tag', 'wordpress', 'router.', /empty key/],
      ['tag', 'wordpress', 'router.balance=hdr(host)', /router\.balance: bad value "hdr\(host\)"; allowed: roundrobin/],
      ['tag', 'wordpress', 'router.foo=bar', /unknown key "foo"/],
      ['tag', 'wordpress', 'router.healthcheck=/a b', /whitespace/],
      ['tag', 'wordpress', 'router.healthcheck=/a;b', /router\.healthcheck: bad value/],
      ['tag', 'wordpress', 'router.https-only=yes', /router\.https-only: bad value "yes"; allowed: true, false/],
      ['tag', 'wordpress', 'router.maxconn=0', /router\.maxconn: bad value "0"/],
      ['tag', 'wordpress', 'router.mode', /router\.mode needs a value/],
      ['tag', 'wordpress', 'router.mode=http\\u001b[2J', /whitespace or control/],
      ['tag', 'wordpress', 'router.mode=udp', /router\.mode: bad value "udp"; allowed: http, tcp/],
      ['tag', 'wordpress', 'router.sticky=1', /router\.sticky: bad value "1"/],
      ['tag', 'wordpress', 'router.timeout-server=25h', /router\.timeout-server: bad value "25h"/],
    ],
  },
  {
    name: 'a bad tag on several instances is reported once',
    services: { wordpress: [wp(1, { tags: ['router.foo=1'] }), wp(2, { tags: ['router.foo=1'] })] },
    apps: [WORDPRESS_APP],
    rejections: [['tag', 'wordpress', 'router.foo=1', /unknown key/]],
  },
  {
    name: 'instances disagree: most instances win, ties to the smallest value, no rejection',
    services: {
      wordpress: [
        wp(1, { tags: ['router.balance=source', 'router.maxconn=300'] }),
        wp(2, { tags: ['router.balance=leastconn', 'router.maxconn=200'] }),
        wp(3, { tags: ['router.balance=leastconn'] }),
      ],
    },
    apps: [httpApp('wordpress', [wpServer(1), wpServer(2), wpServer(3)], { balance: 'leastconn', maxconn: 200 })],
  },
  {
    name: 'tcp app: port, no hosts',
    services: { irc: [mc('irc', 1, { tags: ['router.mode=tcp', 'router.port=10001', 'router.balance=source'] })] },
    apps: [tcpApp('irc', 10001, [server('irc', 1)], { balance: 'source' })],
  },
  {
    name: 'tcp app without port, with bad port, with reserved port: not routed',
    services: {
      a: [mc('a', 1, { tags: ['router.mode=tcp'] })],
      b: [mc('b', 2, { tags: ['router.mode=tcp', 'router.port=0'] })],
      c: [mc('c', 3, { tags: ['router.mode=tcp', 'router.port=443'] })],
      d: [mc('d', 4, { tags: ['router.mode=tcp', 'router.port=70000'] })],
      e: [mc('e', 5, { tags: ['router.mode=tcp', 'router.port'] })],
    },
    apps: [],
    rejections: [
      ['tag', 'a', 'router.mode=tcp', /router\.mode=tcp needs a valid router\.port=<1\.\.65535>; app not routed/],
      ['tag', 'b', 'router.mode=tcp', /needs a valid router\.port/],
      ['tag', 'b', 'router.port=0', /bad value "0"/],
      ['tag', 'c', 'router.mode=tcp', /needs a valid router\.port/],
      ['tag', 'c', 'router.port=443', /port 443 is reserved by the router/],
      ['tag', 'd', 'router.mode=tcp', /needs a valid router\.port/],
      ['tag', 'd', 'router.port=70000', /bad value "70000"/],
      ['tag', 'e', 'router.mode=tcp', /needs a valid router\.port/],
      ['tag', 'e', 'router.port', /router\.port needs a value/],
    ],
  },
  {
    name: 'reserved ports come from settings',
    settings: { reservedPorts: [10001] },
    services: { irc: [mc('irc', 1, { tags: ['router.mode=tcp', 'router.port=10001'] })] },
    apps: [],
    rejections: [
      ['tag', 'irc', 'router.mode=tcp', /needs a valid router\.port/],
      ['tag', 'irc', 'router.port=10001', /port 10001 is reserved/],
    ],
  },
  {
    name: 'router.port on an http app is rejected and ignored',
    services: { wordpress: [wp(1, { tags: ['router.port=10001'] })] },
    apps: [httpApp('wordpress', [wpServer(1)])],
    rejections: [['tag', 'wordpress', 'router.port=10001', /only valid with router\.mode=tcp/]],
  },
  {
    name: 'http-only tags on a tcp app are rejected and ignored',
    services: {
      irc: [mc('irc', 1, { tags: ['router.mode=tcp', 'router.port=10001', 'router.sticky', 'router.https-only=true', 'router.maxconn=50'] })],
    },
    apps: [tcpApp('irc', 10001, [server('irc', 1)], { maxconn: 50 })],
    rejections: [
      ['tag', 'irc', 'router.https-only=true', /only valid with router\.mode=http/],
      ['tag', 'irc', 'router.sticky', /only valid with router\.mode=http/],
    ],
  },
  {
    name: 'tcp port conflict: lowest CreateIndex wins',
    services: {
      zeta: [mc('zeta', 1, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 5 }), mc('zeta', 2, { createIndex: 50 })],
      alpha: [mc('alpha', 3, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 9 })],
      nocreate: [mc('nocreate', 4, { tags: ['router.mode=tcp', 'router.port=10001'] })],
    },
    apps: [tcpApp('zeta', 10001, [server('zeta', 1), server('zeta', 2)])],
    rejections: [
      ['conflict', 'alpha', 'router.port=10001', /port 10001 is already used by tcp app zeta, registered first; app not routed/],
      ['conflict', 'nocreate', 'router.port=10001', /already used by tcp app zeta/],
    ],
  },
  {
    name: 'tcp port conflict: tie on CreateIndex goes to name order',
    services: {
      beta: [mc('beta', 1, { tags: ['router.mode=tcp', 'router.port=10002'], createIndex: 7 })],
      alpha: [mc('alpha', 2, { tags: ['router.mode=tcp', 'router.port=10002'], createIndex: 7 })],
      gamma: [mc('gamma', 3, { tags: ['router.mode=tcp', 'router.port=10003'] })],
    },
    apps: [tcpApp('alpha', 10002, [server('alpha', 2)]), tcpApp('gamma', 10003, [server('gamma', 3)])],
    rejections: [['conflict', 'beta', 'router.port=10002', /already used by tcp app alpha/]],
  },
  {
    name: 'tcp port conflict: missing CreateIndex on both goes to name order',
    services: {
      b: [mc('b', 1, { tags: ['router.mode=tcp', 'router.port=10002'] })],
      a: [mc('a', 2, { tags: ['router.mode=tcp', 'router.port=10002'] })],
    },
    apps: [tcpApp('a', 10002, [server('a', 2)])],
    rejections: [['conflict', 'b', 'router.port=10002', /already used by tcp app a/]],
  },
  {
    // Regression (property tests): a skipped instance voted, and its CreateIndex won a port.
    name: 'a skipped instance takes no part in the tag vote or in the tcp port order',
    services: {
      db: [mc('db', 1, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 5 })],
      late: [mc('late', 2, { tags: ['router.mode=tcp', 'router.port=10001'], createIndex: 9 }), mc('late', 3, { port: 0, createIndex: 1 })],
      web: [
        mc('web', 4),
        mc('web', 5, { address: '', tags: ['router.mode=tcp', 'router.port=10002', 'router.maxconn=1'] }),
        mc('web', 6, { address: '', tags: ['router.mode=tcp'] }),
      ],
    },
    apps: [tcpApp('db', 10001, [server('db', 1, true, { createIndex: 5 })]), httpApp('web', [server('web', 4)])],
    rejections: [
      ['service', 'late', 'mesos-consul:agent3:late:10.0.0.3:0', /instance skipped: port 0/],
      ['conflict', 'late', 'router.port=10001', /already used by tcp app db, registered first/],
      ['service', 'web', 'mesos-consul:agent5:web::31005', /empty address/],
      ['service', 'web', 'mesos-consul:agent6:web::31006', /empty address/],
    ],
  },
  {
    name: 'a tcp app without a port still reports its skipped instances',
    services: { db: [mc('db', 1, { tags: ['router.mode=tcp'] }), mc('db', 2, { port: 0 })] },
    apps: [],
    rejections: [
      ['service', 'db', 'mesos-consul:agent2:db:10.0.0.2:0', /instance skipped: port 0/],
      ['tag', 'db', 'router.mode=tcp', /needs a valid router\.port/],
    ],
  },
];

const W = 'paas-router/domains/wordpress';
const D = 'paas-router/domains/discourse';
const TWO = {
  wordpress: [wp(1)],
  discourse: [mc('discourse', 2)],
};
const DISCOURSE_APP = httpApp('discourse', [server('discourse', 2)]);
const WP1 = httpApp('wordpress', [wpServer(1)]);

const domains: Case[] = [
  {
    name: 'custom domains: any separators, normalised, deduplicated, sorted',
    services: { wordpress: [wp(1)] },
    claims: [claim('wordpress', 'www.example.org, Example.ORG\nblog.example.org\twww.example.org,,\r\n')],
    apps: [httpApp('wordpress', [wpServer(1)], {}, ['blog.example.org', 'example.org', 'www.example.org'])],
    customHosts: [kv('blog.example.org', 'wordpress'), kv('example.org', 'wordpress'), kv('www.example.org', 'wordpress')],
  },
  {
    name: 'empty value: no domains, no rejection',
    services: { wordpress: [wp(1)] },
    claims: [claim('wordpress', ''), claim('unknown', ' \n ')],
    apps: [WP1],
  },
  {
    name: 'bad FQDNs are rejected one by one; the good ones in the same value still apply',
    services: { wordpress: [wp(1)] },
    claims: [
      claim(
        'wordpress',
        [
          'good.example.org',
          'bad;rm.example.org',
          'port.example.org:8080',
          'path.example.org/blog',
          'dot.example.org.',
          `${'x'.repeat(64)}.example.org`,
          `${long63}.${long63}.${long63}.${long63}.org`,
          'a..b.example.org',
          '-lead.example.org',
          'bücher.de',
          'xn--bcher-kva.de',
          '*.example.org',
          '"quoted.example.org"',
          'hash#.example.org',
          'nul\u0000.example.org',
          'esc\u001b[2J.example.org',
          'UPPER.Example.ORG',
          'localhost',
        ].join(' '),
      ),
    ],
    apps: [httpApp('wordpress', [wpServer(1)], {}, ['good.example.org', 'upper.example.org', 'xn--bcher-kva.de'])],
    customHosts: [kv('good.example.org', 'wordpress'), kv('upper.example.org', 'wordpress'), kv('xn--bcher-kva.de', 'wordpress')],
    rejections: [
      ['domain', 'wordpress', '"quoted.example.org"', /quotes/, W],
      ['domain', 'wordpress', '*.example.org', /wildcards/, W],
      ['domain', 'wordpress', '-lead.example.org', /hyphen/, W],
      ['domain', 'wordpress', 'a..b.example.org', /empty label/, W],
      ['domain', 'wordpress', `${long63}.${long63}.${long63}.${long63}.org`, /259 characters long \(max 253\)/, W],
      ['domain', 'wordpress', 'bad;rm.example.org', /";"/, W],
      ['domain', 'wordpress', 'bücher.de', /punycode \(xn--\) form "xn--bcher-kva\.de"/, W],
      ['domain', 'wordpress', 'dot.example.org.', /^trailing dot/, W],
      ['domain', 'wordpress', 'esc\\u001b[2J.example.org', /control characters/, W],
      ['domain', 'wordpress', 'hash#.example.org', /"#"/, W],
      ['domain', 'wordpress', 'localhost', /two labels/, W],
      ['domain', 'wordpress', 'nul\\u0000.example.org', /control characters/, W],
      ['domain', 'wordpress', 'path.example.org/blog', /path/, W],
      ['domain', 'wordpress', 'port.example.org:8080', /port/, W],
      ['domain', 'wordpress', `${'x'.repeat(64)}.example.org`, /64 characters long \(max 63\)/, W],
    ],
  },
  {
    name: 'a host claimed twice: the lower CreateIndex wins, the later claim is a conflict',
    services: TWO,
    claims: [claim('wordpress', 'www.example.org blog.example.org', 20), claim('discourse', 'www.example.org forum.example.org', 10)],
    apps: [
      httpApp('discourse', [server('discourse', 2)], {}, ['forum.example.org', 'www.example.org']),
      httpApp('wordpress', [wpServer(1)], {}, ['blog.example.org']),
    ],
    customHosts: [kv('blog.example.org', 'wordpress'), kv('forum.example.org', 'discourse'), kv('www.example.org', 'discourse')],
    rejections: [
      ['conflict', 'wordpress', 'www.example.org', /host already claimed by service discourse \(key paas-router\/domains\/discourse, CreateIndex 10\)/, W],
    ],
  },
  {
    name: 'a host claimed twice with the same CreateIndex: the lower key wins',
    services: TWO,
    claims: [claim('wordpress', 'www.example.org', 10), claim('discourse', 'WWW.example.org', 10)],
    apps: [httpApp('discourse', [server('discourse', 2)], {}, ['www.example.org']), WP1],
    customHosts: [kv('www.example.org', 'discourse')],
    rejections: [['conflict', 'wordpress', 'www.example.org', /claimed by service discourse/, W]],
  },
  {
    name: "a claim of another app's default host is refused",
    services: TWO,
    claims: [claim('wordpress', `discourse.${CLUSTER} DISCOURSE.${CLUSTER.toUpperCase()}`, 1)],
    apps: [DISCOURSE_APP, WP1],
    rejections: [['conflict', 'wordpress', `discourse.${CLUSTER}`, /reserved for default host names.*could take an app's default host/, W]],
  },
  {
    name: 'a claim under the cluster domain is refused even if no app has that name (yet)',
    services: { wordpress: [wp(1)] },
    claims: [claim('wordpress', `future.${CLUSTER} a.b.${CLUSTER} ${CLUSTER} wordpress.${CLUSTER}`, 1)],
    apps: [WP1],
    rejections: [
      [
        'conflict',
        'wordpress',
        `a.b.${CLUSTER}`,
        /reserved for default host names \(production\.mozilla\.community and \*\.production\.mozilla\.community\)/,
        W,
      ],
      ['conflict', 'wordpress', `future.${CLUSTER}`, /reserved/, W],
      ['conflict', 'wordpress', CLUSTER, /reserved/, W],
      ['conflict', 'wordpress', `wordpress.${CLUSTER}`, /reserved/, W],
    ],
  },
  {
    name: 'names merely containing the cluster domain are fine',
    services: { wordpress: [wp(1)] },
    claims: [claim('wordpress', `${CLUSTER}.example.org xproduction.mozilla.community mozilla.community`, 1)],
    apps: [httpApp('wordpress', [wpServer(1)], {}, ['mozilla.community', `${CLUSTER}.example.org`, 'xproduction.mozilla.community'])],
    customHosts: [kv('mozilla.community', 'wordpress'), kv(`${CLUSTER}.example.org`, 'wordpress'), kv('xproduction.mozilla.community', 'wordpress')],
  },
  {
    name: 'claims for unknown, unrouted, skipped, invalid and tcp services claim nothing',
    services: {
      wordpress: [wp(1)],
      redis: [plain('redis')],
      hidden: [mc('hidden', 2, { tags: ['router.skip'] })],
      irc: [mc('irc', 3, { tags: ['router.mode=tcp', 'router.port=10001'] })],
    },
    claims: [
      claim('nosuch', 'a.example.org', 1),
      claim('redis', 'b.example.org', 2),
      claim('hidden', 'c.example.org', 3),
      claim('irc', 'd.example.org', 4),
      // Lost to wordpress only if the unrouted claims above were (wrongly) counted.
      claim('wordpress', 'a.example.org b.example.org c.example.org d.example.org', 5),
    ],
    apps: [
      tcpApp('irc', 10001, [server('irc', 3)]),
      httpApp('wordpress', [wpServer(1)], {}, ['a.example.org', 'b.example.org', 'c.example.org', 'd.example.org']),
    ],
    customHosts: ['a', 'b', 'c', 'd'].map((x) => kv(`${x}.example.org`, 'wordpress')),
    rejections: [
      ['domain', 'hidden', 'paas-router/domains/hidden', /service hidden is not routed/, 'paas-router/domains/hidden'],
      ['domain', 'irc', 'paas-router/domains/irc', /service irc is a tcp app.*custom domains apply to http apps only/, 'paas-router/domains/irc'],
      ['domain', 'nosuch', 'paas-router/domains/nosuch', /service nosuch is not routed/, 'paas-router/domains/nosuch'],
      ['domain', 'redis', 'paas-router/domains/redis', /service redis is not routed/, 'paas-router/domains/redis'],
    ],
  },
  {
    name: 'bad K/V keys',
    services: { wordpress: [wp(1)] },
    claims: [
      claim('', 'a.example.org', 1, 'paas-router/domains/wordpress/extra'),
      claim('', 'b.example.org', 2, 'paas-router/domains/'),
      claim('', 'c.example.org', 3, 'paas-router/other/wordpress'),
      claim('', 'd.example.org', 4, 'paas-router/domains/wordpress/'),
      // Consul UI folder markers: structure, not claims.
      claim('', '', 5, 'paas-router/domains/'),
      claim('', '', 6, 'paas-router/domains/sub/'),
    ],
    apps: [WP1],
    rejections: [
      ['domain', '', 'paas-router/domains/', /key names no service/, 'paas-router/domains/'],
      ['domain', '', 'paas-router/other/wordpress', /not under the prefix paas-router\/domains\//, 'paas-router/other/wordpress'],
      ['domain', 'wordpress', 'paas-router/domains/wordpress/', /nested key/, 'paas-router/domains/wordpress/'],
      [
        'domain',
        'wordpress',
        'paas-router/domains/wordpress/extra',
        /nested key: expected paas-router\/domains\/<service> with no further "\/"/,
        'paas-router/domains/wordpress/extra',
      ],
    ],
  },
  {
    // Keys are exact (ACLs grant exact keys): a key that differs from the app's name in case is refused.
    name: 'a key naming the app in another case is refused, not folded onto it',
    services: { wordpress: [wp(1)] },
    claims: [claim('', 'www.example.org', 1, 'paas-router/domains/WordPress')],
    apps: [WP1],
    rejections: [
      [
        'domain',
        'wordpress',
        'paas-router/domains/WordPress',
        /keys are exact and service names are lowercase: paas-router\/domains\/WordPress is not paas-router\/domains\/wordpress/,
        'paas-router/domains/WordPress',
      ],
    ],
  },
  {
    name: 'two keys of one app naming the same host: the exact key counts',
    services: { wordpress: [wp(1)] },
    claims: [claim('', 'www.example.org', 9, 'paas-router/domains/WordPress'), claim('wordpress', 'www.example.org', 3)],
    apps: [httpApp('wordpress', [wpServer(1)], {}, ['www.example.org'])],
    customHosts: [kv('www.example.org', 'wordpress', W)],
    rejections: [['domain', 'wordpress', 'paas-router/domains/WordPress', /keys are exact/, 'paas-router/domains/WordPress']],
  },
  {
    name: 'control characters in keys are escaped in rejections',
    services: {},
    claims: [claim('', 'a.example.org', 1, 'paas-router/domains/evil\nline')],
    apps: [],
    rejections: [['domain', 'evil\\nline', 'paas-router/domains/evil\\nline', /service evil\\nline is not routed/, 'paas-router/domains/evil\\nline']],
  },
  {
    name: 'custom prefix and an empty cluster',
    settings: { domainsPrefix: 'router/hosts/', cluster: '', baseDomain: 'apps.example.net' },
    services: { wordpress: [wp(1)] },
    claims: [
      claim('', 'www.example.org', 1, 'router/hosts/wordpress'),
      claim('', 'x.apps.example.net', 2, 'router/hosts/wordpress'),
      claim('', 'y.example.org', 3, 'paas-router/domains/wordpress'),
    ],
    apps: [
      {
        ...httpApp('wordpress', [wpServer(1)]),
        defaultHost: 'wordpress.apps.example.net',
        hosts: ['wordpress.apps.example.net', 'www.example.org'],
      },
    ],
    customHosts: [kv('www.example.org', 'wordpress', 'router/hosts/wordpress')],
    rejections: [
      ['domain', '', 'paas-router/domains/wordpress', /not under the prefix router\/hosts\//, 'paas-router/domains/wordpress'],
      ['conflict', 'wordpress', 'x.apps.example.net', /reserved for default host names \(apps\.example\.net/, 'router/hosts/wordpress'],
    ],
  },
  {
    // Regression (property tests): this key claimed www.example.org for "kafka".
    name: 'a key that is ASCII only after lowercasing (U+212A KELVIN SIGN) claims nothing',
    services: { kafka: [mc('kafka', 1)] },
    claims: [claim('', 'www.example.org', 10, 'paas-router/domains/\u212aafka')],
    apps: [httpApp('kafka', [server('kafka', 1)])],
    rejections: [['domain', '\u212aafka', 'paas-router/domains/\u212aafka', /non-ASCII characters/, 'paas-router/domains/\u212aafka']],
  },
];

function expectedHosts(c: Case): HostRoute[] {
  const defaults: HostRoute[] = c.apps
    .filter((a) => a.defaultHost !== undefined)
    .map((a) => ({ host: a.defaultHost!, backend: a.backend, app: a.name, source: 'default' }));
  return [...defaults, ...(c.customHosts ?? [])].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

for (const [group, cases] of Object.entries({ routing, names, servers, tags, domains })) {
  t.test(group, async (t) => {
    for (const c of cases) {
      t.test(c.name, async (t) => {
        const model = buildModel({ services: c.services, claims: c.claims ?? [], settings: { ...settings, ...c.settings } });
        t.strictSame(model.apps, c.apps, 'apps');
        t.strictSame(model.hosts, expectedHosts(c), 'hosts');
        // Expected rejections are listed in output order (service, subject, reason).
        checkRejections(t, model.rejections, c.rejections ?? []);
      });
    }
  });
}

t.test('defaultHost', async (t) => {
  t.equal(defaultHost('wordpress', settings), `wordpress.${CLUSTER}`);
  t.equal(defaultHost('WordPress', settings), `wordpress.${CLUSTER}`);
  t.equal(defaultHost('a', { cluster: 'Staging', baseDomain: 'Example.ORG' }), 'a.staging.example.org');
  t.equal(defaultHost('a', { cluster: '', baseDomain: 'example.org' }), 'a.example.org');
});
